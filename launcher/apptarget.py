"""Load the user's Flask app the way ``flask --app`` does, without letting its errors out.

An ``AppTarget`` names what to serve: ``None`` is the bundled demo app (``flaskapp``), otherwise
a string in ``flask --app`` syntax:

* ``module`` or ``package``: Flask's ``find_best_app`` picks ``app``/``application``, the only
  ``Flask`` instance, or calls ``create_app()``/``make_app()``;
* ``module:name``, ``module:create_app()``, ``module:create_app("x", debug=True)`` (literal
  arguments only);
* ``path/to/file.py`` or ``path/to/package`` (optionally with ``:name``), relative to the working
  directory.

Resolution reuses Flask's own functions (``flask.cli.prepare_import``, ``locate_app``,
``find_best_app``, ``find_app_by_string``), so a target means here exactly what it means to
``flask run``.  Differences, on purpose:

* every failure (syntax error, import error, a factory that raises, nothing found, even
  ``sys.exit()`` at import time) becomes one ``AppLoadError`` whose message is one line
  ("Could not import 'myproj': SyntaxError in myproj/views.py line 12: invalid syntax") and
  whose ``details`` hold the user's traceback; the launcher never goes down with the user's app;
* ``load_app(..., fresh=True)`` (the default) first drops the user's modules (those whose files
  are under the import root, never the standard library, site-packages or the launcher itself)
  from ``sys.modules``, so a reload really re-imports edited code;
* the working directory (``AppTarget.chdir``) is where relative targets, ``.flaskenv`` and
  ``.env`` are looked up, and its import root is prepended to ``sys.path``; the process's
  current directory is *not* changed (a GUI shares it between threads).  A headless command that
  wants ``flask run``'s relative-file behaviour can ``os.chdir`` itself;
* ``app.run()`` at module level is ignored while importing (``FLASK_RUN_FROM_CLI``), as under
  ``flask run``;
* the loaded app gets a ``got_request_exception`` hook that leaves the traceback of an exception
  raised inside a request in ``environ[ERROR_ENVIRON_KEY]`` for the request log; the response is
  still Flask's own 500.

Limits: an app installed in site-packages is imported but never freshly re-imported; modules the
user's code imported from *outside* its import root are not reloaded either; a module that keeps
global state in C extensions or threads it started is not cleaned up by a reload.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from launcher.errors import AppLoadError
from launcher.requestlog import ERROR_ENVIRON_KEY

if TYPE_CHECKING:
    from flask import Flask

#: Files ``flask`` tries, in this order, when no app is given at all.
DEFAULT_FILES = ("wsgi.py", "app.py")

#: How ``flask`` splits "module:name" (a colon followed by a slash is a Windows drive, not a split).
_TARGET_SPLIT = re.compile(r":(?![\\/])")

_MAX_MESSAGE = 300

_load_lock = threading.RLock()
_dotenv_lock = threading.Lock()
_loaded_at: dict[AppTarget, int] = {}  # target -> time.time_ns() when its last good load began
_dotenv_applied: dict[str, str] = {}  # keys the last dotenv load put into os.environ, with their values


@dataclass(frozen=True)
class AppTarget:
    """What to serve: ``target`` in ``flask --app`` syntax (``None``: the bundled demo app).

    ``chdir`` is the working directory for relative targets and ``.flaskenv``/``.env``; ``None``
    means the process's current directory at load time.
    """

    target: str | None = None
    chdir: Path | None = None

    @property
    def is_demo(self) -> bool:
        """The bundled demo app: no target and no folder (a folder alone means "find the app there")."""
        return self.target is None and self.chdir is None

    @property
    def workdir(self) -> Path:
        """The absolute working directory (``chdir`` or the current directory)."""
        return Path(os.path.abspath(self.chdir if self.chdir is not None else os.getcwd()))

    def split(self) -> tuple[str, str | None]:
        """``("module-or-path", "name" | None)`` as ``flask`` splits the target."""
        if self.target is None:
            raise ValueError("the demo app has no target string")
        parts = _TARGET_SPLIT.split(self.target.strip(), maxsplit=1)
        return parts[0], (parts[1] if len(parts) > 1 and parts[1] else None)

    def label(self) -> str:
        """A short human-readable name: ``"demo app"`` or ``"myproj:create_app() in /home/me/proj"``."""
        if self.target is None:
            return "demo app"
        where = f" in {self.chdir}" if self.chdir is not None else ""
        return f"{self.target}{where}"


def resolve_target(
    app: str | AppTarget | None = None, chdir: str | os.PathLike[str] | None = None
) -> AppTarget:
    """The target ``flask`` would load: *app*, else ``FLASK_APP`` (environment first, then
    ``.env``/``.flaskenv`` found from *chdir* upwards), else ``wsgi.py`` or ``app.py`` in *chdir*.

    *app* may already be an ``AppTarget``: it is returned as it is when it names a target, and its
    ``chdir`` is searched when it does not.  Never returns the demo app; raises ``AppLoadError``
    when nothing names an app.
    """
    if isinstance(app, AppTarget):
        if app.target is not None:
            return app
        chdir = app.chdir if chdir is None else chdir
        app = None
    workdir = Path(os.path.abspath(chdir if chdir is not None else os.getcwd()))
    chosen = Path(chdir) if chdir is not None else None
    if app and app.strip():
        return AppTarget(app.strip(), chosen)
    from_env = _real_environ("FLASK_APP") or read_dotenv(workdir).get("FLASK_APP")
    if from_env and from_env.strip():
        return AppTarget(from_env.strip(), chosen)
    for name in DEFAULT_FILES:
        if (workdir / name).is_file():
            return AppTarget(name, chosen)
    raise AppLoadError(
        f"No Flask app given: use --app, set FLASK_APP, or add a wsgi.py or app.py to {workdir}."
    )


# --- dotenv -----------------------------------------------------------------------------------------


def _find_upwards(start: Path, name: str) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def read_dotenv(workdir: Path) -> dict[str, str]:
    """The variables ``.flaskenv`` and ``.env`` define, found from *workdir* upwards as Flask
    does (``.env`` wins over ``.flaskenv``).  Honours ``FLASK_SKIP_DOTENV``; reads, never sets."""
    from flask.helpers import get_load_dotenv

    if not get_load_dotenv():
        return {}
    try:
        import dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return {}
    data: dict[str, str] = {}
    for name in (".flaskenv", ".env"):
        found = _find_upwards(workdir, name)
        if found is not None:
            values = dotenv.dotenv_values(found, encoding="utf-8")
            data.update({k: v for k, v in values.items() if v is not None})
    return data


def _real_environ(key: str) -> str | None:
    """``os.environ[key]`` unless it was put there by ``apply_dotenv`` (another project's file)."""
    value = os.environ.get(key)
    with _dotenv_lock:
        if value is not None and _dotenv_applied.get(key) == value:
            return None
    return value


def apply_dotenv(workdir: Path) -> dict[str, str]:
    """Put *workdir*'s ``.flaskenv``/``.env`` variables into ``os.environ`` where not already set
    (the environment wins, as with ``flask``).  Variables an earlier call set, and that nobody has
    changed since, are removed first, so switching projects does not leak one project's settings
    into the next.  Returns what this call set."""
    data = read_dotenv(workdir)
    with _dotenv_lock:
        for key, value in _dotenv_applied.items():
            if os.environ.get(key) == value:
                del os.environ[key]
        _dotenv_applied.clear()
        for key, value in data.items():
            if key not in os.environ:
                os.environ[key] = value
                _dotenv_applied[key] = value
        return dict(_dotenv_applied)


# --- which modules are the user's -------------------------------------------------------------------


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.realpath(path))


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@functools.cache
def _protected_dirs() -> tuple[str, ...]:
    """Folders whose modules are never dropped: Python's own, site-packages, the launcher, flaskapp."""
    here = Path(__file__).resolve().parent
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    dirs.update(sysconfig.get_paths().get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    dirs.update({str(here), str(here.parent / "flaskapp")})
    return tuple(_real(d) for d in dirs if d)


def _module_paths(module: ModuleType) -> list[str]:
    paths: list[str] = []
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        paths.append(file)
    elif (spec := getattr(module, "__spec__", None)) is not None and spec.submodule_search_locations:
        paths.extend(str(p) for p in spec.submodule_search_locations)  # namespace package
    return paths


def is_user_file(path: str, root: Path) -> bool:
    """Whether *path* belongs to the user's app: under *root*, outside every protected folder."""
    if not path or path.startswith("<"):  # "<frozen importlib._bootstrap>", "<string>"
        return False
    real = _real(path)
    if not _under(real, _real(root)):
        return False
    return not any(_under(real, p) for p in _protected_dirs())


def forget_user_modules(root: Path, names: Iterable[str] = ()) -> list[str]:
    """Drop from ``sys.modules`` every module whose file is under *root* (see ``is_user_file``),
    plus the modules *names* and their submodules when they are not protected (an earlier
    project's ``app`` module must not shadow this one's).  Their cached bytecode is deleted too:
    Python validates ``.pyc`` files by whole-second mtime and size, so an edit within the same
    second would otherwise load stale code.  Returns the dropped names."""
    protected = _protected_dirs()
    root_real = _real(root)
    wanted = tuple(names)
    dropped: list[str] = []
    for name, module in list(sys.modules.items()):
        if module is None or name == "__main__":
            continue
        paths = [_real(p) for p in _module_paths(module)]
        if not paths or any(_under(p, d) for p in paths for d in protected):
            continue
        by_path = any(_under(p, root_real) for p in paths)
        by_name = any(name == w or name.startswith(w + ".") for w in wanted)
        if by_path or by_name:
            del sys.modules[name]
            dropped.append(name)
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and file.endswith(".py"):
                try:
                    os.remove(importlib.util.cache_from_source(file))
                except (OSError, ValueError, NotImplementedError):
                    pass
    importlib.invalidate_caches()
    return dropped


# --- loading ---------------------------------------------------------------------------------------


def _prepare(target: AppTarget) -> tuple[Path, str]:
    """``(import root, module name)`` for *target*, via ``flask.cli.prepare_import``, which also
    puts the root first on ``sys.path``."""
    from flask.cli import prepare_import

    module_part, _ = target.split()
    module_name = prepare_import(os.path.join(target.workdir, module_part))
    root = sys.path[0]
    # prepare_import inserts at the front each time it is not already first: keep one copy.
    sys.path[1:] = [p for p in sys.path[1:] if p != root]
    return Path(root), module_name


def import_root(target: AppTarget) -> Path:
    """The folder ``flask`` puts first on ``sys.path`` for *target* (the top of its package
    structure), and prepends it; for the demo app, the ``flaskapp`` package folder."""
    if target.target is None:
        return Path(__file__).resolve().parent.parent / "flaskapp"
    return _prepare(target)[0]


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _rel(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root) if is_user_file(path, root) else path
    except ValueError:  # another drive on Windows
        return path


def describe_exception(exc: BaseException, root: Path) -> str:
    """``"SyntaxError in pkg/views.py line 12: invalid syntax"``: the exception's type, where in
    the user's code it happened (the innermost frame under *root*) and its message, on one line."""
    kind = type(exc).__name__
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" in {_rel(exc.filename, root)} line {exc.lineno}"
        message = exc.msg or ""
    else:
        message = f"it called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else str(exc)
        last: tuple[str, int] | None = None
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            filename = frame.f_code.co_filename
            if is_user_file(filename, root):
                last = (filename, lineno)
        if last is not None:
            where = f" in {_rel(last[0], root)} line {last[1]}"
    return _one_line(f"{kind}{where}: {message}" if message else f"{kind}{where}")


def _details(exc: BaseException, root: Path | None = None) -> str:
    """The traceback text; with *root*, starting at the first frame of the user's code (the
    launcher's and importlib's frames above it say nothing to the user)."""
    if root is not None:
        tb = exc.__traceback__
        while tb is not None and not is_user_file(tb.tb_frame.f_code.co_filename, root):
            tb = tb.tb_next
        exc = exc.with_traceback(tb)
    return "".join(traceback.format_exception(exc))


def _record_request_exception(sender: Any, exception: BaseException, **_: Any) -> None:
    """``got_request_exception`` receiver: the traceback goes to the request log via the environ."""
    from flask import has_request_context, request

    if has_request_context():
        request.environ[ERROR_ENVIRON_KEY] = _details(exception)


def install_error_hook(app: Flask) -> None:
    """Log the traceback of any exception raised inside *app*'s requests (idempotent)."""
    from flask import got_request_exception

    if app.extensions.get("launcher.error_hook"):
        return
    got_request_exception.connect(_record_request_exception, app, weak=False)
    app.extensions["launcher.error_hook"] = True


def _load_demo() -> Flask:
    try:
        from flaskapp import create_app
    except Exception as exc:
        raise AppLoadError(
            f"The bundled demo app cannot be imported: {type(exc).__name__}: {_one_line(str(exc))}",
            _details(exc),
        ) from None
    return create_app()


def _missing_target(exc: ImportError, module_name: str) -> bool:
    """Whether *exc* says the target module itself (or a parent package of it) does not exist."""
    missing = getattr(exc, "name", None)
    if not isinstance(exc, ModuleNotFoundError) or not missing:
        return False
    return module_name == missing or module_name.startswith(missing + ".")


def load_app(target: AppTarget, *, fresh: bool = True) -> Flask:
    """Import and return the Flask app *target* names; raise ``AppLoadError`` on any failure.

    With *fresh* (the default) the user's modules are dropped from ``sys.modules`` first, so
    edited code is imported anew.  Loads are serialized by a process-wide lock.  Never raises
    anything but ``AppLoadError`` for problems in the user's code (``KeyboardInterrupt`` passes).
    """
    if target.target is None and target.chdir is not None:
        target = resolve_target(None, target.chdir)  # FLASK_APP, .flaskenv, wsgi.py or app.py there
    with _load_lock:
        started_ns = time.time_ns()
        if target.target is None:
            app = _load_demo()
            install_error_hook(app)
            _loaded_at[target] = started_ns
            return app

        workdir = target.workdir
        if not workdir.is_dir():
            raise AppLoadError(f"The working directory {workdir} does not exist.")
        module_part, app_name = target.split()
        if not module_part:
            raise AppLoadError(f"The app target {target.target!r} names no module.")
        looks_like_path = module_part.endswith(".py") or "/" in module_part or os.sep in module_part
        if looks_like_path and not os.path.exists(os.path.join(workdir, module_part)):
            raise AppLoadError(f"Could not find {module_part!r} in {workdir}.")

        apply_dotenv(workdir)
        root, module_name = _prepare(target)
        from flask.cli import NoAppException, locate_app

        if fresh:
            forget_user_modules(root, [module_name.split(".")[0]])

        previous = os.environ.get("FLASK_RUN_FROM_CLI")
        os.environ["FLASK_RUN_FROM_CLI"] = "true"  # a module-level app.run() returns at once
        try:
            try:
                importlib.import_module(module_name)
            except ImportError as exc:
                if _missing_target(exc, module_name):
                    raise AppLoadError(
                        f"Could not import {module_name!r}: no module named {exc.name!r} in {root}.",
                        _details(exc, root),
                    ) from None
                raise AppLoadError(
                    f"Could not import {module_name!r}: {describe_exception(exc, root)}", _details(exc, root)
                ) from None
            except (Exception, SystemExit) as exc:
                raise AppLoadError(
                    f"Could not import {module_name!r}: {describe_exception(exc, root)}", _details(exc, root)
                ) from None

            what = f"{module_name}:{app_name}" if app_name else module_name
            try:
                app = locate_app(module_name, app_name)
            except NoAppException as exc:
                cause = exc.__cause__
                details = _details(cause, root) if cause is not None else exc.format_message()
                raise AppLoadError(_one_line(exc.format_message()), details) from None
            except (Exception, SystemExit) as exc:
                raise AppLoadError(
                    f"Could not create the app from {what!r}: {describe_exception(exc, root)}",
                    _details(exc, root),
                ) from None
        finally:
            if previous is None:
                os.environ.pop("FLASK_RUN_FROM_CLI", None)
            else:
                os.environ["FLASK_RUN_FROM_CLI"] = previous

        install_error_hook(app)
        _loaded_at[target] = started_ns
        return app


def unavailable_demo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """What is served in place of a bundled demo app that cannot be loaded: a 503 that says so."""
    body = b"The bundled demo app could not be loaded: see the launcher window.\n"
    start_response(
        "503 Service Unavailable",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def demo_app_or_placeholder() -> tuple[Any, AppLoadError | None]:
    """The bundled demo app, or ``unavailable_demo_app`` and the ``AppLoadError`` saying why."""
    try:
        return load_app(AppTarget()), None
    except AppLoadError as exc:
        return unavailable_demo_app, exc


def loaded_at_ns(target: AppTarget) -> int | None:
    """When (``time.time_ns()``) the last successful ``load_app(target)`` started importing: a
    file modified after that may not be in the app that is being served."""
    return _loaded_at.get(target)


def watch_roots(target: AppTarget, app: Flask | None = None) -> list[Path]:
    """Folders whose files a reloader should watch for *target*: its import root, plus the app's
    root path and template folders (blueprints' too) when *app* is given; nested folders are
    folded into their parents.  Works without *app*, so a target that fails to import can still
    be watched and retried."""
    folders: list[Path] = [import_root(target)]
    if app is not None:
        folders.append(Path(app.root_path))
        for owner in (app, *app.blueprints.values()):
            folder = getattr(owner, "template_folder", None)
            if folder:
                folders.append(Path(owner.root_path) / folder)
    real = sorted(
        {Path(os.path.realpath(f)) for f in folders if Path(f).is_dir()}, key=lambda p: len(p.parts)
    )
    kept: list[Path] = []
    for folder in real:
        if not any(folder == k or k in folder.parents for k in kept):
            kept.append(folder)
    return kept
