"""The scheme inspector: fetch a page over http:// and https:// with a real client, and explain it.

For one path on the launcher's listeners, or any URL and its other-scheme twin, ``inspect_target``
returns an ``InspectReport`` with, side by side for the two schemes (``SchemeReport``):

* the redirect chain, one GET per hop (each status and Location), and the final status;
* what Flask saw, read from the app's ``/inspect`` JSON on the same listener (the bundled demo app
  has it; for an app without it the report says so and leaves that part out);
* the client-side TLS facts: version, cipher, ALPN, the server certificate's subject, names and
  expiry, and whether it verified against the tool's CA (and if not, why: the facts then come from a
  second, unverified connection);
* the Strict-Transport-Security header and every Set-Cookie with its Secure, HttpOnly and SameSite;
* verdicts in plain words, each a ``Verdict(level, text)`` with level "ok", "warn", "bad" or "info"
  (a neutral note, e.g. "this app has no /inspect").

The behind-a-proxy lens (``ProxyLens``) sends ``X-Forwarded-Proto: https`` (with -Host and -For)
over HTTP and shows what Flask sees with waitress's default (the headers are deleted) and with the
launcher's trusted-proxy setting.  Given the ``Policy`` of running servers it flips
``policy.trusted_proxy`` for those two requests and restores it; given only a URL it reports what
the server's current setting gives.

``InspectReport.to_dict()`` is the JSON form, ``to_text()`` the text the CLI prints and the GUI
copies.  No Qt here.

Limits: GET only, a new connection per hop, HTTP/1.1 only (ALPN offers ``http/1.1``), no cookie jar
(cookies set by one hop are not sent to the next), bodies read up to 1 MiB, at most
``MAX_REDIRECTS`` redirects.  Cookie values are never reported, only their length.  The proxy
lens, when it flips the policy of running servers, does so for a few milliseconds: requests other
clients send in that window see the flipped setting.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from launcher import __version__
from launcher.errors import InvalidTargetError

USER_AGENT = f"flask-launcher-inspector/{__version__}"
DEFAULT_TIMEOUT = 5.0
MAX_REDIRECTS = 10
MAX_BODY = 1024 * 1024
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
INSPECT_PATH = "/inspect"
#: Keys of the app's /inspect JSON the inspector relies on (the contract with flaskapp.facts).
INSPECT_KEYS = (
    "scheme",
    "is_secure",
    "url_root",
    "url_for_external",
    "wsgi_url_scheme",
    "remote_addr",
    "host",
)
#: What the proxy lens claims, as a TLS-terminating proxy would: documentation-only names and addresses.
FORWARDED_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "myapp.example",
    "X-Forwarded-For": "203.0.113.7",
}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Cookie names treated as a session cookie in the wording (Flask's default is "session").
SESSION_COOKIE_HINTS = ("session", "sess", "sid", "auth", "token", "remember")
LEVELS = ("ok", "warn", "bad", "info")
#: Status line the launcher's HTTPS port (and nginx) send back to a plain-HTTP request.
_WRONG_PORT_MARKERS = ("this port speaks HTTPS", "plain HTTP request was sent to HTTPS port")

WHY_HTTP_BEHIND_PROXY = (
    "Why url_for builds http:// behind a TLS-terminating proxy: the browser speaks HTTPS to the proxy "
    "(nginx, Caddy, a load balancer), but the proxy speaks plain HTTP to the app's server. Flask takes "
    "the scheme from the connection the server received (wsgi.url_scheme), so request.scheme is 'http', "
    "request.is_secure is False, and url_for(..., _external=True) and redirects build http:// URLs. The "
    "proxy reports the browser's scheme in X-Forwarded-Proto, but any client can send that header, so "
    "waitress deletes X-Forwarded-Proto, -Host and -For unless the peer is a proxy it was told to trust."
)
HOW_TO_FIX = (
    'Fix: trust your proxy, and only it. With waitress: serve(app, trusted_proxy="127.0.0.1", '
    'trusted_proxy_headers="x-forwarded-proto x-forwarded-host x-forwarded-for"). With any WSGI '
    "server, Werkzeug's ProxyFix (x_for=1 etc. = how many proxies set that header). In this launcher: "
    "the Inspector's trusted-proxy toggle, or flask-launcher serve --trusted-proxy (trusts 127.0.0.1 "
    "and ::1 only)."
)
FIX_CODE = (
    "from werkzeug.middleware.proxy_fix import ProxyFix\n"
    "app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)"
)

_POLICY_LOCK = threading.Lock()


# --- report data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One conclusion in plain words. ``level`` is "ok", "warn", "bad" or "info" (neutral)."""

    level: str
    text: str


@dataclass
class TLSFacts:
    """What the client saw of one TLS connection."""

    version: str | None = None
    cipher: str | None = None
    cipher_bits: int | None = None
    alpn: str | None = None
    #: The server name sent in the ClientHello (SNI); None for an IP address (never sent for IPs).
    sni: str | None = None
    subject: str | None = None
    issuer: str | None = None
    sans: list[str] = field(default_factory=list)
    not_before: str | None = None
    not_after: str | None = None
    days_left: int | None = None
    fingerprint_sha256: str | None = None
    key_type: str | None = None
    verified: bool = False
    #: Why verification failed ("not verified: ..."), or None when it verified.
    verify_error: str | None = None


@dataclass
class Cookie:
    """One Set-Cookie header, flags only (the value is never kept)."""

    name: str
    value_length: int
    secure: bool
    httponly: bool
    samesite: str | None
    path: str | None
    domain: str | None
    max_age: str | None
    expires: str | None
    partitioned: bool
    #: Scheme of the response that set it ("http" or "https") and its URL.
    over: str
    url: str


@dataclass
class Hop:
    """One request of a redirect chain."""

    url: str
    status: int | None = None
    reason: str = ""
    http_version: str | None = None
    location: str | None = None
    #: The absolute URL the Location points to (followed unless the chain stopped).
    next_url: str | None = None
    hsts: str | None = None
    cookies: list[Cookie] = field(default_factory=list)
    tls: TLSFacts | None = None
    content_type: str | None = None
    error: str | None = None

    @property
    def scheme(self) -> str:
        return urllib.parse.urlsplit(self.url).scheme


