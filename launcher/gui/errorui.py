"""How the window shows errors.

- ``MessageBanner``: an inline strip above the content for user errors (``LauncherError``): one
  sentence that says what to do, a close button, never a traceback.  A message may name its
  ``source`` (e.g. ``"listener:https"``, ``"app"``); ``dismiss_source(source)`` takes it down
  when that thing has since succeeded, and leaves any other message alone.
- ``ExceptionDialog``: for bugs (any other exception): a short message plus the full traceback
  in a read-only, selectable text box with a "Copy details" button.  The app keeps running.
- ``ExceptionRouter`` + ``install_exception_hooks``: ``sys.excepthook`` (exceptions escaping Qt
  slots and virtual methods) and ``threading.excepthook`` (exceptions ending a worker thread)
  hand the exception to the GUI thread through a queued signal; the window decides banner or
  dialog.  ``install_exception_hooks`` returns a function that restores the previous hooks.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from launcher.errors import AppLoadError, LauncherError
from launcher.messages import MessageLevel

#: The banner's icon for each level.
LEVEL_ICON = {
    MessageLevel.ERROR: QStyle.StandardPixmap.SP_MessageBoxCritical,
    MessageLevel.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    MessageLevel.INFO: QStyle.StandardPixmap.SP_MessageBoxInformation,
}


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class MessageBanner(QFrame):
    """An inline message strip, styled by its ``MessageLevel`` (the ``level`` property)."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.setAccessibleName("Message")
        self.setProperty("level", MessageLevel.ERROR.value)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.setSpacing(8)
        self._icon = QLabel(self)
        self._icon.setObjectName("messageBannerIcon")
        self._text = QLabel(self)
        self._text.setObjectName("messageBannerText")
        self._text.setAccessibleName("Message text")
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._details_button = QPushButton("Details…", self)
        self._details_button.setObjectName("messageBannerDetailsButton")
        self._details_button.setAccessibleName("Show details")
        self._details_button.hide()
        self._details_button.clicked.connect(self._show_details)
        self._close = QPushButton("Dismiss", self)
        self._close.setObjectName("messageBannerCloseButton")
        self._close.setAccessibleName("Dismiss message")
        self._close.clicked.connect(self.dismiss)
        layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._text, 1)
        layout.addWidget(self._details_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._close, 0, Qt.AlignmentFlag.AlignTop)
        self._details = ""
        self._source = ""
        self.hide()

    @property
    def text(self) -> str:
        return self._text.text()

    @property
    def level(self) -> MessageLevel:
        return MessageLevel(self.property("level"))

    @property
    def source(self) -> str:
        """What the shown message is about ("" when it did not say)."""
        return self._source

    def show_message(
        self, text: str, level: MessageLevel = MessageLevel.ERROR, details: str = "", source: str = ""
    ) -> None:
        """Show *text* (replacing any message shown); *details* behind a Details… button; *source*
        names what it is about, for ``dismiss_source``."""
        self._source = source
        level = MessageLevel(level)
        self.setProperty("level", level.value)
        self.style().unpolish(self)
        self.style().polish(self)
        self._icon.setPixmap(self.style().standardIcon(LEVEL_ICON[level]).pixmap(20, 20))
        self._text.setText(text)
        self._details = details
        self._details_button.setVisible(bool(details))
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self._text.clear()
        self._source = ""
        self.closed.emit()

    def dismiss_source(self, source: str) -> bool:
        """Take the message down if it is about *source* (that thing now works); True if it did."""
        if not source or self._source != source or self.isHidden():
            return False
        self.dismiss()
        return True

    def _show_details(self) -> None:
        dialog = ExceptionDialog("Details", self._text.text(), self._details, self.window())
        dialog.open()


class ExceptionDialog(QDialog):
    """Shows an unexpected error with copyable details; non-blocking (``open()``)."""

    def __init__(self, title: str, message: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exceptionDialog")
        self.setAccessibleName("Unexpected error")
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(640, 420)
        layout = QVBoxLayout(self)
        label = QLabel(message, self)
        label.setObjectName("exceptionMessage")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(self)
        self.details.setObjectName("exceptionDetails")
        self.details.setAccessibleName("Error details")
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setPlainText(details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setObjectName("exceptionCopyButton")
        copy.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout.addWidget(label)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())


class ExceptionRouter(QObject):
    """Carries exceptions from any thread to a handler in the GUI thread."""

    raised = Signal(object)  # the exception (with __traceback__)

    def report(self, exc: BaseException) -> None:
        try:
            self.raised.emit(exc)
        except RuntimeError:  # router already deleted (during shutdown)
            traceback.print_exception(type(exc), exc, exc.__traceback__)


def install_exception_hooks(router: ExceptionRouter) -> Callable[[], None]:
    """Route uncaught exceptions (GUI thread and other threads) to *router*; returns an undo."""
    previous_sys = sys.excepthook
    previous_thread = threading.excepthook

    def sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous_sys(exc_type, exc, tb)
            return
        if exc.__traceback__ is None and tb is not None:
            exc = exc.with_traceback(tb)
        router.report(exc)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            previous_thread(args)
            return
        router.report(args.exc_value)

    sys.excepthook = sys_hook
    threading.excepthook = thread_hook

    def restore() -> None:
        sys.excepthook = previous_sys
        threading.excepthook = previous_thread

    return restore


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, LauncherError)


def user_error_details(exc: BaseException) -> str:
    """Extra text for the banner's Details button (only ``AppLoadError`` carries any)."""
    return exc.details if isinstance(exc, AppLoadError) else ""
