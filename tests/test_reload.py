"""Reload on change: the polling watcher, the Reloader with a recording swap, then with real servers.

Waits are bounded polls (``wait_for``), never assertions on speed.  The watcher runs with short
intervals here to keep the suite fast; the defaults are what the product uses.
"""

from __future__ import annotations

import http.client
import os
import shutil
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import flask
import pytest
from nethelpers import wait_for

import launcher.apptarget as apptarget
from launcher.apptarget import AppTarget, load_app
from launcher.errors import AppLoadError, LauncherError, PortInUseError
from launcher.reload import FileWatcher, Reloader, diff, scan

APPS = Path(__file__).parent / "apps"
FAST = {"interval": 0.05, "debounce": 0.05}


@pytest.fixture(autouse=True)
def _restore_process_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path, environ = list(sys.path), dict(os.environ)
    yield
    apptarget.apply_dotenv(tmp_path_factory.mktemp("no-dotenv"))
    sys.path[:] = path
    for key in set(os.environ) - set(environ):
        del os.environ[key]


def edit(path: Path, text: str) -> None:
    """Write *text*; make sure the modification time moves even on a coarse-grained filesystem."""
    before = path.stat().st_mtime_ns if path.exists() else None
    path.write_text(text)
    if before is not None and path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def age(folder: Path, seconds: float = 60.0) -> Path:
    """Date every file under *folder* back, as in a project saved a while ago."""
    past = time.time() - seconds
    for path in folder.rglob("*"):
        os.utime(path, (past, past))
    return folder


def body(app: flask.Flask, path: str = "/") -> str:
    return app.test_client().get(path).get_data(as_text=True)


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "launcher-reload-watcher"]


# --- scanning ----------------------------------------------------------------------------------------


def test_scan_watches_sources_templates_and_env_files(tmp_path: Path) -> None:
    wanted = [
        "app.py",
        "pkg/mod.py",
        "templates/index.html",
        "pkg/templates/sub/part.txt",
        ".flaskenv",
        ".env",
    ]
    ignored = [
        "README.md",
        "static/style.css",
        "__pycache__/app.cpython-311.py",
        ".git/hooks/pre-commit.py",
        "venv/lib/site.py",
        "node_modules/x/index.py",
        ".hidden/mod.py",
    ]
    for name in wanted + ignored:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    snapshot, truncated = scan([tmp_path])
    assert not truncated
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in snapshot) == sorted(wanted)


def test_scan_stops_at_the_limit(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"m{i}.py").write_text("")
    snapshot, truncated = scan([tmp_path], limit=3)
    assert truncated and len(snapshot) == 3
    assert scan([tmp_path], limit=5)[1] is True and scan([tmp_path], limit=6) == (scan([tmp_path])[0], False)


def test_diff_reports_added_removed_and_modified() -> None:
    old = {"/a.py": (1, 1, 1), "/b.py": (1, 1, 2), "/c.py": (1, 1, 3)}
    new = {"/a.py": (1, 1, 1), "/b.py": (2, 1, 2), "/d.py": (1, 1, 4)}
    assert diff(old, new) == {Path("/b.py"), Path("/c.py"), Path("/d.py")}
    assert diff(new, new) == set()


# --- the watcher ---------------------------------------------------------------------------------------