@dataclass
class FlaskView:
    """What Flask saw, from the app's /inspect JSON (``available`` False when the app has none)."""

    available: bool
    inspect_url: str
    #: Where the /inspect request ended after redirects (None when no answer).
    final_url: str | None = None
    status: int | None = None
    note: str | None = None
    scheme: str | None = None
    is_secure: bool | None = None
    url_root: str | None = None
    url_for_external: str | None = None
    wsgi_url_scheme: str | None = None
    remote_addr: str | None = None
    host: str | None = None
    server_port: int | None = None
    listener: str | None = None
    x_forwarded_proto: str | None = None
    transport: str | None = None
    tls: dict[str, Any] | None = None
    hsts: str | None = None

    @classmethod
    def from_json(cls, inspect_url: str, final_url: str, status: int, data: dict[str, Any]) -> FlaskView:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        port = data.get("server_port")
        tls = data.get("tls")
        return cls(
            available=True,
            inspect_url=inspect_url,
            final_url=final_url,
            status=status,
            scheme=text("scheme"),
            is_secure=bool(data.get("is_secure")),
            url_root=text("url_root"),
            url_for_external=text("url_for_external"),
            wsgi_url_scheme=text("wsgi_url_scheme"),
            remote_addr=text("remote_addr"),
            host=text("host"),
            server_port=port if isinstance(port, int) else None,
            listener=text("listener"),
            x_forwarded_proto=text("x_forwarded_proto"),
            transport=text("transport"),
            tls=tls if isinstance(tls, dict) else None,
            hsts=text("hsts"),
        )

    @property
    def url_for_scheme(self) -> str | None:
        if not self.url_for_external:
            return None
        return urllib.parse.urlsplit(self.url_for_external).scheme or None


@dataclass
class SchemeReport:
    """One column: the page fetched over one scheme, and what it means."""

    scheme: str
    url: str
    #: Why this scheme was not probed (a stopped listener), else None.
    skipped: str | None = None
    hops: list[Hop] = field(default_factory=list)
    #: Why the chain ended without a final answer (connection refused, redirect loop...), else None.
    error: str | None = None
    final_url: str | None = None
    final_status: int | None = None
    final_reason: str = ""
    #: Scheme of the connection the final answer came over.
    final_scheme: str | None = None
    tls: TLSFacts | None = None
    hsts: str | None = None
    cookies: list[Cookie] = field(default_factory=list)
    flask: FlaskView | None = None
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        return self.final_status is not None or any(h.status is not None for h in self.hops)

    @property
    def redirects(self) -> list[Hop]:
        return [h for h in self.hops if h.status in REDIRECT_CODES and h.location]

    @property
    def worst(self) -> str:
        return worst_level(self.verdicts)


@dataclass
class ProxyCase:
    """The proxy lens request under one trusted-proxy setting."""

    #: True/False: the setting was forced for this request; None: the server's current setting.
    trusted: bool | None
    label: str
    status: int | None = None
    location: str | None = None
    flask: FlaskView | None = None
    error: str | None = None


@dataclass
class ProxyLens:
    """What Flask sees when a TLS-terminating proxy forwards an HTTPS request over HTTP."""

    url: str
    sent_headers: dict[str, str]
    #: True when the inspector flipped the servers' Policy itself (both cases are real), else False.
    toggled: bool
    cases: list[ProxyCase] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    explanation: str = WHY_HTTP_BEHIND_PROXY
    fix: str = HOW_TO_FIX
    fix_code: str = FIX_CODE


@dataclass
class InspectReport:
    """The whole answer: both columns, and the proxy lens when asked for."""

    target: str
    http: SchemeReport
    https: SchemeReport
    cafile: str | None
    proxy_lens: ProxyLens | None = None
    notes: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def columns(self) -> tuple[SchemeReport, SchemeReport]:
        return (self.http, self.https)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("http", "https"):
            column: SchemeReport = getattr(self, key)
            data[key]["reachable"] = column.reachable
            data[key]["worst"] = column.worst
        data["inspector"] = USER_AGENT
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self) -> str:
        return render_text(self)


def worst_level(verdicts: list[Verdict]) -> str:
    """The most severe level among *verdicts* ("bad" > "warn" > "ok" > "info"); "info" when none."""
    order = {"bad": 3, "warn": 2, "ok": 1, "info": 0}
    return max((v.level for v in verdicts), key=lambda lvl: order.get(lvl, 0), default="info")


# --- targets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The two URLs to fetch (and why one is skipped, if it is)."""

    text: str
    http_url: str
    https_url: str
    http_skip: str | None = None
    https_skip: str | None = None


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
    path: str, *, host: str = "127.0.0.1", http_port: int = 8080, https_port: int = 8443
) -> Target:
    """http://host:http_port/PATH and https://host:https_port/PATH."""
    norm = normalize_path(path)
    host = _url_host(host)
    return Target(
        text=norm,
        http_url=f"http://{_netloc(host, http_port, 'http')}{norm}",
        https_url=f"https://{_netloc(host, https_port, 'https')}{norm}",
    )


def target_for_url(url: str, *, http_port: int = 8080, https_port: int = 8443) -> Target:
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
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidTargetError(f"{url!r} is not an http:// or https:// URL: only those can be inspected.")
    host = parts.hostname
    if not host:
        raise InvalidTargetError(f"{url!r} has no host: write it as {scheme}://HOST[:PORT]/PATH.")
    if parts.username or parts.password:
        raise InvalidTargetError("URLs with a user name or password cannot be inspected: leave them out.")
    own_port = port if port is not None else (80 if scheme == "http" else 443)
    other = "https" if scheme == "http" else "http"
    if own_port == http_port:
        twin_port = https_port
    elif own_port == https_port:
        twin_port = http_port
    else:
        twin_port = 443 if other == "https" else 80
    path = normalize_path(parts.path + (f"?{parts.query}" if parts.query else ""))
    urls = {
        scheme: f"{scheme}://{_netloc(host, own_port, scheme)}{path}",
        other: f"{other}://{_netloc(host, twin_port, other)}{path}",
    }
    return Target(text=url, http_url=urls["http"], https_url=urls["https"])


