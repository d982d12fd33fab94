"""``AcceptShare``: a worker pool's open connections per worker, so new ones go to the least loaded.

The workers of a pool (``launcher.workers``) all accept from one listening socket per port.
Left alone, whichever worker's loop wakes first takes a connection, and keep-alive clients stay
where they landed: measured with h2load's 32 connections on 2 workers, splits like 12/20 were
common, and the worker with 12 sat idle once its clients were done while the other still had a
third of the work to do.

So each worker's listener writes how many connections it holds (its loop's map), and when it last
accepted one, into a small table in memory every worker maps (a file with no name, inherited by
descriptor).  It accepts only while no other worker holds fewer; among those that hold as many,
the one that accepted longest ago goes first (a ``Seat``).  So connections open at once are
split evenly, and connections made one after another go round the workers.  A worker that
declines a waiting connection looks again ``DECLINE_POLL`` seconds later (and not before: the
socket stays readable until someone accepts), and after each ``DECLINE_MAX`` seconds of declining
it takes one connection anyway: a peer that is stuck does not leave connections waiting in the
queue for long, and one whose loop has not turned for ``STUCK_AFTER_NS`` (2 s) is not waited
for at all.  A worker with nothing to decline sleeps until something happens, as waitress's
loop does.  A worker that stops or dies leaves its place empty (-1): the
others no longer wait for it.

One table per set of workers (a reload starts a new set with a new table, while the old one
retires).  POSIX only, like the pool.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import time

from launcher.scheme import Scheme

#: Seconds a worker declines new connections in a row, at most (its peers are slow to take them).
DECLINE_MAX = 0.25
#: How often (seconds) a declining worker's loop wakes to look at the table again.
DECLINE_POLL = 0.01
#: The table's columns: one per listener.
_SCHEMES = (Scheme.HTTP, Scheme.HTTPS)
#: A worker whose loop has not turned for this long (its last ``record``) is not waited for: it
#: is stuck (a healthy loop turns at least once a second, waitress's poll timeout).
STUCK_AFTER_NS = 2_000_000_000
#: Each place holds three signed 64-bit numbers: connections (-1: empty), when it last accepted,
#: when its loop last turned (``time.monotonic_ns()``).
_FIELDS = 3
_LOAD, _LAST_ACCEPT, _LAST_TURN = range(_FIELDS)
_ITEM = 8
_EMPTY = -1


class AcceptShare:
    """The table of one set of *workers*: ``create`` in the pool, ``attach`` in each worker."""

    def __init__(self, fd: int, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"a share needs at least one worker, not {workers}")
        self.workers = workers
        self._fd = fd
        self._map = mmap.mmap(fd, _size(workers))
        self._counts = memoryview(self._map).cast("q")

    @classmethod
    def create(cls, workers: int) -> AcceptShare:
        """A new table, every place empty; its descriptor (``fileno``) is for the workers to inherit."""
        with tempfile.TemporaryFile() as file:  # no name: nothing to clean up, nothing to find
            fd = os.dup(file.fileno())
        try:
            os.ftruncate(fd, _size(workers))
            share = cls(fd, workers)
        except BaseException:
            os.close(fd)
            raise
        for index in range(workers):
            share.vacate(index)
        return share

    @classmethod
    def attach(cls, fd: int, workers: int) -> AcceptShare:
        """The table a worker inherited as *fd* (it keeps the descriptor until ``close``)."""
        os.set_inheritable(fd, False)  # processes the user's app starts must not get it
        return cls(fd, workers)

    def fileno(self) -> int:
        return self._fd

    def seat(self, scheme: Scheme, index: int) -> Seat:
        """Worker *index*'s (0…workers-1) place in *scheme*'s column."""
        if not 0 <= index < self.workers:
            raise ValueError(f"worker index {index} is not in 0…{self.workers - 1}")
        return Seat(self, _SCHEMES.index(scheme) * self.workers, index)

    def _place(self, column_start: int, index: int) -> int:
        return (column_start + index) * _FIELDS

    def vacate(self, index: int) -> None:
        """Worker *index* serves nothing now (it stopped or died): the others stop waiting for it.
        Nothing to do once the table is closed."""
        if self._fd < 0:
            return
        for column in range(len(_SCHEMES)):
            self._counts[self._place(column * self.workers, index) + _LOAD] = _EMPTY

    def load(self, scheme: Scheme) -> list[int | None]:
        """Each worker's connections on *scheme*, as it last wrote them (None: an empty place)."""
        start = _SCHEMES.index(scheme) * self.workers
        loads = (self._counts[self._place(start, i) + _LOAD] for i in range(self.workers))
        return [None if n == _EMPTY else n for n in loads]

    def close(self) -> None:
        """Unmap the table and close its descriptor (the other processes keep their own)."""
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        self._counts.release()
        self._map.close()
        os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd < 0


