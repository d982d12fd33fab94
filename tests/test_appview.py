"""What the app saw, captured by the launcher inside any app (``launcher.appview``), over real sockets.

The user's own apps (every layout in tests/apps), an app wrapped in ProxyFix, an app with
SERVER_NAME and a plain WSGI callable are served by real ``Servers`` and inspected on both schemes:
what Flask saw is reported and right, the log holds exactly the probes (marked, no 404 row).  Then
``flask-launcher inspect`` against a real ``flask-launcher serve --app`` process, and the window's
server process (``RemoteServers``).
"""

from __future__ import annotations

import gc
import http.client
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, request, url_for
from nethelpers import wait_for
from werkzeug.middleware.proxy_fix import ProxyFix

from launcher.apptarget import AppTarget, load_app
from launcher.appview import (
    PROBE_HEADER,
    TOKEN_FILE,
    VIEW_HEADER,
    decode_view,
    encode_view,
    find_token_file,
    read_token_file,
    spare_token_folders,
    token_matches,
    write_token_anywhere,
    write_token_file,
)
from launcher.cli import main
from launcher.inspector import InspectReport, inspect_servers
from launcher.policy import Policy

APPS = Path(__file__).parent / "apps"
ROOT = Path(__file__).resolve().parent.parent

#: Every own-app layout in tests/apps: (target, the endpoint of "/", what "/" says).
LAYOUTS = [
    ("modapp", "index", "modapp says hello"),
    ("factory_app", "index", "factory_app says hi"),
    ('factory_app:create_app("hey")', "index", "factory_app says hey"),
    ("pkgapp", "main.index", "pkgapp"),
    ("scripts/file_app.py", "index", "file_app says hello"),
]


