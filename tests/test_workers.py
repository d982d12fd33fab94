"""``serve --workers N`` and ``launcher.workers.WorkerPool``: real processes, real sockets, real TLS.

The workers accept from one shared socket per port, taking turns by the connections each holds
(``launcher.acceptshare``); requests over new connections one after another reach both workers
(whichever wakes first takes a connection when they hold as many).
"""

from __future__ import annotations

import http.client
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nethelpers import freeze, process_alive, refuses, wait_for

from launcher.apptarget import AppTarget
from launcher.certs import CertStore
from launcher.errors import PortInUseError
from launcher.requestlog import RequestSink
from launcher.scheme import Scheme
from launcher.workers import RecordMerger, WorkerPool

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(os.name != "posix", reason="worker pools inherit sockets: POSIX only")


class Served:
    """A ``flask-launcher serve`` process, its output read into lists by two threads."""

    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "serve", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: Ctrl+C can be sent to it alone
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=_collect, args=(stream, lines), daemon=True).start()
        self.urls: dict[str, str] = {}
        self.ca: Path | None = None

    def banner(self, timeout: float = 30) -> Served:
        def ready() -> bool:
            return self.proc.poll() is not None or any(x.startswith("CA certificate:") for x in self.out)

        wait_for(ready, timeout, "the banner")
        assert self.proc.poll() is None, "".join(self.err)
        for line in self.out:
            if " listening" in line:
                url = line.split()[0]
                self.urls[url.split(":")[0]] = url
            elif line.startswith("CA certificate: "):
                self.ca = Path(line.removeprefix("CA certificate: ").strip())
        return self

    @property
    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def access_lines(self) -> list[str]:
        return [line for line in list(self.out) if line.startswith("[")]

    def workers(self) -> list[int]:
        return server_processes(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM) -> float:
        """Signal it; the seconds until it exited (asserts exit code 0)."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(15)
        took = time.monotonic() - start
        assert code == 0, "".join(self.err)
        return took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _collect(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def server_processes(parent: int) -> list[int]:
    """The pids of the ``_server-process`` children of *parent*."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"_server-process" in cmdline:
            found.append(int(entry))
    return sorted(found)


def fetch(url: str, context: ssl.SSLContext | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """GET over a new connection (no redirects followed)."""
    request = urllib.request.Request(url, headers={"Connection": "close"})
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    made: list[Served] = []
    yield made
    for item in made:
        item.kill()


def start(served: list[Served], tmp_path: Path, *args: str, cwd: Path = ROOT) -> Served:
    item = Served(
        "--http-port", "0", "--https-port", "0", "--cert-dir", str(tmp_path / "certs"), *args, cwd=cwd
    )
    served.append(item)
    return item.banner()


# --- serve --workers ------------------------------------------------------------------------------


def test_two_workers_serve_both_ports_and_log_every_request_once_with_its_worker(served, tmp_path):
    item = start(served, tmp_path, "--workers", "2")
    assert len(item.workers()) == 2
    ctx = item.context
    for _ in range(40):
        assert fetch(item.urls["https"], ctx)[0] == 200
    for _ in range(10):
        assert fetch(item.urls["http"])[0] == 200
    wait_for(lambda: len(item.access_lines()) >= 50, 10, "50 access lines")
    time.sleep(0.4)  # anything more would be a duplicate
    lines = item.access_lines()
    assert len(lines) == 50, lines
    assert sum(' https "GET / HTTP/1.1" 200 ' in line for line in lines) == 40
    workers = {line.rsplit(" ", 1)[1].strip() for line in lines}
    assert workers == {"w1", "w2"}, lines
    clocks = [line[1:9] for line in lines]
    assert clocks == sorted(clocks)  # one log, in time order
    assert item.stop() < 5
    assert "Traceback" not in "".join(item.err)


def test_auto_is_one_worker_per_usable_core(served, tmp_path):
    item = start(served, tmp_path, "--workers", "auto", "--no-http")
    expected = len(os.sched_getaffinity(0))
    if expected == 1:
        assert item.workers() == []  # one core: one process, as without --workers
    else:
        assert len(item.workers()) == expected


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl+C"])
def test_stops_within_a_second_with_keep_alive_clients_and_leaves_no_process(served, tmp_path, how):
    item = start(served, tmp_path, "--workers", "2")
    workers = item.workers()
    assert len(workers) == 2
    port = int(item.urls["https"].rsplit(":", 1)[1].strip("/"))
    clients = []
    for _ in range(12):  # keep-alive: each holds its connection open after its response
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=item.context, timeout=10)
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        assert response.status == 200 and not response.will_close
        clients.append(conn)
    begin = time.monotonic()
    if how == "SIGTERM":
        item.proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(item.proc.pid, signal.SIGINT)  # what the terminal does on Ctrl+C
    assert item.proc.wait(15) == 0, "".join(item.err)
    took = time.monotonic() - begin
    assert took < 1.2, f"took {took:.2f} s"
    assert not [pid for pid in workers if process_alive(pid)]
    assert refuses(port)
    assert "Traceback" not in "".join(item.err)
    for conn in clients:
        conn.close()


