"""``launcher.acceptshare``: the table a pool's workers take turns by, here and across a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher import acceptshare
from launcher.acceptshare import DECLINE_MAX, AcceptShare
from launcher.scheme import Scheme

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(os.name != "posix", reason="worker pools inherit descriptors: POSIX only")


@pytest.fixture
def share() -> Iterator[AcceptShare]:
    made = AcceptShare.create(3)
    yield made
    made.close()


def test_a_new_table_has_every_place_empty(share):
    assert share.load(Scheme.HTTP) == [None, None, None]
    assert share.load(Scheme.HTTPS) == [None, None, None]


def test_the_least_loaded_accepts_and_each_listener_has_its_own_column(share):
    a, b, c = (share.seat(Scheme.HTTPS, i) for i in range(3))
    assert a.may_accept(5) and b.may_accept(5) and c.may_accept(5)  # none accepted yet: all may
    assert share.load(Scheme.HTTPS) == [5, 5, 5]
    assert share.load(Scheme.HTTP) == [None, None, None]
    assert not a.may_accept(6) and a.waiting  # one more than the others: their turn
    assert b.may_accept(4) and not b.waiting
    c.record(3)
    assert share.load(Scheme.HTTPS) == [6, 4, 3]
    assert share.seat(Scheme.HTTP, 0).may_accept(9)  # alone in its column


def test_among_workers_that_hold_as_many_the_one_that_accepted_longest_ago_goes_first(share):
    seats = [share.seat(Scheme.HTTPS, i) for i in range(3)]
    for i in (2, 0, 1):  # they serve, and accepted in this order
        seats[i].may_accept(2)
        seats[i].accepted()
    order = []
    for _ in range(6):  # connections one after another, each closed before the next
        turn = [i for i, seat in enumerate(seats) if seat.may_accept(2)]
        assert len(turn) == 1, turn
        order.append(turn[0])
        seats[turn[0]].accepted()
    assert order == [2, 0, 1, 2, 0, 1]


def test_a_worker_that_is_not_first_declines_and_takes_one_after_each_while_of_declining(share):
    a, b = share.seat(Scheme.HTTPS, 0), share.seat(Scheme.HTTPS, 1)
    b.record(1)
    a.record(4)
    assert not a.waiting  # holding more declines nothing while no connection waits
    assert not a.may_accept(4)
    assert a.waiting  # the loop leaves the socket out of its next turn
    a.waiting = False  # (as the loop does when that turn begins)
    time.sleep(DECLINE_MAX + 0.02)  # b never took its turn (stuck): a takes one
    assert a.may_accept(4) and not a.waiting
    assert not a.may_accept(5) and a.waiting  # and declines again for a while
    time.sleep(DECLINE_MAX + 0.02)
    assert a.may_accept(5)
    assert not b.may_accept(6)  # now b holds more: its turn to decline
    assert a.may_accept(5) and a.declining_since == 0.0  # a is first again
    assert not a.may_accept(7)  # and declining starts anew (nothing left over from before)


def test_an_empty_place_is_not_waited_for_and_a_vacated_seat_records_nothing_until_opened(share):
    a, b = share.seat(Scheme.HTTPS, 0), share.seat(Scheme.HTTPS, 1)
    assert b.may_accept(1) and not a.may_accept(3)
    b.vacate()  # its listener stopped
    assert share.load(Scheme.HTTPS)[1] is None
    b.record(0)
    assert not b.may_accept(0) and b.waiting  # a stopping seat takes nothing more, writes nothing
    assert share.load(Scheme.HTTPS)[1] is None
    assert a.may_accept(3)
    b.open()
    assert b.may_accept(1) and share.load(Scheme.HTTPS)[1] == 1
    share.vacate(1)  # the pool saw that worker die
    assert a.may_accept(30)


def test_a_worker_that_cannot_accept_or_whose_loop_stopped_turning_is_not_waited_for(share, monkeypatch):
    a, b = share.seat(Scheme.HTTPS, 0), share.seat(Scheme.HTTPS, 1)
    b.record(None)  # paused (no descriptor free): its place says so
    assert share.load(Scheme.HTTPS)[1] is None
    assert a.may_accept(9)
    monkeypatch.setattr(acceptshare, "STUCK_AFTER_NS", 50_000_000)
    b.record(1)
    assert not a.may_accept(4)
    time.sleep(0.08)  # b's loop has not turned since
    assert a.may_accept(4)
    b.record(1)  # it turns again
    assert not a.may_accept(5)


def test_a_place_out_of_range_is_refused(share):
    with pytest.raises(ValueError):
        share.seat(Scheme.HTTP, 3)
    with pytest.raises(ValueError):
        AcceptShare.create(0)


def test_a_worker_process_writes_its_load_through_the_descriptor_it_inherited(share):
    code = (
        "import sys; from launcher.acceptshare import AcceptShare; from launcher.scheme import Scheme\n"
        "share = AcceptShare.attach(int(sys.argv[1]), 3)\n"
        "seat = share.seat(Scheme.HTTPS, 2)\n"
        "print(seat.may_accept(7), seat.may_accept(12))\n"
    )
    share.seat(Scheme.HTTPS, 0).may_accept(10)
    done = subprocess.run(
        [sys.executable, "-c", code, str(share.fileno())],
        pass_fds=(share.fileno(),),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]  # it saw this process's 10
    assert share.load(Scheme.HTTPS) == [10, None, 12]  # and this process sees its 12
