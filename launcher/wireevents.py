"""Wire events: what went wrong on a connection before any request could be served.

A request that reaches the app becomes a ``RequestRecord``.  A connection that never gets that far
(a TLS ClientHello on the HTTP port, plain HTTP on the HTTPS port, a failed TLS handshake) becomes
one ``WireEvent``: when, on which listener, from which client, what kind (``WireEventKind``) and
the advice in plain words.  The channels in ``launcher.tls`` make them in the loop thread and hand
them to the listener's ``RequestSink`` (``RequestSink.add_event``), which fans them out to the
subscriptions that asked for events (the window's log, the server process's batches); the same
text is logged on ``launcher.wire``, which ``flask-launcher serve`` prints as rate-limited
``notice:`` lines.

A failed handshake is classified from OpenSSL's reason (``ssl.SSLError.reason``), the errno of a
reset, and the server name (SNI) the client asked for compared with the leaf's names
(``classify_handshake``).  What each browser sends when it refuses our certificate (measured on
Debian 12, see docs/trust.md): ``curl`` and other OpenSSL clients send the ``unknown_ca`` alert,
Chromium sends ``certificate_unknown``, Firefox sends ``bad_certificate`` — so either of the last
two, for a name the leaf covers, also means "the client does not trust the CA".

Qt-free; immutable; picklable (events cross to the window inside ``RecordBatch``).
"""

from __future__ import annotations

import enum
import errno
import time
from dataclasses import asdict, dataclass
from typing import Any

from launcher.recordformat import escape_control, format_peer
from launcher.scheme import Scheme

#: The command a terminal user trusts the CA with, and the window's button for it.
TRUST_COMMAND = "flask-launcher trust install"
TRUST_BUTTON = "Trust CA…"


class WireEventKind(enum.Enum):
    """What happened on the wire; the value is a stable word (JSON Lines, rate-limit reasons)."""

    TLS_ON_HTTP = "tls-on-http"  # a TLS ClientHello arrived on the HTTP port
    HTTP_ON_HTTPS = "http-on-https"  # plain HTTP arrived on the HTTPS port (answered 400)
    UNTRUSTED_CA = "untrusted-ca"  # the client refused our certificate: it does not trust the CA
    NO_SHARED_PROTOCOL = "no-shared-protocol"  # no TLS version or cipher suite in common
    NAME_MISMATCH = "name-mismatch"  # the client asked for a name (SNI) the leaf does not cover
    CLIENT_CLOSED = "client-closed"  # the client hung up during the handshake
    BAD_SNI = "bad-sni"  # the server name (SNI) was not ASCII
    HANDSHAKE_FAILED = "handshake-failed"  # any other handshake failure

    @property
    def headline(self) -> str:
        """The start of this kind's notice line (the client's address follows it)."""
        return _HEADLINES[self]

    @property
    def handshake(self) -> bool:
        """True for the kinds that are a failed TLS handshake on the HTTPS port."""
        return self not in (WireEventKind.TLS_ON_HTTP, WireEventKind.HTTP_ON_HTTPS)


_HEADLINES = {
    WireEventKind.TLS_ON_HTTP: "TLS handshake on the HTTP port",
    WireEventKind.HTTP_ON_HTTPS: "Plain HTTP on the HTTPS port",
    WireEventKind.UNTRUSTED_CA: "TLS handshake failed",
    WireEventKind.NO_SHARED_PROTOCOL: "TLS handshake failed",
    WireEventKind.NAME_MISMATCH: "TLS handshake failed",
    WireEventKind.CLIENT_CLOSED: "TLS handshake failed",
    WireEventKind.BAD_SNI: "TLS handshake failed",
    WireEventKind.HANDSHAKE_FAILED: "TLS handshake failed",
}

