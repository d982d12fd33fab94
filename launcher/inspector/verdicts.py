"""The verdicts for one column in plain words: the final status, the redirect chain, the transport and
whether Flask knows it, TLS, HSTS (``launcher.inspector.hsts``) and cookies (``launcher.inspector.cookies``).
"""

from __future__ import annotations

import urllib.parse

from launcher.appview import PROXY_FIX_FIELDS
from launcher.inspector.cookies import cookie_verdict
from launcher.inspector.hsts import hsts_verdicts
from launcher.inspector.limits import REDIRECT_CODES
from launcher.inspector.report import SchemeReport, Verdict, VerdictLevel
from launcher.inspector.urls import host_of, is_loopback_host, origin
from launcher.scheme import Scheme

#: Status line the launcher's HTTPS port (and nginx) send back to a plain-HTTP request.
_WRONG_PORT_MARKERS = ("this port speaks HTTPS", "plain HTTP request was sent to HTTPS port")


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
        if hop.scheme == Scheme.HTTP and to_scheme == Scheme.HTTPS:
            out.append(
                Verdict(
                    VerdictLevel.OK,
                    f"HTTP redirects to HTTPS with {hop.status} ({meaning}): {hop.url} → {hop.next_url}",
                )
            )
        elif hop.scheme == Scheme.HTTPS and to_scheme == Scheme.HTTP:
            out.append(
                Verdict(
                    VerdictLevel.BAD,
                    f"HTTPS redirects to plain HTTP with {hop.status}: {hop.url} → {hop.next_url}. "
                    "The browser leaves HTTPS; if the app built that URL with url_for or redirect(), "
                    "Flask believes the request came over http (see what Flask saw).",
                )
            )
        if host_of(hop.next_url) != host_of(hop.url):
            out.append(
                Verdict(
                    VerdictLevel.INFO,
                    f"A redirect goes to another host: {host_of(hop.next_url)} (from {host_of(hop.url)}).",
                )
            )
    return out


def _wsgi_transport(report: SchemeReport, served: str) -> list[Verdict]:
    """The transport verdict for a plain WSGI callable: what its environ said."""
    view = report.flask
    assert view is not None
    final = report.final_scheme
    seen = view.wsgi_url_scheme
    if seen == final:
        if final == Scheme.HTTPS:
            return [Verdict(VerdictLevel.OK, f"{served}; the app knows it (wsgi.url_scheme={seen}).")]
        return [
            Verdict(
                VerdictLevel.WARN,
                f"{served}; the app knows it (wsgi.url_scheme={seen}). Anything sent here crosses the "
                "network unencrypted.",
            )
        ]
    return [
        Verdict(
            VerdictLevel.BAD,
            f"{served} but the app's environ says wsgi.url_scheme={seen}: URLs it builds from the "
            "environ get the wrong scheme.",
        )
    ]