def resolve_target(
    text: str, *, host: str = "127.0.0.1", http_port: int = 8080, https_port: int = 8443
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


def target_for_servers(servers: Any, text: str = "/") -> Target:
    """A path on running ``Servers`` (or a URL, twinned with their ports); stopped listeners are skipped.

    A stopped listener is not probed even though its port is known: another program could be
    listening there, and its answers would be mistaken for the app's.
    """
    http_port, https_port = servers.http.port, servers.https.port
    stripped = text.strip()
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
        return Target(target.text, target.http_url, target.https_url, **skips)
    return resolve_target(stripped, http_port=http_port, https_port=https_port)


# --- the client ------------------------------------------------------------------------------------


def client_context(cafile: str | Path | None, *, system_trust: bool = True) -> ssl.SSLContext:
    """A verifying client context: the system's trust store (unless *system_trust* is False) plus *cafile*.

    Raises ``InvalidTargetError`` when *cafile* cannot be read as PEM certificates.
    """
    ctx = ssl.create_default_context() if system_trust else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_alpn_protocols(["http/1.1"])
    if cafile is not None:
        try:
            ctx.load_verify_locations(cafile=str(cafile))
        except FileNotFoundError:
            raise InvalidTargetError(f"The CA file {cafile} does not exist: check --cacert.") from None
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise InvalidTargetError(
                f"The CA file {cafile} cannot be used: {getattr(exc, 'reason', None) or exc}."
            ) from None
    return ctx


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    return (
        host in LOOPBACK_NAMES
        or host.endswith(".localhost")
        or (is_ip(host) and ipaddress.ip_address(host).is_loopback)
    )


_VERIFY_PLAIN = {
    2: "the certificate's issuer is not a CA this client trusts",
    18: "the server sent a self-signed certificate, not one issued by a trusted CA",
    19: "the certificate chains to a CA this client does not trust",
    20: "the certificate was issued by a CA this client does not trust",
    21: "the certificate was issued by a CA this client does not trust",
    9: "the certificate is not valid yet (check the clocks)",
    10: "the certificate has expired",
    62: "the certificate does not cover this host name",
    64: "the certificate does not cover this IP address",
}


def _verify_reason(exc: ssl.SSLCertVerificationError, host: str, cafile: str | None) -> str:
    message = exc.verify_message or exc.reason or str(exc)
    code = exc.verify_code
    plain = _VERIFY_PLAIN.get(code or -1)
    if code in (62, 64) or "mismatch" in str(message).lower():
        plain = f"the certificate does not cover {host}"
    elif plain and code in (2, 18, 19, 20, 21):
        trusted = f"{cafile} or the system trust store" if cafile else "the system trust store"
        plain = f"{plain} (trusted here: {trusted})"
    return f"not verified: {message}" + (f" — {plain}" if plain else "")


def _tls_facts(sock: ssl.SSLSocket, host: str, verified: bool, verify_error: str | None) -> TLSFacts:
    from cryptography import x509

    from launcher.certs import describe

    cipher = sock.cipher()
    facts = TLSFacts(
        version=sock.version(),
        cipher=cipher[0] if cipher else None,
        cipher_bits=cipher[2] if cipher else None,
        alpn=sock.selected_alpn_protocol(),
        sni=None if is_ip(host) else host,
        verified=verified,
        verify_error=verify_error,
    )
    der = sock.getpeercert(binary_form=True)
    if der:
        try:
            info = describe(x509.load_der_x509_certificate(der))
        except Exception as exc:  # an unparsable certificate is a fact to report, not a crash
            facts.subject = f"(cannot parse the certificate: {exc})"
        else:
            facts.subject = info.subject
            facts.issuer = info.issuer
            facts.sans = list(info.sans)
            facts.not_before = info.not_before.isoformat()
            facts.not_after = info.not_after.isoformat()
            facts.days_left = info.days_left
            facts.fingerprint_sha256 = info.fingerprint_sha256
            facts.key_type = info.key_type
    return facts


def _connect_error(exc: BaseException, scheme: str, host: str, port: int, timeout: float) -> str:
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"Nothing is listening at {where} (connection refused): is the {scheme.upper()} server running "
            "on that port?"
        )
    if isinstance(exc, socket.gaierror):
        return f"Cannot resolve the host {host!r}: {exc.strerror or exc}."
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"No answer from {where} within {timeout:g} s (timed out)."
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"):
            return (
                f"The server at {where} answered, but not with TLS "
                f"(OpenSSL: {reason.lower().replace('_', ' ')}): this looks like a plain-HTTP port, "
                "so https:// cannot work there."
            )
        if reason in ("UNEXPECTED_EOF_WHILE_READING", "EOF") or isinstance(exc, ssl.SSLEOFError):
            return (
                f"The server at {where} closed the connection during the TLS handshake: it does not speak "
                "TLS on this port (a plain-HTTP port, such as the launcher's HTTP listener?)."
            )
        return f"The TLS handshake with {where} failed: {reason}."
    if isinstance(exc, http.client.RemoteDisconnected):
        return f"The server at {where} closed the connection without answering."
    if isinstance(exc, http.client.BadStatusLine):
        return (
            f"The server at {where} did not answer with HTTP (first line {str(exc)[:60]!r}): "
            "is this a TLS port? Then use https://."
        )
    if isinstance(exc, ConnectionResetError):
        return f"The server at {where} reset the connection."
    if isinstance(exc, OSError):
        return f"Cannot reach {where}: {exc.strerror or exc}."
    return f"Cannot fetch from {where}: {exc}."


@dataclass
class _Answer:
    hop: Hop
    body: bytes = b""


class Client:
    """A one-request-per-connection HTTP(S) client that records what it sees.

    HTTPS verifies against *cafile* plus the system trust store; when verification fails the
    reason is kept and the request is repeated over an unverified connection, so the facts are
    still shown.
    """

    def __init__(
        self, cafile: str | Path | None = None, *, timeout: float = DEFAULT_TIMEOUT, system_trust: bool = True
    ) -> None:
        self.cafile = str(cafile) if cafile is not None else None
        self.timeout = timeout
        self._verified = client_context(cafile, system_trust=system_trust)
        self._unverified = _unverified_context()

    def _open(self, scheme: str, host: str, port: int) -> tuple[http.client.HTTPConnection, TLSFacts | None]:
        if scheme == "http":
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            conn.connect()
            return conn, None
        conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._verified)
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            reason = _verify_reason(exc, host, self.cafile)
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._unverified)
            conn.connect()
            return conn, _tls_facts(conn.sock, host, False, reason)  # type: ignore[arg-type]
        return conn, _tls_facts(conn.sock, host, True, None)  # type: ignore[arg-type]

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> _Answer:
        """One GET; network failures end up in ``hop.error``, never raised."""
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        hop = Hop(url=url)
        answer = _Answer(hop)
        sent = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close", **(headers or {})}
        conn: http.client.HTTPConnection | None = None
        try:
            conn, hop.tls = self._open(scheme, host, port)
            conn.request("GET", target, headers=sent)
            resp = conn.getresponse()
            hop.status = resp.status
            hop.reason = resp.reason
            hop.http_version = {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1"}.get(
                resp.version, str(resp.version)
            )
            hop.location = resp.getheader("Location")
            hop.hsts = resp.getheader("Strict-Transport-Security")
            hop.content_type = resp.getheader("Content-Type")
            hop.cookies = [
                c
                for c in (
                    parse_set_cookie(v, over=scheme, url=url) for v in resp.msg.get_all("Set-Cookie") or []
                )
                if c is not None
            ]
            answer.body = resp.read(MAX_BODY)
        except Exception as exc:  # every network failure is a fact for the report
            hop.error = _connect_error(exc, scheme, host, port, self.timeout)
        finally:
            if conn is not None:
                conn.close()
        return answer

    def follow(
        self, url: str, headers: dict[str, str] | None = None, max_redirects: int = MAX_REDIRECTS
    ) -> tuple[list[_Answer], str | None]:
        """GET *url*, following redirects one hop at a time; returns the answers and why it stopped early."""
        answers: list[_Answer] = []
        seen = {url}
        for _ in range(max_redirects + 1):
            answer = self.fetch(url, headers)
            answers.append(answer)
            hop = answer.hop
            if hop.error or hop.status not in REDIRECT_CODES or not hop.location:
                return answers, None
            nxt = urllib.parse.urljoin(url, hop.location)
            hop.next_url = nxt
            if urllib.parse.urlsplit(nxt).scheme not in ("http", "https"):
                return answers, f"The redirect points to {nxt}, which is not an http(s) URL: not followed."
            if nxt in seen:
                return answers, f"Redirect loop: {nxt} redirects back to a URL already visited."
            seen.add(nxt)
            url = nxt
        return answers, f"Stopped after {max_redirects} redirects (a redirect loop?)."


