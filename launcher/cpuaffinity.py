"""Each worker of a pool runs on one CPU of its own (Linux).

A worker is one Python process: its threads (the listeners' loops, their task threads, the log's
sender) take turns holding its one GIL, so together they never run Python on more than one core
at a time.  Left to the scheduler they spread over the cores anyway, and then nearly every
hand-over of the GIL wakes a thread on another core: a wake-up across cores, and that core's
caches to fill again.  Confined to one CPU, the hand-overs stay on it.  Measured on 2 cores
(``bench/throughput.py --second-worker``, 40 pairs of bursts over 8 fresh starts, docs/
benchmarks.md): ``serve --workers 2`` served 1.41× what one process serves with its workers free
to move, 1.83× with each on a CPU of its own, and used 11% less CPU per request than one process.

Worker *n* of *N* gets the CPU ``(n - 1) * len(usable) // N`` of the CPUs this process may use
(``os.sched_getaffinity``), so the workers spread evenly over them and no two share one while
there are enough.  Only the workers are pinned: the supervisor, the window and the user's other
programs move as the scheduler likes.  Where the call does not exist (macOS) or is refused (a
container's CPU set), the worker runs unpinned, as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

log = logging.getLogger("launcher.cpuaffinity")


def cpu_for(worker: int, workers: int, usable: Sequence[int]) -> int:
    """The CPU worker *worker* (1…*workers*) runs on, of the sorted *usable* CPUs."""
    cpus = sorted(usable)
    return cpus[((worker - 1) * len(cpus) // max(1, workers)) % len(cpus)]


def pin_worker(worker: int, workers: int) -> int | None:
    """Confine this process (every thread it has, and so every thread they start) to worker
    *worker*'s CPU; which one, or None where that is not possible."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    setaffinity = getattr(os, "sched_setaffinity", None)
    if getaffinity is None or setaffinity is None or worker < 1:
        return None
    try:
        cpu = cpu_for(worker, workers, list(getaffinity(0)))
        try:
            threads = [int(tid) for tid in os.listdir("/proc/self/task")]
        except OSError:  # no /proc: this thread only (the threads it starts inherit it)
            threads = [0]
        for tid in threads:
            try:
                setaffinity(tid, {cpu})
            except ProcessLookupError:  # a thread that ended since
                continue
    except (OSError, ValueError) as exc:
        log.debug("Worker %d runs on any CPU: %s", worker, exc)
        return None
    return cpu