#: OpenSSL reasons (``SSLError.reason``) meaning the two sides have no TLS version or suite in common.
_NO_SHARED = frozenset(
    {
        "NO_SHARED_CIPHER",
        "NO_CIPHERS_AVAILABLE",
        "NO_SHARED_GROUPS",
        "NO_SUITABLE_SIGNATURE_ALGORITHM",
        "UNSUPPORTED_PROTOCOL",
        "WRONG_VERSION_NUMBER",
        "VERSION_TOO_LOW",
        "VERSION_TOO_HIGH",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
        "NO_PROTOCOLS_AVAILABLE",
        "NO_APPLICATION_PROTOCOL",
        "TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
    }
)
#: The client's alerts that refuse our certificate without saying why (Chromium, Firefox).
_CERT_REFUSED = frozenset({"SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_CERTIFICATE_UNKNOWN"})
_CLOSED_REASONS = frozenset({"UNEXPECTED_EOF_WHILE_READING", "EOF occurred in violation of protocol"})
_CLOSED_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ENOTCONN})

#: The alert names the advice quotes, by OpenSSL reason.
_ALERT_NAMES = {
    "TLSV1_ALERT_UNKNOWN_CA": "unknown_ca",
    "SSLV3_ALERT_BAD_CERTIFICATE": "bad_certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "certificate_unknown",
}


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One connection that failed before a request: immutable, cheap, picklable.

    ``advice`` is for a terminal (it names ``flask-launcher trust install``), ``window_advice`` the
    same for the window (it names the "Trust CA…" button); ``short`` fits a table cell.  ``reason``
    is OpenSSL's own word for a failed handshake (``TLSV1_ALERT_UNKNOWN_CA``) or ``""``; ``sni`` the
    server name the client asked for, if it sent one.  Text from the client (a Host header, a
    server name) is kept as received: escape it (``recordformat.escape_control``) to show it.
    """

    time: float
    listener: Scheme
    client_addr: str
    client_port: int
    kind: WireEventKind
    short: str
    advice: str
    window_advice: str
    reason: str = ""
    sni: str | None = None

    @property
    def peer(self) -> str:
        """``host:port`` of the client, escaped for display."""
        return format_peer(self.client_addr, self.client_port)

    def notice(self) -> str:
        """One line for a terminal: headline, client, advice (control characters escaped)."""
        return escape_control(f"{self.kind.headline} from {self.peer}: {self.advice}")

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data (``{"event": …}`` lines of a JSON Lines export)."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["listener"] = str(self.listener)
        return data


def _event(
    listener: Scheme,
    addr: Any,
    kind: WireEventKind,
    short: str,
    advice: str,
    window_advice: str | None = None,
    *,
    reason: str = "",
    sni: str | None = None,
) -> WireEvent:
    host, port = _address(addr)
    return WireEvent(
        time=time.time(),
        listener=listener,
        client_addr=host,
        client_port=port,
        kind=kind,
        short=short,
        advice=advice,
        window_advice=advice if window_advice is None else window_advice,
        reason=reason,
        sni=sni,
    )


def _address(addr: Any) -> tuple[str, int]:
    if isinstance(addr, tuple) and len(addr) >= 2:
        try:
            return str(addr[0]), int(addr[1])
        except (TypeError, ValueError):
            return str(addr[0]), 0
    return str(addr or ""), 0


def tls_on_http(addr: Any, https_url: str | None) -> WireEvent:
    """A TLS ClientHello on the HTTP port; *https_url* is the HTTPS listener's URL, if it runs."""
    where = https_url or "the HTTPS listener's https:// URL"
    return _event(
        Scheme.HTTP,
        addr,
        WireEventKind.TLS_ON_HTTP,
        f"TLS on the HTTP port: use {where}",
        f"this is the HTTP port and the client spoke TLS (https://): use {where}",
    )


def http_on_https(addr: Any, https_url: str) -> WireEvent:
    """Plain HTTP on the HTTPS port, answered 400; *https_url* is built from the request's Host."""
    return _event(
        Scheme.HTTPS,
        addr,
        WireEventKind.HTTP_ON_HTTPS,
        f"plain HTTP on the HTTPS port: use {https_url}",
        f"this port speaks HTTPS and the client sent plain HTTP (answered 400): use {https_url}",
    )


