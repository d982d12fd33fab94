"""Soak: HTTPS keep-alive load for minutes while hostile clients attack both ports.

    .venv/bin/python bench/soak.py                   # 3 minutes
    .venv/bin/python bench/soak.py --minutes 0.5     # a quick look
    .venv/bin/python bench/soak.py --ulimit 1024     # the server under the common default fd limit

What runs, all on 127.0.0.1 and all bounded in count and time:

- the server: ``flask-launcher serve`` as users run it (its own process, the bundled demo app,
  its access log written to a file), on free ports;
- load: h2load (Debian's ``nghttp2-client``) ``--h1 -c 32 -t 1`` keep-alive on ``https://…/``,
  restarted in a loop until the time is up;
- attacks, each in its own thread, for the whole load phase:
  * TLS garbage: 20 connections a second to the HTTPS port sending random bytes, a truncated
    ClientHello, or a ClientHello on the HTTP port;
  * slow clients: 100 per port that send a request's headers one byte every 2 s (slowloris),
    reconnecting when the server closes them;
  * connection floods: every 10 s, 300 connections opened at once to each port and closed;
- a probe: every second a fresh HTTPS connection (verified against the CA) asks for ``/`` and
  its latency is recorded.

It prints requests served, non-2xx and failed load requests, the probe's latencies (median,
p99, max, failures), and the server's RSS, open descriptors and threads before the attacks,
at their peak during them, after they stop (15 s to settle), and RSS over the last minute.
Targets: 0 failed load requests; every probe answered in under 1 s; descriptors and threads
back to their baseline; RSS flat over the last minute.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ATTACK_TLS_PER_S = 20
SLOW_PER_PORT = 100
SLOW_BYTE_EVERY_S = 2.0
FLOOD_EVERY_S = 10.0
FLOOD_SIZE = 300
PROBE_EVERY_S = 1.0
SETTLE_S = 15.0
SAMPLE_EVERY_S = 2.0


@dataclass
class Stats:
    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    non_2xx: int = 0
    probes: list[float] = field(default_factory=list)
    probe_failures: list[str] = field(default_factory=list)
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)  # t, rss KiB, fds, threads
    attack_counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.attack_counts[name] = self.attack_counts.get(name, 0) + n


def proc_stats(pid: int) -> tuple[int, int, int]:
    """(RSS in KiB, open descriptors, threads) of *pid*, from /proc."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


def start_server(workdir: Path, ulimit: int | None) -> tuple[subprocess.Popen[str], int, int, Path, Path]:
    """``flask-launcher serve`` on free ports; (process, http port, https port, CA, access log)."""
    access_log = workdir / "access.log"
    limit = None if ulimit is None else (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (ulimit, ulimit)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", "serve", "--http-port", "0", "--https-port", "0",
         "--cert-dir", str(workdir / "certs")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(workdir / "stderr.log", "w"),  # noqa: SIM115 - lives as long as the server
        text=True,
        preexec_fn=limit,
    )
    assert proc.stdout is not None
    ports: dict[str, int] = {}
    ca = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"serve ended early: {(workdir / 'stderr.log').read_text()}")
        match = re.match(r"(https?)://[^:]+:(\d+)/", line)
        if match:
            ports[match.group(1)] = int(match.group(2))
        if line.startswith("CA certificate: "):
            ca = Path(line.removeprefix("CA certificate: ").strip())
            break
    if ca is None or len(ports) != 2:
        raise SystemExit("serve did not print its banner")
    # From here on its access log goes to a file, as a user's terminal would take it.
    threading.Thread(target=_drain, args=(proc.stdout, access_log), daemon=True).start()
    return proc, ports["http"], ports["https"], ca, access_log


def _drain(stream: object, path: Path) -> None:
    with open(path, "w") as out:
        for line in stream:  # type: ignore[attr-defined]
            out.write(line)


