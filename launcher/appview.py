"""What the served app saw of one inspector probe, captured from inside the app, for any app.

The inspector asks "did this request come over HTTP or HTTPS, and does Flask know?".  The second
half can only be answered from inside the app, after whatever middleware the app installed
(``ProxyFix`` and the like).  No route is needed for that:

* Each ``Servers`` has a random ``probe_token`` (``new_token``).  The inspector sends it in the
  ``X-Flask-Launcher-Probe`` request header (``PROBE_HEADER``).
* ``AppViewMiddleware`` sits between the launcher's ``PolicyMiddleware`` and the user's app.  For a
  request whose header matches the token (constant-time compare) it removes the header (the app sees
  an ordinary request), records the environ as the app's callable receives it, and leaves a
  ``_Capture`` object in the environ under ``CAPTURE_KEY``.  Every other request passes untouched.
* ``AppView`` connects Flask's ``request_started`` signal (sender: the Flask app).  It fires
  inside the request context, after the app's ``wsgi_app`` wrappers ran, so ``flask_facts`` reads
  ``request.scheme``, ``url_for(<matched endpoint>, _external=True)``, the settings that decide
  them and any ``ProxyFix`` in the chain, and stores them in the capture (an object, so a
  middleware that copies the environ still shares it).
* When the app calls ``start_response``, the middleware adds ``X-Flask-Launcher-View``
  (``VIEW_HEADER``): base64url of compact JSON (``encode_view``/``decode_view``), the Flask facts
  when the signal fired, else the plain WSGI facts (``kind`` "wsgi": Flask facts do not apply).

Because the facts travel in a response header, the same capture works in-process, through the
window's server process and for ``flask-launcher inspect`` against ``flask-launcher serve``.
The receiver is connected weakly and to no particular app, so Flask's global signal keeps neither
an old app nor the ``AppView`` alive, and a new app (``set_app``, a reload) is covered at once.
Nothing here imports Qt, and Flask is imported only when the servers build their request path.

``flask-launcher serve`` leaves its token in ``<cert folder>/probe-token`` (0600, removed at exit;
``write_token_file``) and ``flask-launcher inspect`` reads it from the same folder.  A certificate
folder that cannot be written (a read-only mount, such as a Kubernetes Secret) gets a private
folder of its own instead (``spare_token_folders``), where ``inspect`` looks too.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

#: The request header that marks an inspector probe; its value is the servers' token.
PROBE_HEADER = "X-Flask-Launcher-Probe"
#: The same header as a WSGI environ key.
PROBE_ENVIRON = "HTTP_X_FLASK_LAUNCHER_PROBE"
#: The response header that carries what the app saw (base64url of compact JSON).
VIEW_HEADER = "X-Flask-Launcher-View"
#: environ key of the per-request ``_Capture`` (set only for a probe with the valid token).
CAPTURE_KEY = "launcher.appview"
#: The environ keys copied for a plain WSGI callable (besides ``HTTP_X_FORWARDED_*``).
_WSGI_KEYS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "SCRIPT_NAME")
#: How deep ``middleware_chain`` walks ``.app``/``.wsgi_app`` before giving up (a cycle guard too).
_CHAIN_DEPTH = 16
#: The ``ProxyFix`` counts reported.
PROXY_FIX_FIELDS = ("x_for", "x_proto", "x_host", "x_port", "x_prefix")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def new_token() -> str:
    """A fresh random probe token (URL-safe, 32 characters)."""
    return secrets.token_urlsafe(24)


def token_matches(sent: str | None, token: str) -> bool:
    """True when *sent* is *token*; constant-time, so the answer time says nothing about it."""
    if not sent or not token:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "replace"), token.encode("utf-8", "replace"))


def encode_view(view: dict[str, Any]) -> str:
    """*view* as the header value: compact JSON, base64url without padding (ASCII only)."""
    raw = json.dumps(view, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_view(value: str) -> dict[str, Any] | None:
    """The dict in a ``VIEW_HEADER`` value, or None when it is not one (never raises)."""
    try:
        raw = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def middleware_chain(app: Any) -> Iterator[Any]:
    """*app*, then what it wraps: each object's ``.wsgi_app`` (a Flask app's) or ``.app``, in turn.

    Stops at a bound method (Flask's own ``wsgi_app``), at a repeat, or after ``_CHAIN_DEPTH`` steps.
    """
    seen: set[int] = set()
    current = app
    for _ in range(_CHAIN_DEPTH):
        if current is None or id(current) in seen or hasattr(current, "__func__"):
            return
        seen.add(id(current))
        yield current
        nxt = getattr(current, "wsgi_app", None)
        if nxt is None or hasattr(nxt, "__func__"):
            nxt = getattr(current, "app", None) if nxt is None else None
        current = nxt


def find_proxy_fix(app: Any) -> dict[str, int] | None:
    """The counts of the first ``ProxyFix`` in *app*'s chain (``app.wsgi_app`` for Flask), or None."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    for obj in middleware_chain(app):
        if isinstance(obj, ProxyFix):
            return {name: int(getattr(obj, name, 0) or 0) for name in PROXY_FIX_FIELDS}
    return None


def _forwarded(environ: dict[str, Any]) -> dict[str, str]:
    """The ``X-Forwarded-*`` headers in *environ*, by header name."""
    return {
        key[5:].replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_X_FORWARDED_")
    }


def _tls(environ: dict[str, Any]) -> dict[str, Any] | None:
    """The TLS facts the launcher's listener put in the environ, or None without TLS."""
    version = environ.get("SSL_PROTOCOL")
    if not version:
        return None
    bits = str(environ.get("SSL_CIPHER_USEKEYSIZE"))
    return {
        "version": version,
        "cipher": environ.get("SSL_CIPHER"),
        "sni": environ.get("SSL_TLS_SNI"),
        "alpn": environ.get("SSL_ALPN_PROTOCOL"),
        "cipher_bits": int(bits) if bits.isdigit() else None,
    }


def _port(environ: dict[str, Any]) -> int | None:
    port = str(environ.get("SERVER_PORT", ""))
    return int(port) if port.isdigit() else None


def wsgi_facts(environ: dict[str, Any], served: Any = None) -> dict[str, Any]:
    """What a plain WSGI callable received: the scheme, host and peer as its environ says."""
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    scheme = environ.get("wsgi.url_scheme")
    return {
        "kind": "wsgi",
        "scheme": scheme,
        "is_secure": scheme == "https" if scheme else None,
        "host": host,
        "url_root": f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}/" if scheme else None,
        "wsgi_url_scheme": scheme,
        "remote_addr": environ.get("REMOTE_ADDR"),
        "server_port": _port(environ),
        "listener": environ.get("launcher.listener"),
        "x_forwarded_proto": environ.get("HTTP_X_FORWARDED_PROTO"),
        "x_forwarded": _forwarded(environ),
        "tls": _tls(environ),
        "hsts": environ.get("launcher.hsts"),
        "proxy_fix": find_proxy_fix(served) if served is not None else None,
        "environ": {key: environ[key] for key in _WSGI_KEYS if key in environ},
    }


