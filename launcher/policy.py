"""Per-request policy shared by both listeners: HTTP→HTTPS redirect, HSTS, trusted proxy.

``Policy`` is a plain mutable object read on every request, so the GUI or CLI may change it while
the servers run and the next request sees the change.  ``PolicyMiddleware`` applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from waitress.proxy_headers import PROXY_HEADERS, proxy_headers_middleware

from launcher.errors import ConfigError
from launcher.options import LIVE_FIELDS, REDIRECT_STATUSES, ServeConfig
from launcher.scheme import Scheme

#: The headers a trusted proxy may set; waitress deletes them all from untrusted peers.
TRUSTED_PROXY_HEADERS = frozenset(
    {"x-forwarded-proto", "x-forwarded-for", "x-forwarded-host", "x-forwarded-port"}
)
LOOPBACK_PEERS = frozenset({"127.0.0.1", "::1"})
#: The environ keys of every header waitress's proxy-header handling removes from an untrusted
#: peer (``waitress.proxy_headers.PROXY_HEADERS``).
_PROXY_ENVIRON_KEYS = tuple(f"HTTP_{name}" for name in sorted(PROXY_HEADERS))

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class Policy:
    """What the listeners do besides serving the app. Safe to change while serving.

    Its fields are the ``live`` options of ``launcher.options.ServeConfig``, in the same shape:
    ``redirect_https`` is the redirect's status code or None (no redirect), ``hsts`` the HSTS
    max-age in seconds or None (no header).
    """

    redirect_https: int | None = None
    hsts: int | None = None
    #: Honour X-Forwarded-Proto/-For/-Host/-Port from a loopback peer (a local TLS-terminating
    #: proxy). Off: waitress's default, these headers are deleted before the app sees them.
    trusted_proxy: bool = False

    @classmethod
    def from_config(cls, config: ServeConfig) -> Policy:
        return cls(**config.live_values())

    def update(self, **changes: Any) -> None:
        """Set several fields at once (one message for ``launcher.remote``'s policy)."""
        for name, value in changes.items():
            if name not in LIVE_FIELDS:
                raise ConfigError(f"{name!r} cannot change while serving.")
            setattr(self, name, value)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in LIVE_FIELDS}

    def sync(self) -> None:
        """Return once every change made so far is in force: at once here (the listeners read
        this object on every request); ``launcher.remote.RemotePolicy`` waits for its process."""

    def hsts_value(self) -> str | None:
        return None if self.hsts is None else f"max-age={self.hsts}"


class ForwardingPolicy(Policy):
    """A ``Policy`` whose changes of live fields also go to ``_forward(changes)``: one call per
    field set, one per ``update`` (its subclasses send them to server processes)."""

    def __init__(self, base: Policy | None = None) -> None:
        object.__setattr__(self, "_forwarding", False)
        super().__init__(**(base or Policy()).values())
        object.__setattr__(self, "_forwarding", True)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if self.__dict__.get("_forwarding") and name in LIVE_FIELDS:
            self._forward({name: value})

    def update(self, **changes: Any) -> None:
        """Set several fields; they are forwarded together."""
        object.__setattr__(self, "_forwarding", False)
        try:
            super().update(**changes)
        finally:
            object.__setattr__(self, "_forwarding", True)
        if changes:
            self._forward(changes)

    def _forward(self, changes: dict[str, Any]) -> None:
        raise NotImplementedError


def _hostname(host_header: str) -> str:
    """The host part of a Host header: ``[::1]:8080`` -> ``[::1]``, ``localhost:8080`` -> ``localhost``."""
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1] or host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class PolicyMiddleware:
    """Applies a ``Policy`` for one listener (``scheme`` "http" or "https")."""

    def __init__(
        self, app: WSGIApp, policy: Policy, scheme: Scheme, https_port: Callable[[], int | None]
    ) -> None:
        self.policy = policy
        self.scheme = scheme
        self.https_port = https_port
        self.app = app
        # waitress's own proxy-header handling, both ways, chosen per request.
        self._clearing = proxy_headers_middleware(app, trusted_proxy=None, clear_untrusted=True)
        self._trusting = proxy_headers_middleware(
            app, trusted_proxy="*", trusted_proxy_headers=set(TRUSTED_PROXY_HEADERS), clear_untrusted=True
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        policy = self.policy
        status = policy.redirect_https
        if self.scheme == Scheme.HTTP and status is not None:
            port = self.https_port()
            if port:
                return self._redirect(environ, start_response, port, status)
        if policy.trusted_proxy and environ.get("REMOTE_ADDR") in LOOPBACK_PEERS:
            app = self._trusting
        else:
            # Most requests carry none of the headers to remove: then clearing them is a no-op,
            # and the app is called directly (six lookups instead of waitress's six pops).
            app = self.app
            for key in _PROXY_ENVIRON_KEYS:
                if key in environ:
                    app = self._clearing
                    break
        value = policy.hsts_value() if self.scheme == Scheme.HTTPS else None
        if value is not None:
            environ["launcher.hsts"] = value

            def hsts_start_response(
                status: str, headers: list[tuple[str, str]], exc_info: Any = None
            ) -> Callable[[bytes], object]:
                headers = [*headers, ("Strict-Transport-Security", value)]
                started: Callable[[bytes], object] = (
                    start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
                )
                return started

            return app(environ, hsts_start_response)
        return app(environ, start_response)

    @staticmethod
    def _redirect(
        environ: dict[str, Any], start_response: StartResponse, port: int, status: int
    ) -> Iterable[bytes]:
        host = _hostname(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost"))
        target = environ.get("REQUEST_URI") or "/"
        if not target.startswith("/"):
            target = "/"
        location = f"https://{host}{'' if port == 443 else f':{port}'}{target}"
        body = f"Redirecting to {location}\n".encode()
        start_response(
            f"{status} {REDIRECT_STATUSES.get(status, 'Redirect')}",
            [
                ("Location", location),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]
