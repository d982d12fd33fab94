"""The inspector's fact matrix: one row per fact, one judged cell per scheme.

``fact_matrix(report)`` gives ``MatrixRow(fact, http, https)`` rows, each cell a ``Cell(text, level)``
whose ``VerdictLevel`` comes from the same rules as the verdicts (``launcher.inspector.verdicts``,
``hsts``, ``cookies``), so the matrix and the plain-language verdicts never disagree.  The facts:

- **Served over**: the scheme of the connection the final answer came over;
- **Redirect**: the redirect chain in short (``308 → https://…``);
- **What Flask saw**: ``request.scheme`` / ``is_secure``, judged against the connection
  ("not available", neutral, when the app has no ``/inspect``);
- **Certificate verified**: whether the served chain verified against the CA file / system store;
- **HSTS**: the header, judged as ``hsts_verdicts`` judges it;
- **Cookie flags**: each cookie's Secure / HttpOnly / SameSite, judged as ``cookie_verdict`` does.

Qt-free: the window renders it (``launcher.gui.inspector_panel``) and ``to_markdown`` prints it.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from launcher.inspector.cookies import cookie_verdict
from launcher.inspector.hsts import hsts_verdicts
from launcher.inspector.report import InspectReport, SchemeReport, Verdict, VerdictLevel, worst_level
from launcher.inspector.urls import host_of
from launcher.scheme import Scheme

#: The facts, in the order the matrix shows them.
FACTS = (
    "Served over",
    "Redirect",
    "What Flask saw",
    "Certificate verified",
    "HSTS",
    "Cookie flags",
)
#: Days before expiry at which a verified certificate turns amber (as the TLS verdicts do).
EXPIRY_WARN_DAYS = 30


@dataclass(frozen=True)
class Cell:
    """One judged fact for one scheme: short text and a level (INFO: neutral, not judged)."""

    text: str
    level: VerdictLevel
    #: A longer explanation (a tooltip in the window), or "".
    detail: str = ""


@dataclass(frozen=True)
class MatrixRow:
    """One fact, with its HTTP and its HTTPS cell."""

    fact: str
    http: Cell
    https: Cell

    def cell(self, scheme: str) -> Cell:
        """The cell of *scheme* ("http" or "https")."""
        return self.http if scheme == Scheme.HTTP else self.https


_NOT_PROBED = Cell("not probed", VerdictLevel.INFO)
_NO_ANSWER = Cell("-", VerdictLevel.INFO)


def served_cell(c: SchemeReport) -> Cell:
    """The scheme the final answer came over: HTTPS green, plain HTTP amber, none red."""
    if c.skipped:
        return Cell("not probed", VerdictLevel.INFO, c.skipped)
    if c.final_status is None:
        return Cell("no answer", VerdictLevel.BAD, c.error or "")
    status = f"{c.final_status} {c.final_reason}".strip()
    if c.final_scheme == Scheme.HTTPS:
        how = f", {c.tls.version}" if c.tls is not None and c.tls.version else ""
        return Cell(f"HTTPS ({status}{how})", VerdictLevel.OK)
    return Cell(f"plain HTTP ({status})", VerdictLevel.WARN, "Not encrypted.")


def redirect_cell(c: SchemeReport) -> Cell:
    """The chain in short; HTTP → HTTPS green, HTTPS → HTTP red, none on HTTP amber."""
    if c.skipped:
        return _NOT_PROBED
    hops = [h for h in c.redirects if h.next_url]
    if not hops:
        if c.scheme == Scheme.HTTP and c.final_scheme == Scheme.HTTP:
            return Cell("none (stays on HTTP)", VerdictLevel.WARN)
        return Cell("none", VerdictLevel.OK if c.final_status is not None else VerdictLevel.INFO)
    parts: list[str] = []
    level = VerdictLevel.INFO
    for hop in hops:
        assert hop.next_url is not None
        to = urllib.parse.urlsplit(hop.next_url).scheme
        parts.append(f"{hop.status} → {hop.next_url}")
        if hop.scheme == Scheme.HTTP and to == Scheme.HTTPS:
            level = _worse(level, VerdictLevel.OK)
        elif hop.scheme == Scheme.HTTPS and to == Scheme.HTTP:
            level = VerdictLevel.BAD
    if c.error:
        level = VerdictLevel.BAD
    return Cell(", ".join(parts), level, c.error or "")


def flask_cell(c: SchemeReport) -> Cell:
    """``request.scheme`` / ``is_secure``: green when they match the connection, red when not."""
    if c.skipped:
        return _NOT_PROBED
    flask = c.flask
    if flask is None:
        return _NO_ANSWER
    if not flask.available:
        return Cell("not available", VerdictLevel.INFO, flask.note or "")
    text = f"{flask.scheme} (is_secure={flask.is_secure})"
    if c.final_scheme is None or flask.scheme is None:
        return Cell(text, VerdictLevel.INFO)
    if flask.scheme != c.final_scheme:
        return Cell(
            text,
            VerdictLevel.BAD,
            f"The connection was {c.final_scheme} but Flask thinks {flask.scheme}.",
        )
    if flask.url_for_scheme and flask.url_for_scheme != flask.scheme:
        return Cell(text, VerdictLevel.WARN, f"url_for builds {flask.url_for_external}")
    return Cell(text, VerdictLevel.OK, "Flask knows how the request came in.")


def certificate_cell(c: SchemeReport) -> Cell:
    """Verified (green), verified but expiring (amber), not verified (red), no TLS (grey)."""
    if c.skipped:
        return _NOT_PROBED
    tls = c.tls
    if tls is None:
        return Cell("no TLS", VerdictLevel.INFO)
    if not tls.verified:
        return Cell("no", VerdictLevel.BAD, tls.verify_error or "")
    days = f" ({tls.days_left} days left)" if tls.days_left is not None else ""
    level = VerdictLevel.OK
    if tls.days_left is not None and 0 <= tls.days_left < EXPIRY_WARN_DAYS:
        level = VerdictLevel.WARN
    return Cell(f"yes{days}", level, f"{tls.subject}, issued by {tls.issuer}")


def hsts_cell(c: SchemeReport) -> Cell:
    """The header (or "none") at the level ``hsts_verdicts`` gives it."""
    if c.skipped:
        return _NOT_PROBED
    verdicts = hsts_verdicts(c)
    text = c.hsts or "none"
    if not verdicts:
        return Cell(text, VerdictLevel.INFO)
    return Cell(text, worst_level(verdicts), " ".join(v.text for v in verdicts))


def cookies_cell(c: SchemeReport) -> Cell:
    """Each cookie's flags, at the worst level ``cookie_verdict`` gives any of them."""
    if c.skipped:
        return _NOT_PROBED
    if not c.cookies:
        return Cell("none set", VerdictLevel.INFO)
    verdicts: list[Verdict] = []
    parts: list[str] = []
    for cookie in c.cookies:
        verdicts.append(cookie_verdict(cookie, host_of(cookie.url)))
        flags = [
            "Secure" if cookie.secure else "not Secure",
            "HttpOnly" if cookie.httponly else "not HttpOnly",
            f"SameSite={cookie.samesite or 'not set'}",
        ]
        parts.append(f"{cookie.name}: {', '.join(flags)}")
    return Cell("; ".join(parts), worst_level(verdicts), " ".join(v.text for v in verdicts))


_CELLS = (served_cell, redirect_cell, flask_cell, certificate_cell, hsts_cell, cookies_cell)


def fact_matrix(report: InspectReport) -> list[MatrixRow]:
    """The rows "fact | HTTP | HTTPS" of *report*, in ``FACTS`` order."""
    return [
        MatrixRow(fact, make(report.http), make(report.https))
        for fact, make in zip(FACTS, _CELLS, strict=True)
    ]


def _worse(a: VerdictLevel, b: VerdictLevel) -> VerdictLevel:
    return a if a.severity >= b.severity else b
