"""The behind-a-proxy lens: what Flask sees when a TLS-terminating proxy forwards an HTTPS request.

``run_proxy_lens`` sends ``X-Forwarded-Proto: https`` (with -Host and -For) over HTTP and shows what
Flask sees with waitress's default (the headers are deleted) and with the launcher's trusted-proxy
setting.  Given the ``Policy`` of running servers it flips ``policy.trusted_proxy`` for those two
requests and restores it; given only a URL it reports what the server's current setting gives.

Limits: when it flips the policy of running servers, it does so for a few milliseconds: requests
other clients send in that window see the flipped setting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from launcher.inspector.flaskview import read_flask_view
from launcher.inspector.limits import REDIRECT_CODES
from launcher.inspector.report import Verdict, VerdictLevel
from launcher.scheme import Scheme

if TYPE_CHECKING:
    from launcher.control import PolicyControl
    from launcher.inspector.client import Client
    from launcher.inspector.report import FlaskView


#: What the proxy lens claims, as a TLS-terminating proxy would: documentation-only names and addresses.
FORWARDED_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "myapp.example",
    "X-Forwarded-For": "203.0.113.7",
}
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


def _set_trusted(policy: PolicyControl, value: bool) -> None:
    """Set ``trusted_proxy`` and wait until it is in force for the next request."""
    policy.trusted_proxy = value
    policy.sync()


def run_proxy_lens(client: Client, http_url: str, *, policy: PolicyControl | None = None) -> ProxyLens:
    """Send the forwarded headers over HTTP to *http_url*; what the app saw comes back in the
    answer's header (``launcher.appview``), as for the columns.  See the module docstring."""
    url = http_url
    lens = ProxyLens(url=url, sent_headers=dict(FORWARDED_HEADERS), toggled=policy is not None)
    headers = dict(FORWARDED_HEADERS)

    def one(trusted: bool | None, label: str) -> ProxyCase:
        answer = client.fetch(url, headers)
        hop = answer.hop
        case = ProxyCase(
            trusted=trusted, label=label, status=hop.status, location=hop.location, error=hop.error
        )
        if not hop.error and hop.status not in REDIRECT_CODES:
            case.flask = read_flask_view(client, [answer], None)
        return case

    if policy is not None:
        with _POLICY_LOCK:
            original = policy.trusted_proxy
            try:
                _set_trusted(policy, False)
                lens.cases.append(one(False, "waitress's default: proxy headers not trusted"))
                _set_trusted(policy, True)
                lens.cases.append(one(True, "trusted proxy (waitress trusted_proxy / ProxyFix)"))
            finally:
                _set_trusted(policy, original)
    else:
        lens.cases.append(one(None, "the server's current setting"))
    lens.verdicts = proxy_verdicts(lens)
    return lens


def proxy_verdicts(lens: ProxyLens) -> list[Verdict]:
    out: list[Verdict] = []
    fwd_host = FORWARDED_HEADERS["X-Forwarded-Host"]
    fwd_for = FORWARDED_HEADERS["X-Forwarded-For"]
    redirects = [c for c in lens.cases if c.status in REDIRECT_CODES and not c.error]
    if redirects and len(redirects) == len(lens.cases):
        case = redirects[0]
        return [
            Verdict(
                VerdictLevel.BAD,
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
            out.append(Verdict(VerdictLevel.BAD, f"{case.label}: {case.error}"))
            continue
        if case.status in REDIRECT_CODES:
            out.append(
                Verdict(
                    VerdictLevel.BAD,
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
            out.append(Verdict(VerdictLevel.INFO, f"{case.label}: {flask.note if flask else 'no answer'}"))
            continue
        if flask.scheme == Scheme.HTTPS:
            trusted = "a trusted proxy" if case.trusted is not False else "the proxy"
            out.append(
                Verdict(
                    VerdictLevel.OK,
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
                    VerdictLevel.WARN,
                    f"{case.label}: the X-Forwarded-* headers were deleted before Flask ran, so Flask sees "
                    f"request.scheme=http, url_for builds {flask.url_for_external} "
                    f"(not https://{fwd_host}/), remote_addr={flask.remote_addr} (the proxy, not {fwd_for}). "
                    "Behind a TLS-terminating proxy that means http:// links and redirects on an HTTPS site.",
                )
            )
        else:
            out.append(
                Verdict(
                    VerdictLevel.WARN,
                    f"{case.label}: X-Forwarded-Proto: {flask.x_forwarded_proto} reached Flask, but nothing "
                    f"applied it: request.scheme=http, url_for builds {flask.url_for_external}. "
                    "Add ProxyFix (below).",
                )
            )
    return out
