"""Pool the paired bursts of several ``throughput.py`` runs, with an interval for the median.

``--logging-cost`` and ``--second-worker`` print one line per pair and one per fresh start. The
pairs of one start move together (a start keeps a few percent of its own for its whole life), so
the interval here is a bootstrap over starts: starts drawn with replacement, all their pairs
taken, the median of the pairs each time; the 2.5th and 97.5th percentiles of those medians.

    .venv/bin/python bench/throughput.py --logging-cost --same-processes --pairs 64 \\
        --burst 3000 --instances 16 | tee run1.out          # (and run2.out, ...)
    .venv/bin/python bench/pool_pairs.py run1.out run2.out run3.out run4.out

``throughput.py`` prints the same interval for its own run.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
from collections.abc import Sequence

#: One pair: its requests/s ratio and its CPU-per-request change, as ``throughput.py`` prints them.
PAIR = re.compile(r"^pair\s+\d+:.*req/s ([\d.]+)x, CPU/req ([-+][\d.]+)%")

#: (CPU per request ratio, requests/s ratio) of one pair.
Pair = tuple[float, float]


def starts_from_output(text: str) -> list[list[Pair]]:
    """The pairs of each start in one run's output (a run of one start: one group)."""
    starts: list[list[Pair]] = []
    current: list[Pair] = []
    for line in text.splitlines():
        match = PAIR.match(line)
        if match:
            current.append((1 + float(match.group(2)) / 100, float(match.group(1))))
        elif line.startswith("instance ") and current:
            starts.append(current)
            current = []
    if current:
        starts.append(current)
    return starts


def bootstrap_median(
    starts: Sequence[Sequence[float]], rounds: int = 4000, seed: int = 1
) -> tuple[float, float, float]:
    """The median of all the values, and a 95% interval for it, resampling whole starts."""
    values = [v for start in starts for v in start]
    if len(starts) < 2:
        median = statistics.median(values)
        return median, median, median
    rng = random.Random(seed)
    medians = sorted(
        statistics.median([v for start in rng.choices(starts, k=len(starts)) for v in start])
        for _ in range(rounds)
    )
    return statistics.median(values), medians[int(rounds * 0.025)], medians[int(rounds * 0.975) - 1]


def intervals(starts: Sequence[Sequence[Pair]]) -> tuple[tuple[float, float, float], ...]:
    """``bootstrap_median`` of the CPU-per-request ratios, then of the requests/s ratios."""
    return tuple(bootstrap_median([[pair[i] for pair in start] for start in starts]) for i in (0, 1))


def describe(starts: Sequence[Sequence[Pair]]) -> list[str]:
    """Two lines: the pooled CPU-per-request change and requests/s ratio, each with its interval."""
    cpu, rps = intervals(starts)
    within = "95% interval over starts"
    return [
        f"  server CPU per request: {cpu[0] - 1:+.1%} ({within} {cpu[1] - 1:+.1%} to {cpu[2] - 1:+.1%})",
        f"  requests/s ratio:       {rps[0]:.3f}x ({within} {rps[1]:.3f}x to {rps[2]:.3f}x)",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("outputs", nargs="+", help="saved output of throughput.py runs")
    args = parser.parse_args(argv)
    starts: list[list[Pair]] = []
    for path in args.outputs:
        with open(path, encoding="utf-8") as fh:
            starts += starts_from_output(fh.read())
    if not starts:
        parser.error("no 'pair N: ...' lines in those files")
    pairs = sum(len(start) for start in starts)
    print(f"{len(args.outputs)} runs, {len(starts)} starts, {pairs} pairs:")
    print("\n".join(describe(starts)))


if __name__ == "__main__":
    main()
