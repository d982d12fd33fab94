"""Small helpers the tests share (imported by name: tests/ is on sys.path under pytest)."""

from __future__ import annotations

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