def test_watcher_debounces_a_burst_into_one_callback(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text("v = 0\n")
    calls: list[frozenset[Path]] = []
    watcher = FileWatcher([tmp_path], calls.append, interval=0.05, debounce=0.4)
    watcher.start()
    try:
        for i in range(1, 6):  # an editor saving several times in quick succession
            edit(source, f"v = {i}\n")
            time.sleep(0.03)
        (tmp_path / "new.py").write_text("")
        wait_for(lambda: calls, what="the change callback")
        time.sleep(0.6)  # longer than the debounce: a second callback would have come by now
    finally:
        watcher.stop()
    assert len(calls) == 1, calls
    assert calls[0] == {source, tmp_path / "new.py"}


def test_watcher_sees_deletions_survives_a_failing_callback_and_stops(tmp_path: Path) -> None:
    doomed = tmp_path / "doomed.py"
    doomed.write_text("")
    calls: list[frozenset[Path]] = []

    def callback(paths: frozenset[Path]) -> None:
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("a bug in the callback")

    watcher = FileWatcher([tmp_path], callback, **FAST)
    watcher.start()
    watcher.start()  # idempotent: still one thread
    assert len(watcher_threads()) == 1 and watcher_threads()[0].daemon
    assert watcher.file_count == 1
    doomed.unlink()
    wait_for(lambda: len(calls) == 1, what="the deletion")
    assert calls[0] == {doomed}
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("<p>")
    wait_for(lambda: len(calls) == 2, what="the change after a failing callback")
    watcher.stop()
    watcher.stop()
    assert not watcher.running and not watcher_threads()


# --- the Reloader with a recording swap ---------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of tests/apps/modapp.py and pkgapp/ in a folder of its own."""
    shutil.copy(APPS / "modapp.py", tmp_path / "modapp.py")
    shutil.copytree(APPS / "pkgapp", tmp_path / "pkgapp")
    return age(tmp_path)


def test_reloader_swaps_in_edited_code_keeps_errors_and_recovers(project: Path) -> None:
    swapped: list[flask.Flask] = []
    errors: list[LauncherError] = []
    changes: list[frozenset[Path]] = []
    target = AppTarget("modapp", project)
    app = load_app(target)
    reloader = Reloader(target, swapped.append, on_error=errors.append, on_change=changes.append, **FAST)
    reloader.start(app)
    try:
        assert reloader.watched_roots == (project.resolve(),)
        source = project / "modapp.py"
        original = source.read_text()

        edit(source, original.replace("modapp says hello", "modapp says howdy"))
        wait_for(lambda: swapped, what="the first swap")
        assert body(swapped[-1]) == "modapp says howdy"
        assert body(app) == "modapp says hello"  # the old app object is untouched
        assert changes[0] == {source} and reloader.reloads == 1 and reloader.last_error is None

        # A save that does not import: the error is kept, nothing is swapped.
        edit(source, original.replace("@app.get", "@app.get(", 1))
        wait_for(lambda: errors, what="the load error")
        assert isinstance(errors[0], AppLoadError)
        assert str(errors[0]).startswith("Could not import 'modapp': SyntaxError in modapp.py line 10: ")
        assert "modapp.py" in errors[0].details
        assert reloader.last_error is errors[0] and len(swapped) == 1

        # The next good save recovers.
        edit(source, original.replace("modapp says hello", "modapp is back"))
        wait_for(lambda: len(swapped) == 2, what="the swap after the fix")
        assert body(swapped[-1]) == "modapp is back"
        assert reloader.last_error is None and reloader.reloads == 2 and reloader.failures == 1
    finally:
        reloader.stop()
    assert not reloader.running and not watcher_threads()


def test_template_and_submodule_edits_reload_a_package(project: Path) -> None:
    swapped: list[flask.Flask] = []
    target = AppTarget("pkgapp", project)
    reloader = Reloader(target, swapped.append, **FAST)
    reloader.start(load_app(target))
    try:
        template = project / "pkgapp" / "templates" / "index.html"
        edit(template, template.read_text().replace("renders a template", "renders an edited template"))
        wait_for(lambda: swapped, what="the template reload")
        assert "pkgapp renders an edited template" in body(swapped[-1])
        views = project / "pkgapp" / "views.py"
        edit(views, views.read_text().replace('name="pkgapp"', 'name="views"'))
        wait_for(lambda: len(swapped) == 2, what="the submodule reload")
        assert "views renders an edited template" in body(swapped[-1])
    finally:
        reloader.stop()


def test_an_app_that_fails_at_start_is_watched_and_loaded_once_fixed(tmp_path: Path) -> None:
    shutil.copytree(APPS / "syntaxpkg", tmp_path / "syntaxpkg")
    age(tmp_path)
    target = AppTarget("syntaxpkg", tmp_path)
    with pytest.raises(AppLoadError):
        load_app(target)
    swapped: list[flask.Flask] = []
    reloader = Reloader(target, swapped.append, **FAST)
    reloader.start()  # no app yet: watches the import root
    try:
        edit(tmp_path / "syntaxpkg" / "views.py", "def index():\n    return 'fixed'\n")
        wait_for(lambda: swapped, what="the first successful load")
        assert isinstance(swapped[0], flask.Flask)
    finally:
        reloader.stop()


def test_a_save_between_loading_and_watching_is_not_lost(project: Path) -> None:
    target = AppTarget("modapp", project)
    app = load_app(target)
    source = project / "modapp.py"
    edit(source, source.read_text().replace("modapp says hello", "saved before watching"))
    swapped: list[flask.Flask] = []
    reloader = Reloader(target, swapped.append, **FAST)
    reloader.start(app)  # no further save: the one above must still be picked up
    try:
        wait_for(lambda: swapped, what="the reload of the early save")
        assert body(swapped[0]) == "saved before watching"
        time.sleep(0.3)
        assert len(swapped) == 1  # and only once
    finally:
        reloader.stop()


def test_swap_failures_reach_on_error(project: Path) -> None:
    errors: list[LauncherError] = []

    def port_taken(_app: flask.Flask) -> None:
        raise PortInUseError("127.0.0.1", 8443, "python (pid 1)")

    reloader = Reloader(AppTarget("modapp", project), port_taken, on_error=errors.append)
    assert reloader.reload_now() is None
    assert isinstance(errors[-1], PortInUseError) and reloader.last_error is errors[-1]

    def buggy(_app: flask.Flask) -> None:
        raise KeyError("listener")

    reloader.swap = buggy
    assert reloader.reload_now() is None
    assert str(errors[-1]) == "Restarting with the reloaded app failed: KeyError: 'listener'"
    taken = PortInUseError("127.0.0.1", 8080)
    reloader.swap = lambda app: [taken]  # Servers.set_app's way: the listeners that did not restart
    assert isinstance(reloader.reload_now(), flask.Flask)
    assert errors[-1] is taken and reloader.last_error is taken
    reloader.swap = lambda app: []
    assert isinstance(reloader.reload_now(), flask.Flask) and reloader.last_error is None
    assert reloader.reloads == 2 and reloader.failures == 3


# --- with real servers ---------------------------------------------------------------------------------


def fetch(scheme: str, port: int, ctx: ssl.SSLContext) -> tuple[int, str]:
    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=ctx, timeout=10
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def serves(servers, text: str, ctx: ssl.SSLContext) -> bool:
    """Whether both listeners answer *text* now (a restart in progress counts as no)."""
    try:
        return all(
            fetch(scheme, listener.port, ctx) == (200, text)
            for scheme, listener in (("http", servers.http), ("https", servers.https))
        )
    except OSError:
        return False


def test_reload_with_real_servers_on_both_schemes(project: Path, make_servers, client_context) -> None:
    target = AppTarget("modapp", project)
    app = load_app(target)
    servers = make_servers(app)
    ports = (servers.http.port, servers.https.port)
    assert serves(servers, "modapp says hello", client_context)
    errors: list[LauncherError] = []
    reloader = Reloader(target, servers.set_app, on_error=errors.append, **FAST)
    reloader.start(app)
    try:
        source = project / "modapp.py"
        original = source.read_text()
        edit(source, original.replace("modapp says hello", "modapp says howdy"))
        wait_for(lambda: serves(servers, "modapp says howdy", client_context), what="the new response")
        assert (servers.http.port, servers.https.port) == ports  # restarted on the same ports

        edit(source, original.replace("@app.get", "@app.get(", 1))
        wait_for(lambda: errors, what="the load error")
        assert "SyntaxError in modapp.py line 10" in str(errors[0])
        assert serves(servers, "modapp says howdy", client_context)  # the previous version keeps serving

        edit(source, original.replace("modapp says hello", "modapp is back"))
        wait_for(lambda: serves(servers, "modapp is back", client_context), what="the recovered response")
        assert reloader.last_error is None and len(errors) == 1
    finally:
        reloader.stop()
