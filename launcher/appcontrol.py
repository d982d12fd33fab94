"""What the app selector decides, without Qt: which app is served, loading, restarting, reloading.

``AppController`` drives a ``launcher.control.ServersControl``: ``load(target)`` serves another
app (the demo app is ``AppTarget()``), ``restart()`` imports the user's app afresh and restarts
the running listeners, ``set_reload(on)`` starts or stops reload on change.  Blocking work runs
through a ``TaskSubmitter`` (the window's ``TaskRunner``: worker threads, outcomes back in the GUI
thread); callbacks from the reloader's watcher thread go through ``post`` (the window's bridge).
What the view must show is told to ``AppEvents`` (``launcher.gui.apppanel.AppPanel`` is one).

Two enums say where it stands:

- ``Served``: what is served: the bundled demo app, the user's target, or an app object handed
  over without a target.  ``served`` is the one answer to "is the demo app served?".
- ``AppState``: IDLE, LOADING (a load, restart or reloader start/stop runs: one at a time),
  FAILED (the last load or reload failed; what was served before still is) or CLOSED.

When a load fails the servers are left as they were (``serve_target`` raises ``AppLoadError``
before changing anything).  Reload on change runs only for the user's target, never for the demo
app (the bundled package is not re-imported: watching it would restart the servers for nothing).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from launcher.apptarget import AppTarget, resolve_target
from launcher.control import ReloaderControl, ServersControl
from launcher.errors import LauncherError
from launcher.messages import MessageLevel

#: Seconds requests in flight get to finish when the listeners restart with a new app.
GRACE = 0.5
RECENT_MAX = 10
#: The bundled demo app's import name (``flaskapp``), for an app handed over as an object.
DEMO_IMPORT_NAME = "flaskapp"

T = TypeVar("T")


class Served(enum.Enum):
    """What the servers serve."""

    DEMO = "demo app"  # the bundled demo app
    USER_APP = "user app"  # the user's target (reload on change can watch it)
    GIVEN_APP = "given app"  # an app object handed to the window: no target to show or watch


class AppState(enum.Enum):
    """Where the controller stands."""

    IDLE = "idle"
    LOADING = "loading"  # a load, restart or reloader start/stop runs; no other starts meanwhile
    FAILED = "failed"  # the last load or reload failed (``last_error``); the old app still serves
    CLOSED = "closed"  # the window is closing: no new loads or reloaders


def import_name(app: Any) -> str:
    """The served app's import name (``AppInfo`` carries it for an app in the server process)."""
    return str(getattr(app, "import_name", None) or type(app).__name__)


def served_kind(target: AppTarget | None, app: Any) -> Served:
    """What is served, given the target it was loaded from (None: an app handed over as an
    object, judged by its import name)."""
    if target is None:
        return Served.DEMO if import_name(app) == DEMO_IMPORT_NAME else Served.GIVEN_APP
    return Served.DEMO if target.is_demo else Served.USER_APP


def app_label(app: Any) -> str:
    """ "Bundled demo app" or "Flask app “name”" for the app being served."""
    name = import_name(app)
    return "Bundled demo app" if name == DEMO_IMPORT_NAME else f"Flask app “{name}”"


def push_recent(recent: list[tuple[str, str]], target: str, folder: str) -> list[tuple[str, str]]:
    """*recent* with ``(target, folder)`` first, no duplicates, at most ``RECENT_MAX``."""
    pair = (target, folder)
    return [pair, *(p for p in recent if p != pair)][:RECENT_MAX]


def target_from_file(file: str | Path, folder: str) -> tuple[str, str]:
    """``(target, folder)`` for a chosen .py file: relative to *folder* when inside it, else the
    file's name in its own folder."""
    path = Path(file).resolve()
    if folder:
        base = Path(folder).expanduser().resolve()
        if base in path.parents:
            return path.relative_to(base).as_posix(), folder
    return path.name, str(path.parent)


@dataclass(frozen=True)
class Switched:
    """What a successful load or restart did (handed from the worker to the GUI thread)."""

    target: AppTarget
    app: Any
    errors: list[Exception]


class TaskSubmitter(Protocol):
    """Runs ``fn`` off the caller's thread and calls back in it (``launcher.gui.tasks.TaskRunner``)."""

    def submit(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = ...,
    ) -> object: ...