def run_load(url: str, until: float, stats: Stats) -> None:
    """h2load keep-alive on *url*, restarted until *until*; totals into *stats*."""
    while time.monotonic() < until - 2:
        out = subprocess.run(
            ["h2load", "--h1", "-n", "20000", "-c", "32", "-t", "1", url],
            capture_output=True,
            text=True,
            timeout=max(10.0, until - time.monotonic() + 30),
        ).stdout
        done = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", out)
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        if done is None or codes is None:
            stats.failed += 20000
            continue
        stats.requests += int(done.group(1))
        stats.succeeded += int(done.group(2))
        stats.failed += int(done.group(3))
        stats.non_2xx += sum(int(codes.group(i)) for i in (2, 3, 4))


def tls_garbage(http_port: int, https_port: int, stop: threading.Event, stats: Stats) -> None:
    hello_start = bytes.fromhex("160301020001")  # a record header and the start of a ClientHello
    while not stop.is_set():
        kind = random.choice(("random", "truncated", "hello-on-http"))
        port = http_port if kind == "hello-on-http" else https_port
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if kind == "random":
                    sock.sendall(os.urandom(random.randint(1, 600)))
                elif kind == "truncated":
                    sock.sendall(hello_start + os.urandom(40))
                else:
                    sock.sendall(hello_start + os.urandom(200))
                sock.settimeout(0.2)
                try:
                    sock.recv(1024)
                except OSError:
                    pass
            stats.count(f"tls-garbage ({kind})")
        except OSError:
            stats.count("tls-garbage refused")
        stop.wait(1 / ATTACK_TLS_PER_S)


def slow_clients(port: int, stop: threading.Event, stats: Stats) -> None:
    """SLOW_PER_PORT connections trickling a request's headers; reopened when the server closes one."""
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nX-Pad: " + b"a" * 4000
    conns: dict[socket.socket, int] = {}
    while not stop.is_set():
        while len(conns) < SLOW_PER_PORT and not stop.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                sock.setblocking(False)
                conns[sock] = 0
                stats.count("slow-client connections")
            except OSError:
                stats.count("slow-client refused")
                break
        for sock, sent in list(conns.items()):
            try:
                sock.send(request[sent : sent + 1])
                conns[sock] = sent + 1 if sent + 1 < len(request) else 0
            except BlockingIOError:
                pass  # the server reads nothing from it: its buffer is full
            except OSError:  # closed by the server (header deadline): counted, reopened
                sock.close()
                del conns[sock]
                stats.count("slow-client closed by the server")
        stop.wait(SLOW_BYTE_EVERY_S)
    for sock in conns:
        sock.close()


def floods(ports: tuple[int, int], stop: threading.Event, stats: Stats) -> None:
    while not stop.wait(FLOOD_EVERY_S):
        for port in ports:
            opened = []
            for _ in range(FLOOD_SIZE):
                try:
                    opened.append(socket.create_connection(("127.0.0.1", port), timeout=2))
                except OSError:
                    stats.count("flood refused")
            stats.count("flood connections", len(opened))
            for sock in opened:
                sock.close()


def probe(url: str, ca: Path, stop: threading.Event, stats: Stats) -> None:
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cafile=str(ca))
    while not stop.is_set():
        started = time.monotonic()
        try:
            conn = http.client.HTTPSConnection("localhost", parts.port, context=context, timeout=5)
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status != 200:
                raise OSError(f"status {resp.status}")
            stats.probes.append(time.monotonic() - started)
        except (OSError, http.client.HTTPException) as exc:
            stats.probe_failures.append(f"{time.strftime('%H:%M:%S')} {type(exc).__name__}: {exc}")
        stop.wait(max(0.0, PROBE_EVERY_S - (time.monotonic() - started)))