def test_a_worker_that_dies_is_started_again_and_the_others_keep_serving(served, tmp_path):
    item = start(served, tmp_path, "--workers", "2")
    first = item.workers()
    os.kill(first[0], signal.SIGKILL)
    # Meanwhile the other worker serves.
    for _ in range(10):
        assert fetch(item.urls["https"], item.context)[0] == 200
    wait_for(lambda: any("is serving again" in line for line in item.err), 20, "the worker's restart")
    notices = [line for line in item.err if line.startswith("notice: worker")]
    assert "exited unexpectedly (exit code -9): starting it again in 0.5 s" in notices[0], notices
    now = item.workers()
    assert len(now) == 2 and first[0] not in now and first[1] in now
    for _ in range(30):
        assert fetch(item.urls["https"], item.context)[0] == 200
    assert "Traceback" not in "".join(item.err)


def test_workers_stop_when_the_supervisor_is_killed(served, tmp_path):
    item = start(served, tmp_path, "--workers", "2")
    workers = item.workers()
    port = int(item.urls["http"].rsplit(":", 1)[1].strip("/"))
    item.proc.kill()
    item.proc.wait(5)
    wait_for(lambda: not [pid for pid in workers if process_alive(pid)], 10, "the orphaned workers to stop")
    assert refuses(port)


def test_reload_restarts_every_worker_and_a_broken_save_keeps_them_serving(served, tmp_path):
    app_dir = tmp_path / "project"
    app_dir.mkdir()
    source = app_dir / "hello.py"
    template = (
        "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return {!r}\n"
    )
    source.write_text(template.format("v1"))
    item = start(served, tmp_path, "--workers", "2", "--reload", "--app", "hello:app", cwd=app_dir)
    before = item.workers()
    assert fetch(item.urls["https"], item.context) == (200, b"v1")
    time.sleep(0.05)  # a new mtime
    source.write_text(template.format("v2"))
    wait_for(lambda: any(line.startswith("reloaded:") for line in item.out), 30, "the reload")
    assert {fetch(item.urls["https"], item.context)[1] for _ in range(30)} == {b"v2"}
    wait_for(lambda: not set(before) & set(item.workers()), 10, "the old workers to retire")
    assert len(item.workers()) == 2
    source.write_text("def broken(:\n")
    wait_for(lambda: any(line.startswith("error: reload failed") for line in item.out), 30, "the failure")
    time.sleep(1.0)
    assert sum(line.startswith("error: reload failed") for line in item.out) == 1
    assert {fetch(item.urls["https"], item.context)[1] for _ in range(20)} == {b"v2"}
    assert len(item.workers()) == 2
    assert item.stop() < 5


def test_a_port_in_use_is_one_line_and_no_worker_starts(tmp_path):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "launcher", "serve", "--workers", "2", "--http-port", "0",
             "--https-port", str(port), "--cert-dir", str(tmp_path / "certs")],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        holder.close()
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "already in use" in lines[0], proc.stderr


def test_an_app_that_fails_to_import_is_reported_once(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "launcher", "serve", "--workers", "2", "--http-port", "0", "--https-port",
         "0", "--cert-dir", str(tmp_path / "certs"), "--app", "import_error_app:app"],
        cwd=ROOT / "tests" / "apps", capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


# --- WorkerPool in this process ---------------------------------------------------------------------