def probe_rows(servers: Any, count: int, timeout: float = 5.0) -> list[Any]:
    """The log once it holds *count* records, after a moment in which any extra one would land."""
    deadline = time.monotonic() + timeout
    while len(servers.sink.snapshot()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    return servers.sink.snapshot()


def assert_flask_view(report: InspectReport, servers: Any, endpoint: str) -> None:
    """Both columns: what Flask saw is there and matches the listener that served it."""
    for column, listener in ((report.http, servers.http), (report.https, servers.https)):
        scheme = listener.scheme
        origin = f"{scheme}://127.0.0.1:{listener.port}"
        view = column.flask
        assert column.final_status == 200, column
        assert view is not None and view.available and view.kind == "flask", view
        assert (view.scheme, view.wsgi_url_scheme, view.is_secure) == (scheme, scheme, scheme == "https")
        assert view.host == f"127.0.0.1:{listener.port}"
        assert view.url_root == origin + "/"
        assert view.endpoint == endpoint
        assert view.url_for_external == origin + "/"
        assert view.remote_addr == "127.0.0.1"
        assert view.listener == scheme
        assert view.preferred_url_scheme == "http" and view.server_name is None
        assert view.session_cookie_secure is False and view.proxy_fix is None
        assert "Flask knows it" in " ".join(v.text for v in column.verdicts)
        assert "not available" not in report.to_text()


def fetch_view(url: str, headers: dict[str, str], context: ssl.SSLContext | None = None) -> dict[str, Any]:
    """GET *url* with *headers*; the decoded view header (asserting it is there)."""
    parts = url.split("/", 3)
    host, port = parts[2].rsplit(":", 1)
    conn: http.client.HTTPConnection
    if url.startswith("https:"):
        conn = http.client.HTTPSConnection(host, int(port), timeout=5, context=context)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/" + parts[3], headers=headers)
        resp = conn.getresponse()
        resp.read()
        value = resp.getheader(VIEW_HEADER)
    finally:
        conn.close()
    assert value is not None
    view = decode_view(value)
    assert view is not None
    return view


# --- the pieces ------------------------------------------------------------------------------------


def test_token_compare_and_header_encoding() -> None:
    assert token_matches("abc", "abc") and not token_matches("abd", "abc")
    assert not token_matches(None, "abc") and not token_matches("", "") and not token_matches("é", "abc")
    view = {"kind": "flask", "scheme": "https", "host": "ünï:1"}
    value = encode_view(view)
    assert value.isascii() and "=" not in value and decode_view(value) == view
    assert decode_view("not base64 json!") is None and decode_view(encode_view({})[:-2] + "%%") is None


# --- own apps, both schemes ------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "endpoint", "says"), LAYOUTS)
def test_own_app_layouts_report_what_flask_saw(make_servers, target: str, endpoint: str, says: str) -> None:
    app = load_app(AppTarget(target, APPS), fresh=True)
    servers = make_servers(app)
    report = inspect_servers(servers, "/")
    assert_flask_view(report, servers, endpoint)
    rows = probe_rows(servers, 2)
    assert sorted((r.listener, r.path, r.status, r.probe) for r in rows) == [
        ("http", "/", 200, True),
        ("https", "/", 200, True),
    ]


def test_a_path_no_rule_matches_still_tells_what_flask_saw(make_servers) -> None:
    servers = make_servers(load_app(AppTarget("modapp", APPS), fresh=True))
    report = inspect_servers(servers, "/no-such-page")
    view = report.https.flask
    assert report.https.final_status == 404
    assert view is not None and view.available and view.scheme == "https"
    assert view.endpoint is None and view.url_for_external is None


def test_proxyfix_is_found_and_the_view_is_taken_after_it(make_servers, ca_file) -> None:
    app = Flask("proxied")
    app.get("/")(lambda: "behind a proxy")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    servers = make_servers(app)
    report = inspect_servers(servers, "/")
    counts = {"x_for": 1, "x_proto": 1, "x_host": 1, "x_port": 0, "x_prefix": 1}
    for column in report.columns:
        view = column.flask
        assert view is not None and view.is_flask and view.proxy_fix == counts
        assert list(view.proxy_fix) == list(counts)  # shown in ProxyFix's own order
        assert view.scheme == column.scheme  # waitress deleted the untrusted X-Forwarded-*
        level, text = next((v.level, v.text) for v in column.verdicts if v.text.startswith("ProxyFix("))
        assert level == "info" and "x_for=1, x_proto=1, x_host=1, x_port=0, x_prefix=1" in text
    # waitress leaves X-Forwarded-Prefix alone: ProxyFix applies it, and the capture shows its result.
    context = ssl.create_default_context(cafile=str(ca_file))
    view = fetch_view(
        f"https://127.0.0.1:{servers.https.port}/",
        {PROBE_HEADER: servers.probe_token, "X-Forwarded-Prefix": "/pre"},
        context,
    )
    assert view["url_root"] == f"https://127.0.0.1:{servers.https.port}/pre/"
    assert view["url_for_external"] == f"https://127.0.0.1:{servers.https.port}/pre/"
    assert view["x_forwarded"] == {"X-Forwarded-Prefix": "/pre"}


def test_proxyfix_with_the_proxy_trusted_in_the_lens(make_servers) -> None:
    app = Flask("proxied")
    app.get("/")(lambda: "behind a proxy")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    servers = make_servers(app, policy=Policy())
    lens = inspect_servers(servers, "/", proxy_lens=True).proxy_lens
    assert lens is not None
    default, trusted = lens.cases
    assert default.flask is not None and default.flask.scheme == "http"
    assert trusted.flask is not None and trusted.flask.proxy_fix is not None
    t = trusted.flask
    assert (t.scheme, t.host, t.remote_addr, t.url_for_external) == (
        "https",
        "myapp.example",
        "203.0.113.7",
        "https://myapp.example/",
    )


def test_server_name_app_reports_the_setting_and_what_url_for_builds(make_servers) -> None:
    app = Flask("named")
    app.config["SERVER_NAME"] = "myapp.test"

    @app.get("/truth")
    def truth() -> Any:  # what the app itself computes for the same request
        return jsonify(url_for=url_for("truth", _external=True), scheme=request.scheme)

    servers = make_servers(app)
    report = inspect_servers(servers, "/truth")
    for column, listener in ((report.http, servers.http), (report.https, servers.https)):
        view = column.flask
        assert view is not None and view.is_flask and view.server_name == "myapp.test"
        truth_view = fetch_view(
            f"{listener.scheme}://127.0.0.1:{listener.port}/truth",
            {PROBE_HEADER: servers.probe_token},
            ssl._create_unverified_context(),
        )
        assert view.url_for_external == truth_view["url_for_external"]
        assert view.url_for_external is not None and "myapp.test" in view.url_for_external
        level, text = next((v.level, v.text) for v in column.verdicts if v.text.startswith("SERVER_NAME"))
        assert level == "warn" and "myapp.test" in text and f"127.0.0.1:{listener.port}" in text


def test_session_cookie_secure_over_http_is_a_warning(make_servers) -> None:
    app = Flask("securecookie")
    app.config["SESSION_COOKIE_SECURE"] = True
    app.get("/")(lambda: "ok")
    report = inspect_servers(make_servers(app), "/")
    assert report.http.flask is not None and report.http.flask.session_cookie_secure is True
    assert any("SESSION_COOKIE_SECURE is True" in v.text and v.level == "warn" for v in report.http.verdicts)
    assert not any("SESSION_COOKIE_SECURE" in v.text for v in report.https.verdicts)


def test_plain_wsgi_callable_reports_its_environ(make_servers) -> None:
    def plain(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"plain wsgi"]

    servers = make_servers(plain)
    report = inspect_servers(servers, "/")
    for column, listener in ((report.http, servers.http), (report.https, servers.https)):
        view = column.flask
        assert view is not None and view.available and view.kind == "wsgi" and not view.is_flask
        assert (view.wsgi_url_scheme, view.host, view.remote_addr) == (
            listener.scheme,
            f"127.0.0.1:{listener.port}",
            "127.0.0.1",
        )
        assert view.endpoint is None and view.server_name is None
        texts = " ".join(v.text for v in column.verdicts)
        assert "Flask facts (request.scheme, url_for, its settings) do not apply" in texts
        assert f"the app knows it (wsgi.url_scheme={listener.scheme})" in texts
    assert "plain WSGI callable: Flask facts do not apply" in report.to_text()
    rows = probe_rows(servers, 2)
    assert len(rows) == 2 and all(r.status == 200 and r.probe for r in rows)


def test_a_flask_app_hidden_in_a_wrapper_is_still_seen(make_servers) -> None:
    inner = Flask("inner")
    inner.get("/")(lambda: "inner")

    def wrapper(environ: dict[str, Any], start_response: Any) -> Any:
        return inner(environ, start_response)

    report = inspect_servers(make_servers(wrapper), "/")
    assert report.https.flask is not None and report.https.flask.is_flask
    assert report.https.flask.endpoint == "<lambda>"


def test_a_flask_app_called_only_while_its_body_is_iterated_is_still_seen(make_servers) -> None:
    """The Flask app may start (and fire its signal) after the callable the launcher serves has
    returned: the probe counts as in flight until its response is closed."""
    inner = Flask("lazy")
    inner.get("/")(lambda: "lazy")

    def lazy(environ: dict[str, Any], start_response: Any) -> Any:
        def body() -> Any:
            yield from inner(environ, start_response)

        return body()

    servers = make_servers(lazy)
    report = inspect_servers(servers, "/")
    assert report.https.flask is not None and report.https.flask.endpoint == "<lambda>"
    # The server closes the response just after the client has read it: soon, not at once.
    wait_for(lambda: servers.appview.probes_in_flight == 0, 5, "the probes to be closed")


def test_probes_in_flight_count_back_to_zero_and_other_requests_skip_the_receiver() -> None:
    from launcher.appview import CAPTURE_KEY, PROBE_ENVIRON, AppView

    app = Flask("counted")
    seen: list[Any] = []

    @app.get("/")
    def index() -> str:
        seen.append(request.environ.get(CAPTURE_KEY))
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    view = AppView()
    middleware = view.wrap(app)
    view.detach()
    calls: list[Any] = []  # probes in flight, each time the receiver is called
    started = view._started

    def counting(sender: Any, **extra: Any) -> None:
        calls.append(view.probes_in_flight)
        started(sender, **extra)

    view._started = counting  # type: ignore[method-assign]
    view.attach()  # the counting receiver instead
    try:

        def call(path: str, probe: bool) -> list[tuple[str, str]]:
            headers: list[tuple[str, str]] = []
            environ = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": path,
                "SERVER_NAME": "localhost",
                "SERVER_PORT": "80",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "wsgi.url_scheme": "http",
                "wsgi.input": None,
                "REMOTE_ADDR": "127.0.0.1",
            }
            if probe:
                environ[PROBE_ENVIRON] = view.token
            body = middleware(environ, lambda status, h, exc_info=None: headers.extend(h))
            b"".join(body)
            body.close()  # type: ignore[attr-defined]
            return headers

        call("/", probe=False)
        assert calls == [0] and seen == [None]  # the receiver returned at once: no probe in flight
        headers = call("/", probe=True)
        assert calls[-1] == 1 and seen[-1] is not None
        assert decode_view(dict(headers)[VIEW_HEADER])["kind"] == "flask"  # type: ignore[index]
        assert view.probes_in_flight == 0
        call("/boom", probe=True)  # Flask answers 500: the count still comes back
        assert view.probes_in_flight == 0
    finally:
        view.detach()


