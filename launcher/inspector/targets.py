"""What to fetch: a path on the launcher's listeners, or a URL and its other-scheme twin, as a ``Target``.

Anything that is neither a path nor an http(s) URL raises ``InvalidTargetError`` (one line, for the
user); nothing here touches the network.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from launcher.errors import InvalidTargetError
from launcher.inspector.urls import is_loopback_host
from launcher.options import DEFAULTS
from launcher.scheme import Scheme

if TYPE_CHECKING:
    from launcher.control import ServersControl


@dataclass(frozen=True)
class ProbeMark:
    """The token that marks a probe (``launcher.appview``), and where it may be sent.

    The token is sent only to *ports* (the launcher's listeners) on a loopback host or one of
    *hosts* (their bind address), never along a redirect to anywhere else.
    """

    token: str = field(repr=False)  # a secret: kept out of reprs and tracebacks
    ports: frozenset[int]
    hosts: frozenset[str] = frozenset()

    def applies(self, url: str) -> bool:
        """True when *url* is one of the listeners the token belongs to."""
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == Scheme.HTTPS else 80)
        except ValueError:
            return False
        host = parts.hostname or ""
        return port in self.ports and (is_loopback_host(host) or host in self.hosts)


@dataclass(frozen=True)
class Target:
    """The two URLs to fetch (and why one is skipped, if it is).

    ``probe``: the servers' probe token and where it may go (``target_for_servers`` sets it), so
    their answers say what the app saw; ``no_probe``: why there is none, in words for the report.
    """

    text: str
    http_url: str
    https_url: str
    http_skip: str | None = None
    https_skip: str | None = None
    probe: ProbeMark | None = None
    no_probe: str | None = None


_PATH_SAFE = "/?&=%:@!$'()*+,;~-._[]"


def normalize_path(path: str) -> str:
    """A path (and query) to request: ``/`` added in front, spaces and non-ASCII percent-encoded.

    Raises ``InvalidTargetError`` for a path that would name another host (``//host``) or has
    control characters.
    """
    path = path.strip()
    if not path:
        return "/"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise InvalidTargetError("The path contains control characters: give a plain path such as /login.")
    path = path.split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    if path.startswith("//"):
        raise InvalidTargetError(
            f"The path {path!r} starts with //, which names a host: give /path or a full URL."
        )
    return urllib.parse.quote(path, safe=_PATH_SAFE)


def _netloc(host: str, port: int | None, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return shown
    return f"{shown}:{port}"


def _url_host(host: str) -> str:
    """The host to connect to for a bind address (all interfaces → loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def target_for_path(
    path: str,
    *,
    host: str = DEFAULTS.host,
    http_port: int = DEFAULTS.http_port,
    https_port: int = DEFAULTS.https_port,
) -> Target:
    """http://host:http_port/PATH and https://host:https_port/PATH."""
    norm = normalize_path(path)
    host = _url_host(host)
    return Target(
        text=norm,
        http_url=f"http://{_netloc(host, http_port, 'http')}{norm}",
        https_url=f"https://{_netloc(host, https_port, 'https')}{norm}",
    )


def target_for_url(
    url: str, *, http_port: int = DEFAULTS.http_port, https_port: int = DEFAULTS.https_port
) -> Target:
    """The URL and its other-scheme twin on the same host and path.

    The twin's port: when the URL's port (explicit, or 80/443 by default) is *http_port* or
    *https_port*, the twin gets the other of the two; otherwise the twin uses its scheme's standard
    port (80 for http, 443 for https).  Raises ``InvalidTargetError`` for anything but an absolute
    http(s) URL with a host.
    """
    url = url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidTargetError(f"{url!r} is not a valid URL: {exc}.") from None
    if parts.scheme.lower() not in (Scheme.HTTP, Scheme.HTTPS):
        raise InvalidTargetError(f"{url!r} is not an http:// or https:// URL: only those can be inspected.")
    scheme = Scheme(parts.scheme.lower())
    host = parts.hostname
    if not host:
        raise InvalidTargetError(f"{url!r} has no host: write it as {scheme}://HOST[:PORT]/PATH.")
    if parts.username or parts.password:
        raise InvalidTargetError("URLs with a user name or password cannot be inspected: leave them out.")
    own_port = port if port is not None else scheme.default_port
    other = scheme.other
    if own_port == http_port:
        twin_port = https_port
    elif own_port == https_port:
        twin_port = http_port
    else:
        twin_port = other.default_port
    path = normalize_path(parts.path + (f"?{parts.query}" if parts.query else ""))
    urls = {
        scheme: f"{scheme}://{_netloc(host, own_port, scheme)}{path}",
        other: f"{other}://{_netloc(host, twin_port, other)}{path}",
    }
    return Target(text=url, http_url=urls[Scheme.HTTP], https_url=urls[Scheme.HTTPS])


def resolve_target(
    text: str,
    *,
    host: str = DEFAULTS.host,
    http_port: int = DEFAULTS.http_port,
    https_port: int = DEFAULTS.https_port,
) -> Target:
    """A path (starting with /) or an http(s) URL; anything else raises ``InvalidTargetError``."""
    stripped = text.strip()
    if stripped.lower().startswith(("http:", "https:")):
        return target_for_url(stripped, http_port=http_port, https_port=https_port)
    if "://" in stripped and not stripped.startswith("/"):
        raise InvalidTargetError(f"{text!r} is not an http:// or https:// URL: only those can be inspected.")
    if stripped and not stripped.startswith("/"):
        raise InvalidTargetError(
            f"{text!r} is neither a path nor a URL: give a path starting with / (e.g. /login) "
            "or a full URL (http://HOST:PORT/PATH)."
        )
    return target_for_path(stripped, host=host, http_port=http_port, https_port=https_port)


def target_for_servers(servers: ServersControl, text: str = "/") -> Target:
    """A path on running ``Servers`` (or a URL, twinned with their ports); stopped listeners are skipped.

    The target carries the servers' probe token, for their running listeners only.

    A stopped listener is not probed even though its port is known: another program could be
    listening there, and its answers would be mistaken for the app's.
    """
    http_port, https_port = servers.http.port, servers.https.port
    stripped = text.strip()
    token = servers.probe_token
    running = frozenset(lst.port for lst in servers.listeners if lst.running)
    probe = ProbeMark(token, running, frozenset({servers.host})) if token else None
    no_probe = None if token else "the servers have not told their probe token (still starting?)"
    if stripped.startswith("/") or not stripped:
        target = target_for_path(stripped, host=servers.http.host, http_port=http_port, https_port=https_port)
        skips = {}
        for listener in (servers.http, servers.https):
            if not listener.running:
                state = getattr(listener.state, "value", str(listener.state))
                skips[f"{listener.scheme}_skip"] = (
                    f"The {listener.scheme.upper()} listener is {state}: start it to inspect "
                    f"{listener.scheme}:// (nothing was sent)."
                )
        return Target(target.text, target.http_url, target.https_url, **skips, probe=probe, no_probe=no_probe)
    target = resolve_target(stripped, http_port=http_port, https_port=https_port)
    return replace(target, probe=probe, no_probe=no_probe)
