"""Reload on change: a polling file watcher and a ``Reloader`` that re-imports the user's app.

``FileWatcher`` polls (``os.scandir`` + ``stat``, stdlib only, no inotify) the app's source files
every ``interval`` seconds (0.3 by default) in one named daemon thread.  Once it sees a change
it waits until the files have been quiet for ``debounce`` seconds (an editor's save, a ``git
checkout`` touching many files) and then calls its callback once with every changed path.

``Reloader`` ties it to ``launcher.apptarget.load_app``: on a change it imports the app afresh
(the user's modules are dropped from ``sys.modules`` first) and hands the new app to ``swap(app)``,
which the caller provides (``Servers.set_app``: stop both listeners, in-flight requests get a
short grace period, start them again with the new app).  When the import fails, the servers keep
serving the previous version, ``on_error(err)`` receives the ``AppLoadError`` (one-line message,
the user's traceback in ``details``) and the next save tries again.

Threads: every callback (``swap``, ``on_error``, ``on_change``) runs in the watcher's thread, or
in the thread that called ``reload_now``; a GUI must hand the result to its own thread.

What is watched: ``*.py``, every file inside a folder called ``templates``, ``.flaskenv`` and
``.env``, under the roots (by default the target's import root, plus the app's root and template
folders).  Hidden folders, ``__pycache__``, virtual environments (a folder with ``pyvenv.cfg``),
``site-packages`` and ``node_modules`` are skipped.  Limits: at most ``MAX_FILES`` files are
watched (a warning is logged once when a root holds more: choose a narrower working directory);
changes are seen by modification time in nanoseconds, size and inode, so a rewrite that keeps all
three is missed; a change to a module outside the roots (an installed package) is not seen.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.apptarget import AppTarget, load_app, loaded_at_ns, watch_roots
from launcher.errors import AppLoadError, LauncherError

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("launcher.reload")

DEFAULT_INTERVAL = 0.3  # seconds between scans: a save is seen within this, plus the debounce
DEFAULT_DEBOUNCE = 0.2  # seconds the files must stay unchanged before the callback runs
MAX_FILES = 10_000  # one scan stats every file; beyond this the watcher would cost real CPU
#: File times come from the kernel's coarse clock, which may lag time.time_ns() by a tick or two:
#: a file counts as "changed since" a moment when its mtime is within this margin before it (a
#: save just before the load costs one extra reload; one just after it is never missed).
SINCE_MARGIN_NS = 20_000_000

WATCH_SUFFIXES = (".py",)
WATCH_NAMES = frozenset({".flaskenv", ".env"})
TEMPLATE_DIR = "templates"
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})

Snapshot = dict[str, tuple[int, int, int]]  # path -> (mtime_ns, size, inode)


def _wanted(name: str, in_templates: bool) -> bool:
    return in_templates or name.endswith(WATCH_SUFFIXES) or name in WATCH_NAMES


def scan(roots: Iterable[Path], *, limit: int = MAX_FILES) -> tuple[Snapshot, bool]:
    """``(snapshot, truncated)``: the watched files under *roots* and whether *limit* cut it short."""
    snapshot: Snapshot = {}
    top = [str(root) for root in roots]
    stack: list[tuple[str, bool]] = [(root, Path(root).name == TEMPLATE_DIR) for root in top]
    seen_dirs: set[str] = set()
    while stack:
        folder, in_templates = stack.pop()
        real = os.path.realpath(folder)
        if real in seen_dirs:  # a symlink loop, or roots that overlap
            continue
        seen_dirs.add(real)
        try:
            entries = list(os.scandir(folder))
        except OSError:  # vanished or unreadable: treated as empty
            continue
        if folder not in top and any(e.name == "pyvenv.cfg" for e in entries):
            continue  # a virtual environment inside the project
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir():
                    if not name.startswith(".") and name not in SKIP_DIRS:
                        stack.append((entry.path, in_templates or name == TEMPLATE_DIR))
                    continue
                if not _wanted(name, in_templates):
                    continue
                st = entry.stat()
            except OSError:
                continue
            snapshot[entry.path] = (st.st_mtime_ns, st.st_size, st.st_ino)
            if len(snapshot) >= limit:
                return snapshot, True
    return snapshot, False


def diff(old: Snapshot, new: Snapshot) -> set[Path]:
    """Paths added, removed or modified between two snapshots."""
    changed = {Path(p) for p in old.keys() ^ new.keys()}
    changed.update(Path(p) for p in old.keys() & new.keys() if old[p] != new[p])
    return changed


class FileWatcher:
    """Polls *roots* and calls ``callback(frozenset_of_paths)`` after each debounced change.

    ``start()`` takes the first snapshot before it returns, so any change made after it is seen;
    ``start(since_ns=t)`` also reports, right away, files modified after ``t`` (``time.time_ns()``),
    for changes made between loading an app and starting to watch it.
    ``stop()`` is idempotent and joins the thread (unless called from the callback itself).
    An exception in the callback is logged and the watching goes on.
    """

    def __init__(
        self,
        roots: Sequence[Path],
        callback: Callable[[frozenset[Path]], object],
        *,
        interval: float = DEFAULT_INTERVAL,
        debounce: float = DEFAULT_DEBOUNCE,
        limit: int = MAX_FILES,
        name: str = "launcher-reload-watcher",
    ) -> None:
        if interval <= 0 or debounce < 0:
            raise ValueError("interval must be > 0 and debounce >= 0")
        self.roots = tuple(Path(r) for r in roots)
        self.callback = callback
        self.interval = interval
        self.debounce = debounce
        self.limit = limit
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snapshot: Snapshot = {}
        self._warned = False
        self._lock = threading.Lock()
        self._initial: set[Path] = set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def file_count(self) -> int:
        """How many files the last scan found."""
        return len(self._snapshot)

    def _scan(self) -> Snapshot:
        snapshot, truncated = scan(self.roots, limit=self.limit)
        if truncated and not self._warned:
            self._warned = True
            log.warning(
                "Watching only the first %d files under %s: choose a narrower working directory.",
                self.limit,
                ", ".join(map(str, self.roots)),
            )
        return snapshot

    def start(self, since_ns: int | None = None) -> None:
        with self._lock:
            if self.running:
                return
            self._stop.clear()
            self._snapshot = self._scan()
            if since_ns is not None:
                cutoff = since_ns - SINCE_MARGIN_NS
                self._initial = {Path(p) for p, (mtime, _, _) in self._snapshot.items() if mtime >= cutoff}
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("The file watcher did not stop within %.1f s", timeout)

    def _run(self) -> None:
        stop = self._stop
        pending, self._initial = self._initial, set()
        while pending or not stop.wait(self.interval):
            new = self._scan()
            pending |= diff(self._snapshot, new)
            if not pending:
                continue
            self._snapshot = new
            # Debounce: wait until a scan shows no further change.
            while self.debounce and not stop.wait(self.debounce):
                new = self._scan()
                more = diff(self._snapshot, new)
                if not more:
                    break
                pending |= more
                self._snapshot = new
            if stop.is_set():
                return
            try:
                self.callback(frozenset(pending))
            except Exception:
                log.exception("The file-change callback failed")
            pending = set()


class Reloader:
    """Re-imports *target* when its files change and hands the new app to ``swap(app)``.

    ``on_error(err)`` receives an ``AppLoadError`` when the import fails (the previous app keeps
    serving; the next change retries), or any ``LauncherError`` ``swap`` raised (a port taken
    meanwhile...).  ``on_change(paths)`` is told before each reload (to show "reloading…").
    ``reload_now()`` does the same on demand (a Restart button) and returns the new app or None.
    ``swap`` may also return a list of exceptions (``Servers.set_app`` does: the listeners that did
    not restart); the first one is then reported through ``on_error`` too.
    """

    def __init__(
        self,
        target: AppTarget,
        swap: Callable[[Flask], object],
        *,
        on_error: Callable[[LauncherError], object] | None = None,
        on_change: Callable[[frozenset[Path]], object] | None = None,
        roots: Sequence[Path] | None = None,
        interval: float = DEFAULT_INTERVAL,
        debounce: float = DEFAULT_DEBOUNCE,
    ) -> None:
        self.target = target
        self.swap = swap
        self.on_error = on_error
        self.on_change = on_change
        self.roots = tuple(roots) if roots is not None else None
        self.interval = interval
        self.debounce = debounce
        self.last_error: LauncherError | None = None
        self.reloads = 0  # successful swaps
        self.failures = 0  # failed imports or swaps
        self._watcher: FileWatcher | None = None
        self._reload_lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._watcher is not None and self._watcher.running

    @property
    def watched_roots(self) -> tuple[Path, ...]:
        return self._watcher.roots if self._watcher is not None else ()

    def start(self, app: Flask | None = None) -> None:
        """Start watching.  *app* (the one being served) adds its template folders to the roots.

        Files saved since the target was last loaded (``loaded_at_ns``) trigger a reload at once,
        so a save between loading the app and starting the reloader is not lost."""
        if self.running:
            return
        roots = self.roots
        if roots is None:
            try:
                roots = tuple(watch_roots(self.target, app))
            except Exception as exc:  # a target so broken that even its folder is unknown
                raise AppLoadError(f"Cannot watch {self.target.label()}: {exc}") from None
        self._watcher = FileWatcher(roots, self._changed, interval=self.interval, debounce=self.debounce)
        self._watcher.start(since_ns=self._loaded_ns())
        log.info("Reload on change: watching %s", ", ".join(map(str, roots)))

    def stop(self, timeout: float = 2.0) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop(timeout)

    # The three steps a subclass may do elsewhere (``launcher.workers.PoolReloader``: in new
    # worker processes, never importing the app here).

    def _loaded_ns(self) -> int | None:
        """When the app now served was loaded: files saved since then reload at once."""
        return loaded_at_ns(self.target)

    def _load(self) -> Any:
        """Import the app afresh (raises ``AppLoadError``)."""
        return load_app(self.target, fresh=True)

    def _swap(self, app: Any) -> object:
        """Serve *app*; what ``swap`` returns (a list of listeners' errors, maybe)."""
        return self.swap(app)

    def _changed(self, paths: frozenset[Path]) -> None:
        log.info("Changed: %s", ", ".join(sorted(str(p) for p in paths)[:5]))
        if self.on_change is not None:
            try:
                self.on_change(paths)
            except Exception:
                log.exception("on_change callback failed")
        self.reload_now()

    def _report(self, error: LauncherError) -> None:
        self.last_error = error
        self.failures += 1
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                log.exception("on_error callback failed")

    def reload_now(self) -> Any:
        """Import the app afresh and swap it in; on failure report it and return None.  The new
        app (``Flask``) is returned, or what a subclass's ``_load`` gave."""
        with self._reload_lock:
            try:
                app = self._load()
            except AppLoadError as exc:
                log.warning("Reload failed: %s", exc)
                self._report(exc)
                return None
            try:
                result = self._swap(app)
            except LauncherError as exc:
                # A subclass may import in _swap (a pool's new workers): that failure reads the same.
                if isinstance(exc, AppLoadError):
                    log.warning("Reload failed: %s", exc)
                else:
                    log.warning("Swapping in the reloaded app failed: %s", exc)
                self._report(exc)
                return None
            except Exception as exc:
                log.exception("Swapping in the reloaded app failed")
                self._report(
                    LauncherError(f"Restarting with the reloaded app failed: {type(exc).__name__}: {exc}")
                )
                return None
            self.reloads += 1
            # Servers.set_app returns the listeners' start errors instead of raising them.
            failed = (
                [e for e in result if isinstance(e, Exception)] if isinstance(result, list | tuple) else []
            )
            if failed:
                first = failed[0]
                if not isinstance(first, LauncherError):
                    first = LauncherError(
                        f"Restarting with the reloaded app failed: {type(first).__name__}: {first}"
                    )
                log.warning("The reloaded app is set but a listener did not restart: %s", first)
                self._report(first)
                return app
            self.last_error = None
            return app