def sampler(pid: int, stop: threading.Event, stats: Stats) -> None:
    while not stop.wait(SAMPLE_EVERY_S):
        try:
            stats.samples.append((time.monotonic(), *proc_stats(pid)))
        except OSError:
            return


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="load and attack time (default 3)")
    parser.add_argument("--ulimit", type=int, help="start the server with this file-descriptor limit")
    args = parser.parse_args()
    if not shutil.which("h2load"):
        raise SystemExit("h2load is missing: sudo apt-get install -y nghttp2-client")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the attackers' own sockets
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    proc, http_port, https_port, ca, access_log = start_server(workdir, args.ulimit)
    stats = Stats()
    url = f"https://127.0.0.1:{https_port}/"
    try:
        # Warm-up and baseline: a short load, then a quiet moment.
        subprocess.run(["h2load", "--h1", "-n", "2000", "-c", "32", "-t", "1", url], capture_output=True)
        time.sleep(3)
        before = proc_stats(proc.pid)
        seconds = args.minutes * 60
        stop = threading.Event()
        started = time.monotonic()
        until = started + seconds
        threads = [
            threading.Thread(target=tls_garbage, args=(http_port, https_port, stop, stats), daemon=True),
            threading.Thread(target=slow_clients, args=(http_port, stop, stats), daemon=True),
            threading.Thread(target=slow_clients, args=(https_port, stop, stats), daemon=True),
            threading.Thread(target=floods, args=((http_port, https_port), stop, stats), daemon=True),
            threading.Thread(target=probe, args=(url, ca, stop, stats), daemon=True),
            threading.Thread(target=sampler, args=(proc.pid, stop, stats), daemon=True),
        ]
        for thread in threads:
            thread.start()
        run_load(url, until, stats)
        while time.monotonic() < until:
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(15)
        time.sleep(SETTLE_S)
        after = proc_stats(proc.pid)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    report(args, stats, before, after, alive, seconds, started, workdir, access_log, soft)
    shutil.rmtree(workdir, ignore_errors=True)
    ok = (
        alive
        and stats.failed == 0
        and not stats.probe_failures
        and max(stats.probes, default=9) < 1.0
        and after[1] <= before[1] + 2
        and after[2] <= before[2]
    )
    return 0 if ok else 1


def report(
    args: argparse.Namespace,
    stats: Stats,
    before: tuple[int, int, int],
    after: tuple[int, int, int],
    alive: bool,
    seconds: float,
    started: float,
    workdir: Path,
    access_log: Path,
    soft: int,
) -> None:
    limit = args.ulimit if args.ulimit else f"inherited ({soft})"
    print(f"Soak: {seconds / 60:g} min of HTTPS keep-alive load (h2load --h1 -c 32) with attacks; "
          f"server fd limit {limit}")  # fmt: skip
    print(f"  load:    {stats.requests:,} requests, {stats.succeeded:,} succeeded, {stats.failed:,} failed, "
          f"{stats.non_2xx:,} non-2xx ({stats.requests / seconds:,.0f} req/s)")  # fmt: skip
    probes = sorted(stats.probes)
    if probes:
        p99 = probes[min(len(probes) - 1, int(len(probes) * 0.99))]
        median = statistics.median(probes) * 1000
        print(f"  probe:   {len(probes)} fresh HTTPS requests during the attacks: median {median:.0f} ms, "
              f"p99 {p99 * 1000:.0f} ms, max {probes[-1] * 1000:.0f} ms; "
              f"{len(stats.probe_failures)} failed")  # fmt: skip
    for failure in stats.probe_failures[:5]:
        print(f"           failed: {failure}")
    print("  attacks: " + ", ".join(f"{name} {n:,}" for name, n in sorted(stats.attack_counts.items())))
    peak = max(stats.samples, key=lambda s: s[2], default=(0, 0, 0, 0))
    print(f"  server:  before RSS {before[0] / 1024:.0f} MiB, {before[1]} fds, {before[2]} threads; "
          f"peak during {max((s[1] for s in stats.samples), default=0) / 1024:.0f} MiB, {peak[2]} fds, "
          f"{max((s[3] for s in stats.samples), default=0)} threads; "
          f"after {after[0] / 1024:.0f} MiB, {after[1]} fds, {after[2]} threads; "
          f"{'still serving' if alive else 'DIED'}")  # fmt: skip
    last = [s[1] for s in stats.samples if s[0] >= started + seconds - 60]
    if last:
        print(f"  RSS over the last minute: {min(last) / 1024:.0f}–{max(last) / 1024:.0f} MiB")
    stderr = (workdir / "stderr.log").read_text(errors="replace").splitlines()
    logged = access_log.read_text(errors="replace").count("\n")
    print(f"  stderr:  {len(stderr)} lines ({sum('Traceback' in line for line in stderr)} tracebacks); "
          f"access log: {logged:,} lines")  # fmt: skip
    for line in stderr[:8]:
        print(f"           {line[:160]}")


if __name__ == "__main__":
    sys.exit(main())
