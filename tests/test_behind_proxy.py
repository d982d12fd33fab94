"""Served through the real nginx and Caddy (child processes on free loopback ports, the
configuration ``launcher.deploy`` writes, the tool's leaf), the inspector proves what Flask saw:
https, ``url_for`` https, no redirect loop with the redirect on, HSTS; and it names each wrong
set-up (the proxy not trusted, ProxyFix's count off by one, an app that redirects itself and loops)
with the right advice.  Both with the demo app and with ``tests/apps/proxyfix_app.py``.

Each proxy is stopped in the fixture's teardown; every wait is bounded (``launcher.deploy``'s
start/stop timeouts, the inspector's 5 s per connection).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nethelpers import refuses

from launcher.deploy import ProxyKind, ProxyNotInstalledError, ProxyRun, find_proxy, free_port, trial_spec
from launcher.inspector import ProbeMark, inspect_target
from launcher.inspector.report import InspectReport, VerdictLevel
from launcher.inspector.targets import target_for_url

APPS = Path(__file__).parent / "apps"
ROOT = Path(__file__).parent.parent
KINDS = [ProxyKind.NGINX, ProxyKind.CADDY]


def need(kind: ProxyKind) -> None:
    try:
        find_proxy(kind)
    except ProxyNotInstalledError as exc:
        pytest.skip(f"{exc} (scripts/bootstrap.sh test installs it)")


def demo_app() -> Any:
    from launcher.apptarget import AppTarget, load_app

    return load_app(AppTarget())


def proxyfix_app(**kw: Any) -> Any:
    sys.path.insert(0, str(APPS))
    try:
        import proxyfix_app as module
    finally:
        sys.path.remove(str(APPS))
    return module.create_app(**kw)


class Trial:
    """The app on a launcher HTTP listener, the real proxy in front, and the inspector."""

    def __init__(self, servers: Any, run: ProxyRun, ca: Path) -> None:
        self.servers = servers
        self.run = run
        self.ca = ca

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.run.spec.listen}/"

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.servers.http.port}/"

    def inspect(self, url: str | None = None, **kw: Any) -> InspectReport:
        spec = self.run.spec
        ports = frozenset(
            {self.servers.http.port, spec.listen, *([spec.http_listen] if spec.http_listen else [])}
        )
        target = target_for_url(
            url or self.https_url, http_port=spec.http_listen or 1, https_port=spec.listen
        )
        mark = ProbeMark(self.servers.probe_token, ports, frozenset({"127.0.0.1"}))
        return inspect_target(target, cafile=self.ca, timeout=5, probe_mark=mark, system_trust=False, **kw)


@pytest.fixture
def trial(make_servers, cert_store) -> Iterator[Callable[..., Trial]]:
    """``trial(kind, app, trusted=True, redirect=308, hsts=600)``: see ``Trial``."""
    runs: list[ProxyRun] = []

    def make(
        kind: ProxyKind, app: Any, *, trusted: bool = True, redirect: int | None = 308, hsts: int | None = 600
    ) -> Trial:
        need(kind)
        servers = make_servers(app, host="127.0.0.1")
        servers.policy.trusted_proxy = trusted
        spec = trial_spec(
            kind,
            upstream=("127.0.0.1", servers.http.port),
            listen=free_port(),
            http_listen=free_port(),
            cert=Path(cert_store.cert_path),
            key=Path(cert_store.key_path),
            hsts=hsts,
            redirect_https=redirect,
        )
        run = ProxyRun(spec)
        runs.append(run)
        run.start()
        return Trial(servers, run, Path(cert_store.ca_cert_path))

    yield make
    for run in runs:
        run.cleanup()
        assert not run.running
        assert all(refuses(p) for p in run.ports()), "the proxy still listens after cleanup"


def texts(report: InspectReport, level: VerdictLevel | None = None) -> list[str]:
    assert report.behind is not None, "no behind-a-proxy section"
    return [v.text for v in report.behind.verdicts if level is None or v.level == level]


def one(report: InspectReport, needle: str, level: VerdictLevel) -> str:
    found = [t for t in texts(report, level) if needle in t]
    assert found, f"no {level} verdict with {needle!r} in {texts(report)}"
    return found[0]


@pytest.mark.parametrize("kind", KINDS)
def test_demo_app_through_the_proxy_flask_sees_https(trial, kind: ProxyKind) -> None:
    t = trial(kind, demo_app())
    report = t.inspect()
    https = report.https
    assert https.error is None and https.final_status == 200
    assert https.tls is not None and https.tls.verified
    flask = https.flask
    assert flask is not None and flask.available, flask
    assert flask.scheme == "https" and flask.is_secure is True
    assert flask.url_for_external == t.https_url
    assert flask.listener == "http"  # the app itself was reached over plain HTTP, from the proxy
    assert flask.x_forwarded["X-Forwarded-Proto"] == "https"
    # HSTS from the proxy; the http:// twin redirects once, to https, no loop.
    assert https.hsts == "max-age=600"
    http = report.http
    assert http.error is None
    assert [h.status for h in http.hops] == [308, 200]
    assert http.final_url == t.https_url and http.final_scheme == "https"
    # The section: three hops, the proxy named, nothing bad.
    behind = report.behind
    assert behind is not None
    assert [h.label.split(".")[0] for h in behind.hops] == ["1", "2", "3"]
    assert (behind.proxy or "").lower().startswith(kind.value)
    assert not texts(report, VerdictLevel.BAD)
    one(report, "Flask knows the request came over HTTPS through the proxy", VerdictLevel.OK)
    assert not [v for v in texts(report) if "HSTS missing" in v or "Redirect loop" in v]
    text = report.to_text()
    assert "== Behind a proxy:" in text and "2. proxy → app server (plain HTTP)" in text
    markdown = report.to_markdown()
    assert "### Behind a proxy:" in markdown and "**3. what Flask saw**" in markdown
    assert report.to_dict()["behind"]["hops"][2]["label"] == "3. what Flask saw"


@pytest.mark.parametrize("kind", KINDS)
def test_proxy_not_trusted_is_diagnosed(trial, kind: ProxyKind) -> None:
    t = trial(kind, demo_app(), trusted=False, hsts=None)
    report = t.inspect()
    flask = report.https.flask
    assert flask is not None and flask.scheme == "http"
    assert (flask.url_for_external or "").startswith("http://")
    bad = one(report, "Proxy headers ignored", VerdictLevel.BAD)
    assert "url_for gives http://" in bad
    assert "flask-launcher serve --trusted-proxy" in bad and "trusted_proxy=" in bad
    one(report, "HSTS missing", VerdictLevel.WARN)
    # Trusting it fixes it, at once (the policy is read per request).
    t.servers.policy.trusted_proxy = True
    fixed = t.inspect()
    assert fixed.https.flask is not None and fixed.https.flask.scheme == "https"
    assert not texts(fixed, VerdictLevel.BAD)


@pytest.mark.parametrize("kind", KINDS)
def test_own_app_with_proxyfix_right_count(trial, kind: ProxyKind) -> None:
    t = trial(kind, proxyfix_app(proxies=1))
    report = t.inspect()
    flask = report.https.flask
    assert flask is not None and flask.proxy_fix is not None and flask.proxy_fix["x_proto"] == 1
    assert flask.url_for_external == t.https_url
    assert flask.session_cookie_secure is True
    assert not texts(report, VerdictLevel.BAD)
    assert not [v for v in texts(report) if "ProxyFix counts off" in v or "SESSION_COOKIE_SECURE" in v]
    cookies = report.https.cookies
    assert cookies and all(c.secure for c in cookies)


@pytest.mark.parametrize("kind", KINDS)
def test_proxyfix_count_off_by_one_is_diagnosed(trial, kind: ProxyKind) -> None:
    t = trial(kind, proxyfix_app(proxies=2, secure_cookie=False))
    report = t.inspect()
    warn = one(report, "ProxyFix counts off", VerdictLevel.WARN)  # waitress applied them itself
    assert "ProxyFix(x_for=2, x_proto=2, x_host=2)" in warn and "came through 1 proxy" in warn
    assert "Use ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)" in warn
    one(report, "SESSION_COOKIE_SECURE is off", VerdictLevel.WARN)


@pytest.mark.parametrize("kind", KINDS)
def test_app_that_redirects_itself_behind_an_untrusted_proxy_loops(trial, kind: ProxyKind) -> None:
    t = trial(kind, proxyfix_app(proxies=1, force_https=True), trusted=False)
    report = t.inspect()
    assert report.https.error is not None and "loop" in report.https.error.lower()
    bad = one(report, "Redirect loop (ERR_TOO_MANY_REDIRECTS", VerdictLevel.BAD)
    assert "The app saw request.scheme=http although the browser used https://" in bad
    assert "flask-launcher serve --trusted-proxy" in bad
    # The same app with the proxy trusted: no loop.
    t.servers.policy.trusted_proxy = True
    fixed = t.inspect()
    assert fixed.https.error is None and fixed.https.final_status == 200
    assert not texts(fixed, VerdictLevel.BAD)


@pytest.mark.parametrize("kind", KINDS)
def test_direct_check_sends_forged_headers_to_the_app_itself(trial, kind: ProxyKind) -> None:
    t = trial(kind, demo_app())
    report = t.inspect(direct_url=t.upstream_url)
    info = one(report, "with forged X-Forwarded-* headers, the app believed", VerdictLevel.INFO)
    assert "(loopback)" in info
    t.servers.policy.trusted_proxy = False
    report = t.inspect(direct_url=t.upstream_url)
    one(report, "with forged X-Forwarded-* headers, the app ignored them", VerdictLevel.OK)


def test_no_section_for_the_launchers_own_listeners(make_servers, ca_file) -> None:
    from launcher.inspector import inspect_servers

    servers = make_servers(demo_app())
    report = inspect_servers(servers, "/", cafile=ca_file)
    assert report.behind is None
    assert "Behind a proxy" not in report.to_text()


@pytest.mark.parametrize("kind", KINDS)
def test_serve_behind_end_to_end_with_inspect(kind: ProxyKind, tmp_path: Path) -> None:
    """``flask-launcher serve --behind`` runs the proxy; ``inspect`` of its https:// URL shows the
    three hops with Flask seeing https; SIGTERM stops both (the proxy's ports refuse)."""
    need(kind)
    http_port, https_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    cmd = [
        *(sys.executable, "-m", "launcher", "serve", "--behind", kind.value, "--redirect-https", "--hsts"),
        *("--cert-dir", str(tmp_path), "--http-port", str(http_port), "--https-port", str(https_port)),
    ]
    serve = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 40
        assert serve.stdout is not None
        while not any(line.startswith("CA certificate:") for line in lines):
            assert time.monotonic() < deadline, lines
            line = serve.stdout.readline()
            assert line, f"serve ended: {lines}"
            lines.append(line)
        assert lines[0].startswith(
            f"http://127.0.0.1:{http_port}/  HTTP listening ({kind}: redirects to HTTPS)"
        )
        assert lines[1].startswith(f"https://127.0.0.1:{https_port}/  HTTPS listening ({kind}: TLS ends here")
        assert "upstream: waitress" in lines[2]
        done = subprocess.run(
            [sys.executable, "-m", "launcher", "inspect", f"https://127.0.0.1:{https_port}/", "--cert-dir",
             str(tmp_path), "--http-port", str(http_port), "--https-port", str(https_port)],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert "== Behind a proxy:" in out
        assert "Flask knows the request came over HTTPS through the proxy" in out
        assert f"url_for(_external=True)  https://127.0.0.1:{https_port}/" in out
        assert "[bad]" not in out.split("== Behind a proxy:")[1]
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(20)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(5)
    assert serve.returncode == 0
    assert refuses(http_port) and refuses(https_port)