def _transport_verdict(report: SchemeReport) -> list[Verdict]:
    final = report.final_scheme
    flask = report.flask if report.flask and report.flask.is_flask else None
    wsgi = report.flask is not None and report.flask.available and report.flask.kind == "wsgi"
    host = host_of(report.final_url)
    local = " (it stays on this machine: the host is a loopback address)" if is_loopback_host(host) else ""
    if final == Scheme.HTTPS:
        tls = report.tls
        how = f" ({tls.version}, {tls.cipher})" if tls and tls.version else ""
        served = (
            "After the redirect, served" if report.scheme == Scheme.HTTP else "Served"
        ) + f" over HTTPS{how}"
        if wsgi:
            return _wsgi_transport(report, served)
        if flask is None:
            return [Verdict(VerdictLevel.OK, f"{served}.")]
        if flask.scheme == Scheme.HTTPS:
            text = f"{served}; Flask knows it (request.is_secure=True)"
            if flask.url_for_scheme == Scheme.HTTPS:
                text += f", and url_for builds https:// links ({flask.url_for_external})"
            return [Verdict(VerdictLevel.OK, text + ".")]
        return [
            Verdict(
                VerdictLevel.BAD,
                f"{served} but Flask thinks {flask.scheme}: url_for(..., _external=True) builds "
                f"{flask.url_for_scheme}:// links ({flask.url_for_external}) and request.is_secure is False, "
                "so Secure-only logic and redirects go wrong.",
            )
        ]
    if final == Scheme.HTTP:
        served = "Served over plain HTTP" + (
            ", with no redirect to HTTPS" if report.scheme == Scheme.HTTP else ""
        )
        if wsgi:
            return _wsgi_transport(report, served)
        if flask is None:
            return [Verdict(VerdictLevel.WARN, f"{served}: not encrypted{local}.")]
        if flask.scheme == Scheme.HTTP:
            return [
                Verdict(
                    VerdictLevel.WARN,
                    f"{served}; Flask knows it (request.is_secure=False). Anything sent here crosses the "
                    f"network unencrypted{local}.",
                )
            ]
        return [
            Verdict(
                VerdictLevel.BAD,
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
        return [Verdict(VerdictLevel.INFO, flask.note or "What the app saw is not available.")]
    out: list[Verdict] = []
    if flask.final_url and report.final_url and origin(flask.final_url) != origin(report.url):
        out.append(
            Verdict(
                VerdictLevel.INFO,
                f"What the app saw comes from {flask.final_url}, where the redirect led: "
                f"the app never ran for {report.scheme}:// on {origin(report.url)}.",
            )
        )
    if flask.note:
        out.append(Verdict(VerdictLevel.WARN, f"Capturing what the app saw failed: {flask.note}"))
    if flask.kind == "wsgi":
        out.append(
            Verdict(
                VerdictLevel.INFO,
                "The app is a plain WSGI callable, not a Flask app: Flask facts (request.scheme, url_for, "
                "its settings) do not apply; shown is the environ it received.",
            )
        )
        return out
    if flask.url_for_scheme and flask.scheme and flask.url_for_scheme != flask.scheme:
        out.append(
            Verdict(
                VerdictLevel.WARN,
                f"url_for builds {flask.url_for_scheme}:// links ({flask.url_for_external}) although Flask's "
                f"request.scheme is {flask.scheme}.",
            )
        )
    out += _settings_verdicts(report)
    return out


def _settings_verdicts(report: SchemeReport) -> list[Verdict]:
    """What the app's own settings mean for this request: SERVER_NAME, SESSION_COOKIE_SECURE, ProxyFix."""
    flask = report.flask
    assert flask is not None
    out: list[Verdict] = []
    if flask.server_name:
        built = host_of(flask.url_for_external) if flask.url_for_external else None
        asked = flask.host or ""
        same = asked.split(":")[0] == flask.server_name.split(":")[0] or asked == flask.server_name
        level = VerdictLevel.INFO if same else VerdictLevel.WARN
        text = f"SERVER_NAME is {flask.server_name!r}: url_for(_external=True) builds links for that host"
        if built:
            text += f" ({flask.url_for_external})"
        if not same:
            text += f", not for the Host this request used ({asked})"
        out.append(Verdict(level, text + "."))
    if flask.session_cookie_secure and report.final_scheme == Scheme.HTTP:
        out.append(
            Verdict(
                VerdictLevel.WARN,
                "SESSION_COOKIE_SECURE is True: over plain HTTP the browser never sends the session cookie "
                "back, so logins and sessions do not stick here.",
            )
        )
    if flask.proxy_fix is not None:
        fix = flask.proxy_fix
        counts = ", ".join(f"{k}={fix.get(k, 0)}" for k in PROXY_FIX_FIELDS)
        trusted = [k[2:] for k in PROXY_FIX_FIELDS if fix.get(k)]
        out.append(
            Verdict(
                VerdictLevel.INFO,
                f"ProxyFix({counts}) wraps app.wsgi_app: Flask takes "
                + (", ".join(trusted) or "nothing")
                + " from X-Forwarded-* when they reach it (the launcher deletes X-Forwarded-Proto, -For, "
                "-Host and -Port unless its trusted-proxy setting is on).",
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
                VerdictLevel.OK,
                f"The certificate verified: {subject}, issued by {tls.issuer}, names {names}, "
                f"expires {(tls.not_after or '')[:10]} ({tls.days_left} days left).",
            )
        )
    else:
        out.append(
            Verdict(
                VerdictLevel.BAD,
                f"The certificate did not verify ({tls.verify_error}). A browser would show a warning; "
                "the facts shown come from a second, unverified connection.",
            )
        )
    if tls.days_left is not None and 0 <= tls.days_left < 30:
        out.append(Verdict(VerdictLevel.WARN, f"The certificate expires in {tls.days_left} days: renew it."))
    if tls.version in ("TLSv1", "TLSv1.1", "SSLv3"):
        out.append(Verdict(VerdictLevel.BAD, f"{tls.version} is obsolete: use TLS 1.2 or 1.3."))
    return out


def _status_verdicts(report: SchemeReport, first_body: bytes) -> list[Verdict]:
    out: list[Verdict] = []
    if report.error:
        where = report.hops[-1].url if report.hops else report.url
        out.append(Verdict(VerdictLevel.BAD, f"{report.error}" + (f" ({where})" if report.redirects else "")))
    status = report.final_status
    if status is None:
        return out
    text = first_body[:400].decode("utf-8", "replace")
    if report.scheme == Scheme.HTTP and status == 400 and any(m in text for m in _WRONG_PORT_MARKERS):
        out.append(
            Verdict(
                VerdictLevel.BAD,
                f"This port speaks HTTPS: the server answered the plain-HTTP request with 400. "
                f"Use https:// for {origin(report.url)}.",
            )
        )
    elif status >= 400:
        out.append(
            Verdict(
                VerdictLevel.WARN, f"The final answer is {status} {report.final_reason} ({report.final_url})."
            )
        )
    elif status in REDIRECT_CODES or 300 <= status < 400:
        out.append(
            Verdict(VerdictLevel.INFO, f"The final answer is {status} {report.final_reason} (not followed).")
        )
    return out


def scheme_verdicts(report: SchemeReport, *, first_body: bytes = b"") -> list[Verdict]:
    """The verdicts for one column, most important first."""
    out = _status_verdicts(report, first_body)
    out += _chain_verdicts(report)
    if report.final_status is not None:
        out += _transport_verdict(report)
    out += _flask_verdicts(report)
    out += _tls_verdicts(report)
    out += hsts_verdicts(report)
    for cookie in report.cookies:
        out.append(cookie_verdict(cookie, host_of(cookie.url)))
    return out