def flask_facts(app: Any, request: Any, served: Any = None) -> dict[str, Any]:
    """What the Flask *app* makes of the current *request* (call inside its request context).

    *served*: the callable the launcher serves (it may wrap *app*); a ``ProxyFix`` is looked for in
    its chain, then in ``app.wsgi_app``'s.  ``url_for_external`` is ``url_for(<matched endpoint>,
    **view_args, _external=True)``, None when no rule matched (a 404) or the URL cannot be built
    (``url_for_error`` says why).
    """
    from flask import url_for

    environ = request.environ
    endpoint = request.url_rule.endpoint if request.url_rule is not None else None
    url_for_external: str | None = None
    url_for_error: str | None = None
    if endpoint is not None:
        try:
            url_for_external = url_for(endpoint, **(request.view_args or {}), _external=True)
        except Exception as exc:  # a BuildError is a fact to report, not a failed request
            url_for_error = f"{type(exc).__name__}: {exc}"
    config = app.config
    return {
        "kind": "flask",
        "scheme": request.scheme,
        "is_secure": request.is_secure,
        "host": request.host,
        "url_root": request.url_root,
        "endpoint": endpoint,
        "url_for_external": url_for_external,
        "url_for_error": url_for_error,
        "wsgi_url_scheme": environ.get("wsgi.url_scheme"),
        "remote_addr": request.remote_addr,
        "server_port": _port(environ),
        "listener": environ.get("launcher.listener"),
        "x_forwarded_proto": request.headers.get("X-Forwarded-Proto"),
        "x_forwarded": _forwarded(environ),
        "tls": _tls(environ),
        "hsts": environ.get("launcher.hsts"),
        "preferred_url_scheme": config.get("PREFERRED_URL_SCHEME"),
        "server_name": config.get("SERVER_NAME"),
        "session_cookie_secure": config.get("SESSION_COOKIE_SECURE"),
        "proxy_fix": (find_proxy_fix(served) if served is not None else None) or find_proxy_fix(app),
    }


