"""App targets resolved like ``flask --app``, with the sample apps in tests/apps.

Each good app is loaded and answered through Flask's test client, then all of them are served for
real on both schemes (one ``Servers`` for the module, verified TLS against the generated CA).
Each broken app gives an ``AppLoadError`` with a one-line message naming the file and line, and
the user's traceback in ``details``.
"""

from __future__ import annotations

import http.client
import os
import shutil
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import flask
import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

import launcher.apptarget as apptarget
from launcher.apptarget import AppTarget, is_user_file, load_app, resolve_target, watch_roots
from launcher.errors import AppLoadError
from launcher.requestlog import ERROR_ENVIRON_KEY, RequestLogMiddleware, RequestSink

APPS = Path(__file__).parent / "apps"

GOOD = [
    ("modapp", "modapp says hello"),
    ("modapp:app", "modapp says hello"),
    ("factory_app", "factory_app says hi"),
    ("factory_app:create_app", "factory_app says hi"),
    ("factory_app:create_app()", "factory_app says hi"),
    ('factory_app:create_app("hey")', "factory_app says hey"),
    ("factory_app:create_app(greeting='yo')", "factory_app says yo"),
    ("pkgapp", "pkgapp renders a template"),
    ("pkgapp:create_app()", "pkgapp renders a template"),
    ("scripts/file_app.py", "file_app says hello"),
    ("scripts/file_app.py:application", "file_app says hello"),
    ("route_raises", "route_raises is fine here"),
]

BAD = [
    (
        "syntaxpkg",
        "Could not import 'syntaxpkg': SyntaxError in syntaxpkg/views.py line 4: invalid syntax",
        ["syntaxpkg/views.py", "def index(:", "SyntaxError: invalid syntax"],
    ),
    (
        "import_error_app",
        "Could not import 'import_error_app': ModuleNotFoundError in import_error_app.py line 5:"
        " No module named 'launcher_no_such_module'",
        ["import_error_app.py", "line 5, in <module>", "ModuleNotFoundError"],
    ),
    (
        "factory_raises",
        "Could not create the app from 'factory_raises': RuntimeError in factory_raises.py line 9:"
        " DATABASE_URL is not set",
        ["factory_raises.py", "line 9, in create_app", "RuntimeError: DATABASE_URL is not set"],
    ),
    (
        "factory_raises:create_app()",
        "Could not create the app from 'factory_raises:create_app()': RuntimeError in factory_raises.py"
        " line 9: DATABASE_URL is not set",
        ["RuntimeError: DATABASE_URL is not set"],
    ),
    (
        "exits_at_import",
        "Could not import 'exits_at_import': SystemExit in exits_at_import.py line 7: it called sys.exit(3)",
        ["exits_at_import.py", "SystemExit: 3"],
    ),
    (
        "launcher_nosuchmodule",
        "Could not import 'launcher_nosuchmodule': no module named 'launcher_nosuchmodule'"
        f" in {APPS.resolve()}.",
        ["ModuleNotFoundError"],
    ),
    ("nosuchfile.py", f"Could not find 'nosuchfile.py' in {APPS.resolve()}.", []),
    ("modapp:nope", "Failed to find attribute 'nope' in 'modapp'.", ["AttributeError"]),
    (
        "factory_app:create_app(1, 2)",
        "The factory 'create_app(1, 2)' in module 'factory_app' could not be called"
        " with the specified arguments.",
        ["TypeError"],
    ),
    ("factory_app:create_app(x)", "Failed to parse arguments as literal values: 'create_app(x)'.", []),
    (
        "envproj",
        "Failed to find Flask application or factory in module 'envproj'. Use 'envproj:name' to specify one.",
        [],
    ),
]