def test_a_new_app_is_seen_after_set_app_and_nothing_leaks(make_servers) -> None:
    from flask.signals import request_started

    gc.collect()
    before = len(request_started.receivers)
    servers = make_servers(load_app(AppTarget("modapp", APPS), fresh=True))
    assert inspect_servers(servers, "/").https.flask.endpoint == "index"  # type: ignore[union-attr]
    assert servers.set_app(load_app(AppTarget("pkgapp", APPS), fresh=True)) == []
    assert inspect_servers(servers, "/").https.flask.endpoint == "main.index"  # type: ignore[union-attr]
    assert len(request_started.receivers) == before + 1  # one receiver per Servers, not per app


def test_the_receiver_does_not_keep_its_servers_alive(cert_store) -> None:
    from flask.signals import request_started

    from launcher.servers import Servers

    gc.collect()
    before = len(request_started.receivers)
    servers = Servers(Flask("gone"), cert_store=cert_store, http_port=0, https_port=0)
    assert servers.start_all() == []
    servers.stop_all()
    assert len(request_started.receivers) == before + 1
    del servers
    gc.collect()
    assert len(request_started.receivers) == before


# --- flask-launcher serve + flask-launcher inspect -------------------------------------------------


PORTS_0 = ("--http-port", "0", "--https-port", "0")