def bad_sni(addr: Any, name: bytes) -> WireEvent:
    """A ClientHello whose server name (SNI) is not ASCII (CPython cannot decode it)."""
    shown = name.decode("utf-8", "backslashreplace")
    advice = (
        f'the server name (SNI) is not ASCII: "{shown}"; a browser sends an internationalised name '
        "in its xn-- (punycode) form, so this client is broken or hostile"
    )
    return _event(
        Scheme.HTTPS,
        addr,
        WireEventKind.BAD_SNI,
        "non-ASCII server name (SNI)",
        advice,
        reason="CALLBACK_FAILED",
        sni=shown,
    )


def classify_handshake(
    addr: Any,
    exc: BaseException,
    sni: str | None,
    covered: bool | None,
) -> WireEvent:
    """The event of a handshake that failed with *exc*.

    *sni* is the server name the client asked for (None without one); *covered* whether the leaf
    covers it (None when unknown or without SNI).  OpenSSL's reason decides the kind; a client that
    refuses the certificate with ``bad_certificate``/``certificate_unknown`` for a name the leaf
    does not cover gets the name advice, otherwise the trust advice (browsers send those alerts
    for an unknown CA too).
    """
    reason = str(getattr(exc, "reason", None) or "")
    code = getattr(exc, "errno", None)
    text = reason or str(exc) or type(exc).__name__
    alert = _ALERT_NAMES.get(reason)
    if reason == "TLSV1_ALERT_UNKNOWN_CA" or (reason in _CERT_REFUSED and covered is not False):
        return _event(
            Scheme.HTTPS,
            addr,
            WireEventKind.UNTRUSTED_CA,
            "the client does not trust this CA",
            f"the client does not trust this CA ({alert}): trust it with `{TRUST_COMMAND}`, "
            "then restart the browser",
            f"the browser does not trust this CA ({alert}): {TRUST_BUTTON}, then restart the browser",
            reason=reason,
            sni=sni,
        )
    if reason in _CERT_REFUSED:
        name = sni or ""
        advice = (
            f'the client asked for "{name}", which the certificate does not cover ({alert}): '
            f"add the name (--host, or extra host names) so the certificate covers it, or open a URL "
            "with a name it covers (localhost, 127.0.0.1)"
        )
        return _event(
            Scheme.HTTPS,
            addr,
            WireEventKind.NAME_MISMATCH,
            f'name "{name}" not in the certificate',
            advice,
            reason=reason,
            sni=sni,
        )
    if reason in _NO_SHARED:
        advice = (
            f"the client and this server share no TLS version or cipher suite ({reason}): this server "
            "speaks TLS 1.2 and 1.3 with ECDHE+AES-GCM or ChaCha20; update or reconfigure the client"
        )
        return _event(
            Scheme.HTTPS,
            addr,
            WireEventKind.NO_SHARED_PROTOCOL,
            "no TLS version or cipher in common",
            advice,
            reason=reason,
            sni=sni,
        )
    if reason in _CLOSED_REASONS or code in _CLOSED_ERRNOS or isinstance(exc, ssl_eof_types()):
        why = reason or (errno.errorcode.get(code, "") if isinstance(code, int) else "") or "EOF"
        advice = (
            f"the client closed the connection during the TLS handshake ({why}): often a browser that "
            "refused the certificate, or a client that only probed the port"
        )
        return _event(
            Scheme.HTTPS,
            addr,
            WireEventKind.CLIENT_CLOSED,
            "client closed during the handshake",
            advice,
            reason=why,
            sni=sni,
        )
    return _event(
        Scheme.HTTPS,
        addr,
        WireEventKind.HANDSHAKE_FAILED,
        f"TLS handshake failed: {text}",
        f"TLS handshake failed: {text}",
        reason=text,
        sni=sni,
    )


def ssl_eof_types() -> tuple[type[BaseException], ...]:
    """The exception types that mean the peer went away mid-handshake."""
    import ssl

    return (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError)


def json_line(item: Any) -> dict[str, Any]:
    """``{"event": …}`` for a ``WireEvent`` (how JSON Lines exports tell events from records)."""
    return {"event": item.to_dict()}
