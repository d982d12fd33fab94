"""Opening a URL or a folder with the system's opener, and saying so when that fails.

``QDesktopServices.openUrl`` returns False when the desktop's opener (``xdg-open`` on Linux)
fails, and nothing else happens: the user pressed Open and saw nothing.  ``open_external`` asks
the opener, and on failure copies the URL (or the folder's path) to the clipboard and returns a
sentence that says why it failed and what to do.  As root the likely reason has a name: Chromium
refuses to start as root without ``--no-sandbox``, so ``xdg-open`` fails silently when Chromium
is the default browser.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication

#: How panels open URLs (a hook: ``QDesktopServices.openUrl`` by default, a test's opener in tests).
Opener = Callable[[QUrl], object]


def running_as_root() -> bool:
    """True when this process runs as root (never on a system without ``os.geteuid``)."""
    geteuid = getattr(os, "geteuid", None)
    return bool(geteuid is not None and geteuid() == 0)


def failure_reason() -> str:
    """Why the system's opener most likely failed, in words."""
    if running_as_root():
        return (
            "the launcher runs as root, and Chromium refuses to start as root without --no-sandbox, "
            "so xdg-open fails without a word"
        )
    return "the system's opener (xdg-open) reported an error: is a default browser or file manager set?"


def open_external(url: QUrl, opener: Opener, what: str = "") -> str | None:
    """Open *url* with *opener*; None when it worked.  When it did not, the URL (a local file's
    path) is on the clipboard and the returned sentence says why and what to do.  *what*
    names the thing in the sentence (default: the URL itself)."""
    if opener(url):
        return None
    text = url.toLocalFile() if url.isLocalFile() else url.toString()
    QGuiApplication.clipboard().setText(text)
    return (
        f"Could not open {what or text}: {failure_reason()}. "
        f"{'The path' if url.isLocalFile() else 'The address'} is on the clipboard: paste it "
        f"{'into a file manager or a terminal' if url.isLocalFile() else 'into a browser'}."
    )
