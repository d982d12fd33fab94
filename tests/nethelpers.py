"""Small helpers the tests share (imported by name: tests/ is on sys.path under pytest)."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable


def refuses(port: int) -> bool:
    """True when nothing accepts TCP connections on 127.0.0.1:*port*."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:  # queued as the listening socket closed: ask again (wait_for)
        return False


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll *predicate* until it is true; AssertionError after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def freeze(pid: int, timeout: float = 10.0) -> None:
    """SIGSTOP process *pid* and wait until every one of its threads has stopped.

    ``kill`` returns once the signal is queued, not once it has taken effect: the thread that
    takes the signal must first be scheduled, and meanwhile the others run on (on a busy CPU, a
    listener's loop thread was seen to accept a connection made after ``kill`` returned).
    """
    os.kill(pid, signal.SIGSTOP)
    wait_for(
        lambda: all(state in ("T", "t") for state in thread_states(pid)), timeout, f"process {pid} to stop"
    )


def thread_states(pid: int) -> list[str]:
    """The state letter (``R``, ``S``, ``T``, ``Z``…) of every thread of process *pid*, from
    ``/proc``; OSError when there is no such process."""
    states = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as fh:
                states.append(fh.read().rsplit(")", 1)[1].split()[0])
        except OSError:  # the thread has ended
            continue
    return states


def process_alive(pid: int) -> bool:
    """Whether any thread of process *pid* still runs (False: no such process, or only its
    zombie).  Every thread, not just the first: that one shows Z as soon as it has exited, while
    the others, and the process's sockets, live on."""
    try:
        return any(state not in ("Z", "X") for state in thread_states(pid))
    except OSError:
        return False
