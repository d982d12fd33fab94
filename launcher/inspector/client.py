"""The inspector's HTTP(S) client (``http.client`` and ``ssl``): one GET per connection, redirects
followed one hop at a time, the TLS facts of each connection, and every failure in plain words.

HTTPS verifies against the tool's CA file plus the system trust store; when that fails the reason
is kept and the facts come from a second, unverified connection.  Network trouble ends up in the
``Hop``, never raised.  Limits: see ``launcher.inspector.limits``.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from launcher.appview import PROBE_HEADER, VIEW_HEADER
from launcher.errors import InvalidTargetError
from launcher.inspector.cookies import parse_set_cookie
from launcher.inspector.limits import DEFAULT_TIMEOUT, MAX_BODY, MAX_REDIRECTS, REDIRECT_CODES, USER_AGENT
from launcher.inspector.report import Hop, TLSFacts
from launcher.inspector.targets import ProbeMark
from launcher.inspector.urls import is_ip
from launcher.scheme import Scheme


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
class Answer:
    """One fetched hop and its body (read up to ``MAX_BODY``).

    ``marked``: the probe token was sent with it; ``view``: the ``X-Flask-Launcher-View`` header
    of its answer (what the app saw, still encoded), None when absent.
    """

    hop: Hop
    body: bytes = b""
    marked: bool = False
    view: str | None = None


class Client:
    """A one-request-per-connection HTTP(S) client that records what it sees.

    HTTPS verifies against *cafile* plus the system trust store; when verification fails the
    reason is kept and the request is repeated over an unverified connection, so the facts are
    still shown.
    """

    def __init__(
        self,
        cafile: str | Path | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        system_trust: bool = True,
        probe: ProbeMark | None = None,
        no_probe: str | None = None,
    ) -> None:
        self.cafile = str(cafile) if cafile is not None else None
        self.timeout = timeout
        #: The probe token and where it goes; *no_probe* says why there is none (for the report).
        self.probe = probe
        self.no_probe = no_probe
        self._verified = client_context(cafile, system_trust=system_trust)
        self._unverified = _unverified_context()

    def _open(self, scheme: str, host: str, port: int) -> tuple[http.client.HTTPConnection, TLSFacts | None]:
        if scheme == Scheme.HTTP:
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
            return conn, _tls_facts(conn.sock, host, False, reason)
        return conn, _tls_facts(conn.sock, host, True, None)

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> Answer:
        """One GET; network failures end up in ``hop.error``, never raised."""
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == Scheme.HTTPS else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        hop = Hop(url=url)
        answer = Answer(hop)
        sent = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close", **(headers or {})}
        if self.probe is not None and self.probe.applies(url):
            sent[PROBE_HEADER] = self.probe.token
            answer.marked = True
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
            hop.server = resp.getheader("Server")
            hop.via = resp.getheader("Via")
            answer.view = resp.getheader(VIEW_HEADER) if answer.marked else None
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
    ) -> tuple[list[Answer], str | None]:
        """GET *url*, following redirects one hop at a time; returns the answers and why it stopped early."""
        answers: list[Answer] = []
        seen = {url}
        for _ in range(max_redirects + 1):
            answer = self.fetch(url, headers)
            answers.append(answer)
            hop = answer.hop
            if hop.error or hop.status not in REDIRECT_CODES or not hop.location:
                return answers, None
            nxt = urllib.parse.urljoin(url, hop.location)
            hop.next_url = nxt
            if urllib.parse.urlsplit(nxt).scheme not in (Scheme.HTTP, Scheme.HTTPS):
                return answers, f"The redirect points to {nxt}, which is not an http(s) URL: not followed."
            if nxt in seen:
                return answers, f"Redirect loop: {nxt} redirects back to a URL already visited."
            seen.add(nxt)
            url = nxt
        return answers, f"Stopped after {max_redirects} redirects (a redirect loop?)."