def two_workers(tmp_path: Path, target: AppTarget | None = None, **options: Any) -> WorkerPool:
    """A pool of two workers on ports 0, its certificates in ``tmp_path/certs``."""
    store = CertStore(tmp_path / "certs")
    return WorkerPool(cert_store=store, workers=2, http_port=0, https_port=0, target=target, **options)


def app_in_project(tmp_path: Path, module: str, text: str) -> tuple[Path, AppTarget]:
    """``tmp_path/project/<module>.py`` holding *text*, and the target ``<module>:app`` there."""
    project = tmp_path / "project"
    project.mkdir()
    source = project / f"{module}.py"
    source.write_text(text)
    return source, AppTarget(target=f"{module}:app", chdir=project)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[WorkerPool]:
    made = two_workers(tmp_path, sink=RequestSink())
    yield made
    made.close()


def pool_context(pool: WorkerPool) -> ssl.SSLContext:
    """A client context that trusts *pool*'s CA."""
    return ssl.create_default_context(cafile=pool.cert_store.ca_cert_path)


def load_from_four_threads(pool: WorkerPool) -> None:
    """60 HTTPS GETs, 15 from each of 4 threads at once; every one answered 200."""
    ctx = pool_context(pool)
    statuses: list[int] = []

    def load() -> None:
        for _ in range(15):
            statuses.append(fetch(pool.https.url, ctx)[0])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * 60


def test_the_merged_log_is_in_time_order_with_both_workers(pool):
    assert pool.start_all() == []
    load_from_four_threads(pool)
    wait_for(lambda: len(pool.sink.snapshot()) >= 60, 10, "60 records")
    records = pool.sink.snapshot()
    assert len(records) == 60
    finished = [r.time + r.duration_ms / 1000 for r in records]
    assert finished == sorted(finished)
    assert {r.worker for r in records} == {1, 2}
    assert len({r.seq for r in records}) == 60  # numbered apart


def test_a_pool_that_prints_gets_merged_access_lines_from_both_workers_and_no_records(pool):
    written: list[str] = []
    pool.print_access_lines(written.append)
    assert pool.start_all() == []
    load_from_four_threads(pool)
    wait_for(lambda: "".join(written).count("\n") >= 60, 10, "60 access lines")
    time.sleep(0.4)  # anything more would be a duplicate
    lines = "".join(written).splitlines()
    assert len(lines) == 60
    assert all(' https "GET / HTTP/1.1" 200 ' in line for line in lines), lines
    assert {line.rsplit(" ", 1)[1] for line in lines} == {"w1", "w2"}
    assert pool.sink.snapshot() == [] and pool.sink.total == 0  # the lines were all it needed


def test_a_pool_that_prints_gets_its_lines_in_batches_of_200_ms(pool):
    """Each batch wakes a worker's sender and the supervisor, whatever its size: under a steady
    load each worker sends its lines at most every ``LINES_BATCH_SECONDS`` (0.2 s; records: every
    0.05), and the merger writes them as often.  The first line after a quiet spell is not held
    for a batch: it comes out once the merge delay (0.35 s) is over."""
    batches: list[int] = []
    put_lines = pool._merger.put_lines

    def counted(lines, events):  # type: ignore[no-untyped-def]
        batches.append(len(lines))
        put_lines(lines, events)

    pool._merger.put_lines = counted  # type: ignore[method-assign]
    written: list[str] = []
    pool.print_access_lines(written.append)
    assert pool.start_all() == []
    ctx = pool_context(pool)
    time.sleep(0.5)  # quiet
    asked = time.monotonic()
    assert fetch(pool.https.url, ctx)[0] == 200
    wait_for(lambda: written, 10, "the first access line")
    waited = time.monotonic() - asked
    assert 0.3 <= waited < 1.5, waited  # held to merge in order (0.35 s), then the next flush

    batches.clear()
    written.clear()
    started = time.monotonic()
    served = 0
    while time.monotonic() - started < 2.0:  # a request every ~10 ms, over new connections
        assert fetch(pool.https.url, ctx)[0] == 200
        served += 1
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    wait_for(lambda: "".join(written).count("\n") >= served, 10, f"{served} access lines")
    assert sum(batches) == served
    # Every 100 ms would be about 2 x 20 batches here, and 20 writes.
    assert len(batches) <= 2 * (elapsed / 0.2 + 3), (len(batches), elapsed)
    assert len(written) <= elapsed / 0.2 + 6, (len(written), elapsed)