class Seat:
    """One worker's place in one listener's column; used by that listener's loop thread only.

    The loop writes its load every turn (``record``), and asks ``may_accept`` only when a
    connection is waiting.  A no sets ``waiting``: the loop then leaves the listening socket out of
    its next turn (``watch``), which lasts ``DECLINE_POLL`` s at most (else the socket, still
    readable, would wake it at once, again and again); a worker that declines nothing sleeps as
    long as it likes.
    """

    def __init__(self, share: AcceptShare, start: int, index: int) -> None:
        self._counts = share._counts
        self._mine = share._place(start, index)
        self._others = [share._place(start, i) for i in range(share.workers) if i != index]
        self._closed = False
        #: When this worker began declining waiting connections (``time.monotonic()``); 0.0 when
        #: none waits for it (the loop resets it after a turn that watched the socket and
        #: declined nothing).
        self.declining_since = 0.0
        #: The last ``may_accept`` said no: the loop's next turn leaves the socket out.
        self.waiting = False
        self._skipped = False  # this turn of the loop left the socket out (``watch``)

    def record(self, load: int | None) -> None:
        """Write *load* (this worker's connections; ``None``: it cannot accept now) into its
        place, for the others to see, and that its loop turned now."""
        if not self._closed:
            counts, mine = self._counts, self._mine
            counts[mine + _LOAD] = _EMPTY if load is None else load
            counts[mine + _LAST_TURN] = time.monotonic_ns()
            if self._closed:  # vacated meanwhile (another thread): keep the place empty
                counts[mine + _LOAD] = _EMPTY

    def watch(self) -> bool:
        """Whether the loop watches the socket this turn: not in the turn right after a decline
        (``waiting``; the loop makes that turn ``DECLINE_POLL`` s at most)."""
        self._skipped, self.waiting = self.waiting, False
        return not self._skipped

    def turn_ended(self) -> None:
        """The loop's turn is over: one that watched the socket and declined nothing means no
        connection waits for this worker, so its next decline starts a new while."""
        if not self._skipped and not self.waiting:
            self.declining_since = 0.0

    def may_accept(self, load: int) -> bool:
        """A connection waits: record *load* and say whether this worker takes it.  Yes when no
        other worker that serves holds fewer, and none that holds as many accepted longer ago;
        yes too, once, after each ``DECLINE_MAX`` s of declining."""
        if self._closed:  # this listener is stopping: the others take what waits
            self.waiting = True
            return False
        self.record(load)
        counts = self._counts
        last = counts[self._mine + _LAST_ACCEPT]
        alive_since = time.monotonic_ns() - STUCK_AFTER_NS
        turn = True
        for i in self._others:
            n = counts[i + _LOAD]
            if (
                n != _EMPTY
                and (n < load or (n == load and counts[i + _LAST_ACCEPT] < last))
                and counts[i + _LAST_TURN] > alive_since
            ):
                turn = False
                break
        if turn:
            self.declining_since = 0.0
            return True
        now = time.monotonic()
        if not self.declining_since:
            self.declining_since = now
        elif now - self.declining_since > DECLINE_MAX:
            # The others left a connection waiting this long: take one, and decline anew.
            self.declining_since = now
            return True
        self.waiting = True
        return False

    def accepted(self) -> None:
        """This worker just accepted a connection: among equals, the others go first now."""
        if not self._closed:
            self._counts[self._mine + _LAST_ACCEPT] = time.monotonic_ns()

    def open(self) -> None:
        """This listener (again) serves: ``may_accept`` records its load from now on."""
        self._closed = False

    def vacate(self) -> None:
        """This listener stops: its place is empty until ``open`` (``record`` changes nothing, and
        ``may_accept`` says no: the others take what waits).  Any thread."""
        self._closed = True
        self.declining_since = 0.0
        self.waiting = False
        self._counts[self._mine + _LOAD] = _EMPTY


def _size(workers: int) -> int:
    return _ITEM * _FIELDS * workers * len(_SCHEMES)
