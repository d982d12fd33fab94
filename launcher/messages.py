"""``MessageLevel``: how loud a message for the user is (the window's banner and status bar).

A ``StrEnum`` because the value is also shown: the banner's style sheet matches its ``level``
property ("error", "warning", "info").  The window sends INFO to the status bar and the others to
the banner; the core uses it too where it words a message (``launcher.trustplan``).
"""

from __future__ import annotations

import enum


class MessageLevel(enum.StrEnum):
    """ERROR: something the user asked for did not happen; WARNING: it happened with a catch
    (e.g. a command left for the user to run); INFO: a short note that it happened."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