def _serve(cert_dir: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", "serve", *PORTS_0, "--cert-dir", str(cert_dir), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    urls: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            proc.kill()
            raise AssertionError(f"serve ended early: {proc.stderr.read() if proc.stderr else ''}")
        if line.startswith("CA certificate: "):
            return proc, urls
        urls.append(line.split()[0])
    proc.kill()
    raise AssertionError("no banner")


def test_cli_inspect_against_serve_of_an_own_app(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert_dir = tmp_path / "certs"
    proc, urls = _serve(cert_dir, "--app", "modapp", "--chdir", str(APPS))
    try:
        token_file = cert_dir / TOKEN_FILE
        assert token_file.is_file() and (token_file.stat().st_mode & 0o777) == 0o600
        found = read_token_file(cert_dir)
        assert found is not None
        ports = [u.rsplit(":", 1)[1].rstrip("/") for u in urls]  # http first, then https
        assert found[2] == frozenset(int(p) for p in ports)
        argv = ["inspect", "/", "--json", "--cert-dir", str(cert_dir)]
        assert main([*argv, "--http-port", ports[0], "--https-port", ports[1]]) == 0
        data = json.loads(capsys.readouterr().out)
        for scheme, port in (("http", ports[0]), ("https", ports[1])):
            flask = data[scheme]["flask"]
            assert flask["available"] is True and flask["kind"] == "flask", flask
            assert flask["scheme"] == scheme and flask["endpoint"] == "index"
            assert flask["url_for_external"] == f"{scheme}://127.0.0.1:{port}/"
        # Another folder has no token: the Flask part is "not available" in one line, no error.
        other = tmp_path / "other"
        other.mkdir()
        assert (
            main(
                [
                    "inspect",
                    "/",
                    "--json",
                    "--cert-dir",
                    str(other),
                    "--http-port",
                    ports[0],
                    "--https-port",
                    ports[1],
                ]
            )
            == 0
        )
        data = json.loads(capsys.readouterr().out)
        assert data["https"]["final_status"] == 200
        assert data["https"]["flask"]["available"] is False
        assert "no probe token in" in data["https"]["flask"]["note"]
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    log = proc.stdout.read() if proc.stdout else ""
    assert " 404 " not in log and log.count('"GET / HTTP/1.1" 200') == 4, log
    assert not (cert_dir / TOKEN_FILE).exists()  # removed at exit
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


# --- the token when the certificate folder cannot be written (a read-only Secret) ------------------


@pytest.fixture
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder (and no $XDG_RUNTIME_DIR) inside *tmp_path*, for the spare folders."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr("tempfile.tempdir", None)  # read $TMPDIR again
    return temp


def test_a_certificate_folder_that_cannot_be_written_gets_a_private_spare_folder(
    tmp_path: Path, private_temp: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cert_dir = blocker / "certs"  # every write in it fails (ENOTDIR), for root too
    path = write_token_anywhere(cert_dir, "t0k3n", "127.0.0.1", [8443, 8080])
    (spare,) = spare_token_folders(cert_dir)
    assert path == spare / TOKEN_FILE and spare.parent.parent == private_temp
    assert spare.parent.name == f"flask-launcher-{os.getuid()}"
    for folder in (spare.parent, spare):
        assert (folder.stat().st_mode & 0o777) == 0o700
    assert (path.stat().st_mode & 0o777) == 0o600
    assert find_token_file(cert_dir) == ("t0k3n", "127.0.0.1", frozenset({8443, 8080}))
    # Another certificate folder has a spare folder of its own, and no token.
    assert find_token_file(tmp_path / "elsewhere") is None


def test_a_spare_folder_someone_else_could_write_is_refused(tmp_path: Path, private_temp: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cert_dir = blocker / "certs"
    shared = private_temp / f"flask-launcher-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # made by another user, or left open: the token must not go there
    with pytest.raises(NotADirectoryError):  # the certificate folder's own error
        write_token_anywhere(cert_dir, "t0k3n", "127.0.0.1", [8443])
    assert list(shared.iterdir()) == []
    shared.rmdir()
    shared.symlink_to(tmp_path)  # a symlink in a shared temporary folder: refused as well
    with pytest.raises(NotADirectoryError):
        write_token_anywhere(cert_dir, "t0k3n", "127.0.0.1", [8443])
    assert find_token_file(cert_dir) is None


def test_inspect_reads_the_newest_token_of_the_folder_and_its_spare(
    tmp_path: Path, private_temp: Path
) -> None:
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    (spare,) = spare_token_folders(cert_dir)
    spare.mkdir(parents=True)
    write_token_file(spare, "newer", "127.0.0.1", [2])
    write_token_file(cert_dir, "older", "127.0.0.1", [1])  # left by an earlier, writable run
    os.utime(cert_dir / TOKEN_FILE, (1_000_000_000, 1_000_000_000))
    assert find_token_file(cert_dir) == ("newer", "127.0.0.1", frozenset({2}))
    os.utime(spare / TOKEN_FILE, (900_000_000, 900_000_000))
    assert find_token_file(cert_dir) == ("older", "127.0.0.1", frozenset({1}))


# --- the window's server process -------------------------------------------------------------------


@pytest.fixture
def remote(cert_store: Any) -> Iterator[Callable[..., Any]]:
    from launcher.remote import RemoteServers

    made: list[RemoteServers] = []

    def make() -> RemoteServers:
        servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
        made.append(servers)
        return servers

    yield make
    for servers in made:
        servers.close()


def test_inspect_the_window_server_process_serving_an_own_app(remote: Callable[..., Any]) -> None:
    servers = remote()
    assert servers.start_all() == []
    assert servers.probe_token and len(servers.probe_token) >= 20
    _, errors = servers.serve_target(AppTarget("pkgapp", APPS))
    assert errors == []
    report = inspect_servers(servers, "/")
    assert_flask_view(report, servers, "main.index")
    deadline = time.monotonic() + 5
    while len(servers.sink.snapshot()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    rows = servers.sink.snapshot()
    assert sorted((r.listener, r.status, r.probe) for r in rows) == [
        ("http", 200, True),
        ("https", 200, True),
    ]


def test_the_log_filter_text_tags_probes(make_servers) -> None:
    from launcher.gui.logmodel import SEP, search_text

    servers = make_servers(load_app(AppTarget("modapp", APPS), fresh=True))
    inspect_servers(servers, "/")
    (probe, *_) = probe_rows(servers, 2)
    plain = probe._replace(probe=False)
    assert f"{SEP}probe=1{SEP}" in search_text(probe)
    assert "probe=1" not in search_text(plain)
