"""launcher.appcontrol without Qt: the app selector's decisions, driven directly.

Real servers on 127.0.0.1 (free ports) and real app targets from tests/apps; a runner that runs
each task at once (``SyncRunner``) or holds it until told (``HeldRunner``), and an ``AppEvents``
that records what a view would be told.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nethelpers import wait_for

from launcher import apptarget
from launcher.appcontrol import (
    AppController,
    AppState,
    Served,
    Switched,
    app_label,
    push_recent,
    served_kind,
    target_from_file,
)
from launcher.apptarget import AppTarget, load_app
from launcher.errors import AppLoadError, LauncherError
from launcher.messages import MessageLevel
from launcher.remote.wire import AppInfo

APPS = Path(__file__).parent / "apps"
IMPORTED = ("modapp", "import_error_app", "factory_app")


@pytest.fixture(autouse=True)
def _restore_process_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path, environ = list(sys.path), dict(os.environ)
    yield
    apptarget.apply_dotenv(tmp_path_factory.mktemp("no-dotenv"))
    sys.path[:] = path
    for key in set(os.environ) - set(environ):
        del os.environ[key]
    for name in list(sys.modules):
        if name.split(".")[0] in IMPORTED:
            sys.modules.pop(name, None)


class SyncRunner:
    """Runs each task at once, in the caller's thread, and calls back (as TaskRunner does later)."""

    def submit(self, fn: Callable[[], Any], *, on_done=None, on_error=None, name: str = "") -> int:
        try:
            result = fn()
        except Exception as exc:
            if on_error is None:
                raise
            on_error(exc)
        else:
            if on_done is not None:
                on_done(result)
        return 0


class HeldRunner:
    """Keeps each task until ``run_all()``: to look at the controller while one is pending."""

    def __init__(self) -> None:
        self.held: list[tuple[Callable[[], Any], Any, Any]] = []

    def submit(self, fn, *, on_done=None, on_error=None, name: str = "") -> int:
        self.held.append((fn, on_done, on_error))
        return len(self.held)

    def run_all(self) -> None:
        while self.held:
            fn, on_done, on_error = self.held.pop(0)
            SyncRunner().submit(fn, on_done=on_done, on_error=on_error)


