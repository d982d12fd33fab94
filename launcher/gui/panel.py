"""``Panel``: what every panel of the window shares: its ``message`` signal and error routing.

A failure reaches a panel as an exception (mostly from a worker thread, through ``TaskRunner``).
There are two kinds, and every panel treats them the same way (``route_error``):

- a ``LauncherError`` is the user's to fix (a port taken, a bad file): shown where the panel shows
  it (inline, or as a banner message through ``message``);
- anything else is a bug in the launcher: handed to ``tasks.unhandled`` (the window's dialog with
  the traceback), or raised when nothing handles it (a panel used on its own, in a test).

A mixin (``class AppPanel(Panel, QGroupBox)``): the panels derive from different widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from launcher.errors import LauncherError
from launcher.gui.tasks import TaskRunner
from launcher.messages import MessageLevel

if TYPE_CHECKING:
    _Widget = QWidget  # what the mixin is mixed into: its signals are bound to a QObject
else:
    _Widget = object


class Panel(_Widget):
    """Mixin for a panel's widget class; the panel sets ``self.tasks``."""

    #: ``(text, MessageLevel)`` for the window: INFO to the status bar, the others to the banner.
    message = Signal(str, object)

    tasks: TaskRunner

    def say(self, text: str, level: MessageLevel = MessageLevel.INFO) -> None:
        """Tell the window *text* (``message``)."""
        self.message.emit(text, level)

    def route_error(self, exc: BaseException, show: Callable[[LauncherError], object] | None = None) -> None:
        """A ``LauncherError`` to *show* (default: an ERROR ``message``); any other exception to
        ``tasks.unhandled``, or raised again when nothing handles it."""
        if isinstance(exc, LauncherError):
            if show is not None:
                show(exc)
            else:
                self.say(str(exc), MessageLevel.ERROR)
        elif self.tasks.unhandled is not None:
            self.tasks.unhandled(exc)
        else:
            raise exc