# --- parsing ---------------------------------------------------------------------------------------


def parse_set_cookie(header: str, *, over: str = "https", url: str = "") -> Cookie | None:
    """One Set-Cookie header value → ``Cookie`` (RFC 6265 attribute parsing); None when empty."""
    pieces = header.split(";")
    pair = pieces[0].strip()
    if not pair:
        return None
    name, eq, value = pair.partition("=")
    if not eq:  # a nameless cookie (RFC 6265bis): the whole pair is the value
        name, value = "", pair
    attrs: dict[str, str | None] = {}
    for piece in pieces[1:]:
        key, eq, val = piece.partition("=")
        key = key.strip().lower()
        if key:
            attrs[key] = val.strip() if eq else None
    samesite = attrs.get("samesite")
    if samesite is not None:
        samesite = {"lax": "Lax", "strict": "Strict", "none": "None"}.get(samesite.lower(), samesite)
    return Cookie(
        name=name.strip(),
        value_length=len(value.strip().strip('"')),
        secure="secure" in attrs,
        httponly="httponly" in attrs,
        samesite=samesite if "samesite" in attrs else None,
        path=attrs.get("path"),
        domain=attrs.get("domain"),
        max_age=attrs.get("max-age"),
        expires=attrs.get("expires"),
        partitioned="partitioned" in attrs,
        over=over,
        url=url,
    )


@dataclass(frozen=True)
class HSTS:
    max_age: int | None
    include_subdomains: bool
    preload: bool

    @property
    def valid(self) -> bool:
        return self.max_age is not None


def parse_hsts(value: str) -> HSTS:
    max_age: int | None = None
    sub = preload = False
    for directive in value.split(";"):
        key, _, val = directive.strip().partition("=")
        key = key.strip().lower()
        if key == "max-age":
            val = val.strip().strip('"')
            max_age = int(val) if val.isdigit() else None
        elif key == "includesubdomains":
            sub = True
        elif key == "preload":
            preload = True
    return HSTS(max_age, sub, preload)


def _duration(seconds: int) -> str:
    if seconds >= 86400:
        days = seconds / 86400
        return f"{days:g} days" if days != 1 else "1 day"
    return f"{seconds} seconds"


# --- probing ---------------------------------------------------------------------------------------


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _read_flask_view(inspect_url: str, answers: list[_Answer], chain_error: str | None) -> FlaskView:
    last = answers[-1]
    hop = last.hop
    view = FlaskView(available=False, inspect_url=inspect_url, final_url=hop.url, status=hop.status)
    if hop.error or chain_error:
        view.note = f"What Flask saw cannot be read: GET {INSPECT_PATH} failed: {hop.error or chain_error}"
        return view
    data: Any = None
    if hop.status == 200 and "json" in (hop.content_type or ""):
        try:
            data = json.loads(last.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
    if isinstance(data, dict) and all(key in data for key in INSPECT_KEYS):
        return FlaskView.from_json(inspect_url, hop.url, hop.status, data)
    answered = f"{hop.status} {hop.reason}".strip()
    if hop.status == 404:
        why = f"GET {INSPECT_PATH} answered {answered}: this app has no {INSPECT_PATH} page"
    else:
        why = f"GET {INSPECT_PATH} answered {answered}, not the launcher's {INSPECT_PATH} JSON"
    view.note = (
        f"{why} (it is your own app, not the bundled demo app), so what Flask saw is not shown. "
        "Everything else here is what the client saw."
    )
    return view


def probe(client: Client, url: str, *, skip: str | None = None, flask_view: bool = True) -> SchemeReport:
    """Fetch *url* (following redirects), then the app's /inspect on the same listener; explain both."""
    scheme = urllib.parse.urlsplit(url).scheme
    report = SchemeReport(scheme=scheme, url=url, skipped=skip)
    if skip:
        report.verdicts = [Verdict("info", skip)]
        return report
    answers, chain_error = client.follow(url)
    report.hops = [a.hop for a in answers]
    last = report.hops[-1]
    report.error = last.error or chain_error
    answered = [h for h in report.hops if h.status is not None]
    if answered and not last.error:
        final = answered[-1]
        report.final_url = final.url
        report.final_status = final.status
        report.final_reason = final.reason
        report.final_scheme = final.scheme
        if final.scheme == "https":
            report.hsts = final.hsts
    tls_hops = [h for h in report.hops if h.tls is not None]
    report.tls = tls_hops[-1].tls if tls_hops else None
    report.cookies = [c for h in report.hops for c in h.cookies]
    if flask_view and report.reachable:
        inspect_url = _origin(url) + INSPECT_PATH
        if urllib.parse.urlsplit(url).path == INSPECT_PATH and not urllib.parse.urlsplit(url).query:
            report.flask = _read_flask_view(inspect_url, answers, chain_error)
        else:
            more, error = client.follow(inspect_url, {"Accept": "application/json"})
            report.flask = _read_flask_view(inspect_url, more, error)
    report.verdicts = scheme_verdicts(report, first_body=answers[0].body if answers else b"")
    return report


def run_proxy_lens(client: Client, http_url: str, *, policy: Any = None) -> ProxyLens:
    """Send the forwarded headers over HTTP to the app's /inspect; see module docstring."""
    url = _origin(http_url) + INSPECT_PATH
    lens = ProxyLens(url=url, sent_headers=dict(FORWARDED_HEADERS), toggled=policy is not None)
    headers = {**FORWARDED_HEADERS, "Accept": "application/json"}

    def one(trusted: bool | None, label: str) -> ProxyCase:
        answer = client.fetch(url, headers)
        hop = answer.hop
        case = ProxyCase(
            trusted=trusted, label=label, status=hop.status, location=hop.location, error=hop.error
        )
        if not hop.error and hop.status not in REDIRECT_CODES:
            case.flask = _read_flask_view(url, [answer], None)
        return case

    if policy is not None:
        with _POLICY_LOCK:
            original = policy.trusted_proxy
            try:
                policy.trusted_proxy = False
                lens.cases.append(one(False, "waitress's default: proxy headers not trusted"))
                policy.trusted_proxy = True
                lens.cases.append(one(True, "trusted proxy (waitress trusted_proxy / ProxyFix)"))
            finally:
                policy.trusted_proxy = original
    else:
        lens.cases.append(one(None, "the server's current setting"))
    lens.verdicts = proxy_verdicts(lens)
    return lens


def inspect_target(
    target: Target,
    *,
    cafile: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    proxy_lens: bool = False,
    policy: Any = None,
    system_trust: bool = True,
    notes: list[str] | None = None,
) -> InspectReport:
    """Probe both URLs of *target* (in parallel) and, when asked, the proxy lens.

    *policy*: the running servers' ``Policy``; with it the proxy lens shows both settings (see the
    module docstring), without it only the current one.  Raises ``InvalidTargetError`` only for an
    unusable *cafile*; network trouble is reported, never raised.
    """
    started = time.perf_counter()
    client = Client(cafile, timeout=timeout, system_trust=system_trust)
    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="launcher-inspect") as pool:
        http_future = pool.submit(probe, client, target.http_url, skip=target.http_skip)
        https_future = pool.submit(probe, client, target.https_url, skip=target.https_skip)
        http_report, https_report = http_future.result(), https_future.result()
    report = InspectReport(
        target=target.text,
        http=http_report,
        https=https_report,
        cafile=client.cafile,
        notes=list(notes or []),
    )
    if proxy_lens:
        if target.http_skip:
            report.proxy_lens = ProxyLens(
                url=_origin(target.http_url) + INSPECT_PATH,
                sent_headers=dict(FORWARDED_HEADERS),
                toggled=False,
                verdicts=[Verdict("info", f"Proxy lens not run: {target.http_skip}")],
            )
        else:
            report.proxy_lens = run_proxy_lens(client, target.http_url, policy=policy)
    report.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return report


