"""The "behind a proxy" section: three hops of a request that a TLS-terminating proxy forwards.

``build_behind`` reads an ``InspectReport`` of the proxy's https:// URL (no extra request) and,
when a proxy is in front of the app, lays the request out as three hops:

1. client → proxy: what the client saw (TLS version and cipher, the certificate, the proxy's
   ``Server``/``Via``, the HSTS header, the HTTP→HTTPS redirect of the http:// twin);
2. proxy → app server: plain HTTP, and the ``X-Forwarded-*`` headers that reached the app;
3. what Flask saw: the launcher's capture inside the app (``launcher.appview``).

It then flags each misconfiguration in plain words: the proxy's headers ignored (so ``url_for``
gives http://), a redirect loop, HSTS missing, ``SESSION_COOKIE_SECURE`` off, a ProxyFix whose
counts do not match the proxies the request came through, and — given the app's own address
(``direct``) — an app that believes forged ``X-Forwarded-*`` from whoever reaches it directly.

Detection: a ``hint`` (``flask-launcher inspect --behind``), a ``Via`` header, a ``Server`` that is
not waitress (the launcher's own listeners say ``waitress``), or the capture saying the app was
reached over plain HTTP while the client spoke HTTPS.  Limits (documented, not detected):
waitress's own ``trusted_proxy`` value is invisible from outside; from this machine a loopback
upstream always looks trusted; a proxy that rewrites ``Server`` to ``waitress`` hides itself
unless the capture is available.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from launcher.inspector.report import Verdict, VerdictLevel
from launcher.scheme import Scheme

if TYPE_CHECKING:
    from launcher.inspector.report import FlaskView, Hop, InspectReport, SchemeReport

#: The forged headers of the direct check: documentation-only names and addresses.
FORGED_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "forged.example",
    "X-Forwarded-For": "203.0.113.66",
}
TRUST_FIX = (
    "trust the proxy, and only it: flask-launcher serve --trusted-proxy (a proxy on this machine), "
    'or waitress.serve(app, trusted_proxy="<proxy address>", trusted_proxy_headers={"x-forwarded-for", '
    '"x-forwarded-proto", "x-forwarded-host"}); see flask-launcher deploy-config'
)


@dataclass
class ProxyHop:
    """One hop of the request: a label and its facts as (name, value) rows."""

    label: str
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class BehindProxy:
    """The request through a TLS-terminating proxy, hop by hop, and what is wrong with it."""

    url: str
    #: The proxy as it names itself (``Server``/``Via``), or what the caller said.
    proxy: str | None
    #: How the proxy was found, in words.
    detected_by: str
    hops: list[ProxyHop] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)


#: ``Server`` values of an app server answering directly: waitress, and the launcher's listeners.
APP_SERVERS = ("waitress", "flask-https-launcher")


def _is_app_server(server: str | None) -> bool:
    """True when *server* names the app's own server (its first name: Caddy appends the upstream's)."""
    first = (server or "").split(",")[0].strip().lower()
    return first.startswith(APP_SERVERS)


def detect(column: SchemeReport, hint: str | None) -> tuple[str | None, str] | None:
    """(the proxy's name, how it was found) when a proxy is in front of *column*'s URL, else None."""
    hops = [h for h in column.hops if h.status is not None]
    first = hops[0] if hops else None
    server = first.server if first else None
    via = first.via if first else None
    name = via or (server if server and not _is_app_server(server) else None)
    if hint:
        return (name or (hint if hint != "any" else None)), "you said so (--behind)"
    if via:
        return via, f"the answer carries Via: {via}"
    if server and not _is_app_server(server):
        return server, f"the answer comes from Server: {server}, not from the app's server"
    view = column.flask if column.flask and column.flask.available else column.first_flask
    if (
        view is not None
        and view.available
        and column.scheme == Scheme.HTTPS
        and (view.listener == Scheme.HTTP or (view.tls is None and view.listener is None))
    ):
        return server, "the client spoke HTTPS but the app was reached over plain HTTP"
    return None


def _forwarded_for_count(view: FlaskView) -> int | None:
    value = view.x_forwarded.get("X-Forwarded-For")
    if not value:
        return None
    return len([part for part in value.split(",") if part.strip()])


def _client_hop(column: SchemeReport, twin: SchemeReport, name: str | None) -> ProxyHop:
    hop = ProxyHop("1. client → proxy (TLS)")
    first: Hop | None = next((h for h in column.hops if h.status is not None), None)
    facts = hop.facts
    facts.append(("URL", column.url))
    facts.append(("Proxy", name or "not named (no Server or Via header)"))
    tls = column.tls
    if tls is not None:
        facts.append(("TLS", f"{tls.version} {tls.cipher}"))
        verified = "yes" if tls.verified else tls.verify_error
        facts.append(("Certificate", f"{tls.subject} (verified: {verified})"))
    else:
        facts.append(("TLS", "no TLS connection"))
    if first is not None:
        facts.append(("Answer", f"{first.status} {first.reason}".strip()))
    facts.append(("HSTS", column.hsts or (first.hsts if first else None) or "none"))
    if not twin.skipped:
        redirect = twin.redirects[0] if twin.redirects else None
        if redirect is not None:
            facts.append(("http:// twin", f"{twin.url} → {redirect.status} {redirect.next_url}"))
        elif twin.final_status is not None:
            facts.append(("http:// twin", f"{twin.url} → {twin.final_status} (served, not redirected)"))
        else:
            facts.append(("http:// twin", f"{twin.url} → {twin.error or 'no answer'}"))
    return hop


def _upstream_hop(view: FlaskView | None) -> ProxyHop:
    hop = ProxyHop("2. proxy → app server (plain HTTP)")
    if view is None or not view.available:
        hop.facts.append(("Seen", "not available (no capture from inside the app)"))
        return hop
    listener = view.listener or "-"
    hop.facts.append(("App server's listener", listener))
    forwarded = ", ".join(f"{k}: {v}" for k, v in view.x_forwarded.items())
    hop.facts.append(("X-Forwarded-* reaching the app", forwarded or "none"))
    return hop


def _flask_hop(view: FlaskView | None) -> ProxyHop:
    hop = ProxyHop("3. what Flask saw")
    if view is None or not view.available:
        hop.facts.append(("Seen", view.note if view is not None and view.note else "not available"))
        return hop
    rows: list[tuple[str, object]] = [
        ("request.scheme", view.scheme),
        ("request.is_secure", view.is_secure),
        ("url_for(_external=True)", view.url_for_external or view.url_for_error),
        ("Host", view.host),
        ("request.remote_addr", view.remote_addr),
        ("ProxyFix", ", ".join(f"{k}={v}" for k, v in view.proxy_fix.items()) if view.proxy_fix else None),
        ("SESSION_COOKIE_SECURE", view.session_cookie_secure),
        ("PREFERRED_URL_SCHEME", view.preferred_url_scheme),
    ]
    hop.facts += [(k, "-" if v is None else str(v)) for k, v in rows]
    return hop


def _proxy_fix_verdict(view: FlaskView, knows_https: bool) -> Verdict | None:
    """A ProxyFix whose counts do not match the proxies this request came through."""
    fix = view.proxy_fix
    proxies = _forwarded_for_count(view)
    if not fix or proxies is None:
        return None
    counts = {k: fix.get(k, 0) for k in ("x_for", "x_proto", "x_host")}
    wrong = {k: v for k, v in counts.items() if v != proxies}
    if not wrong:
        return None
    shown = ", ".join(f"{k}={v}" for k, v in counts.items())
    plural = "proxy" if proxies == 1 else "proxies"
    effects = []
    if any(v > proxies for v in wrong.values()):
        effects.append(
            "ProxyFix ignores a header with fewer values than its count, so it applies nothing"
            + (" (here the server had applied the headers already)" if knows_https else "")
        )
    if any(v < proxies for v in wrong.values()):
        effects.append("a count too low takes a value a proxy did not set (a client can forge it)")
    return Verdict(
        VerdictLevel.WARN if knows_https else VerdictLevel.BAD,
        f"ProxyFix counts off: ProxyFix({shown}) but this request came through {proxies} {plural} "
        f"(X-Forwarded-For has {proxies} address{'es' if proxies != 1 else ''}): "
        + "; ".join(effects)
        + f". Use ProxyFix(app.wsgi_app, x_for={proxies}, x_proto={proxies}, x_host={proxies}).",
    )


def _view_verdicts(view: FlaskView, column: SchemeReport) -> list[Verdict]:
    out: list[Verdict] = []
    knows = view.scheme == Scheme.HTTPS and (view.url_for_scheme in (None, Scheme.HTTPS))
    if knows:
        out.append(
            Verdict(
                VerdictLevel.OK,
                f"Flask knows the request came over HTTPS through the proxy: request.scheme=https, "
                f"url_for builds {view.url_for_external or 'https:// URLs'}, Host={view.host}, "
                f"remote_addr={view.remote_addr}.",
            )
        )
    elif not view.x_forwarded:
        out.append(
            Verdict(
                VerdictLevel.BAD,
                "Proxy headers ignored: no X-Forwarded-* header reached the app, so Flask sees "
                f"request.scheme={view.scheme} and url_for gives {view.url_for_external or 'http:// URLs'}: "
                "links, redirects and OAuth callbacks go to http://. waitress deletes X-Forwarded-* from a "
                "peer it does not trust"
                + (", so the ProxyFix in the app gets nothing to apply" if view.proxy_fix else "")
                + f". Fix: {TRUST_FIX}.",
            )
        )
    else:
        proto = view.x_forwarded.get("X-Forwarded-Proto", view.x_forwarded_proto or "-")
        fix_line = (
            "fix the ProxyFix counts (below)"
            if view.proxy_fix
            else "trust the proxy in the server, or add ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)"
        )
        out.append(
            Verdict(
                VerdictLevel.BAD,
                f"Proxy headers ignored: X-Forwarded-Proto: {proto} reached the app but nothing applied it, "
                f"so Flask sees request.scheme={view.scheme} and url_for gives "
                f"{view.url_for_external or 'http:// URLs'}. Fix: {fix_line}.",
            )
        )
    pf = _proxy_fix_verdict(view, knows)
    if pf is not None:
        out.append(pf)
    if view.is_flask:
        if view.session_cookie_secure is not True:
            out.append(
                Verdict(
                    VerdictLevel.WARN,
                    "SESSION_COOKIE_SECURE is off: the session cookie is not marked Secure, so a browser "
                    "also sends it over plain http://. Set app.config['SESSION_COOKIE_SECURE'] = True "
                    "on an HTTPS site.",
                )
            )
        if (view.preferred_url_scheme or "http") != Scheme.HTTPS:
            out.append(
                Verdict(
                    VerdictLevel.INFO,
                    "PREFERRED_URL_SCHEME is not 'https': url_for(_external=True) outside a request "
                    "(e-mails, CLI commands, background jobs) builds http:// URLs. Set "
                    'PREFERRED_URL_SCHEME="https".',
                )
            )
    return out


def _loop_verdict(column: SchemeReport) -> Verdict | None:
    error = column.error or ""
    if not ("loop" in error.lower() or "Stopped after" in error):
        return None
    first = column.first_flask
    redirect = column.redirects[0] if column.redirects else None
    where = f"{redirect.url} → {redirect.status} {redirect.next_url}" if redirect else column.url
    why = ""
    if first is not None and first.available and first.scheme != Scheme.HTTPS:
        why = (
            f" The app saw request.scheme={first.scheme} although the browser used https://: it "
            "redirects to HTTPS, the proxy forwards the HTTPS request as HTTP again, and so on"
            + (" (no X-Forwarded-* reached it)" if not first.x_forwarded else "")
            + f". Fix: {TRUST_FIX}; or let only the proxy redirect."
        )
    elif first is None or not first.available:
        why = (
            " The app (or a server behind the proxy) redirects requests the proxy forwards over plain "
            "HTTP: it does not see X-Forwarded-Proto: https. Trust the proxy, or let only the proxy redirect."
        )
    return Verdict(
        VerdictLevel.BAD,
        f"Redirect loop (ERR_TOO_MANY_REDIRECTS in a browser): {where}, again and again.{why}",
    )


def build_behind(
    report: InspectReport, *, hint: str | None = None, direct: SchemeReport | None = None
) -> BehindProxy | None:
    """The "behind a proxy" section for *report* (see the module docstring), or None when no
    proxy is detected and *hint* is None.  *direct*: a probe of the app's own address with
    ``FORGED_HEADERS`` (``flask-launcher inspect --direct``), for the trusted-from-everywhere check."""
    column, twin = report.https, report.http
    found = detect(column, hint)
    if found is None:
        return None
    name, how = found
    view = column.flask if column.flask is not None and column.flask.available else column.first_flask
    section = BehindProxy(url=column.url, proxy=name, detected_by=how)
    section.hops = [_client_hop(column, twin, name), _upstream_hop(view), _flask_hop(view)]
    verdicts = section.verdicts
    verdicts.append(Verdict(VerdictLevel.INFO, f"A proxy is in front of the app: {how}."))
    loop = _loop_verdict(column)
    if loop is not None:
        verdicts.append(loop)
    elif column.error and not column.reachable:
        verdicts.append(Verdict(VerdictLevel.BAD, f"The proxy did not answer: {column.error}"))
    if view is not None and view.available:
        if loop is None:
            verdicts += _view_verdicts(view, column)
    else:
        note = view.note if view is not None and view.note else "no capture from inside the app"
        verdicts.append(
            Verdict(
                VerdictLevel.INFO,
                f"What Flask saw is not available ({note}): only the client side is judged. Serve the app "
                "with flask-launcher serve: its token file lets inspect see inside it through the proxy.",
            )
        )
    if column.reachable and loop is None and column.final_scheme == Scheme.HTTPS and not column.hsts:
        verdicts.append(
            Verdict(
                VerdictLevel.WARN,
                "HSTS missing: the proxy's HTTPS answer has no Strict-Transport-Security, so a browser "
                "that is sent to http:// once (a typed address, an old link) can be intercepted. Add it at "
                'the proxy: nginx add_header Strict-Transport-Security "max-age=31536000" always; Caddy '
                'header Strict-Transport-Security "max-age=31536000" (flask-launcher deploy-config --hsts).',
            )
        )
    if not twin.skipped and twin.final_status is not None and twin.final_scheme == Scheme.HTTP:
        verdicts.append(
            Verdict(
                VerdictLevel.WARN,
                f"Plain HTTP is served, not redirected: {twin.url} answered {twin.final_status} over http. "
                "Let the proxy redirect HTTP to HTTPS (flask-launcher deploy-config --redirect-https).",
            )
        )
    if direct is not None:
        verdicts.append(_direct_verdict(direct))
    return section


def _direct_verdict(direct: SchemeReport) -> Verdict:
    """What the app made of forged ``X-Forwarded-*`` sent to its own address, bypassing the proxy."""
    view = direct.flask
    host = urllib.parse.urlsplit(direct.url).hostname or ""
    from launcher.inspector.urls import is_loopback_host

    if not direct.reachable:
        return Verdict(
            VerdictLevel.OK,
            f"The app's own address {direct.url} does not answer from here: "
            f"{direct.error or 'no answer'}; only the proxy reaches it.",
        )
    if view is None or not view.available:
        return Verdict(
            VerdictLevel.INFO,
            f"The app answers directly at {direct.url}, but what it made of forged X-Forwarded-* headers "
            "is not available (no capture).",
        )
    believed = view.scheme == Scheme.HTTPS or view.remote_addr == FORGED_HEADERS["X-Forwarded-For"]
    if not believed:
        return Verdict(
            VerdictLevel.OK,
            f"Sent straight to {direct.url} with forged X-Forwarded-* headers, the app ignored them "
            f"(request.scheme={view.scheme}, remote_addr={view.remote_addr}).",
        )
    if is_loopback_host(host):
        return Verdict(
            VerdictLevel.INFO,
            f"Sent straight to {direct.url} (loopback) with forged X-Forwarded-* headers, the app believed "
            f"them (request.scheme={view.scheme}, remote_addr={view.remote_addr}): expected for a proxy on "
            "this machine, since any local program looks like the proxy. Keep the app bound to loopback; "
            "from another machine this check would tell whether it trusts everyone.",
        )
    return Verdict(
        VerdictLevel.BAD,
        f"Trusted from everywhere: sent straight to {direct.url}, bypassing the proxy, forged "
        f"X-Forwarded-* headers were believed (request.scheme={view.scheme}, "
        f"remote_addr={view.remote_addr}). "
        'Anyone who reaches the app can pose as any client over HTTPS (waitress trusted_proxy="*", or '
        "ProxyFix with the app reachable directly). Bind the app to loopback or a private address, and "
        "trust only the proxy's address.",
    )


def behind_text(section: BehindProxy) -> list[str]:
    """The section as text lines for the report."""
    from launcher.inspector.text import MARK

    lines = [
        f"== Behind a proxy: {section.url} ==",
        f"Proxy: {section.proxy or 'not named'} ({section.detected_by})",
    ]
    lines += [f"  {MARK.get(v.level, v.level)} {v.text}" for v in section.verdicts]
    for hop in section.hops:
        lines.append(hop.label)
        width = max((len(k) for k, _ in hop.facts), default=0)
        lines += [f"    {k:<{width}}  {v}" for k, v in hop.facts]
    return lines