@pytest.fixture(autouse=True)
def _restore_process_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Loading apps touches sys.path, sys.modules and (dotenv) os.environ: put them back."""
    path, environ = list(sys.path), dict(os.environ)
    yield
    apptarget.apply_dotenv(tmp_path_factory.mktemp("no-dotenv"))  # undoes what a test's dotenv set
    sys.path[:] = path
    assert "FLASK_RUN_FROM_CLI" not in os.environ or environ.get("FLASK_RUN_FROM_CLI")
    for key in set(os.environ) - set(environ):
        del os.environ[key]


def body(app: flask.Flask, path: str = "/") -> str:
    response = app.test_client().get(path)
    assert response.status_code == 200, response.status
    return response.get_data(as_text=True)


@pytest.mark.parametrize(("target", "expected"), GOOD)
def test_good_targets_load_like_flask(target: str, expected: str) -> None:
    app = load_app(AppTarget(target, APPS))
    assert isinstance(app, flask.Flask)
    assert expected in body(app)


def test_relative_targets_are_relative_to_chdir_not_the_cwd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "file_app says hello" in body(load_app(AppTarget("scripts/file_app.py", APPS)))
    assert sys.path[0] == str(APPS.resolve() / "scripts")  # its folder is prepended, as flask does
    with pytest.raises(AppLoadError, match=r"Could not find 'scripts/file_app\.py' in"):
        load_app(AppTarget("scripts/file_app.py"))  # chdir None = the current directory


def test_absolute_file_path_target(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = load_app(AppTarget(str(APPS / "scripts" / "file_app.py")))
    assert "file_app says hello" in body(app)


def test_demo_app_target() -> None:
    target = AppTarget()
    assert target.is_demo and target.label() == "demo app"
    app = load_app(target)
    assert app.import_name.startswith("flaskapp")
    assert app.test_client().get("/").status_code == 200


@pytest.mark.parametrize(("target", "message", "in_details"), BAD)
def test_broken_targets_give_one_line_errors(target: str, message: str, in_details: list[str]) -> None:
    with pytest.raises(AppLoadError) as caught:
        load_app(AppTarget(target, APPS))
    err = caught.value
    assert str(err) == message
    assert "\n" not in str(err)
    for text in in_details:
        assert text in err.details
    # The details start at the user's code: no launcher or importlib frames.
    assert "launcher/apptarget.py" not in err.details
    assert "<frozen importlib" not in err.details


def test_error_inside_the_target_is_not_mistaken_for_a_missing_target(tmp_path: Path) -> None:
    (tmp_path / "deps.py").write_text("import launcher_absent_dependency\n")
    (tmp_path / "usesdeps.py").write_text("import deps\nfrom flask import Flask\napp = Flask(__name__)\n")
    with pytest.raises(AppLoadError) as caught:
        load_app(AppTarget("usesdeps", tmp_path))
    assert str(caught.value) == (
        "Could not import 'usesdeps': ModuleNotFoundError in deps.py line 1:"
        " No module named 'launcher_absent_dependency'"
    )


def test_unguarded_app_run_is_ignored_while_importing(capsys) -> None:
    app = load_app(AppTarget("runs_at_import", APPS))
    assert "runs_at_import says hello" in body(app)
    assert "Ignoring a call to 'app.run()'" in capsys.readouterr().out
    assert "FLASK_RUN_FROM_CLI" not in os.environ


def test_missing_working_directory(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match=r"The working directory .*nowhere does not exist\."):
        load_app(AppTarget("modapp", tmp_path / "nowhere"))


# --- FLASK_APP, .flaskenv, default files ---------------------------------------------------------------


def test_flaskenv_names_the_app_and_sets_its_variables(monkeypatch) -> None:
    monkeypatch.delenv("FLASK_APP", raising=False)
    target = resolve_target(None, APPS / "envproj")
    assert target == AppTarget('envapp:create_app("from .flaskenv")', APPS / "envproj")
    assert body(load_app(target)) == "envapp says from .flaskenv; env yes"
    assert os.environ["LAUNCHER_TEST_FROM_FLASKENV"] == "yes"
    # Another project: the first one's variables go away (they were ours, not the user's).
    load_app(AppTarget("modapp", APPS))
    assert "LAUNCHER_TEST_FROM_FLASKENV" not in os.environ


def test_environment_wins_over_dotenv(monkeypatch) -> None:
    monkeypatch.setenv("FLASK_APP", "modapp")
    monkeypatch.setenv("LAUNCHER_TEST_FROM_FLASKENV", "from the environment")
    assert resolve_target(None, APPS / "envproj").target == "modapp"
    app = load_app(AppTarget("envapp", APPS / "envproj"))
    assert body(app) == "envapp says hi; env from the environment"


def test_dotenv_flaskapp_does_not_stick_to_the_next_project(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FLASK_APP", raising=False)
    load_app(resolve_target(None, APPS / "envproj"))  # puts FLASK_APP from envproj/.flaskenv in os.environ
    (tmp_path / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    assert resolve_target(None, tmp_path).target == "app.py"


def test_skip_dotenv(monkeypatch) -> None:
    monkeypatch.delenv("FLASK_APP", raising=False)
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    with pytest.raises(AppLoadError, match="No Flask app given: use --app, set FLASK_APP"):
        resolve_target(None, APPS / "envproj")


def test_default_files_wsgi_then_app(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FLASK_APP", raising=False)
    with pytest.raises(AppLoadError) as caught:
        resolve_target(None, tmp_path)
    assert str(caught.value) == (
        f"No Flask app given: use --app, set FLASK_APP, or add a wsgi.py or app.py to {tmp_path}."
    )
    (tmp_path / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    assert resolve_target(None, tmp_path) == AppTarget("app.py", tmp_path)
    (tmp_path / "wsgi.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    assert resolve_target(None, tmp_path).target == "wsgi.py"
    assert resolve_target("  modapp  ", tmp_path).target == "modapp"
    given = AppTarget("factory_app", APPS)
    assert resolve_target(given) is given
    assert resolve_target(AppTarget(None, tmp_path)) == AppTarget("wsgi.py", tmp_path)


# --- fresh re-imports ------------------------------------------------------------------------------------


def test_fresh_load_reimports_edited_code(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # users' machines write .pyc files
    shutil.copytree(APPS / "pkgapp", tmp_path / "pkgapp")
    views = tmp_path / "pkgapp" / "views.py"
    second = int(views.stat().st_mtime)
    os.utime(views, (second, second))
    target = AppTarget("pkgapp", tmp_path)
    assert "pkgapp renders a template" in body(load_app(target))
    assert (tmp_path / "pkgapp" / "__pycache__").is_dir()
    # Same size, same whole second: Python's .pyc check (mtime in seconds + size) cannot tell.
    views.write_text(views.read_text().replace('name="pkgapp"', 'name="PKGAPP"'))
    os.utime(views, (second + 0.5, second + 0.5))
    assert "pkgapp renders a template" in body(load_app(target, fresh=False))
    assert "PKGAPP renders a template" in body(load_app(target))


def test_same_module_name_in_two_projects(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(
            f"from flask import Flask\napp = Flask(__name__)\napp.get('/')(lambda: 'project {name}')\n"
        )
    assert body(load_app(AppTarget("app", tmp_path / "one"))) == "project one"
    assert body(load_app(AppTarget("app", tmp_path / "two"))) == "project two"


def test_launcher_and_libraries_are_never_the_users(tmp_path: Path) -> None:
    repo = Path(apptarget.__file__).resolve().parents[1]
    assert is_user_file(str(APPS / "modapp.py"), APPS)
    assert not is_user_file(apptarget.__file__, repo)
    assert not is_user_file(flask.__file__, Path("/"))
    assert not is_user_file(os.__file__, Path("/"))
    assert not is_user_file("<frozen importlib._bootstrap>", Path.cwd())
    load_app(AppTarget("modapp", APPS))
    dropped = apptarget.forget_user_modules(APPS)
    assert "modapp" in dropped and "modapp" not in sys.modules
    assert "flask" in sys.modules and "launcher.apptarget" in sys.modules


def test_watch_roots(tmp_path: Path) -> None:
    app = load_app(AppTarget("pkgapp", APPS))
    assert watch_roots(AppTarget("pkgapp", APPS), app) == [APPS.resolve()]
    assert watch_roots(AppTarget("syntaxpkg", APPS)) == [APPS.resolve()]  # works for a broken app too


# --- exceptions inside requests ----------------------------------------------------------------------


def test_route_exception_is_a_500_with_its_traceback_in_the_request_log() -> None:
    app = load_app(AppTarget("route_raises", APPS))
    sink = RequestSink()
    client = Client(RequestLogMiddleware(app, sink, "http"))
    response = client.get("/boom", buffered=True)  # buffered: the body is closed, so the record is made
    assert response.status_code == 500
    assert b"Internal Server Error" in response.data  # Flask's own 500 page, no traceback to the client
    assert b"ZeroDivisionError" not in response.data
    assert client.get("/", buffered=True).status_code == 200
    boom, fine = sink.snapshot()
    assert boom.status == 500 and boom.path == "/boom"
    assert "ZeroDivisionError: division by zero" in boom.error
    assert "route_raises.py" in boom.error and "in boom" in boom.error
    assert fine.status == 200 and fine.error is None


def test_error_hook_is_installed_once() -> None:
    app = load_app(AppTarget("route_raises", APPS))
    apptarget.install_error_hook(app)
    environ_seen: list[dict] = []

    @app.teardown_request
    def keep(_exc: BaseException | None) -> None:
        environ_seen.append(dict(flask.request.environ))

    assert app.test_client().get("/boom").status_code == 500
    assert environ_seen[-1][ERROR_ENVIRON_KEY].count("ZeroDivisionError: division by zero") == 1


# --- served for real, both schemes -------------------------------------------------------------------


def _get(url_base: str, port: int, path: str, ctx: ssl.SSLContext | None) -> tuple[int, str]:
    if url_base == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=ctx, timeout=10
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def served(cert_store) -> Iterator[object]:
    """Every good sample app under /<name>/ on one real HTTP and HTTPS listener pair."""
    from launcher.servers import Servers

    mounts = {}
    for index, (target, _) in enumerate(GOOD):
        mounts[f"/app{index}"] = load_app(AppTarget(target, APPS))
    root = flask.Flask("served_root")
    servers = Servers(DispatcherMiddleware(root, mounts), cert_store=cert_store, http_port=0, https_port=0)
    errors = servers.start_all()
    assert not errors, errors
    yield servers
    servers.stop_all()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_every_sample_app_is_served_for_real(served, scheme: str, client_context: ssl.SSLContext) -> None:
    port = served.https.port if scheme == "https" else served.http.port
    for index, (target, expected) in enumerate(GOOD):
        status, text = _get(scheme, port, f"/app{index}/", client_context)
        assert status == 200, (target, status)
        assert expected in text, target
    index = next(i for i, (target, _) in enumerate(GOOD) if target == "modapp")
    assert _get(scheme, port, f"/app{index}/scheme", client_context) == (200, scheme)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_route_that_raises_over_real_servers(served, scheme: str, client_context: ssl.SSLContext) -> None:
    port = served.https.port if scheme == "https" else served.http.port
    index = next(i for i, (target, _) in enumerate(GOOD) if target == "route_raises")
    subscription = served.sink.subscribe()
    try:
        status, text = _get(scheme, port, f"/app{index}/boom", client_context)
        assert status == 500 and "Internal Server Error" in text
        assert _get(scheme, port, f"/app{index}/", client_context)[0] == 200  # still serving
        assert subscription.wait(5)
        records = []
        for _ in range(50):
            records += subscription.drain()
            if len(records) >= 2:
                break
            subscription.wait(0.1)
    finally:
        subscription.close()
    boom = next(r for r in records if r.path.endswith("/boom"))
    assert boom.listener == scheme and boom.status == 500
    assert "ZeroDivisionError: division by zero" in boom.error
    ok = next(r for r in records if not r.path.endswith("/boom"))
    assert ok.error is None


def test_a_folder_alone_loads_the_app_found_there_never_the_demo(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from flask import Flask\napp = Flask(__name__)\napp.add_url_rule('/', 'i', lambda: 'folder app')\n"
    )
    assert not AppTarget(None, tmp_path).is_demo
    app = load_app(AppTarget(None, tmp_path))
    assert app.test_client().get("/").get_data(as_text=True) == "folder app"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AppLoadError, match="No Flask app given"):
        load_app(AppTarget(None, empty))