def inspect_servers(
    servers: Any,
    path: str = "/",
    *,
    cafile: str | Path | None = None,
    proxy_lens: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> InspectReport:
    """Inspect *path* (or a URL) on running ``Servers``; *cafile* defaults to their CA.

    With *proxy_lens* the lens flips ``servers.policy.trusted_proxy`` for its two requests and
    restores it.
    """
    if cafile is None:
        ca = Path(servers.cert_store.ca_cert_path)
        cafile = ca if ca.is_file() else None
    return inspect_target(
        target_for_servers(servers, path),
        cafile=cafile,
        timeout=timeout,
        proxy_lens=proxy_lens,
        policy=servers.policy,
    )


# --- verdicts --------------------------------------------------------------------------------------


def _host_of(url: str | None) -> str:
    return (urllib.parse.urlsplit(url).hostname or "") if url else ""


def _looks_like_session(name: str) -> bool:
    lowered = name.lower()
    return any(hint in lowered for hint in SESSION_COOKIE_HINTS)


def _redirect_meaning(status: int) -> str:
    return {
        301: "Moved Permanently: browsers cache it, and may turn a POST into a GET",
        302: "Found: temporary, and browsers may turn a POST into a GET",
        303: "See Other: the next request is always a GET",
        307: "Temporary Redirect: keeps the method and body",
        308: "Permanent Redirect: keeps the method and body, and browsers cache it",
    }.get(status, "")


def _chain_verdicts(report: SchemeReport) -> list[Verdict]:
    out: list[Verdict] = []
    for hop in report.redirects:
        if not hop.next_url:
            continue
        to_scheme = urllib.parse.urlsplit(hop.next_url).scheme
        meaning = _redirect_meaning(hop.status or 0)
        if hop.scheme == "http" and to_scheme == "https":
            out.append(
                Verdict(
                    "ok", f"HTTP redirects to HTTPS with {hop.status} ({meaning}): {hop.url} → {hop.next_url}"
                )
            )
        elif hop.scheme == "https" and to_scheme == "http":
            out.append(
                Verdict(
                    "bad",
                    f"HTTPS redirects to plain HTTP with {hop.status}: {hop.url} → {hop.next_url}. "
                    "The browser leaves HTTPS; if the app built that URL with url_for or redirect(), "
                    "Flask believes the request came over http (see what Flask saw).",
                )
            )
        if _host_of(hop.next_url) != _host_of(hop.url):
            out.append(
                Verdict(
                    "info",
                    f"A redirect goes to another host: {_host_of(hop.next_url)} (from {_host_of(hop.url)}).",
                )
            )
    return out


def _transport_verdict(report: SchemeReport) -> list[Verdict]:
    final = report.final_scheme
    flask = report.flask if report.flask and report.flask.available else None
    host = _host_of(report.final_url)
    local = " (it stays on this machine: the host is a loopback address)" if is_loopback_host(host) else ""
    if final == "https":
        tls = report.tls
        how = f" ({tls.version}, {tls.cipher})" if tls and tls.version else ""
        served = ("After the redirect, served" if report.scheme == "http" else "Served") + f" over HTTPS{how}"
        if flask is None:
            return [Verdict("ok", f"{served}.")]
        if flask.scheme == "https":
            text = f"{served}; Flask knows it (request.is_secure=True)"
            if flask.url_for_scheme == "https":
                text += f", and url_for builds https:// links ({flask.url_for_external})"
            return [Verdict("ok", text + ".")]
        return [
            Verdict(
                "bad",
                f"{served} but Flask thinks {flask.scheme}: url_for(..., _external=True) builds "
                f"{flask.url_for_scheme}:// links ({flask.url_for_external}) and request.is_secure is False, "
                "so Secure-only logic and redirects go wrong.",
            )
        ]
    if final == "http":
        served = "Served over plain HTTP" + (", with no redirect to HTTPS" if report.scheme == "http" else "")
        if flask is None:
            return [Verdict("warn", f"{served}: not encrypted{local}.")]
        if flask.scheme == "http":
            return [
                Verdict(
                    "warn",
                    f"{served}; Flask knows it (request.is_secure=False). Anything sent here crosses the "
                    f"network unencrypted{local}.",
                )
            ]
        return [
            Verdict(
                "bad",
                f"{served} but Flask thinks {flask.scheme} (request.is_secure={flask.is_secure}): url_for "
                f"builds {flask.url_for_scheme}:// links ({flask.url_for_external}). Something told Flask "
                "the request was secure (a trusted X-Forwarded-Proto?) though this connection was not.",
            )
        ]
    return []


def _flask_verdicts(report: SchemeReport) -> list[Verdict]:
    flask = report.flask
    if flask is None:
        return []
    if not flask.available:
        return [Verdict("info", flask.note or "What Flask saw is not available.")]
    out: list[Verdict] = []
    if flask.final_url and report.final_url and _origin(flask.final_url) != _origin(report.url):
        out.append(
            Verdict(
                "info",
                f"What Flask saw comes from {flask.final_url} (GET {INSPECT_PATH} was redirected there too): "
                f"the app never ran for {report.scheme}:// on {_origin(report.url)}.",
            )
        )
    if flask.url_for_scheme and flask.scheme and flask.url_for_scheme != flask.scheme:
        out.append(
            Verdict(
                "warn",
                f"url_for builds {flask.url_for_scheme}:// links ({flask.url_for_external}) although Flask's "
                f"request.scheme is {flask.scheme}.",
            )
        )
    return out


def _tls_verdicts(report: SchemeReport) -> list[Verdict]:
    tls = report.tls
    if tls is None:
        return []
    out: list[Verdict] = []
    subject = tls.subject or "(no certificate)"
    if tls.verified:
        names = ", ".join(tls.sans) if tls.sans else "no SANs"
        out.append(
            Verdict(
                "ok",
                f"The certificate verified: {subject}, issued by {tls.issuer}, names {names}, "
                f"expires {(tls.not_after or '')[:10]} ({tls.days_left} days left).",
            )
        )
    else:
        out.append(
            Verdict(
                "bad",
                f"The certificate did not verify ({tls.verify_error}). A browser would show a warning; "
                "the facts shown come from a second, unverified connection.",
            )
        )
    if tls.days_left is not None and 0 <= tls.days_left < 30:
        out.append(Verdict("warn", f"The certificate expires in {tls.days_left} days: renew it."))
    if tls.version in ("TLSv1", "TLSv1.1", "SSLv3"):
        out.append(Verdict("bad", f"{tls.version} is obsolete: use TLS 1.2 or 1.3."))
    return out


def _hsts_verdicts(report: SchemeReport) -> list[Verdict]:
    out: list[Verdict] = []
    for hop in report.hops:
        if hop.scheme == "http" and hop.hsts:
            out.append(
                Verdict(
                    "warn",
                    f"The HTTP response from {hop.url} carries Strict-Transport-Security ({hop.hsts}): "
                    "browsers ignore it over plain HTTP (RFC 6797 §8.1); only an HTTPS response can turn "
                    "HSTS on.",
                )
            )
    if report.final_scheme != "https" or report.final_status is None:
        return out
    host = _host_of(report.final_url)
    if not report.hsts:
        out.append(
            Verdict(
                "warn",
                "No HSTS header (Strict-Transport-Security): a browser still tries http:// first when "
                "the user types the address. Fine while developing; turn it on in production.",
            )
        )
        return out
    hsts = parse_hsts(report.hsts)
    if not hsts.valid:
        out.append(Verdict("bad", f"HSTS header {report.hsts!r} has no valid max-age: browsers ignore it."))
        return out
    assert hsts.max_age is not None
    extra = "".join(
        [
            "; includeSubDomains: every subdomain too" if hsts.include_subdomains else "",
            "; preload requested" if hsts.preload else "",
        ]
    )
    if hsts.max_age == 0:
        out.append(
            Verdict("ok", f"HSTS is off by request: max-age=0 tells browsers to forget HSTS for {host}.")
        )
        return out
    text = f"HSTS is on: max-age={hsts.max_age} ({_duration(hsts.max_age)}){extra}"
    if is_ip(host):
        out.append(
            Verdict(
                "warn",
                f"{text}; but browsers ignore HSTS for IP-address hosts like {host} (RFC 6797 §8.1.1): "
                "open it by a name such as localhost to see it take effect.",
            )
        )
    elif is_loopback_host(host):
        out.append(
            Verdict(
                "warn",
                f"{text}; for {host}, a browser that saw it turns every http://{host}:PORT URL into "
                "https:// on the same port (only port 80 becomes 443), so the HTTP listener stops working "
                f"in that browser until max-age passes or the entry is deleted (chrome://net-internals/#hsts).",
            )
        )
    else:
        out.append(
            Verdict("ok", f"{text}: a browser that saw it uses only https:// for {host} from then on.")
        )
    return out


def _cookie_verdict(cookie: Cookie, host: str) -> Verdict:
    session = _looks_like_session(cookie.name)
    what = f"the session cookie {cookie.name!r}" if session else f"the cookie {cookie.name!r}"
    flags = (
        f"Secure={'yes' if cookie.secure else 'no'}, HttpOnly={'yes' if cookie.httponly else 'no'}, "
        f"SameSite={cookie.samesite or 'not set'}"
    )
    level = "ok"
    parts: list[str] = []
    if cookie.over == "http":
        if cookie.secure:
            level = "warn"
            if is_loopback_host(host):
                parts.append(
                    f"Set over plain HTTP, {what} is Secure: most browsers drop a Secure cookie that "
                    f"arrives over HTTP, but Chrome, Edge and Firefox accept it for loopback hosts like "
                    f"{host}; either way it is only sent back over HTTPS"
                )
            else:
                parts.append(
                    f"Set over plain HTTP, {what} is Secure: browsers drop a Secure cookie that arrives over "
                    "HTTP, so it will not come back"
                )
        else:
            level = "bad" if session else "warn"
            parts.append(
                f"Served over HTTP; {what} has no Secure flag, so a browser would send it in the clear"
            )
    else:
        if cookie.secure:
            parts.append(f"{what[0].upper()}{what[1:]} is Secure: sent back over HTTPS only")
        else:
            level = "bad" if session else "warn"
            parts.append(
                f"Set over HTTPS, {what} has no Secure flag, so a browser also sends it over plain "
                f"http:// to {host} (cookies are not separated by port or scheme)"
            )
    if not cookie.httponly:
        level = _max(level, "warn" if session else "ok")
        parts.append(
            "not HttpOnly: page scripts can read it" + (" (a stolen session via XSS)" if session else "")
        )
    if cookie.samesite is None:
        level = _max(level, "warn")
        parts.append(
            "no SameSite: Chrome treats it as Lax, other browsers may send it on cross-site requests"
        )
    elif cookie.samesite == "None" and not cookie.secure:
        level = "bad"
        parts.append("SameSite=None without Secure: browsers reject the cookie")
    elif cookie.samesite not in ("Lax", "Strict", "None"):
        level = _max(level, "warn")
        parts.append(f"SameSite={cookie.samesite} is not a known value: browsers treat it as not set")
    if cookie.name.startswith("__Host-") and (not cookie.secure or cookie.domain or cookie.path != "/"):
        level = "bad"
        parts.append("a __Host- cookie needs Secure, Path=/ and no Domain: browsers reject this one")
    elif cookie.name.startswith("__Secure-") and not cookie.secure:
        level = "bad"
        parts.append("a __Secure- cookie needs Secure: browsers reject this one")
    return Verdict(level, "; ".join(parts) + f". ({flags})")


def _max(a: str, b: str) -> str:
    return worst_level([Verdict(a, ""), Verdict(b, "")])


def _status_verdicts(report: SchemeReport, first_body: bytes) -> list[Verdict]:
    out: list[Verdict] = []
    if report.error:
        where = report.hops[-1].url if report.hops else report.url
        out.append(Verdict("bad", f"{report.error}" + (f" ({where})" if report.redirects else "")))
    status = report.final_status
    if status is None:
        return out
    text = first_body[:400].decode("utf-8", "replace")
    if report.scheme == "http" and status == 400 and any(m in text for m in _WRONG_PORT_MARKERS):
        out.append(
            Verdict(
                "bad",
                f"This port speaks HTTPS: the server answered the plain-HTTP request with 400. "
                f"Use https:// for {_origin(report.url)}.",
            )
        )
    elif status >= 400:
        out.append(
            Verdict("warn", f"The final answer is {status} {report.final_reason} ({report.final_url}).")
        )
    elif status in REDIRECT_CODES or 300 <= status < 400:
        out.append(Verdict("info", f"The final answer is {status} {report.final_reason} (not followed)."))
    return out


def scheme_verdicts(report: SchemeReport, *, first_body: bytes = b"") -> list[Verdict]:
    """The verdicts for one column, most important first."""
    out = _status_verdicts(report, first_body)
    out += _chain_verdicts(report)
    if report.final_status is not None:
        out += _transport_verdict(report)
    out += _flask_verdicts(report)
    out += _tls_verdicts(report)
    out += _hsts_verdicts(report)
    for cookie in report.cookies:
        out.append(_cookie_verdict(cookie, _host_of(cookie.url)))
    return out


def proxy_verdicts(lens: ProxyLens) -> list[Verdict]:
    out: list[Verdict] = []
    fwd_host = FORWARDED_HEADERS["X-Forwarded-Host"]
    fwd_for = FORWARDED_HEADERS["X-Forwarded-For"]
    redirects = [c for c in lens.cases if c.status in REDIRECT_CODES and not c.error]
    if redirects and len(redirects) == len(lens.cases):
        case = redirects[0]
        return [
            Verdict(
                "bad",
                f"HTTP answered {case.status} → {case.location} before the app ran"
                + (" (with the proxy trusted and not)" if len(redirects) > 1 else "")
                + ". The launcher's HTTP→HTTPS redirect ignores X-Forwarded-Proto, so behind a "
                "TLS-terminating proxy that talks HTTP to this port every request would be redirected "
                "again (a loop, or a jump past the proxy). Let the proxy redirect, and turn the "
                "launcher's redirect off to see what Flask would see.",
            )
        ]
    for case in lens.cases:
        if case.error:
            out.append(Verdict("bad", f"{case.label}: {case.error}"))
            continue
        if case.status in REDIRECT_CODES:
            out.append(
                Verdict(
                    "bad",
                    f"{case.label}: HTTP answered {case.status} → {case.location} before the app ran. "
                    "The launcher's HTTP→HTTPS redirect ignores X-Forwarded-Proto, so behind a "
                    "TLS-terminating proxy that talks HTTP to this port every request would be redirected "
                    "again (a loop, or a jump past the proxy). Let the proxy redirect, and turn the "
                    "launcher's redirect off.",
                )
            )
            continue
        flask = case.flask
        if flask is None or not flask.available:
            out.append(Verdict("info", f"{case.label}: {flask.note if flask else 'no answer'}"))
            continue
        if flask.scheme == "https":
            trusted = "a trusted proxy" if case.trusted is not False else "the proxy"
            out.append(
                Verdict(
                    "ok",
                    f"{case.label}: Flask believes {trusted}: request.scheme=https, is_secure=True, "
                    f"url_for builds {flask.url_for_external}, remote_addr={flask.remote_addr}"
                    f"{' (from X-Forwarded-For)' if flask.remote_addr == fwd_for else ''}, "
                    f"Host={flask.host}. "
                    "Safe only when a proxy you run is the only way to reach this port.",
                )
            )
        elif flask.x_forwarded_proto is None:
            out.append(
                Verdict(
                    "warn",
                    f"{case.label}: the X-Forwarded-* headers were deleted before Flask ran, so Flask sees "
                    f"request.scheme=http, url_for builds {flask.url_for_external} "
                    f"(not https://{fwd_host}/), remote_addr={flask.remote_addr} (the proxy, not {fwd_for}). "
                    "Behind a TLS-terminating proxy that means http:// links and redirects on an HTTPS site.",
                )
            )
        else:
            out.append(
                Verdict(
                    "warn",
                    f"{case.label}: X-Forwarded-Proto: {flask.x_forwarded_proto} reached Flask, but nothing "
                    f"applied it: request.scheme=http, url_for builds {flask.url_for_external}. "
                    "Add ProxyFix (below).",
                )
            )
    return out


# --- text ------------------------------------------------------------------------------------------

MARK = {"ok": "[ok]  ", "warn": "[warn]", "bad": "[bad] ", "info": "[info]"}


def _yn(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _summary_rows(report: InspectReport) -> list[tuple[str, str, str]]:
    def row(label: str, fn: Any) -> tuple[str, str, str]:
        return (label, *(fn(c) for c in report.columns))

    def final(c: SchemeReport) -> str:
        if c.skipped:
            return "not probed"
        if c.final_status is None:
            return "no answer"
        return f"{c.final_status} {c.final_reason} over {(c.final_scheme or '').upper()}"

    def redirects(c: SchemeReport) -> str:
        hops = c.redirects
        return ", ".join(f"{h.status} → {h.next_url}" for h in hops) if hops else "none"

    def flask(attr: str) -> Any:
        def get(c: SchemeReport) -> str:
            if c.flask is None or not c.flask.available:
                return "-"
            value = getattr(c.flask, attr)
            return str(value) if value is not None else "-"

        return get

    def tls(c: SchemeReport) -> str:
        if c.tls is None:
            return "-"
        return f"{c.tls.version} {c.tls.cipher}"

    def verified(c: SchemeReport) -> str:
        if c.tls is None:
            return "-"
        return "yes" if c.tls.verified else "NO"

    return [
        row("URL", lambda c: c.url),
        row("Redirects", redirects),
        row("Final", final),
        row("request.scheme", flask("scheme")),
        row("request.is_secure", flask("is_secure")),
        row("url_for(_external=True)", flask("url_for_external")),
        row("TLS", tls),
        row("Certificate verified", verified),
        row("HSTS", lambda c: c.hsts or "-"),
        row(
            "Cookies set",
            lambda c: (
                ", ".join(f"{k.name} ({'Secure' if k.secure else 'not Secure'})" for k in c.cookies) or "none"
            ),
        ),
        row("Worst verdict", lambda c: c.worst),
    ]


def _table(rows: list[tuple[str, str, str]]) -> list[str]:
    header = ("", "HTTP", "HTTPS")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    lines = [f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]}".rstrip()]
    for r in rows:
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip())
    return lines