class AppEvents(Protocol):
    """What the view is told (always in the controller's thread)."""

    def app_served(self, app: Any) -> None:
        """Another app (or the same one, reloaded) is served."""

    def state_changed(self, state: AppState) -> None:
        """``AppState`` changed (LOADING: disable the controls)."""

    def error_shown(self, error: Exception) -> None:
        """A load or reload failed: show why (inline).  Mostly a ``LauncherError``; a reload in
        the server process may report another exception, shown the same way."""

    def error_cleared(self, previous: Exception) -> None:
        """The error shown before is gone (a later load worked)."""

    def announce(self, error: Exception) -> None:
        """An error the window's banner should show too (a reload; an app named at start)."""

    def unexpected(self, exc: BaseException) -> None:
        """A bug (not a ``LauncherError``) ended a load, restart or reloader start/stop."""

    def note(self, text: str, level: MessageLevel) -> None:
        """A message for the window (INFO: the status bar)."""

    def loaded(self, asked: AppTarget, result: Switched) -> None:
        """A load the user asked for worked (*asked*: as given, before resolving): remember it
        (told before the state goes back to IDLE)."""


#: Wraps a callback for another thread (``GuiBridge.callback``); ``call_here`` calls it there.
Poster = Callable[[Callable[..., object]], Callable[..., None]]


def call_here(fn: Callable[..., object]) -> Callable[..., None]:
    """A ``Poster`` that posts nowhere: *fn* runs in the calling thread (tests, the CLI)."""

    def call(*args: Any) -> None:
        fn(*args)

    return call


