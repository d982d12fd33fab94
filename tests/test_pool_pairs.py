"""bench/pool_pairs.py: reading throughput.py's paired bursts back, and the interval over starts."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from pool_pairs import bootstrap_median, starts_from_output

OUTPUT = """\
pair  1: a 5801 req/s 0.290 ms CPU/req; b 6196 req/s 0.282 ms CPU/req; req/s 0.94x, CPU/req +2.8%
pair  2: a 4973 req/s 0.354 ms CPU/req; b 5096 req/s 0.337 ms CPU/req; req/s 0.98x, CPU/req +5.0%
instance 1: CPU/req +3.9% (median of its pairs)
pair  3: a 5735 req/s 0.305 ms CPU/req; b 5328 req/s 0.333 ms CPU/req; req/s 1.08x, CPU/req -8.3%
instance 2: CPU/req -8.3% (median of its pairs)

Logging cost of serve --workers 2 (...):
  server CPU per request: +2.8% (quartiles -4.9% to +12.6%) (target <= 5%)
"""


def test_each_start_keeps_its_own_pairs_and_both_ratios():
    starts = starts_from_output(OUTPUT)
    assert [len(start) for start in starts] == [2, 1]
    assert starts[0][0] == (1.028, 0.94)
    assert starts[1][0] == (1 - 0.083, 1.08)


def test_the_interval_resamples_whole_starts():
    # Three in four pairs come from one start: drawn pair by pair, the median would be 1.0 in
    # nearly every draw; drawn start by start, a quarter of the draws are the other start alone.
    starts = [[1.0] * 30, [1.1] * 10]
    assert bootstrap_median(starts) == (1.0, 1.0, 1.1)
    # One start: nothing to resample, the interval is the median itself.
    assert bootstrap_median([[1.0, 1.2, 1.4]]) == (1.2, 1.2, 1.2)