def _flask_lines(flask: FlaskView) -> list[str]:
    if not flask.available:
        return [f"  {flask.note}"]
    via = (
        f" (answered by {flask.final_url})"
        if flask.final_url and flask.final_url != flask.inspect_url
        else ""
    )
    lines = [f"  from GET {flask.inspect_url}{via}:"]
    rows = [
        ("request.scheme", flask.scheme),
        ("request.is_secure", flask.is_secure),
        ("request.url_root", flask.url_root),
        ("url_for('index', _external=True)", flask.url_for_external),
        ("environ['wsgi.url_scheme']", flask.wsgi_url_scheme),
        ("request.remote_addr", flask.remote_addr),
        ("Host", flask.host),
        ("X-Forwarded-Proto received", flask.x_forwarded_proto),
    ]
    if flask.tls:
        rows.append(("TLS in the WSGI environ", f"{flask.tls.get('version')} {flask.tls.get('cipher')}"))
    lines += [f"    {k:<34} {'-' if v is None else v}" for k, v in rows]
    return lines


def _tls_lines(tls: TLSFacts) -> list[str]:
    rows = [
        ("Verified", "yes" if tls.verified else tls.verify_error),
        ("Version", tls.version),
        ("Cipher", f"{tls.cipher} ({tls.cipher_bits} bits)" if tls.cipher else None),
        ("ALPN", tls.alpn or "none"),
        ("SNI sent", tls.sni or "none (IP address)"),
        ("Subject", tls.subject),
        ("Issuer", tls.issuer),
        ("Names (SAN)", ", ".join(tls.sans) if tls.sans else "none"),
        ("Expires", f"{tls.not_after} ({tls.days_left} days left)" if tls.not_after else None),
        ("Key", tls.key_type),
        ("SHA-256", tls.fingerprint_sha256),
    ]
    return [f"    {k:<12} {'-' if v is None else v}" for k, v in rows]