class _Capture:
    """One probe's facts: the plain WSGI ones at once, the Flask ones when its signal fires."""

    __slots__ = ("flask", "served", "wsgi")

    def __init__(self, served: Any, wsgi: dict[str, Any]) -> None:
        self.served = served
        self.wsgi = wsgi
        self.flask: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        return self.flask if self.flask is not None else self.wsgi


class AppView:
    """The capture for one ``Servers``: its token, and its receiver of Flask's ``request_started``.

    The receiver is connected for any sender, weakly: the ``_Capture`` that ``AppViewMiddleware``
    puts in the environ of a marked probe is what scopes it, so a Flask app the served callable
    hides (inside a closure, behind another middleware) is found too, no app is referenced by the
    signal, and a new app served (``set_app``, a reload) needs no reconnecting.  ``detach()``
    disconnects (the servers closed).  Thread-safe.
    """

    def __init__(self, token: str | None = None) -> None:
        self.token = token or new_token()
        self._lock = threading.Lock()
        self._connected = False
        #: Probes with this token that entered ``AppViewMiddleware`` and whose response is not
        #: closed yet: while there are none, ``_started`` (called for every request of every
        #: Flask app) returns at once.
        self.probes_in_flight = 0

    def attach(self) -> None:
        """Listen to ``request_started`` (idempotent)."""
        with self._lock:
            if self._connected:
                return
            from flask.signals import request_started

            # weak=True: Flask's global signal must not keep this AppView alive.
            request_started.connect(self._started, weak=True)
            self._connected = True

    def detach(self) -> None:
        """Stop listening."""
        with self._lock:
            if self._connected:
                from flask.signals import request_started

                request_started.disconnect(self._started)
                self._connected = False

    def _started(self, sender: Any, **_extra: Any) -> None:
        """``request_started``: for a marked probe, what Flask sees (never disturbs the request).

        The first Flask app to start on the probe wins (the outer one, when one Flask app calls another).
        """
        if not self.probes_in_flight:
            return  # no probe is being served: not this request's business
        from flask import request

        capture = request.environ.get(CAPTURE_KEY)
        if not isinstance(capture, _Capture) or capture.flask is not None:
            return
        try:
            capture.flask = flask_facts(sender, request, capture.served)
        except Exception as exc:  # the app's request must go on whatever the capture meets
            capture.flask = {**capture.wsgi, "kind": "flask", "error": f"{type(exc).__name__}: {exc}"}

    def wrap(self, app: WSGIApp) -> AppViewMiddleware:
        """*app* wrapped so that probes carrying this token get ``VIEW_HEADER`` back."""
        self.attach()
        return AppViewMiddleware(app, self)

    def probe_started(self) -> None:
        with self._lock:
            self.probes_in_flight += 1

    def probe_ended(self) -> None:
        with self._lock:
            self.probes_in_flight -= 1


class AppViewMiddleware:
    """For a probe with the valid token: capture (see module docstring) and answer with the view."""

    def __init__(self, app: WSGIApp, view: AppView) -> None:
        self.app = app
        self.view = view

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not token_matches(environ.get(PROBE_ENVIRON), self.view.token):
            return self.app(environ, start_response)
        del environ[PROBE_ENVIRON]  # the app sees an ordinary request, and never the token
        capture = _Capture(self.app, wsgi_facts(environ, self.app))
        environ[CAPTURE_KEY] = capture

        def view_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            try:
                value = encode_view(capture.view())
            except Exception as exc:  # a fact that is not JSON: say so rather than fail the request
                value = encode_view({"kind": "error", "error": f"{type(exc).__name__}: {exc}"})
            headers = [*headers, (VIEW_HEADER, value)]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        view = self.view
        view.probe_started()
        try:
            body = self.app(environ, view_start_response)
        except BaseException:
            view.probe_ended()
            raise
        return _ProbeBody(body, view)


