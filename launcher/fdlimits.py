"""How many file descriptors this process may open, and how many connections that pays for.

Every accepted connection costs a descriptor, and waitress spools a large request body (over
512 KiB) or a large response (over 1 MiB) to a temporary file, one descriptor more each.  At the
usual soft limit of 1024 two listeners with a fixed connection limit could run the process out of
descriptors; ``accept()`` then fails on every turn of the event loop.  So the server processes
(``flask-launcher serve`` and the window's server process) raise their soft limit to the hard one
at start (``raise_open_file_limit``), and each listener sizes its connection limit from the soft
limit in effect when it starts (``connection_limit``).
"""

from __future__ import annotations

import logging
import sys

try:
    import resource
except ImportError:  # Windows: no per-process descriptor limit to raise
    resource = None  # type: ignore[assignment]

log = logging.getLogger("launcher.servers")

#: Descriptors kept out of the connections' share: the listening sockets, each loop's trigger
#: (a pipe: two), the log, the certificate and temporary files, imports, and the app's own files.
RESERVE = 64
#: What one connection may hold at worst: its socket, a spooled request body, a spooled response.
FDS_PER_CONNECTION = 3
#: Listeners in one process (HTTP and HTTPS), sharing one descriptor limit.
LISTENERS = 2
#: Bounds of a listener's connection limit.  Below the minimum a browser's handful of parallel
#: connections would queue; above the maximum each turn of the loop (which asks every channel
#: whether it is readable and writable) gets slow.
MIN_CONNECTIONS = 16
MAX_CONNECTIONS = 1000
#: Where the platform sets no descriptor limit this module can read (Windows): the former fixed limit.
UNKNOWN_LIMIT_CONNECTIONS = 500
#: macOS reports an unlimited hard limit, yet refuses a soft limit above OPEN_MAX.
_DARWIN_OPEN_MAX = 10240


def open_file_limit() -> int | None:
    """The soft ``RLIMIT_NOFILE`` in effect now; None where there is none (Windows) or it is
    unlimited."""
    if resource is None:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def raise_open_file_limit() -> int | None:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; the soft limit in effect afterwards.

    Silent when it works (and where there is nothing to raise); one warning when the system
    refuses, since the listeners then get the smaller share ``connection_limit`` computes.
    """
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard
    if sys.platform == "darwin" and (hard == resource.RLIM_INFINITY or hard > _DARWIN_OPEN_MAX):
        wanted = _DARWIN_OPEN_MAX
    if soft != resource.RLIM_INFINITY and (wanted == resource.RLIM_INFINITY or wanted > soft):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (OSError, ValueError) as exc:
            log.warning(
                "Could not raise the open-file limit from %s to %s (%s): fewer connections are allowed",
                soft,
                wanted,
                exc,
            )
    return open_file_limit()


def connection_limit(soft_limit: int | None = None) -> int:
    """Connections one listener may hold open, from the soft descriptor limit (now, by default).

    ``(soft_limit - RESERVE) // (LISTENERS * FDS_PER_CONNECTION)``, kept within
    ``MIN_CONNECTIONS``..``MAX_CONNECTIONS``: each listener gets half of what is left after the
    reserve, and each connection is counted at its worst (socket, spooled body, spooled response).
    At 1024 that is 160 per listener; from about 6,100 on it is the maximum, 1000.  Without a
    readable limit (Windows, or unlimited) it is ``UNKNOWN_LIMIT_CONNECTIONS`` or the maximum.
    Descriptors can still run out (the app's own files, a limit lowered while serving): the
    listeners then pause accepting for a moment instead of failing on every turn of the loop.
    """
    if soft_limit is None:
        if resource is None:
            return UNKNOWN_LIMIT_CONNECTIONS
        soft_limit = open_file_limit()
        if soft_limit is None:
            return MAX_CONNECTIONS
    share = (soft_limit - RESERVE) // (LISTENERS * FDS_PER_CONNECTION)
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, share))
