"""``launcher.notices``: one line per reason per interval, then the count of what was held back."""

from __future__ import annotations

import logging
import time

from nethelpers import wait_for

from launcher.notices import RateLimitedHandler, reason_of


class Lines(logging.Handler):
    """The formatted messages that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def logger_with(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_a_burst_is_one_line_then_the_count_when_the_interval_ends():
    lines = Lines()
    log = logger_with(RateLimitedHandler(lines, interval=0.3), "test.notices.burst")
    for port in range(1000, 1200):  # the message differs per client; the reason does not
        log.warning("TLS on the HTTP port from 127.0.0.1:%s", port)
    assert lines.lines == ["TLS on the HTTP port from 127.0.0.1:1000"]
    wait_for(lambda: len(lines.lines) == 2, timeout=3, what="the count line")
    assert lines.lines[1] == "199 more like this in the last 0.3 s not shown; the last: " + (
        "TLS on the HTTP port from 127.0.0.1:1199"
    )
    time.sleep(0.35)
    assert len(lines.lines) == 2  # nothing more to report
    log.warning("TLS on the HTTP port from 127.0.0.1:%s", 1)  # a new interval: shown at once
    assert lines.lines[2] == "TLS on the HTTP port from 127.0.0.1:1"


def test_each_reason_has_its_own_interval_and_close_reports_what_is_held():
    lines = Lines()
    handler = RateLimitedHandler(lines, interval=60)
    log = logger_with(handler, "test.notices.reasons")
    for n in range(3):
        log.warning("wrong protocol from %s", n)
        log.info("handshake failed from %s", n)
        log.warning("refused %s", n, extra={"reason": "cap"})
        log.warning("refused again %s", n, extra={"reason": "cap"})  # same explicit reason
    assert lines.lines == ["wrong protocol from 0", "handshake failed from 0", "refused 0"]
    handler.close()  # at a stop: the counts now, not after the interval
    assert sorted(lines.lines[3:]) == [
        "2 more like this in the last 60 s not shown; the last: handshake failed from 2",
        "2 more like this in the last 60 s not shown; the last: wrong protocol from 2",
        "5 more like this in the last 60 s not shown; the last: refused again 2",
    ]


def test_the_reason_is_never_the_formatted_message():
    one = logging.makeLogRecord({"name": "w", "msg": "from %s", "args": ("10.0.0.1:1",)})
    two = logging.makeLogRecord({"name": "w", "msg": "from %s", "args": ("10.0.0.2:2",)})
    assert reason_of(one) == reason_of(two)
    three = logging.makeLogRecord({"name": "w", "msg": "from 10.0.0.3:3", "reason": "x"})
    assert reason_of(three) == ("reason", "x")