class AppController:
    """Chooses, loads, restarts and reloads what the servers serve; see the module docstring."""

    def __init__(
        self,
        servers: ServersControl,
        tasks: TaskSubmitter,
        events: AppEvents,
        *,
        target: AppTarget | None = None,
        post: Poster = call_here,
    ) -> None:
        """*target*: what the servers serve now (``AppTarget()``: the demo app; None: an app
        handed over as an object).  *post* wraps the reloader's callbacks (which run in its
        watcher thread) so they reach this controller's thread; the default calls them there."""
        self.servers = servers
        self.tasks = tasks
        self.events = events
        self.post = post
        #: The served target: ``AppTarget()`` for the demo app, None for an app given as an object.
        self.target: AppTarget | None = target
        self.app: Any = servers.app
        self.reloader: ReloaderControl | None = None
        self.last_error: Exception | None = None
        #: Whether reload on change is wanted (the check box); it runs only for the user's app.
        self.reload_wanted = False
        self._busy = False
        self._closed = False

    # --- where it stands -------------------------------------------------------------------------

    @property
    def served(self) -> Served:
        return served_kind(self.target, self.app)

    @property
    def demo_served(self) -> bool:
        return self.served is Served.DEMO

    @property
    def serving_user_app(self) -> bool:
        return self.served is Served.USER_APP

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def state(self) -> AppState:
        if self._closed:
            return AppState.CLOSED
        if self._busy:
            return AppState.LOADING
        return AppState.FAILED if self.last_error is not None else AppState.IDLE

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.events.state_changed(self.state)

    def _can_start(self) -> bool:
        return not self._busy and not self._closed

    # --- errors ----------------------------------------------------------------------------------

    def show_error(self, error: Exception) -> None:
        """Record *error* as the current one and have the view show it."""
        self.last_error = error
        self.events.error_shown(error)

    def clear_error(self) -> None:
        previous, self.last_error = self.last_error, None
        if previous is not None:
            self.events.error_cleared(previous)

    def _failed(self, exc: BaseException) -> None:
        """A load, restart or reloader start/stop failed: a ``LauncherError`` is shown; anything
        else is a bug (``events.unexpected``)."""
        self._set_busy(False)
        if isinstance(exc, LauncherError):
            self.show_error(exc)
        else:
            self.events.unexpected(exc)

    # --- loading ---------------------------------------------------------------------------------

    def load(self, target: AppTarget, *, announce_failure: bool = False) -> bool:
        """Serve *target* (resolved first, as ``flask`` does) in a worker; False when another
        load runs.  *announce_failure*: a load error also goes to ``events.announce``."""
        if not self._can_start():
            return False
        servers, old = self.servers, self.reloader

        def work() -> Switched:
            resolved = target if target.is_demo else resolve_target(target)
            if old is not None:
                old.stop()  # joins its watcher: no swap of the old target after this
            # AppLoadError: nothing changed (the old app keeps serving; failed() below starts
            # reload on change again for it).
            app, errors = servers.serve_target(resolved, fresh=True, grace=GRACE)
            return Switched(resolved, app, errors)

        def done(result: Switched) -> None:
            self.reloader = None  # the worker stopped it (no other load could start meanwhile)
            self.target = result.target
            self._served(result.app)
            self.clear_error()
            self.events.loaded(target, result)
            self._set_busy(False)
            if result.errors:
                self.events.note(restart_errors(result.errors), MessageLevel.ERROR)
            else:
                running = [lst.scheme.upper() for lst in self.servers.listeners if lst.running]
                note = f" ({' and '.join(running)} restarted)" if running else ""
                self.events.note(f"Now serving {result.target.label()}{note}.", MessageLevel.INFO)
            self._sync_reloader()

        def failed(exc: BaseException) -> None:
            if old is not None and self.reloader is old:
                self.reloader = None  # the worker stopped it; _sync_reloader starts a new one
            self._failed(exc)
            if announce_failure and isinstance(exc, LauncherError):
                self.events.announce(exc)
            self._sync_reloader()

        self._set_busy(True)
        self.tasks.submit(work, on_done=done, on_error=failed, name="launcher-app-load")
        return True

    def _served(self, app: Any) -> None:
        self.app = app
        self.events.app_served(app)

    def restart(self) -> None:
        """Restart the running servers; the user's app is imported afresh first (a failure keeps
        the old app serving and shows why)."""
        if not self._can_start():
            return
        servers, target, reloader = self.servers, self.target, self.reloader
        if reloader is not None:
            # Through the reloader: one lock for its watcher and this button; outcome via its callbacks.
            self._set_busy(True)
            self.tasks.submit(
                reloader.reload_now,
                on_done=lambda _app: self._set_busy(False),
                on_error=self._failed,
                name="launcher-app-restart",
            )
            return
        if target is not None and not target.is_demo:
            user_target = target

            def work() -> Switched:
                app, errors = servers.serve_target(user_target, fresh=True, grace=GRACE)
                return Switched(user_target, app, errors)

            self._set_busy(True)
            self.tasks.submit(
                work, on_done=self._restarted, on_error=self._failed, name="launcher-app-restart"
            )
            return
        if not any(lst.running for lst in servers.listeners):
            self.events.note("Nothing to restart: the servers are stopped.", MessageLevel.INFO)
            return
        app = self.app
        self._set_busy(True)
        self.tasks.submit(
            lambda: Switched(target or AppTarget(), app, servers.restart(grace=GRACE)),
            on_done=self._restarted,
            on_error=self._failed,
            name="launcher-app-restart",
        )

    def _restarted(self, result: Switched) -> None:
        self._set_busy(False)
        if result.app is not self.app:
            self._served(result.app)
        self.clear_error()
        if result.errors:
            self.events.note(restart_errors(result.errors), MessageLevel.ERROR)
        else:
            self.events.note("Restarted.", MessageLevel.INFO)

    # --- reload on change ------------------------------------------------------------------------

    def set_reload(self, wanted: bool) -> None:
        """Reload on change on or off (it runs only while the user's app is served)."""
        self.reload_wanted = wanted
        self._sync_reloader()

    def _sync_reloader(self) -> None:
        """Start or stop the reloader to match ``reload_wanted`` and the served target (worker)."""
        if not self._can_start():
            return
        want = self.reload_wanted and self.serving_user_app
        if want and self.reloader is None:
            assert self.target is not None
            reloader = self.servers.make_reloader(
                self.target,
                on_reloaded=self.post(self._reloaded),
                on_error=self.post(self._reload_failed),
                on_change=self.post(self._reload_seen),
                grace=GRACE,
            )
            app = self.app

            def start() -> ReloaderControl:
                reloader.start(app)
                return reloader

            self._set_busy(True)
            self.tasks.submit(start, on_done=self._reloader_started, on_error=self._failed,
                              name="launcher-reload-start")  # fmt: skip
        elif not want and self.reloader is not None:
            old, self.reloader = self.reloader, None
            self._set_busy(True)
            self.tasks.submit(
                old.stop,
                on_done=lambda _r: self._reloader_changed(),
                on_error=self._failed,
                name="launcher-reload-stop",
            )

    def _reloader_started(self, reloader: ReloaderControl) -> None:
        self.reloader = reloader
        roots = ", ".join(str(r) for r in reloader.watched_roots)
        self.events.note(f"Reload on change: watching {roots}", MessageLevel.INFO)
        self._reloader_changed()

    def _reloader_changed(self) -> None:
        self._set_busy(False)
        self._sync_reloader()  # the check box may have changed meanwhile

    def _reload_seen(self, paths: frozenset[Path]) -> None:
        names = ", ".join(sorted(p.name for p in paths)[:3])
        self.events.note(f"Changed: {names}: reloading…", MessageLevel.INFO)

    def _reloaded(self, app: Any, errors: list[Exception]) -> None:
        self._served(app)
        if not errors:
            self.clear_error()
            label = self.target.label() if self.target else "the app"
            self.events.note(f"Reloaded {label}.", MessageLevel.INFO)

    def _reload_failed(self, exc: Exception) -> None:
        self.show_error(exc)
        self.events.announce(exc)

    # --- closing ---------------------------------------------------------------------------------

    def detach_reloader(self) -> ReloaderControl | None:
        """For closing: no new loads or reloaders; returns the reloader for the caller to stop."""
        self._closed = True
        reloader, self.reloader = self.reloader, None
        return reloader


def restart_errors(errors: list[Exception]) -> str:
    """The message for listeners that did not restart with the new app."""
    parts = "; ".join(str(e) for e in errors)
    return f"The app is loaded but a server did not restart: {parts}"
