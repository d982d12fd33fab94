"""Where one ``flask-launcher serve`` process spends a request: py-spy samples under h2load load.

    .venv/bin/python bench/profile_serve.py                  # 15 s of samples, ~25 s in all
    .venv/bin/python bench/profile_serve.py --seconds 30 --raw profile.txt
    .venv/bin/python bench/profile_serve.py --summarize profile.txt   # an earlier recording

It starts ``serve --workers 1`` on the tiny app (bench/tinyapp.py) as bench/throughput.py's
``ours-w1`` row does (its access log to a pipe the bench reads), loads it with h2load (HTTPS
keep-alive, ``--h1 -c 32 -t 2``), records ``py-spy record --gil --format raw`` (needs
``pip install -e '.[bench]'`` and ptrace rights: root, or ``kernel.yama.ptrace_scope=0``), and
prints where the samples fell:

* by stage: each sample goes to the innermost frame that belongs to one of the request path's
  parts (the app in Flask and werkzeug, appview, policy, the request log, the access-log
  printer, our TLS channel, ssl.py, servers.py, waitress); calls into the standard library count
  for the part that made them;
* by file and by line of the innermost frame (self time).

``--gil`` keeps the samples in which a thread held the GIL: one process serves at most as fast as
its GIL allows, so that is the time to cut.  What runs without the GIL (OpenSSL's encryption inside
``SSLSocket.send``/``recv``, the syscalls) is not in these samples; the server CPU per request that
it prints (user + system, py-spy's own pauses included) covers everything.  A sampler's attribution
is biased toward the places where threads hand the GIL over (the event loop's ``readable``/
``writable`` and ``Condition.notify`` get more samples than the code they run): read the stages as
where the GIL goes, and measure a change with bench/throughput.py ``--baseline``.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput  # bench/throughput.py, beside this file

#: (pattern of a frame, stage): the first stage whose pattern matches, innermost frame first.
STAGES = (
    (
        r"\((flask|werkzeug|blinker|jinja2|itsdangerous|markupsafe|click)/|\(tinyapp\.py",
        "the app (Flask, werkzeug)",
    ),
    (r"launcher/appview\.py", "appview (AppViewMiddleware, the probe signal)"),
    (r"waitress/proxy_headers\.py", "policy: waitress's proxy-header clearing"),
    (r"launcher/policy\.py", "policy (PolicyMiddleware)"),
    (r"launcher/recordformat\.py", "request log: access line formatting"),
    (
        r"_Task\.service \(launcher/tls\.py|launcher/accesslog\.py",
        "request log: serve's access entry (tls, accesslog)",
    ),
    (r"launcher/requestlog\.py", "request log (record, sink, subscription)"),
    (r"launcher/commands/serve\.py", "access-log printer (serve.py: print, flush)"),
    (r"launcher/remote/", "records to the parent (launcher.remote: pickle, pipe)"),
    (r"launcher/workers\.py", "records merged in the parent (launcher.workers)"),
    (r"\(ssl\.py", "ssl.py (OpenSSL calls, GIL held)"),
    (r"launcher/tls\.py", "our TLS channel (tls.py)"),
    (r"launcher/servers\.py", "servers.py (accept path, trigger, maintenance)"),
    (r"waitress/", "waitress (loop, channel, parser, task, dispatcher)"),
)
_COMPILED = tuple((re.compile(pattern), stage) for pattern, stage in STAGES)
_FILE = re.compile(r"\((.*?):\d+\)$")


def summarize(raw: str, top: int = 25) -> None:
    """Print the stage, file and line tables of a ``py-spy --format raw`` recording."""
    total = 0
    stages: collections.Counter[str] = collections.Counter()
    files: collections.Counter[str] = collections.Counter()
    lines: collections.Counter[str] = collections.Counter()
    processes: collections.Counter[str] = collections.Counter()
    with open(raw) as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            if frames[0].startswith("process "):  # py-spy --subprocesses: the process path first
                chain = [f for f in frames if f.startswith("process ")]
                processes["serve (the parent)" if len(chain) == 1 else "a worker"] += n
                frames = frames[len(chain) :]
            for frame in reversed(frames):
                stage = next((name for rx, name in _COMPILED if rx.search(frame)), None)
                if stage is not None:
                    stages[stage] += n
                    break
            else:
                stages[f"other ({frames[-1].split(' (')[0]})"] += n
            match = _FILE.search(frames[-1])
            files[match.group(1) if match else frames[-1]] += n
            lines[frames[-1]] += n
    if not total:
        raise SystemExit(f"no samples in {raw}")
    print(f"{total} samples with the GIL held")
    if processes:
        print("\nBy process:")
        for name, n in processes.most_common():
            print(f"  {n / total * 100:5.1f}%  {name}")
    print("\nBy stage (innermost frame that belongs to one):")
    for name, n in stages.most_common():
        print(f"  {n / total * 100:5.1f}%  {name}")
    print("\nBy file (self):")
    for name, n in files.most_common(top):
        print(f"  {n / total * 100:5.1f}%  {name}")
    print("\nBy line (self):")
    for name, n in lines.most_common(top):
        print(f"  {n / total * 100:5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to sample")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--raw", help="keep the raw recording in this file")
    parser.add_argument("--summarize", metavar="RAW", help="only summarize an earlier recording")
    parser.add_argument("--code", type=Path, default=throughput.ROOT, help="the launcher code to run")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="serve --workers N (above 1: every process is sampled, and the stages are per process)",
    )
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    pyspy = Path(sys.executable).with_name("py-spy")
    if not pyspy.exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    from launcher.certs import CertStore

    cert_dir = tempfile.mkdtemp(prefix="bench-certs-")
    log_dir = tempfile.mkdtemp(prefix="bench-logs-")
    for folder in (cert_dir, log_dir):  # a server's stderr is quoted when it fails to start
        atexit.register(shutil.rmtree, folder, True)
    CertStore(cert_dir).ensure()
    raw = args.raw or os.path.join(log_dir, "profile.txt")
    kind = f"ours-w{args.workers}"
    running = throughput.start_process_server(kind, cert_dir, args.code.resolve(), "pipe", log_dir)
    url = f"https://127.0.0.1:{running.port}/"
    try:
        throughput.h2load(url, 2000, False)  # warm-up
        # Enough requests to outlast the sampling at any plausible rate; stopped when it ends.
        load = subprocess.Popen(
            ["h2load", "--h1", "-n", "2000000", "-c", "32", "-t", "2", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1)
            printed = running.access_lines()
            cpu_before, _ = throughput.tree_cpu(running.proc.pid)
            started = time.monotonic()
            subprocess.run(
                [
                    *(str(pyspy), "record", "--gil", "--format", "raw", "-r", str(args.rate)),
                    *("-d", str(int(args.seconds)), "-o", raw, "-p", str(running.proc.pid)),
                    *(("--subprocesses",) if args.workers > 1 else ()),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            elapsed = time.monotonic() - started
            cpu_after, _ = throughput.tree_cpu(running.proc.pid)
            served = running.access_lines() - printed
        finally:
            load.terminate()
            load.wait(10)
    finally:
        throughput.stop_server(running)
    if served:
        print(
            f"{served} requests in {elapsed:.1f} s ({served / elapsed:.0f} req/s while sampled), "
            f"server CPU {(cpu_after - cpu_before) * 1000 / served:.3f} ms/request"
        )
    summarize(raw)
    if args.raw:
        print(f"\nraw recording: {raw}")


if __name__ == "__main__":
    main()