class _ProbeBody:
    """A probe's response body: ``AppView.probe_ended`` when the server closes it (the app may
    produce its response, and Flask fire its signal, only while it is iterated)."""

    __slots__ = ("_body", "_view")

    def __init__(self, body: Iterable[bytes], view: AppView) -> None:
        self._body: Iterable[bytes] | None = body
        self._view = view

    def __iter__(self) -> Iterator[bytes]:
        assert self._body is not None
        return iter(self._body)

    def close(self) -> None:
        body, self._body = self._body, None
        if body is None:
            return  # closed already
        try:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        finally:
            self._view.probe_ended()


# --- the token for ``flask-launcher inspect`` against ``flask-launcher serve`` --------------------

#: The file in the certificate folder where ``flask-launcher serve`` leaves its token (0600).
TOKEN_FILE = "probe-token"


def write_token_file(folder: str | os.PathLike[str], token: str, host: str, ports: Iterable[int]) -> Path:
    """Leave *token* (and the listeners it belongs to) in ``folder/TOKEN_FILE``, readable by this
    user only; written whole under a temporary name first, so a reader never sees half of it.
    Raises ``OSError`` when the folder cannot be written."""
    path = Path(folder) / TOKEN_FILE
    data = json.dumps({"token": token, "host": host, "ports": sorted(set(ports)), "pid": os.getpid()})
    temporary = path.with_name(f".{TOKEN_FILE}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(temporary, path)
    return path


def read_token_file(folder: str | os.PathLike[str]) -> tuple[str, str, frozenset[int]] | None:
    """(token, host, ports) from ``folder/TOKEN_FILE``; None when absent or unreadable."""
    try:
        data = json.loads((Path(folder) / TOKEN_FILE).read_text("utf-8"))
        token, host, ports = data["token"], data["host"], data["ports"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(token, str) or not isinstance(host, str) or not isinstance(ports, list):
        return None
    return token, host, frozenset(p for p in ports if isinstance(p, int))


def spare_token_folders(cert_dir: str | os.PathLike[str]) -> list[Path]:
    """Where the token for *cert_dir* goes when *cert_dir* itself cannot be written: one folder
    per certificate folder (named by a digest of its real path) inside ``flask-launcher-<uid>``,
    under ``$XDG_RUNTIME_DIR`` and under the temporary folder, in that order (``inspect`` may run
    with one of them set differently from ``serve``).  Empty where users have no uid (Windows)."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return []
    digest = hashlib.sha256(os.fsencode(os.path.realpath(cert_dir))).hexdigest()[:16]
    bases = [os.environ.get("XDG_RUNTIME_DIR") or "", tempfile.gettempdir()]
    own = f"flask-launcher-{getuid()}"
    return [Path(base, own, digest) for base in dict.fromkeys(b for b in bases if b)]


def make_private_folder(folder: Path) -> None:
    """Make *folder* and its parent (``flask-launcher-<uid>``) if missing, mode 0700, and check
    that both are this user's own: a folder someone else made in a shared temporary folder, or
    a symlink, is refused (``OSError``), so nobody else can read or swap the token."""
    for path in (folder.parent, folder):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise OSError(errno.EPERM, "not a private folder of this user", str(path))


def write_token_anywhere(
    cert_dir: str | os.PathLike[str], token: str, host: str, ports: Iterable[int]
) -> Path:
    """``write_token_file`` in *cert_dir*, else in the first spare folder that takes it
    (``spare_token_folders``); raises the certificate folder's ``OSError`` when none does."""
    try:
        return write_token_file(cert_dir, token, host, ports)
    except OSError as first:
        for folder in spare_token_folders(cert_dir):
            try:
                make_private_folder(folder)
                return write_token_file(folder, token, host, ports)
            except OSError:
                continue
        raise first


def find_token_file(cert_dir: str | os.PathLike[str]) -> tuple[str, str, frozenset[int]] | None:
    """``read_token_file`` of the newest token among *cert_dir* and its spare folders (a server
    on a read-only certificate folder writes to a spare one; an older token may be left in the
    other place)."""
    found: list[tuple[float, Path]] = []
    for folder in (Path(cert_dir), *spare_token_folders(cert_dir)):
        with contextlib.suppress(OSError):
            found.append((os.stat(folder / TOKEN_FILE).st_mtime, folder))
    for _, folder in sorted(found, key=lambda item: item[0], reverse=True):
        token = read_token_file(folder)
        if token is not None:
            return token
    return None


def remove_token_file(path: Path, token: str) -> None:
    """Remove *path* if it still holds *token* (another server may have written its own since)."""
    found = read_token_file(path.parent)
    if found is not None and found[0] == token:
        with contextlib.suppress(OSError):
            path.unlink()
