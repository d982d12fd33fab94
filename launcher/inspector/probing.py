"""Probing: one URL fetched and explained (``probe``), both schemes side by side (``inspect_target``,
``inspect_servers``), plus the proxy lens when asked.
"""

from __future__ import annotations

import concurrent.futures
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from launcher.inspector.behind import FORGED_HEADERS, build_behind
from launcher.inspector.client import Client
from launcher.inspector.flaskview import read_flask_view
from launcher.inspector.limits import DEFAULT_TIMEOUT
from launcher.inspector.proxylens import FORWARDED_HEADERS, ProxyLens, run_proxy_lens
from launcher.inspector.report import InspectReport, SchemeReport, Verdict, VerdictLevel
from launcher.inspector.targets import ProbeMark, Target, target_for_servers
from launcher.inspector.verdicts import scheme_verdicts
from launcher.scheme import Scheme

if TYPE_CHECKING:
    from launcher.control import PolicyControl, ServersControl


def probe(
    client: Client,
    url: str,
    *,
    skip: str | None = None,
    flask_view: bool = True,
    headers: dict[str, str] | None = None,
) -> SchemeReport:
    """Fetch *url* (following redirects) and explain it, with what the app saw of the final hop
    (the launcher's capture in that answer's header, ``launcher.appview``: no extra request).
    *headers* are sent with every hop (the behind-a-proxy section's forged headers)."""
    scheme = urllib.parse.urlsplit(url).scheme
    report = SchemeReport(scheme=scheme, url=url, skipped=skip)
    if skip:
        report.verdicts = [Verdict(VerdictLevel.INFO, skip)]
        return report
    answers, chain_error = client.follow(url, headers)
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
        if final.scheme == Scheme.HTTPS:
            report.hsts = final.hsts
    tls_hops = [h for h in report.hops if h.tls is not None]
    report.tls = tls_hops[-1].tls if tls_hops else None
    report.cookies = [c for h in report.hops for c in h.cookies]
    if flask_view and report.reachable:
        report.flask = read_flask_view(client, answers, chain_error)
        if chain_error and answers[0].view is not None:
            report.first_flask = read_flask_view(client, answers[:1], None)
    report.verdicts = scheme_verdicts(report, first_body=answers[0].body if answers else b"")
    return report


def inspect_target(
    target: Target,
    *,
    cafile: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    proxy_lens: bool = False,
    policy: PolicyControl | None = None,
    system_trust: bool = True,
    notes: list[str] | None = None,
    probe_mark: ProbeMark | None = None,
    no_probe: str | None = None,
    behind: str | None = None,
    direct_url: str | None = None,
) -> InspectReport:
    """Probe both URLs of *target* (in parallel) and, when asked, the proxy lens.

    *policy*: the running servers' ``Policy``; with it the proxy lens shows both settings (see
    ``launcher.inspector.proxylens``), without it only the current one.  *probe_mark*: the servers'
    probe token and where it may go (default: the target's, see ``target_for_servers``); without
    one what the app saw is "not available" (*no_probe*, else the target's, says why in one line).
    *behind*: there is a TLS-terminating proxy in front (its name, or "any"); without it the
    "behind a proxy" section appears only when one is detected (``launcher.inspector.behind``).
    *direct_url*: the app's own address behind the proxy, probed with forged ``X-Forwarded-*``.
    Raises ``InvalidTargetError`` only for an unusable *cafile*; network
    trouble is reported, never raised.
    """
    started = time.perf_counter()
    client = Client(
        cafile,
        timeout=timeout,
        system_trust=system_trust,
        probe=probe_mark or target.probe,
        no_probe=no_probe or target.no_probe,
    )
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
    direct = None
    if direct_url is not None:
        direct = probe(client, direct_url, headers=dict(FORGED_HEADERS))
    report.behind = build_behind(report, hint=behind, direct=direct)
    if proxy_lens:
        if target.http_skip:
            report.proxy_lens = ProxyLens(
                url=target.http_url,
                sent_headers=dict(FORWARDED_HEADERS),
                toggled=False,
                verdicts=[Verdict(VerdictLevel.INFO, f"Proxy lens not run: {target.http_skip}")],
            )
        else:
            report.proxy_lens = run_proxy_lens(client, target.http_url, policy=policy)
    report.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return report


def inspect_servers(
    servers: ServersControl,
    path: str = "/",
    *,
    cafile: str | Path | None = None,
    proxy_lens: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> InspectReport:
    """Inspect *path* (or a URL) on running ``Servers``; *cafile* defaults to their CA.

    With *proxy_lens* the lens flips ``servers.policy.trusted_proxy`` for its two requests and
    restores it.  The probes carry ``servers.probe_token`` (to their own listeners only), so each
    answer says what the app saw.
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