def _column_text(c: SchemeReport) -> list[str]:
    lines = [f"== {c.scheme.upper()}: {c.url} ==", "Verdicts:"]
    lines += [f"  {MARK.get(v.level, v.level)} {v.text}" for v in c.verdicts] or ["  (none)"]
    if c.skipped:
        return lines
    lines.append("Redirect chain:")
    for i, hop in enumerate(c.hops, 1):
        if hop.error:
            lines.append(f"  {i}. GET {hop.url} → {hop.error}")
            continue
        loc = f", Location: {hop.location}" if hop.location else ""
        lines.append(f"  {i}. GET {hop.url} → {hop.status} {hop.reason} ({hop.http_version}){loc}")
    if c.error and not c.hops[-1].error:
        lines.append(f"  stopped: {c.error}")
    if c.final_status is not None:
        lines.append(f"  final: {c.final_status} {c.final_reason} from {c.final_url}")
    if not c.reachable:
        return lines
    lines.append("What Flask saw:")
    lines += _flask_lines(c.flask) if c.flask else ["  - (no answer)"]
    lines.append("TLS (as the client saw it):")
    lines += _tls_lines(c.tls) if c.tls else ["  - (no TLS connection)"]
    lines.append(f"HSTS: {c.hsts or 'none'}")
    lines.append("Cookies set:" + ("" if c.cookies else " none"))
    for k in c.cookies:
        extra = ", ".join(
            x
            for x in (
                f"Path={k.path}" if k.path else "",
                f"Domain={k.domain}" if k.domain else "",
                f"Max-Age={k.max_age}" if k.max_age else "",
                f"Expires={k.expires}" if k.expires else "",
            )
            if x
        )
        lines.append(
            f"  {k.name} (over {k.over.upper()}): Secure={_yn(k.secure)} HttpOnly={_yn(k.httponly)} "
            f"SameSite={k.samesite or 'not set'}" + (f"  {extra}" if extra else "")
        )
    return lines