def allowed_cpus(pid: int) -> set[str]:
    """The CPU lists (``Cpus_allowed_list``) of every thread of process *pid*."""
    lists = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as fh:
            lists |= {line.split()[1] for line in fh if line.startswith("Cpus_allowed_list:")}
    return lists


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_each_worker_runs_every_thread_on_one_cpu_of_its_own(pool):
    assert pool.start_all() == []
    ctx = pool_context(pool)
    for _ in range(4):  # the listeners' threads are running
        assert fetch(pool.https.url, ctx)[0] == 200
    usable = sorted(os.sched_getaffinity(0))
    pinned = [allowed_cpus(pid) for pid in sorted(pool.pids)]
    assert len(pinned) == 2
    for lists in pinned:  # one CPU for every thread of the worker, one this process may use
        assert len(lists) == 1 and lists <= {str(cpu) for cpu in usable}, pinned
    if len(usable) >= 2:  # and not the other worker's
        assert pinned[0] != pinned[1], pinned
    # The supervisor is not pinned.
    assert allowed_cpus(os.getpid()) != pinned[0] or len(usable) == 1


def test_workers_spread_evenly_over_the_usable_cpus():
    from launcher.cpuaffinity import cpu_for

    assert [cpu_for(n, 2, [0, 1]) for n in (1, 2)] == [0, 1]
    assert [cpu_for(n, 2, [3, 1, 2, 0]) for n in (1, 2)] == [0, 2]  # not two neighbours of four
    assert [cpu_for(n, 4, [0, 1]) for n in (1, 2, 3, 4)] == [0, 0, 1, 1]  # more workers than CPUs
    assert [cpu_for(n, 3, [5]) for n in (1, 2, 3)] == [5, 5, 5]


def test_the_merger_writes_access_lines_in_the_order_the_requests_finished():
    merger = RecordMerger(RequestSink(), delay=60)  # nothing is due before flush(None)
    written: list[str] = []
    merger.write_lines = written.append
    try:
        merger.put_lines([(10.0, "a w1"), (12.0, "c w1"), (14.0, "e w1")], [])
        merger.put_lines([(11.0, "b w2"), (13.0, "d w2")], [])
        assert merger.flush(12.5) == 3
        assert merger.flush(None) == 2
    finally:
        merger.close()
    assert written == ["a w1\nb w2\nc w1\n", "d w2\ne w1\n"]


def test_live_policy_changes_reach_every_worker(pool):
    assert pool.start_all() == []
    pool.policy.update(redirect_https=308, hsts=600)
    pool.policy.sync()
    statuses = {fetch(pool.http.url)[0] for _ in range(30)}
    assert statuses == {308}
    wait_for(lambda: len(pool.sink.snapshot()) >= 30, 10, "30 records")
    assert {r.worker for r in pool.sink.snapshot() if r.status == 308} == {1, 2}
    ctx = pool_context(pool)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx))
    for _ in range(10):
        with opener.open(pool.https.url, timeout=10) as resp:
            assert resp.headers["Strict-Transport-Security"] == "max-age=600"
    pool.policy.redirect_https = None
    pool.policy.sync()
    assert {fetch(pool.http.url)[0] for _ in range(20)} == {200}


def test_stopping_a_listener_frees_its_port_and_starting_it_again_serves(pool):
    assert pool.start_all() == []
    http_port = pool.http.port
    pids = pool.pids
    pool.http.stop()
    assert refuses(http_port)  # the workers let go of it too: refused, not queued
    assert fetch(pool.https.url, pool_context(pool))[0] == 200
    assert pool.pids == pids
    pool.http.start()
    assert pool.http.running
    assert {fetch(pool.http.url)[0] for _ in range(10)} == {200}
    assert len(pool.pids) == 2


