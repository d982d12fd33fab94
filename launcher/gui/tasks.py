"""Run blocking calls off the GUI thread and get their outcome back on it.

``TaskRunner.submit(fn, on_done=..., on_error=...)`` runs *fn* in a named daemon
``threading.Thread`` and delivers the result (or the exception) to the callbacks in the GUI
thread through the window's one ``GuiBridge`` (``runner.bridge``, which the panels also use for
their other threads' callbacks).  Callbacks are never run in the worker thread.

Limits: no cancellation (the core's blocking calls are short: starting a listener, stopping one
within about a second, making a certificate); ``wait_idle`` only waits, it never kills a thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Signal

from launcher.gui.bridge import GuiBridge

DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class TaskRunner(QObject):
    """Starts worker threads and hands their outcome back to the thread this object lives in."""

    #: Emitted (in the GUI thread) when the number of running tasks changes.
    busyChanged = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[DoneCallback | None, ErrorCallback | None]] = {}
        self._threads: dict[int, threading.Thread] = {}
        #: Carries every outcome (and the panels' other threads' callbacks) to the GUI thread.
        self.bridge = GuiBridge(self)
        #: Called for an exception that has no on_error callback (set by the window).
        self.unhandled: ErrorCallback | None = None

    @property
    def running(self) -> int:
        return len(self._callbacks)

    def submit(
        self,
        fn: Callable[[], Any],
        *,
        on_done: DoneCallback | None = None,
        on_error: ErrorCallback | None = None,
        name: str = "launcher-task",
    ) -> int:
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_error)

        def work() -> None:
            try:
                result = fn()
            except BaseException as exc:
                self._emit(task_id, None, exc)
            else:
                self._emit(task_id, result, None)

        thread = threading.Thread(target=work, name=f"{name}-{task_id}", daemon=True)
        self._threads[task_id] = thread
        thread.start()
        self.busyChanged.emit(self.running)
        return task_id

    def _emit(self, task_id: int, result: Any, exc: BaseException | None) -> None:
        self.bridge.post(self._deliver, task_id, result, exc)  # dropped if the runner is gone

    def _deliver(self, task_id: int, result: Any, exc: BaseException | None) -> None:
        on_done, on_error = self._callbacks.pop(task_id, (None, None))
        thread = self._threads.pop(task_id, None)
        if thread is not None:
            thread.join(0.5)
        self.busyChanged.emit(self.running)
        if exc is None:
            if on_done is not None:
                on_done(result)
        elif on_error is not None:
            on_error(exc)
        elif self.unhandled is not None:
            self.unhandled(exc)
        else:
            raise exc

    def wait_idle(self, timeout: float) -> bool:
        """Process events until every task has delivered, or *timeout* s; True when idle."""
        deadline = time.monotonic() + timeout
        while self._callbacks and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if self._callbacks:
                time.sleep(0.005)
        return not self._callbacks