def proxy_lens_text(lens: ProxyLens) -> list[str]:
    lines = [
        "== Behind a proxy: X-Forwarded-Proto over HTTP ==",
        f"GET {lens.url} with " + ", ".join(f"{k}: {v}" for k, v in lens.sent_headers.items()),
    ]
    if not lens.toggled and lens.cases:
        lines.append(
            "(the server's current trusted-proxy setting only: give the inspector the servers to see both)"
        )
    lines += [f"  {MARK.get(v.level, v.level)} {v.text}" for v in lens.verdicts]
    for case in lens.cases:
        if case.flask and case.flask.available:
            f = case.flask
            lines.append(
                f"  {case.label}: scheme={f.scheme} is_secure={f.is_secure} url_for={f.url_for_external} "
                f"remote_addr={f.remote_addr} Host={f.host}"
            )
    lines += ["", lens.explanation, lens.fix, "", *("    " + line for line in lens.fix_code.splitlines())]
    return lines


def render_text(report: InspectReport) -> str:
    """The report as plain text: a side-by-side summary, then each scheme, then the proxy lens."""
    lines = [f"Inspecting {report.target}"]
    lines.append(f"CA file: {report.cafile or 'none (system trust store only)'}")
    lines += report.notes
    lines.append("")
    lines += _table(_summary_rows(report))
    for column in report.columns:
        lines.append("")
        lines += _column_text(column)
    if report.proxy_lens is not None:
        lines.append("")
        lines += proxy_lens_text(report.proxy_lens)
    return "\n".join(lines) + "\n"