def test_while_a_worker_that_keeps_dying_is_down_the_others_take_every_new_connection(pool):
    """A dead worker with a long back-off leaves its place empty: no new connection waits out the
    back-off for it (the others do not leave it its turn); it serves again on the same ports."""
    notices: list[str] = []
    pool.on_notice = notices.append
    assert pool.start_all() == []
    ports = (pool.https.port, pool.http.port)
    for slot in pool._slots:
        slot.backoff = 4.0  # as after two quick deaths; long enough to see whether anything waits
    victim = pool.pids[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: any("exited unexpectedly" in n for n in notices), 10, "the supervisor to notice")
    ctx = pool_context(pool)
    begin = time.monotonic()
    statuses = []
    for _ in range(20):  # new connections, one after another
        statuses.append(fetch(pool.https.url, ctx, timeout=2.0)[0])
        statuses.append(fetch(pool.http.url, timeout=2.0)[0])
    assert statuses == [200] * 40
    assert time.monotonic() - begin < 4.0  # all of it before the new worker could have helped
    assert victim not in pool.pids and len(pool.pids) == 1
    wait_for(lambda: any("is serving again" in n for n in notices), 20, "the new worker")
    assert (pool.https.port, pool.http.port) == ports and len(pool.pids) == 2
    before = pool.sink.total
    load_from_four_threads(pool)
    wait_for(lambda: pool.sink.total >= before + 60, 10, "60 more records")
    assert {r.worker for r in pool.sink.snapshot()[-60:]} == {1, 2}  # the new one takes its share


