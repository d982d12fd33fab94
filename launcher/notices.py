"""Rate-limited notices: one line per reason per interval, then one line with what was held back.

The listeners' notices (``launcher.wire``: the wrong protocol on a port, failed TLS handshakes,
refused connections, running out of descriptors) are caused by clients, so a client decides how
many there are: 200 ClientHellos on the HTTP port would be 200 lines.  ``RateLimitedHandler``
wraps the handler that prints them: the first notice of a reason in an interval goes through at
once, later ones of that reason in the same interval are counted, and when the interval ends one
line says how many were not shown (with the last of them, so its reason stays visible).

A *reason* is the record's ``reason`` attribute when the caller set one
(``log.warning(..., extra={"reason": "..."})``), else its logger and format string
(``record.msg``): never the formatted message, whose addresses and ports differ per connection.

Qt-free: ``flask-launcher serve`` and the window's server process both use it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

#: Seconds per reason between two notices that are shown in full.
DEFAULT_INTERVAL = 10.0

#: The wording of the line that counts what an interval held back.
SUPPRESSED_FORMAT = "%d more like this in the last %s s not shown; the last: %s"


def reason_of(record: logging.LogRecord) -> Hashable:
    """The key notices are counted under: ``record.reason`` if set, else logger and format string."""
    reason = getattr(record, "reason", None)
    if reason is not None:
        return ("reason", str(reason))
    msg = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    return (record.name, msg)


@dataclass
class _Window:
    """One reason's interval: when it ends, what it held back, and the timer that reports that."""

    ends: float
    suppressed: int = 0
    last: logging.LogRecord | None = None
    timer: threading.Timer | None = field(default=None, repr=False)


class RateLimitedHandler(logging.Handler):
    """Passes records to *target*, at most one per reason per *interval* seconds, then a count.

    The count line is emitted by a short-lived timer thread when the interval ends (so a burst
    followed by silence still reports its size), or at ``close()``/``flush()``.
    """

    def __init__(
        self,
        target: logging.Handler,
        interval: float = DEFAULT_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(target.level)
        self.target = target
        self.interval = interval
        self._clock = clock
        self._windows: dict[Hashable, _Window] = {}
        self._state = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        key = reason_of(record)
        now = self._clock()
        with self._state:
            window = self._windows.get(key)
            if window is not None and now < window.ends:
                window.suppressed += 1
                window.last = record
                if window.timer is None:
                    timer = threading.Timer(max(0.0, window.ends - now), self._report, args=(key, window))
                    timer.daemon = True
                    timer.name = "launcher-notices"
                    window.timer = timer
                    timer.start()
                return
            if window is not None and window.timer is not None:
                window.timer.cancel()  # its count is reported just below, not twice
            held = self._take(window)
            self._windows[key] = _Window(ends=now + self.interval)
            self._prune(now)
        if held is not None:
            self.target.handle(held)
        self.target.handle(record)

    def _take(self, window: _Window | None) -> logging.LogRecord | None:
        """The count line of *window* (None if it held nothing back); resets it.  Under the lock."""
        if window is None or not window.suppressed or window.last is None:
            return None
        last = window.last
        summary = logging.makeLogRecord(
            {
                "name": last.name,
                "levelno": last.levelno,
                "levelname": last.levelname,
                "msg": SUPPRESSED_FORMAT,
                "args": (window.suppressed, f"{self.interval:g}", last.getMessage()),
                "created": time.time(),
            }
        )
        window.suppressed, window.last, window.timer = 0, None, None
        return summary

    def _report(self, key: Hashable, window: _Window) -> None:
        """The timer's end of an interval: the count line, if nothing reported it meanwhile."""
        with self._state:
            if self._windows.get(key) is not window:
                return
            held = self._take(window)
        if held is not None:
            self.target.handle(held)

    def _prune(self, now: float) -> None:
        """Forget reasons whose interval ended long ago with nothing held back (bounds the dict)."""
        if len(self._windows) < 256:
            return
        for key, window in list(self._windows.items()):
            if window.ends < now and not window.suppressed:
                del self._windows[key]

    def flush(self) -> None:
        """Report every interval's count now (at a stop), then flush *target*."""
        with self._state:
            pending = []
            for window in self._windows.values():
                if window.timer is not None:
                    window.timer.cancel()
                held = self._take(window)
                if held is not None:
                    pending.append(held)
        for held in pending:
            self.target.handle(held)
        self.target.flush()

    def close(self) -> None:
        self.flush()
        super().close()


def install(
    logger_name: str, target: logging.Handler, interval: float = DEFAULT_INTERVAL
) -> RateLimitedHandler:
    """Print *logger_name*'s records through *target*, rate-limited; the handler, for ``uninstall``.

    The logger stops propagating (its records are printed here, once).
    """
    handler = RateLimitedHandler(target, interval)
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.propagate = False
    return handler


def uninstall(logger_name: str, handler: RateLimitedHandler) -> None:
    """Undo ``install``: report what is held back, detach, propagate again."""
    logger = logging.getLogger(logger_name)
    logger.removeHandler(handler)
    handler.close()
    if not any(isinstance(h, RateLimitedHandler) for h in logger.handlers):
        logger.propagate = True
