"""The inspector's answer as data: ``InspectReport`` with a ``SchemeReport`` per scheme, and its parts.

Each column holds the redirect chain (``Hop``), what Flask saw (``FlaskView``), the client-side TLS
facts (``TLSFacts``), the HSTS header, the cookies set (``Cookie``, flags only: values are never
kept, only their length) and the verdicts: ``Verdict(level, text)`` with a ``VerdictLevel``: OK, WARN,
BAD or INFO (a neutral note, e.g. "this app has no /inspect").  ``InspectReport.to_dict()`` is the
JSON form, ``to_text()`` the text the CLI prints and the GUI copies (``launcher.inspector.text``).
"""

from __future__ import annotations

import enum
import json
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from launcher.inspector.limits import REDIRECT_CODES, USER_AGENT
from launcher.inspector.text import render_text
from launcher.scheme import Scheme

if TYPE_CHECKING:
    from launcher.inspector.proxylens import ProxyLens


class VerdictLevel(enum.StrEnum):
    """How a verdict judges what it saw.  A ``StrEnum``: the value is what ``to_dict()`` / the
    CLI's ``--json`` and the text report carry, and the GUI's style sheet matches on."""

    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    INFO = "info"  # a neutral note ("this app has no /inspect")

    @property
    def severity(self) -> int:
        """For ``worst_level``: BAD > WARN > OK > INFO."""
        return _SEVERITY[self]


_SEVERITY = {VerdictLevel.BAD: 3, VerdictLevel.WARN: 2, VerdictLevel.OK: 1, VerdictLevel.INFO: 0}
LEVELS = tuple(VerdictLevel)


@dataclass(frozen=True)
class Verdict:
    """One conclusion in plain words, judged OK, WARN, BAD or INFO (neutral)."""

    level: VerdictLevel
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
    def worst(self) -> VerdictLevel:
        return worst_level(self.verdicts)


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
        for key in (Scheme.HTTP, Scheme.HTTPS):
            column: SchemeReport = getattr(self, key)
            data[key]["reachable"] = column.reachable
            data[key]["worst"] = column.worst
        data["inspector"] = USER_AGENT
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self) -> str:
        return render_text(self)

    def to_markdown(self) -> str:
        """The report as Markdown: the fact matrix, then the verdicts (``launcher.inspector.markdown``)."""
        from launcher.inspector.markdown import render_markdown  # it imports this module

        return render_markdown(self)


def worst_level(verdicts: list[Verdict]) -> VerdictLevel:
    """The most severe level among *verdicts* (BAD > WARN > OK > INFO); INFO when there are none."""
    levels = (VerdictLevel(v.level) for v in verdicts)  # VerdictLevel("warn") is VerdictLevel.WARN
    return max(levels, key=lambda level: level.severity, default=VerdictLevel.INFO)