def keep_alive_requests(pool: WorkerPool, count: int) -> list[http.client.HTTPSConnection]:
    """*count* HTTPS connections opened at once (from as many threads), each left open after one
    GET answered 200 (the caller closes them)."""
    ctx = pool_context(pool)
    conns = [
        http.client.HTTPSConnection("127.0.0.1", pool.https.port, context=ctx, timeout=10)
        for _ in range(count)
    ]
    statuses: list[int] = []
    go = threading.Barrier(count)

    def one(conn: http.client.HTTPSConnection) -> None:
        go.wait(10)
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)

    threads = [threading.Thread(target=one, args=(conn,)) for conn in conns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * count
    return conns


def test_keep_alive_connections_opened_at_once_are_split_evenly_over_the_workers(pool):
    """Of 40 connections opened at once, each worker holds as many, two more at most: a client
    that opens them all at once (a load test, a browser) gets every core, not a split left to
    chance (by address hash, a split as even as this comes about one time in three).  When they
    close, the workers' places in the share say so."""
    assert pool.start_all() == []
    conns = keep_alive_requests(pool, 40)
    try:
        wait_for(lambda: len(pool.sink.snapshot()) >= 40, 10, "40 records")
        per_worker = [sum(1 for r in pool.sink.snapshot() if r.worker == n) for n in (1, 2)]
        assert abs(per_worker[0] - per_worker[1]) <= 2, per_worker
        share = pool._share
        assert share is not None and sum(n or 0 for n in share.load(Scheme.HTTPS)) >= 40
    finally:
        for conn in conns:
            conn.close()
    wait_for(lambda: share.load(Scheme.HTTPS) == [2, 2], 10, "the places to show the connections closed")


def test_a_stuck_worker_does_not_leave_new_connections_waiting_for_its_turn(pool):
    """A worker that stops running (SIGSTOP) keeps its place and a load that says it is its turn;
    the other declines for a while, then takes the connections anyway: each is answered within
    about ``DECLINE_MAX`` (0.25 s), none waits for the stuck worker."""
    assert pool.start_all() == []
    keep = keep_alive_requests(pool, 2)  # one each: equal loads, so each new one is a turn's question
    stuck, other = pool.pids
    freeze(stuck)
    try:
        ctx = pool_context(pool)
        begin = time.monotonic()
        statuses = [fetch(pool.https.url + "?while-stuck", ctx, timeout=10.0)[0] for _ in range(4)]
        took = time.monotonic() - begin
    finally:
        os.kill(stuck, signal.SIGCONT)
        for conn in keep:
            conn.close()
    assert statuses == [200] * 4
    assert took < 8.0, took  # waiting for the stuck one would have timed out (10 s each)

    def while_stuck() -> list[int]:
        return [r.worker for r in pool.sink.snapshot() if "while-stuck" in r.query]

    wait_for(lambda: len(while_stuck()) == 4, 10, "the 4 records")
    number = next(n for n, d in pool.diagnostics()["workers"].items() if d["pid"] == other)
    assert set(while_stuck()) == {int(number)}


def test_a_port_in_use_is_typed_and_leaves_nothing_running(tmp_path):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        pool = WorkerPool(
            cert_store=CertStore(tmp_path), workers=2, http_port=holder.getsockname()[1], https_port=0
        )
        try:
            with pytest.raises(PortInUseError):
                pool.http.start()
            assert pool.http.error and "already in use" in pool.http.error
            assert pool.pids == []
        finally:
            pool.close()
    finally:
        holder.close()


def test_the_pool_serves_the_users_app_in_every_worker(tmp_path):
    pool = two_workers(tmp_path, AppTarget(target="modapp:app", chdir=ROOT / "tests" / "apps"))
    try:
        assert pool.start_all() == []
        bodies = {fetch(pool.http.url)[1] for _ in range(20)}
        assert len(bodies) == 1 and b"flaskapp" not in next(iter(bodies)).lower()
        assert getattr(pool.app, "import_name", "") == "modapp"
    finally:
        pool.close()


def test_once_new_workers_are_in_no_connection_reaches_the_old_code(tmp_path):
    app_text = "from flask import Flask\napp = Flask(__name__)\napp.add_url_rule('/', 'v', lambda: '{}')\n"
    source, target = app_in_project(tmp_path, "versioned", app_text.format("v1"))
    pool = two_workers(tmp_path, target)
    try:
        assert pool.start_all() == []
        # Browsers keep connections open: several, so both old workers hold some.
        kept = [http.client.HTTPConnection("127.0.0.1", pool.http.port, timeout=5) for _ in range(6)]
        for conn in kept:
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"v1"
        source.write_text(app_text.format("v2"))
        pool.replace_workers()
        # Reported done: a request on a connection kept from before, or on a new one, is v2.
        for conn in kept:
            try:
                conn.request("GET", "/")
                body = conn.getresponse().read()
            except (ConnectionError, http.client.HTTPException):  # the old worker closed it
                conn.close()
                conn.request("GET", "/")
                body = conn.getresponse().read()
            assert body == b"v2"
            conn.close()
        assert {fetch(pool.http.url)[1] for _ in range(10)} == {b"v2"}
    finally:
        pool.close()


def test_a_certificate_error_is_one_line_and_no_worker_starts(tmp_path, cert_store):
    certs = tmp_path / "certs"
    certs.mkdir(mode=0o700)
    (certs / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    (certs / "ca-key.pem").write_bytes(Path(cert_store.ca_key_path).read_bytes())
    (certs / "ca-key.pem").chmod(0o600)
    proc = subprocess.run(
        [sys.executable, "-m", "launcher", "serve", "--workers", "2", "--http-port", "0",
         "--https-port", "0", "--cert-dir", str(certs)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ca.pem" in lines[0], proc.stderr
    assert proc.stdout == ""  # nothing listened


def test_signals_to_the_whole_process_group_twice_stop_it_cleanly(served, tmp_path):
    """What systemd or ``timeout`` do: SIGTERM to every process of the group, then again."""
    item = start(served, tmp_path, "--workers", "2")
    workers = item.workers()
    begin = time.monotonic()
    os.killpg(item.proc.pid, signal.SIGTERM)
    time.sleep(0.02)
    os.killpg(item.proc.pid, signal.SIGTERM)
    assert item.proc.wait(15) == 0, "".join(item.err)
    assert time.monotonic() - begin < 1.2
    assert not [pid for pid in workers if process_alive(pid)]
    assert not [line for line in item.err if "exited unexpectedly" in line], item.err


@pytest.mark.parametrize("after", [0.3, 0.9])
def test_closing_during_a_reload_leaves_no_worker_running(tmp_path, after):
    source, target = app_in_project(tmp_path, "hello", "from flask import Flask\napp = Flask(__name__)\n")
    pool = two_workers(tmp_path, target)
    reloaded: list[object] = []
    try:
        assert pool.start_all() == []
        reloader = pool.make_reloader(
            pool.target, on_reloaded=lambda *a: reloaded.append(a), on_error=reloaded.append,
            on_change=lambda _paths: None,
        )  # fmt: skip
        reloader.start()
        time.sleep(0.05)
        source.write_text("from flask import Flask\napp = Flask(__name__)\nVERSION = 2\n")
        time.sleep(after)  # the watcher sees it within 0.5 s; the new workers take about a second
    finally:
        pool.close(1.0)
    wait_for(lambda: not server_processes(os.getpid()), 5, "every worker to end")
    time.sleep(1.5)  # a set still starting would show up now
    assert server_processes(os.getpid()) == []
    assert not [r for r in reloaded if isinstance(r, tuple)]  # no "reloaded" after close
