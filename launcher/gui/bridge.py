"""``GuiBridge``: the one way from a worker thread into the GUI thread.

Worker threads (``TaskRunner``'s tasks, a reloader's watcher, a listener changing state, the
server process's receiver) must not touch widgets.  They hand a call to the bridge instead:
``bridge.post(fn, *args)`` runs ``fn(*args)`` in the thread the bridge lives in (the GUI thread),
through one Qt signal (a queued connection when posted from another thread; a direct call when
posted from the GUI thread itself, as Qt's automatic connection does).  ``bridge.callback(fn)``
wraps *fn* into a function any thread may call.

Once the bridge's C++ object is gone (the window closed while a thread still reports), posts are
dropped: there is nothing left to show them.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class GuiBridge(QObject):
    """Runs calls posted from any thread in the thread this object lives in."""

    _posted = Signal(object)  # a callable with no arguments

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._posted.connect(self._run)

    def post(self, fn: Callable[..., object], *args: Any) -> bool:
        """Run ``fn(*args)`` in the GUI thread (later, when posted from another thread).

        Returns False when the bridge is gone and the call was dropped.
        """
        try:
            self._posted.emit(functools.partial(fn, *args))
        except RuntimeError:  # the C++ object was deleted (the window is gone)
            return False
        return True

    def callback(self, fn: Callable[..., object]) -> Callable[..., None]:
        """*fn* made callable from any thread: each call is posted here.

        Holds the bridge, and *fn* when it is a bound method, weakly: a listener or reloader that
        outlives the window does not keep its panels alive, and calls after they are gone are dropped.
        """
        ref = weakref.ref(self)
        target: Callable[[], Callable[..., object] | None] = (
            weakref.WeakMethod(fn) if inspect.ismethod(fn) else lambda: fn
        )

        def call(*args: Any) -> None:
            bridge, function = ref(), target()
            if bridge is not None and function is not None:
                bridge.post(function, *args)

        return call

    @staticmethod
    def _run(thunk: Callable[[], object]) -> None:
        thunk()
