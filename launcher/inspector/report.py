"""The inspector's answer as data: ``InspectReport`` with a ``SchemeReport`` per scheme, and its parts.

Each column holds the redirect chain (``Hop``), what Flask saw (``FlaskView``), the client-side TLS
facts (``TLSFacts``), the HSTS header, the cookies set (``Cookie``, flags only: values are never
kept, only their length) and the verdicts: ``Verdict(level, text)`` with a ``VerdictLevel``: OK, WARN,
BAD or INFO (a neutral note).  ``InspectReport.to_dict()`` is the
JSON form, ``to_text()`` the text the CLI prints and the GUI copies (``launcher.inspector.text``).
"""

from __future__ import annotations

import enum
import json
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from launcher.appview import PROXY_FIX_FIELDS
from launcher.inspector.limits import REDIRECT_CODES, USER_AGENT
from launcher.inspector.text import render_text
from launcher.scheme import Scheme

if TYPE_CHECKING:
    from launcher.inspector.behind import BehindProxy
    from launcher.inspector.proxylens import ProxyLens


class VerdictLevel(enum.StrEnum):
    """How a verdict judges what it saw.  A ``StrEnum``: the value is what ``to_dict()`` / the
    CLI's ``--json`` and the text report carry, and the GUI's style sheet matches on."""

    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    INFO = "info"  # a neutral note ("what the app saw is not available")

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
    #: The answer's ``Server`` and ``Via`` headers (a proxy in front names itself there).
    server: str | None = None
    via: str | None = None
    error: str | None = None

    @property
    def scheme(self) -> str:
        return urllib.parse.urlsplit(self.url).scheme


@dataclass
class FlaskView:
    """What the app saw of the probe, captured inside it by the launcher (``launcher.appview``).

    ``available`` is False (with ``note`` saying why) when the answer carried no capture: a server
    the launcher did not start, no token, a hop the app never ran for.  ``kind`` is "flask" for a
    Flask app, "wsgi" for a plain WSGI callable (the environ it received; Flask facts do not apply).
    """

    available: bool
    #: The probed URL whose answer was read (the redirect chain's first URL).
    inspect_url: str
    #: The hop whose answer carried the capture: the final one, after redirects (None when no answer).
    final_url: str | None = None
    status: int | None = None
    note: str | None = None
    kind: str | None = None
    scheme: str | None = None
    is_secure: bool | None = None
    url_root: str | None = None
    #: The endpoint of the rule that matched (None: no rule matched, e.g. a 404).
    endpoint: str | None = None
    #: ``url_for(endpoint, **view_args, _external=True)``; None when no rule matched.
    url_for_external: str | None = None
    #: Why ``url_for`` could not build the URL, when it could not.
    url_for_error: str | None = None
    wsgi_url_scheme: str | None = None
    remote_addr: str | None = None
    host: str | None = None
    server_port: int | None = None
    listener: str | None = None
    x_forwarded_proto: str | None = None
    #: The X-Forwarded-* headers that reached the app, by name.
    x_forwarded: dict[str, str] = field(default_factory=dict)
    transport: str | None = None
    tls: dict[str, Any] | None = None
    hsts: str | None = None
    #: The settings that decide the answer (Flask apps only).
    preferred_url_scheme: str | None = None
    server_name: str | None = None
    session_cookie_secure: bool | None = None
    #: A ProxyFix found in the app's wsgi_app chain: its x_for/x_proto/x_host/x_port/x_prefix counts.
    proxy_fix: dict[str, int] | None = None

    @property
    def is_flask(self) -> bool:
        """True for a Flask app's view; False for a plain WSGI callable's (or none)."""
        return self.available and self.kind == "flask"

    @classmethod
    def from_json(cls, inspect_url: str, final_url: str, status: int, data: dict[str, Any]) -> FlaskView:
        """The view in *data* (the decoded ``X-Flask-Launcher-View`` header); unknown keys are ignored."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        def flag(key: str) -> bool | None:
            value = data.get(key)
            return value if isinstance(value, bool) else None

        port = data.get("server_port")
        tls = data.get("tls")
        forwarded = data.get("x_forwarded")
        proxy_fix = data.get("proxy_fix")
        listener = text("listener")
        return cls(
            available=True,
            inspect_url=inspect_url,
            final_url=final_url,
            status=status,
            note=text("error"),
            kind=text("kind") or "flask",
            scheme=text("scheme"),
            is_secure=flag("is_secure"),
            url_root=text("url_root"),
            endpoint=text("endpoint"),
            url_for_external=text("url_for_external"),
            url_for_error=text("url_for_error"),
            wsgi_url_scheme=text("wsgi_url_scheme"),
            remote_addr=text("remote_addr"),
            host=text("host"),
            server_port=port if isinstance(port, int) else None,
            listener=listener,
            x_forwarded_proto=text("x_forwarded_proto"),
            x_forwarded={str(k): str(v) for k, v in forwarded.items()} if isinstance(forwarded, dict) else {},
            transport=listener if listener in ("http", "https") else None,
            tls=tls if isinstance(tls, dict) else None,
            hsts=text("hsts"),
            preferred_url_scheme=text("preferred_url_scheme"),
            server_name=text("server_name"),
            session_cookie_secure=flag("session_cookie_secure"),
            proxy_fix=(  # in ProxyFix's own order: x_for, x_proto, x_host, x_port, x_prefix
                {k: proxy_fix[k] for k in PROXY_FIX_FIELDS if isinstance(proxy_fix.get(k), int)}
                if isinstance(proxy_fix, dict)
                else None
            ),
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
    #: What the app saw of the chain's first request when the chain never ended (a redirect
    #: loop): why it redirected.  None otherwise.
    first_flask: FlaskView | None = None
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
    #: The "behind a proxy" section: three hops and their verdicts (``launcher.inspector.behind``),
    #: when a proxy was detected in front of the app or the caller said there is one.
    behind: BehindProxy | None = None
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
