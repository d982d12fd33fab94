"""The report as plain text: a side-by-side summary, then each scheme, then the proxy lens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from launcher.inspector.proxylens import ProxyLens
    from launcher.inspector.report import FlaskView, InspectReport, SchemeReport, TLSFacts


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


#: What Flask saw: (attribute of FlaskView, label in the text report, shorter label for a narrow GUI column).
_FLASK_FIELDS = (
    ("scheme", "request.scheme", "request.scheme"),
    ("is_secure", "request.is_secure", "request.is_secure"),
    ("url_root", "request.url_root", "request.url_root"),
    ("url_for_external", "url_for(endpoint, _external=True)", "url_for(_external=True)"),
    ("endpoint", "matched endpoint", "endpoint"),
    ("wsgi_url_scheme", "environ['wsgi.url_scheme']", "wsgi.url_scheme"),
    ("remote_addr", "request.remote_addr", "request.remote_addr"),
    ("host", "Host", "Host"),
    ("x_forwarded_proto", "X-Forwarded-Proto received", "X-Forwarded-Proto"),
    ("preferred_url_scheme", "PREFERRED_URL_SCHEME", "PREFERRED_URL_SCHEME"),
    ("server_name", "SERVER_NAME", "SERVER_NAME"),
    ("session_cookie_secure", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_SECURE"),
    ("proxy_fix", "ProxyFix in app.wsgi_app", "ProxyFix"),
)
#: What a plain WSGI callable received (Flask facts do not apply to it).
_WSGI_FIELDS = (
    ("wsgi_url_scheme", "environ['wsgi.url_scheme']", "wsgi.url_scheme"),
    ("host", "Host", "Host"),
    ("remote_addr", "environ['REMOTE_ADDR']", "REMOTE_ADDR"),
    ("x_forwarded", "X-Forwarded-* received", "X-Forwarded-*"),
    ("proxy_fix", "ProxyFix in the chain", "ProxyFix"),
)


def _shown(value: object) -> object:
    """A fact as one short value: a dict as ``k=v, …`` (None or an empty dict: not reported)."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or None
    return value


def flask_rows(flask: FlaskView, *, short: bool = False) -> list[tuple[str, object]]:
    """What Flask saw as (label, value) rows, the same facts for the text report and the GUI.

    *short* picks the shorter labels the GUI's narrow columns use.  A value of None means "not
    reported"; callers show it as "-".  For a plain WSGI callable (``kind`` "wsgi") the rows are
    what its environ held.  Limits: only meaningful when ``flask.available``; the TLS-in-environ
    and "read from" rows are left to the caller (the two forms show them differently).
    """
    fields = _WSGI_FIELDS if flask.kind == "wsgi" else _FLASK_FIELDS
    return [(brief if short else label, _shown(getattr(flask, attr))) for attr, label, brief in fields]


def tls_rows(tls: TLSFacts, *, short: bool = False) -> list[tuple[str, object]]:
    """The TLS connection as the client saw it, as (label, value) rows for the text report and the GUI.

    *short* picks the shorter labels the GUI uses.  A value of None means unknown; callers show "-".
    """
    return [
        ("Verified", "yes" if tls.verified else tls.verify_error),
        ("Version", tls.version),
        ("Cipher", f"{tls.cipher} ({tls.cipher_bits} bits)" if tls.cipher else None),
        ("ALPN", tls.alpn or "none"),
        ("SNI sent", tls.sni or "none (IP address)"),
        ("Subject", tls.subject),
        ("Issuer", tls.issuer),
        ("Names" if short else "Names (SAN)", ", ".join(tls.sans) if tls.sans else "none"),
        ("Expires", f"{tls.not_after} ({tls.days_left} days left)" if tls.not_after else None),
        ("Key", tls.key_type),
        ("SHA-256", tls.fingerprint_sha256),
    ]


def _flask_lines(flask: FlaskView) -> list[str]:
    if not flask.available:
        return [f"  {flask.note}"]
    what = "a plain WSGI callable: Flask facts do not apply" if flask.kind == "wsgi" else "a Flask app"
    lines = [f"  captured inside the app ({what}) for GET {flask.final_url}:"]
    rows = flask_rows(flask)
    if flask.tls:
        rows.append(("TLS in the WSGI environ", f"{flask.tls.get('version')} {flask.tls.get('cipher')}"))
    lines += [f"    {k:<34} {'-' if v is None else v}" for k, v in rows]
    return lines


def _tls_lines(tls: TLSFacts) -> list[str]:
    return [f"    {k:<12} {'-' if v is None else v}" for k, v in tls_rows(tls)]


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
    if report.behind is not None:
        from launcher.inspector.behind import behind_text

        lines.append("")
        lines += behind_text(report.behind)
    if report.proxy_lens is not None:
        lines.append("")
        lines += proxy_lens_text(report.proxy_lens)
    return "\n".join(lines) + "\n"