class Recorder:
    """An ``AppEvents`` that keeps everything it is told (thread-safe: reloads come from a thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, Any]] = []

    def _add(self, kind: str, value: Any) -> None:
        with self.lock:
            self.events.append((kind, value))

    def of(self, kind: str) -> list[Any]:
        with self.lock:
            return [value for k, value in self.events if k == kind]

    def app_served(self, app: Any) -> None:
        self._add("served", app)

    def state_changed(self, state: AppState) -> None:
        self._add("state", state)

    def error_shown(self, error: Exception) -> None:
        self._add("error", error)

    def error_cleared(self, previous: Exception) -> None:
        self._add("cleared", previous)

    def announce(self, error: Exception) -> None:
        self._add("announce", error)

    def unexpected(self, exc: BaseException) -> None:
        self._add("unexpected", exc)

    def note(self, text: str, level: MessageLevel) -> None:
        self._add("note", (text, level))

    def loaded(self, asked: AppTarget, result: Switched) -> None:
        self._add("loaded", (asked, result.target))


def get(port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        return answer.read().decode()


def answer(port: int) -> str | None:
    """``get`` for polling: None while the listener restarts (connection refused)."""
    try:
        return get(port)
    except OSError:
        return None


@pytest.fixture
def demo(make_servers):
    """Servers (HTTP running) with the demo app, and a controller that knows it serves it."""
    servers = make_servers(load_app(AppTarget()), start=False)
    servers.http.start()
    events = Recorder()
    return servers, AppController(servers, SyncRunner(), events, target=AppTarget()), events


# --- what is served --------------------------------------------------------------------------------


def test_one_answer_to_what_is_served() -> None:
    demo_app = load_app(AppTarget())
    assert served_kind(AppTarget(), demo_app) is Served.DEMO
    assert served_kind(None, demo_app) is Served.DEMO  # the demo app handed over as an object
    assert served_kind(None, AppInfo("flaskapp")) is Served.DEMO  # ... or served in the child
    assert served_kind(None, AppInfo("modapp")) is Served.GIVEN_APP
    assert served_kind(AppTarget("modapp", APPS), AppInfo("modapp")) is Served.USER_APP
    # A folder alone means "find the app there", as flask does: the user's app, not the demo.
    assert served_kind(AppTarget(None, APPS), AppInfo("wsgi")) is Served.USER_APP
    assert app_label(demo_app) == "Bundled demo app" and app_label(AppInfo("modapp")) == "Flask app “modapp”"


def test_recent_and_file_helpers(tmp_path: Path) -> None:
    recent = push_recent([("a", ""), ("b", "/x")], "b", "/x")
    assert recent == [("b", "/x"), ("a", "")]
    assert len(push_recent([(str(i), "") for i in range(10)], "new", "")) == 10
    (tmp_path / "sub").mkdir()
    assert target_from_file(tmp_path / "sub" / "app.py", str(tmp_path)) == ("sub/app.py", str(tmp_path))
    assert target_from_file(tmp_path / "app.py", "") == ("app.py", str(tmp_path))


# --- loading -----------------------------------------------------------------------------------------


def test_load_serves_the_users_app_and_tells_the_view(demo) -> None:
    servers, control, events = demo
    assert control.demo_served and control.state is AppState.IDLE
    assert "HTTP" in get(servers.http.port)  # the demo app's pages

    assert control.load(AppTarget("modapp:app", APPS)) is True
    assert get(servers.http.port) == "modapp says hello"  # restarted in place with the new app
    assert control.served is Served.USER_APP and not control.demo_served
    assert control.target == AppTarget("modapp:app", APPS) and control.app.import_name == "modapp"
    assert events.of("state") == [AppState.LOADING, AppState.IDLE]
    assert events.of("loaded") == [(AppTarget("modapp:app", APPS), AppTarget("modapp:app", APPS))]
    assert events.of("note")[-1] == (f"Now serving modapp:app in {APPS} (HTTP restarted).", MessageLevel.INFO)

    assert control.load(AppTarget()) is True  # back to the demo app
    assert control.demo_served and "HTTP" in get(servers.http.port)


def test_a_failed_load_changes_nothing_and_the_next_good_one_clears_it(demo) -> None:
    servers, control, events = demo
    control.load(AppTarget("modapp", APPS))
    port = servers.http.port

    control.load(AppTarget("import_error_app", APPS), announce_failure=True)
    assert control.state is AppState.FAILED
    assert isinstance(control.last_error, AppLoadError) and "launcher_no_such_module" in str(
        control.last_error
    )
    assert events.of("error") == [control.last_error] == events.of("announce")
    assert control.target == AppTarget("modapp", APPS)  # still what is served
    assert (servers.http.port, get(port)) == (port, "modapp says hello")

    failed = control.last_error
    control.load(AppTarget("factory_app", APPS))
    assert control.state is AppState.IDLE and control.last_error is None
    assert events.of("cleared") == [failed]
    assert get(port) == "factory_app says hi"


def test_nothing_named_is_a_load_error(demo, tmp_path: Path) -> None:
    _servers, control, events = demo
    control.load(AppTarget(None, tmp_path))  # an empty folder: no FLASK_APP, wsgi.py or app.py
    assert control.state is AppState.FAILED and control.demo_served
    assert isinstance(events.of("error")[0], LauncherError)


def test_one_load_at_a_time_and_none_after_closing(make_servers) -> None:
    servers = make_servers(load_app(AppTarget()), start=False)
    runner, events = HeldRunner(), Recorder()
    control = AppController(servers, runner, events, target=AppTarget())
    assert control.load(AppTarget("modapp", APPS)) is True
    assert control.state is AppState.LOADING and control.busy
    assert control.load(AppTarget("factory_app", APPS)) is False  # refused while one runs
    runner.run_all()
    assert control.state is AppState.IDLE and control.target == AppTarget("modapp", APPS)

    assert control.detach_reloader() is None
    assert control.state is AppState.CLOSED
    assert control.load(AppTarget()) is False and runner.held == []


def test_a_bug_during_a_load_is_unexpected_not_a_user_error(demo, monkeypatch) -> None:
    servers, control, events = demo

    def broken(*_a: Any, **_k: Any) -> Any:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(servers, "serve_target", broken)
    control.load(AppTarget("modapp", APPS))
    assert [type(e) for e in events.of("unexpected")] == [ZeroDivisionError]
    assert events.of("error") == [] and control.state is AppState.IDLE


# --- restart and reload on change -------------------------------------------------------------------


def test_restart_without_a_user_app_restarts_the_listeners(demo) -> None:
    servers, control, events = demo
    control.restart()
    assert events.of("note")[-1] == ("Restarted.", MessageLevel.INFO)
    servers.http.stop()
    control.restart()
    assert events.of("note")[-1] == ("Nothing to restart: the servers are stopped.", MessageLevel.INFO)


def test_reload_on_change_only_for_the_users_app(demo, tmp_path: Path) -> None:
    servers, control, events = demo
    shutil.copy(APPS / "modapp.py", tmp_path / "modapp.py")
    past = time.time() - 60
    os.utime(tmp_path / "modapp.py", (past, past))

    control.set_reload(True)
    assert control.reloader is None  # never for the demo app

    control.load(AppTarget("modapp", tmp_path))
    reloader = control.reloader
    assert reloader is not None and reloader.running
    assert tmp_path.resolve() in reloader.watched_roots
    assert events.of("note")[-1][0].startswith("Reload on change: watching ")

    source = tmp_path / "modapp.py"
    before = source.stat().st_mtime_ns
    source.write_text(source.read_text().replace("modapp says hello", "modapp says howdy"))
    if source.stat().st_mtime_ns == before:
        os.utime(source, ns=(before + 1_000_000_000, before + 1_000_000_000))
    wait_for(lambda: answer(servers.http.port) == "modapp says howdy", what="the reload")
    wait_for(lambda: any(t.startswith("Reloaded modapp") for t, _l in events.of("note")), what="the note")
    assert control.app.import_name == "modapp" and events.of("served")[-1] is control.app

    control.restart()  # through the reloader: imported afresh, served again
    control.set_reload(False)
    assert control.reloader is None and not reloader.running
