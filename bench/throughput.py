"""Requests/s, p99 and server CPU per request of our servers and the ones a user would pick instead.

One run measures every server side by side, in interleaved rounds (these machines are noisy), on
loopback only, with h2load (Debian's ``nghttp2-client``; docs/benchmarks.md says why not wrk for TLS):

    .venv/bin/python bench/throughput.py            # every server, 3 rounds (~12 minutes)
    .venv/bin/python bench/throughput.py --peers    # flask-launcher serve against gunicorn and
                                                    # granian, HTTPS keep-alive (~5 minutes)
    .venv/bin/python bench/throughput.py --quick    # 1 round, smaller counts
    .venv/bin/python bench/throughput.py --post 1024 --only ours-https,ours-https-nobodies
                                                    # POST 1 KiB bodies that the app reads
    .venv/bin/python bench/throughput.py --middleware   # no sockets: the request log's own cost
    .venv/bin/python bench/throughput.py --logging-cost # serve --workers 2 with and without its
                                                    # access log, in alternating bursts (~3 minutes)
    .venv/bin/python bench/throughput.py --logging-cost --pairs 40 --burst 3000 --instances 8
                                                    # the same over 8 fresh starts (~5 minutes)
    .venv/bin/python bench/throughput.py --logging-cost --same-processes --pairs 64 --instances 16
                                                    # one server, its log switched off and on
                                                    # (add --burst 3000; ~4 minutes)
    .venv/bin/python bench/pool_pairs.py run1.out run2.out   # several such runs' saved output,
                                                    # pooled, with an interval over their starts
    .venv/bin/python bench/throughput.py --second-worker --pairs 40 --burst 3000 --instances 8
                                                    # serve --workers 2 against --workers 1, the
                                                    # same way (what the second worker adds)
    .venv/bin/python bench/throughput.py --peers --only ours-w1 --baseline ../old-checkout
                                                    # this code against another checkout's
    .venv/bin/python bench/throughput.py --middleware --baseline ../old-checkout
                                                    # the middleware's own cost, both checkouts

Every server serves the same tiny Flask app (bench/tinyapp.py), each in its own process (tree):
  ours-https       our HTTPS listener (TLS inside waitress), with the request log (bodies
                   recorded: the default 64 KiB --body-limit); nothing prints it
  ours-https-nobodies  the same with --body-limit 0 (shows what recording bodies costs)
  ours-http        our HTTP listener, with the request log
  ours-http-nolog  our HTTP listener without the request log (shows what logging costs)
  waitress-http    plain waitress, no logging: the ceiling for one process
  werkzeug-https   werkzeug's ssl_context server (what `flask run --cert` gives)
  ours-w1, ours-w2 `flask-launcher serve --workers 1` / `--workers 2`, 8 threads, as users run it:
                   both listeners, the access log printed to stdout, which the bench reads
                   (a pipe, like a terminal or `| tee`; --ours-log file or devnull instead)
  ours-w2-nolog    `serve --workers 2` without the request log (serve has no such option: the
                   bench leaves the log out through bench/nolog_hook/sitecustomize.py)
  ours-w1-nolog    the same with --workers 1 (not in --peers)
  gunicorn-1x8, gunicorn-2x8   gunicorn's gthread worker, 1 or 2 processes x 8 threads, TLS by
                   --certfile/--keyfile (the same leaf our CA made), no access log (its default)
  granian-1, granian-2   granian's WSGI interface (Rust HTTP and TLS), 1 or 2 workers, no access
                   log (its default)
The gunicorn and granian rows need `pip install -e '.[bench]'` (gunicorn, granian); missing ones are
skipped with a note.

Modes: keep-alive (32 connections reused) and new connection per request (Connection: close).
It prints medians over the rounds, each server's ratio to waitress-http (or to the first server),
the server's CPU time per request (all its processes; less sensitive to the machine's noise than
requests/s, since the load generator's own TLS work shares the 2 cores), and the ratios that
answer a question, each with its target.

--logging-cost measures one figure more carefully than rounds can: ``ours-w2`` and
``ours-w2-nolog`` both run for the whole measurement, and h2load loads them in turn (keep-alive,
HTTPS), ``--pairs`` times each (default 15), in bursts of ``--burst`` requests (default 8000, about
1.5 s).  Each pair gives a ratio of server CPU per request and one of requests/s, measured seconds
apart, so the machine's drift (these machines change speed by 10-30% from minute to minute) hits
both sides of a pair alike; it prints the median ratio of the pairs and their spread (quartiles).
Flat out, the machine's drift moves either side from burst to burst; with ``--rate`` (e.g.
3000, below what either serves) h2load paces the requests and the CPU per request is steadier.
A server process also keeps a few percent of its own, for better or worse, for as long as it runs
(the same two builds gave -0.6% and +12.5% in two runs): ``--instances K`` starts both servers
afresh K times and shares the pairs out between the starts, so one lucky or unlucky start counts
for 1/K of the pairs; it prints each start's median too.  For a figure to rely on:
``--pairs 40 --burst 3000 --instances 8`` (~5 minutes).  ``--second-worker`` asks the other
question the same way: ``ours-w2`` against ``ours-w1``, both printing their access log, and the
answer is the ratio of their requests/s.

``--logging-cost --same-processes`` takes the starts out of the logging question: one server
plays both sides, and the bench switches its log off for the unlogged bursts and on again for the
logged ones (a file its processes watch; bench/nolog_hook/sitecustomize.py).  The two sides are
then the same processes, with the same memory layout, hash seed and CPUs, and differ only in the
log.  The access lines printed are counted for each side: the unlogged side's must be 0.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pool_pairs import Pair, intervals

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
#: Where the servers' launcher code comes from (``--baseline`` runs the same servers on another
#: checkout's code: its children get BENCH_CODE_ROOT).
CODE_ROOT = Path(os.environ.get("BENCH_CODE_ROOT") or ROOT)
sys.path.insert(0, str(CODE_ROOT))

IN_PROCESS = (
    "ours-https",
    "ours-https-nobodies",
    "ours-http",
    "ours-http-nolog",
    "waitress-http",
    "werkzeug-https",
)
PEERS = (
    "ours-w1",
    "ours-w2",
    "ours-w2-nolog",
    "gunicorn-1x8",
    "gunicorn-2x8",
    "granian-1",
    "granian-2",
)
#: Not in --peers: the logging cost of one process (``ours-w1`` against it).
EXTRA = ("ours-w1-nolog",)
SERVERS = IN_PROCESS + PEERS + EXTRA
THREADS = 8
MODES = ("keep-alive", "new-conn")
#: The ratios printed after the table: (numerator, denominator, what it answers).
RATIOS = (
    ("ours-https", "waitress-http", "target >= 0.85, goal 0.9"),
    ("ours-https", "werkzeug-https", "target >= 3.5"),
    ("ours-http", "waitress-http", "target >= 0.95"),
    ("ours-http", "ours-http-nolog", "the cost of the request log, unprinted; target >= 0.95"),
    ("ours-https", "ours-https-nobodies", "the cost of recording bodies; target >= 0.95"),
    ("ours-w2", "gunicorn-2x8", "2 processes each; target >= 1.0"),
    ("ours-w1", "gunicorn-1x8", "1 process each"),
    ("ours-w2", "ours-w1", "what the second worker adds; target >= 1.6"),
    ("gunicorn-2x8", "gunicorn-1x8", "gunicorn's own second worker"),
    ("granian-2", "granian-1", "granian's own second worker"),
    ("granian-1", "ours-w1", "Rust HTTP+TLS, no GIL in the I/O path, 1 process"),
    ("granian-2", "ours-w2", "the ceiling to chase: Rust HTTP+TLS, no GIL in the I/O path"),
)


def serve(kind: str, cert_dir: str, port_file: str) -> None:
    """Run one server in this process until SIGTERM; write its port to *port_file*."""
    import logging
    import threading

    from tinyapp import create_app

    # waitress logs "Task queue depth is N" whenever requests wait for a thread: under this load,
    # thousands of lines a second on stderr, written by the loop thread.  Off, as in
    # `flask-launcher serve` (which sets the "waitress" logger to ERROR).
    logging.getLogger("waitress").setLevel(logging.ERROR)
    app = create_app()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if kind.startswith("ours"):
        from launcher.certs import CertStore
        from launcher.policy import Policy, PolicyMiddleware
        from launcher.servers import Listener, Servers

        servers = Servers(
            app,
            cert_store=CertStore(cert_dir),
            http_port=0,
            https_port=0,
            threads=THREADS,
            body_limit=0 if kind == "ours-https-nobodies" else 65_536,
        )
        if kind == "ours-http-nolog":
            listener = Listener(
                "http",
                lambda: (PolicyMiddleware(app, Policy(), "http", lambda: None), None),
                port=0,
                threads=THREADS,
            )
        else:
            listener = servers.https if kind.startswith("ours-https") else servers.http
        listener.start()
        port = listener.port
        Path(port_file).write_text(str(port))
        stop.wait()
        listener.stop()
    elif kind == "waitress-http":
        from waitress.server import create_server

        server = create_server(app, host="127.0.0.1", port=0, threads=THREADS)
        Path(port_file).write_text(str(server.effective_port))
        threading.Thread(target=lambda: (stop.wait(), os._exit(0)), daemon=True).start()
        server.run()
    elif kind == "werkzeug-https":
        import ssl

        from werkzeug.serving import make_server

        from launcher.certs import CertStore

        store = CertStore(cert_dir)
        store.ensure()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(store.cert_path, store.key_path)
        logging.getLogger("werkzeug").disabled = True  # no per-request line on stderr
        server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ctx)
        Path(port_file).write_text(str(server.server_port))
        threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
        server.serve_forever()
    else:
        raise SystemExit(f"unknown server {kind}")


def middleware_cost(rounds: int = 5, n: int = 30_000) -> None:
    """Print the request log middleware's cost per request, bodies off and on, for a GET and a
    1 KiB POST, with a trivial app and no sockets: the best of *rounds* (steadier than req/s on a
    shared machine, where h2load's figures move by ±30 % between runs)."""
    import io

    from launcher.requestlog import RequestLogMiddleware, RequestSink

    payload = b'{"pad": "' + b"x" * 1013 + b'"}'

    def app(environ, start_response):
        if environ.get("CONTENT_LENGTH"):
            environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "29")])
        return [b"Hello from the benchmark app\n"]

    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "5",
        "HTTP_HOST": "x",
        "HTTP_USER_AGENT": "h2load",
    }

    def run(limit: int, post: bool) -> float:
        middleware = RequestLogMiddleware(app, RequestSink(), "http", limit)
        started = time.perf_counter()
        for _ in range(n):
            environ = dict(base, **{"wsgi.input": io.BytesIO(payload)})
            if post:
                environ.update(REQUEST_METHOD="POST", CONTENT_LENGTH=str(len(payload)))
            body = middleware(environ, lambda status, headers, exc_info=None: None)
            for _chunk in body:
                pass
            body.close()
        return (time.perf_counter() - started) / n * 1e6

    for post in (False, True):
        best = {limit: min(run(limit, post) for _ in range(rounds)) for limit in (0, 65_536)}
        print(
            f"{'POST 1 KiB' if post else 'GET'}: request log {best[0]:.2f} µs/request with bodies off, "
            f"{best[65_536]:.2f} with bodies on (+{best[65_536] - best[0]:.2f} µs)"
        )
    stack_cost()


def stack_cost(rounds: int = 9, n: int = 10_000) -> None:
    """Print what our request path adds to the tiny Flask app per HTTPS GET, with no sockets: the
    stack ``Servers`` builds (request log with bodies on, policy, appview) against the app alone,
    then the access line ``serve``'s printer makes of each record.  The best of *rounds*, interleaved."""
    import io

    from tinyapp import create_app

    from launcher.requestlog import RequestSink
    from launcher.scheme import Scheme
    from launcher.servers import Servers

    flask_app = create_app()
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_HOST": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "REQUEST_METHOD": "GET",
        "SERVER_PORT": "8443",
        "SERVER_NAME": "localhost",
        "SERVER_SOFTWARE": "flask-https-launcher",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "REQUEST_URI": "/",
        "QUERY_STRING": "",
        "wsgi.url_scheme": "https",
        "wsgi.version": (1, 0),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "HTTP_HOST": "127.0.0.1:8443",
        "HTTP_USER_AGENT": "h2load nghttp2/1.52.0",
        "HTTP_ACCEPT": "*/*",
        "launcher.listener": "https",
        "HTTPS": "on",
        "SSL_PROTOCOL": "TLSv1.3",
        "SSL_CIPHER": "TLS_AES_256_GCM_SHA384",
        "SSL_CIPHER_USEKEYSIZE": "256",
        "SSL_TLS_SNI": "127.0.0.1",
        "SSL_ALPN_PROTOCOL": "http/1.1",
    }

    def start_response(status, headers, exc_info=None):
        return None

    def run(app, subscription=None) -> float:
        started = time.perf_counter()
        for _ in range(n):
            env = dict(environ, **{"wsgi.input": io.BytesIO(b"")})
            body = app(env, start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
            if subscription is not None:
                for record in subscription.drain():
                    record.access_line()
        return (time.perf_counter() - started) / n * 1e6

    sink = RequestSink(capacity=0)  # as serve's
    servers = Servers(flask_app, cert_store=None, sink=sink)
    stack = servers._stack(Scheme.HTTPS)
    subscription = sink.subscribe()
    times: dict[str, list[float]] = {"alone": [], "silent": [], "printed": []}
    for _ in range(rounds):  # interleaved: the machine's mood changes from one second to the next
        servers.appview.detach()  # the app alone: appview's signal receiver is ours too
        times["alone"].append(run(flask_app))
        servers.appview.attach()
        times["silent"].append(run(stack))
        times["printed"].append(run(stack, subscription))
    subscription.close()
    servers.appview.detach()
    alone, stacked_silent, stacked = (min(times[key]) for key in ("alone", "silent", "printed"))
    print(
        f"HTTPS GET of the tiny Flask app ({alone:.1f} µs alone): our request path adds "
        f"{stacked_silent - alone:.1f} µs (log with bodies, policy, appview), and the access line "
        f"{stacked - stacked_silent:.1f} µs more"
    )


@dataclass
class Running:
    """A server under test: its process (the root of its tree), its port, its access-line count."""

    kind: str
    proc: subprocess.Popen[bytes]
    port: int
    scheme: str
    lines: list[int] = field(default_factory=lambda: [0])  # access lines read so far (ours-w*)
    counted: bool = False  # the access lines are counted (stdout is a pipe or a file we read)
    log_file: str | None = None
    reader: threading.Thread | None = None

    def access_lines(self) -> int:
        if self.log_file is not None:
            with open(self.log_file, "rb") as fh:
                return sum(1 for line in fh if line.startswith(b"["))
        return self.lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peer_command(kind: str, cert: str, key: str, port: int) -> list[str]:
    """The command line of a gunicorn or granian row."""
    workers = kind.split("-")[1].split("x")[0]
    if kind.startswith("gunicorn"):
        return [
            sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", workers, "--threads", str(THREADS),
            "--certfile", cert, "--keyfile", key, "-b", f"127.0.0.1:{port}", "--chdir", str(BENCH),
            "--log-level", "warning", "tinyapp:app",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", workers,
        "--ssl-certificate", cert, "--ssl-keyfile", key, "--host", "127.0.0.1", "--port", str(port),
        "--working-dir", str(BENCH), "--log-level", "warning", "tinyapp:app",
    ]  # fmt: skip


def missing(kind: str) -> str | None:
    """Why *kind* cannot run here (None: it can)."""
    import importlib.util

    for name in ("gunicorn", "granian"):
        if kind.startswith(name) and importlib.util.find_spec(name) is None:
            return f"{name} is not installed: pip install -e '.[bench]'"
    return None


def start_process_server(
    kind: str, cert_dir: str, code_root: Path, ours_log: str, log_dir: str, log_switch: str | None = None
) -> Running:
    """Start a ``serve``, gunicorn or granian row in its own session; return once it answers.
    With *log_switch* (a path; ``serve`` only), its access log is off while that file exists
    (bench/nolog_hook/sitecustomize.py)."""
    from launcher.certs import CertStore

    store = CertStore(cert_dir)
    port = free_port()
    env = dict(os.environ)
    stdout: Any = subprocess.DEVNULL
    log_file = None
    if kind.startswith("ours-w"):
        workers = kind.split("-")[1][1:]
        cmd = [
            sys.executable, "-m", "launcher", "serve", "--workers", workers, "--threads", str(THREADS),
            "--host", "127.0.0.1", "--https-port", str(port), "--http-port", str(free_port()),
            "--cert-dir", cert_dir, "--app", "tinyapp:app", "--chdir", str(BENCH),
        ]  # fmt: skip
        path = [str(code_root)]
        if kind.endswith("-nolog"):
            path.insert(0, str(BENCH / "nolog_hook"))
            env["BENCH_NO_ACCESS_LOG"] = "1"
        elif log_switch:
            path.insert(0, str(BENCH / "nolog_hook"))
            env["BENCH_ACCESS_LOG_SWITCH"] = log_switch
        env["PYTHONPATH"] = os.pathsep.join(path)
        if ours_log == "pipe":
            stdout = subprocess.PIPE
        elif ours_log == "file":
            log_file = os.path.join(log_dir, f"{kind}.log")
            stdout = open(log_file, "wb")  # noqa: SIM115 (the child holds it; closed below)
    else:
        cmd = peer_command(kind, str(store.cert_path), str(store.key_path), port)
    stderr = open(os.path.join(log_dir, f"{kind}.stderr"), "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, stdout=stdout, stderr=stderr, env=env, cwd=str(code_root), start_new_session=True
    )
    stderr.close()
    if log_file is not None:
        stdout.close()
    running = Running(kind, proc, port, "https", counted=ours_log != "devnull" and kind.startswith("ours-w"))
    running.log_file = log_file
    if proc.stdout is not None:
        running.reader = threading.Thread(target=_count_lines, args=(proc.stdout, running.lines), daemon=True)
        running.reader.start()
    wait_ready(running, str(store.ca_cert_path), log_dir)
    return running


def settle(running: Running, quiet: float = 0.8, timeout: float = 3.0, until: int = 0) -> None:
    """Until the server's access lines stop coming: *until* of them printed in all (when known),
    then none for *quiet* s.  ``serve --workers`` prints a line 0.35–0.55 s after its request (it
    holds them to merge them in order), so without *until* a quiet shorter than that could end
    before the first line of a short burst."""
    deadline = time.monotonic() + timeout
    last, since = running.access_lines(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = running.access_lines()
        if now != last:
            last, since = now, time.monotonic()
        elif now >= until and time.monotonic() - since >= quiet:
            return


def _count_lines(stream: object, counter: list[int]) -> None:
    """Read a server's stdout to its end, as a terminal would, counting the access lines."""
    for line in stream:  # type: ignore[attr-defined]
        if line.startswith(b"["):
            counter[0] += 1


def wait_ready(running: Running, ca_file: str, log_dir: str, timeout: float = 30.0) -> None:
    """Until a verified HTTPS GET of / answers 200 (the same CA for every row)."""
    context = ssl.create_default_context(cafile=ca_file)
    url = f"https://127.0.0.1:{running.port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.proc.poll() is not None:
            tail = Path(log_dir, f"{running.kind}.stderr").read_text(errors="replace")[-2000:]
            raise SystemExit(f"{running.kind} exited with {running.proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    stop_server(running)
    raise SystemExit(f"{running.kind} did not answer on {url} within {timeout:.0f} s")


def start_in_process_server(kind: str, cert_dir: str, code_root: Path) -> Running:
    port_file = tempfile.mktemp()
    env = dict(os.environ, BENCH_CODE_ROOT=str(code_root))
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--cert-dir", cert_dir, "--port-file", port_file],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if os.path.exists(port_file) and Path(port_file).read_text():
            port = int(Path(port_file).read_text())
            os.unlink(port_file)
            return Running(kind, proc, port, "https" if "https" in kind else "http")
        if proc.poll() is not None:
            raise SystemExit(f"{kind} exited with {proc.returncode}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{kind} did not start")


def stop_server(running: Running) -> None:
    """SIGTERM to the server; its whole session (workers too) is killed if it lingers."""
    proc = running.proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    try:  # workers that outlived their parent
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if running.reader is not None:
        running.reader.join(5)


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    return parents


def tree_cpu(root: int) -> tuple[float, int]:
    """(CPU seconds used so far by *root* and all its descendants, their count).

    Summed over every thread from ``/proc/PID/task/TID/schedstat`` (nanoseconds; ``/proc/PID/stat``
    counts clock ticks, 10 ms, a percent of a burst's CPU at each end of it).  A thread that ends
    between two readings takes its time with it: none of the servers here ends threads under a
    steady load."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    todo, nanoseconds, count = [root], 0, 0
    while todo:
        pid = todo.pop()
        if pid in parents:
            count += 1
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                tids = []
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                        nanoseconds += int(fh.read().split()[0])
                except (OSError, ValueError, IndexError):
                    continue
        todo.extend(children.get(pid, ()))
    return nanoseconds / 1e9, count


def h2load(
    url: str, requests: int, new_connection: bool, post: str | None = None, rate: float | None = None
) -> tuple[float, float]:
    """Run h2load; return (requests/s, p99 ms) computed from its per-request log.

    With *post* (a file), every request is a POST of that file's bytes; with *rate*, h2load sends
    that many requests/s in all (paced: ``--rps`` per connection) instead of as fast as it can.
    """
    log = tempfile.mktemp()
    # -N: a connection with nothing on it for 30 s ends as an error (the warning below says how
    # many requests failed) instead of holding the run until the 600 s timeout.
    cmd = ["h2load", "--h1", "-n", str(requests), "-c", "32", "-t", "2", "-N", "30", "--log-file", log, url]
    if rate:
        cmd[1:1] = [f"--rps={rate / 32:g}"]
    if new_connection:
        cmd[2:2] = ["-H", "Connection: close"]
    if post is not None:
        cmd[2:2] = ["-d", post, "-H", "Content-Type: application/json"]
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    rps = None
    for line in out.stdout.splitlines():
        if line.startswith("finished in"):
            # "finished in 5.01s, 3000.54 req/s, 1.2MB/s"
            rps = float(line.split(",")[1].split()[0])
        if line.startswith("requests:") and " succeeded" in line:
            ok = int(line.split(",")[3].split()[0]) if "succeeded" in line.split(",")[3] else None
            if ok is not None and ok < requests * 0.99:
                print(f"  warning: only {ok}/{requests} succeeded for {url}", file=sys.stderr)
    durations = []
    with open(log) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3:
                durations.append(int(parts[2]) / 1000.0)  # microseconds -> ms
    os.unlink(log)
    if rps is None:
        rps = requests / elapsed
    durations.sort()
    p99 = durations[int(len(durations) * 0.99) - 1] if durations else float("nan")
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--cert-dir", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round, smaller counts")
    parser.add_argument("--only", help="comma-separated servers to run (default: all)")
    parser.add_argument(
        "--peers",
        action="store_true",
        help=f"the peer comparison: {','.join(PEERS)} (unless --only), keep-alive (unless --modes)",
    )
    parser.add_argument("--modes", help=f"comma-separated, of {','.join(MODES)} (default: both)")
    parser.add_argument("--post", type=int, metavar="BYTES", help="POST a body of BYTES to every request")
    parser.add_argument("--middleware", action="store_true", help="only the request log's own cost")
    parser.add_argument(
        "--logging-cost",
        action="store_true",
        help="serve --workers 2 with and without its access log, in alternating bursts (see above)",
    )
    parser.add_argument(
        "--second-worker",
        action="store_true",
        help="serve --workers 2 against --workers 1 (both with their access log), in alternating bursts",
    )
    parser.add_argument("--pairs", type=int, default=15, help="--logging-cost: bursts per server")
    parser.add_argument("--burst", type=int, default=8000, help="--logging-cost: requests per burst")
    parser.add_argument(
        "--workers", type=int, choices=(1, 2), default=2, help="--logging-cost: serve --workers 1 or 2"
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="--logging-cost: start both servers afresh this many times, sharing out the pairs",
    )
    parser.add_argument(
        "--same-processes",
        action="store_true",
        help="--logging-cost: one server, its log switched off for the unlogged bursts (see above)",
    )
    parser.add_argument(
        "--rate", type=float, help="--logging-cost: pace h2load at this many requests/s in all (not flat out)"
    )
    parser.add_argument(
        "--ours-log",
        choices=("pipe", "file", "devnull"),
        default="pipe",
        help="where serve's access log goes (ours-w*): a pipe the bench reads (default), a file, /dev/null",
    )
    parser.add_argument(
        "--baseline",
        metavar="[NAME=]DIR",
        action="append",
        default=[],
        help="also run every ours-* server on the launcher code in DIR (another checkout, e.g. a git "
        "worktree of the commit before), as <server>@NAME (NAME: base) right after it, and print "
        "this code's figures against it; repeat it to compare several checkouts",
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.cert_dir, args.port_file)
        return
    baselines: dict[str, Path] = {}
    for spec in args.baseline:
        name, _, folder = spec.rpartition("=")
        name = name or "base"
        if name in baselines or not Path(folder, "launcher").is_dir():
            raise SystemExit(f"--baseline {spec}: a new NAME and a checkout (a folder with launcher/)")
        baselines[name] = Path(folder).resolve()
    if args.middleware:
        if os.environ.get("BENCH_CODE_ROOT") or not baselines:
            middleware_cost()
            return
        for label, root in (("this checkout", ROOT), *baselines.items()):
            print(f"{label} ({root}):", flush=True)
            env = dict(os.environ, BENCH_CODE_ROOT=str(root))
            subprocess.run([sys.executable, __file__, "--middleware"], env=env, check=True)
        return
    if not shutil.which("h2load"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            subprocess.run(["apt-get", "install", "-y", "-qq", "nghttp2-client"], check=True)
        else:
            raise SystemExit("h2load is missing: sudo apt-get install -y nghttp2-client")
    if args.logging_cost or args.second_worker:
        if not 1 <= args.instances <= args.pairs:
            raise SystemExit("--instances: from 1 to --pairs")
        question = SECOND_WORKER if args.second_worker else logging_question(args.workers)
        if args.same_processes and not args.logging_cost:
            raise SystemExit("--same-processes goes with --logging-cost")
        paired_bursts(
            question, args.pairs, args.burst, args.ours_log, args.rate, args.instances, args.same_processes
        )
        return
    rounds = 1 if args.quick else args.rounds
    keepalive_n, close_n = (5000, 2000) if args.quick else (20000, 6000)
    counts = {"keep-alive": keepalive_n, "new-conn": close_n}
    modes = tuple(args.modes.split(",")) if args.modes else (("keep-alive",) if args.peers else MODES)
    for mode in modes:
        if mode not in MODES:
            raise SystemExit(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    wanted = tuple(args.only.split(",")) if args.only else (PEERS if args.peers else SERVERS)
    servers: list[str] = []
    for kind in wanted:
        if kind not in SERVERS:
            raise SystemExit(f"unknown server {kind!r}: one of {', '.join(SERVERS)}")
        why = missing(kind)
        if why:
            print(f"skipped {kind}: {why}", file=sys.stderr)
            continue
        servers.append(kind)
        if kind.startswith("ours"):
            servers += [f"{kind}@{name}" for name in baselines]
    if not servers:
        raise SystemExit("no server to run")
    cert_dir, log_dir = scratch_folders()
    post_file = None
    if args.post:
        post_file = os.path.join(cert_dir, "post.json")
        Path(post_file).write_text(('{"pad": "' + "x" * args.post)[: args.post - 2] + '"}')
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    procs: dict[str, int] = {}
    lines: dict[str, list[tuple[int, int]]] = {}  # kind -> [(access lines printed, requests)]
    for round_no in range(1, rounds + 1):
        for name in servers:
            kind, _, base = name.partition("@")
            code_root = baselines[base] if base else ROOT
            if kind in IN_PROCESS:
                running = start_in_process_server(kind, cert_dir, code_root)
            else:
                running = start_process_server(kind, cert_dir, code_root, args.ours_log, log_dir)
            url = f"{running.scheme}://127.0.0.1:{running.port}/"
            try:
                h2load(url, 1000, False, post_file)  # warm-up (every worker)
                if running.counted:
                    settle(running)  # the warm-up's lines still on their way are not the run's
                for mode in modes:
                    n = counts[mode]
                    printed_before = running.access_lines() if running.counted else 0
                    cpu_before, _ = tree_cpu(running.proc.pid)
                    rps, p99 = h2load(url, n, mode == "new-conn", post_file)
                    cpu_after, nprocs = tree_cpu(running.proc.pid)
                    cpu_ms = (cpu_after - cpu_before) * 1000 / n
                    procs[name] = nprocs
                    results.setdefault((name, mode), []).append((rps, p99))
                    cpu.setdefault((name, mode), []).append(cpu_ms)
                    printed = ""
                    if running.counted:
                        deadline = time.monotonic() + 5  # the printer drains every 0.2 s
                        while time.monotonic() < deadline:
                            got = running.access_lines() - printed_before
                            if got >= n or (kind.endswith("-nolog") and time.monotonic() > deadline - 4):
                                break
                            time.sleep(0.05)
                        got = running.access_lines() - printed_before
                        lines.setdefault(name, []).append((got, n))
                        printed = f"  access lines {got}"
                    print(
                        f"round {round_no} {name:22} {mode:10} {rps:8.0f} req/s  p99 {p99:6.1f} ms"
                        f"  server CPU {cpu_ms:.3f} ms/request  ({nprocs} processes){printed}",
                        flush=True,
                    )
            finally:
                stop_server(running)
    report(servers, modes, rounds, results, cpu, procs, lines, args.post, args.ours_log)


def scratch_folders() -> tuple[str, str]:
    """A certificate folder with a CA and leaf made, and a folder for the servers' stderr (quoted
    when one fails to start); both removed at exit."""
    from launcher.certs import CertStore

    cert_dir = tempfile.mkdtemp(prefix="bench-certs-")
    log_dir = tempfile.mkdtemp(prefix="bench-logs-")
    for folder in (cert_dir, log_dir):
        atexit.register(shutil.rmtree, folder, True)
    CertStore(cert_dir).ensure()
    return cert_dir, log_dir


@dataclass(frozen=True)
class PairedQuestion:
    """What ``paired_bursts`` compares: *first* against *second*, and which ratio answers."""

    first: str
    second: str
    title: str
    #: "cpu": the answer is first's CPU per request over second's (the log's cost, ``+x%``);
    #: "rps": first's requests/s over second's (what the second worker adds, ``x.xx×``).
    answer: str
    target: str


def logging_question(workers: int) -> PairedQuestion:
    return PairedQuestion(
        f"ours-w{workers}",
        f"ours-w{workers}-nolog",
        f"Logging cost of serve --workers {workers}",
        "cpu",
        "target <= 5%",
    )


SECOND_WORKER = PairedQuestion(
    "ours-w2",
    "ours-w1",
    "What the second worker adds (serve --workers 2 / --workers 1)",
    "rps",
    "target >= 1.6",
)


def paired_bursts(
    question: PairedQuestion,
    pairs: int,
    burst: int,
    ours_log: str,
    rate: float | None = None,
    instances: int = 1,
    same_processes: bool = False,
) -> None:
    """``--logging-cost`` and ``--second-worker``: *question*'s two servers, both running, loaded in
    turn (flat out, or paced at *rate* requests/s); with *instances* > 1 both are started afresh
    that many times, and the *pairs* are shared out between them.

    With *same_processes* (the logging question only) one server plays both: its log is turned off
    for the unlogged side's bursts and on again for the logged side's (``log_switch``)."""
    cert_dir, log_dir = scratch_folders()
    switch = os.path.join(log_dir, "access-log-off") if same_processes else None
    first, second = question.first, question.second
    kinds = (first, second)
    cpu_ratios: list[float] = []
    rps_ratios: list[float] = []
    per_instance: list[float] = []  # the median answer of each instance's pairs
    starts: list[list[Pair]] = []  # each instance's (CPU, req/s) ratios
    printed = {kind: 0 for kind in kinds}
    pair = 0
    tail = 0.6  # seconds from a burst's end to reading its CPU: the last settle of a printing server
    for instance in range(instances):
        share = pairs // instances + (1 if instance < pairs % instances else 0)  # >= 1: instances <= pairs
        running: dict[str, Running] = {}
        first_pair = len(cpu_ratios)
        try:
            if switch:
                running[first] = running[second] = start_process_server(
                    first, cert_dir, ROOT, ours_log, log_dir, log_switch=switch
                )
            for kind in kinds:  # in the try: one that fails to start does not leave the other running
                if kind not in running:
                    running[kind] = start_process_server(kind, cert_dir, ROOT, ours_log, log_dir)
            urls = {kind: f"https://127.0.0.1:{r.port}/" for kind, r in running.items()}
            for kind in kinds:
                h2load(urls[kind], 2000, False, None)  # warm-up (every worker)
            for kind in kinds:
                if running[kind].counted:
                    settle(running[kind])
            for _ in range(share):
                pair += 1
                figures: dict[str, tuple[float, float]] = {}
                # Alternate which goes first, so neither always follows the other's load.
                for kind in kinds if pair % 2 else kinds[::-1]:
                    server = running[kind]
                    if switch:
                        _switch_log(switch, off=kind.endswith("-nolog"))
                    before = server.access_lines() if server.counted else 0
                    cpu_before, _ = tree_cpu(server.proc.pid)
                    rps, _p99 = h2load(urls[kind], burst, False, None, rate)
                    # A server that prints has its CPU read once its lines are written (their CPU
                    # is in the figure), one that does not after as long: both count the same idle
                    # tail (a few ms a second).
                    if server.counted and not kind.endswith("-nolog"):
                        settled = time.monotonic()
                        settle(server, quiet=0.3, until=before + burst)
                        tail = time.monotonic() - settled
                    else:
                        time.sleep(tail)
                    cpu_after, _ = tree_cpu(server.proc.pid)
                    figures[kind] = (rps, (cpu_after - cpu_before) * 1000 / burst)
                    if server.counted:
                        printed[kind] += server.access_lines() - before
                (rps_a, cpu_a), (rps_b, cpu_b) = figures[first], figures[second]
                cpu_ratios.append(cpu_a / cpu_b)
                rps_ratios.append(rps_a / rps_b)
                print(
                    f"pair {pair:2}: {first} {rps_a:6.0f} req/s {cpu_a:.3f} ms CPU/req;"
                    f" {second} {rps_b:6.0f} req/s {cpu_b:.3f} ms CPU/req;"
                    f" req/s {rps_ratios[-1]:.2f}x, CPU/req {cpu_ratios[-1] - 1:+.1%}",
                    flush=True,
                )
        finally:
            for server in {id(r): r for r in running.values()}.values():  # one server may play both
                stop_server(server)
            if switch:
                _switch_log(switch, off=False, settle=0)
        answers = cpu_ratios if question.answer == "cpu" else rps_ratios
        per_instance.append(statistics.median(answers[first_pair:]))
        starts.append(list(zip(cpu_ratios[first_pair:], rps_ratios[first_pair:], strict=True)))
        if instances > 1:
            print(
                f"instance {instance + 1}: {_answer(question, per_instance[-1])} (median of its pairs)",
                flush=True,
            )

    def quartiles(values: list[float]) -> tuple[float, float, float]:
        q1, q2, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
        return q1, q2, q3

    c1, c2, c3 = quartiles(cpu_ratios)
    r1, r2, r3 = quartiles(rps_ratios)
    print()
    pace = f"paced at {rate:,.0f} req/s" if rate else "flat out"
    print(
        f"{question.title} (HTTPS keep-alive, h2load --h1 -c 32 -t 2, {pace},"
        f" {pairs} pairs of {burst} requests"
        + (f" over {instances} fresh starts" if instances > 1 else "")
        + (" of one server, its log switched off and on" if switch else "")
        + (" of both servers" if instances > 1 and not switch else "")
        + f", {os.cpu_count()} cores, access log to a {ours_log}):"
    )
    cpu_target = f" ({question.target})" if question.answer == "cpu" else ""
    rps_target = f" ({question.target})" if question.answer == "rps" else ""
    print(f"  server CPU per request: {c2 - 1:+.1%} (quartiles {c1 - 1:+.1%} to {c3 - 1:+.1%}){cpu_target}")
    print(f"  requests/s ratio:       {r2:.2f}x (quartiles {r1:.2f}x to {r3:.2f}x){rps_target}")
    if len(starts) > 1:  # the pairs of one start move together: resample whole starts
        (_, c_lo, c_hi), (_, r_lo, r_hi) = intervals(starts)
        print(
            f"  95% interval of the medians, over starts (bench/pool_pairs.py): CPU/req {c_lo - 1:+.1%}"
            f" to {c_hi - 1:+.1%}; req/s {r_lo:.2f}x to {r_hi:.2f}x"
        )
    if len(per_instance) > 1:
        print(
            f"  the {len(per_instance)} instances, each the median of its pairs: "
            + ", ".join(_answer(question, r) for r in per_instance)
            + f" (median {_answer(question, statistics.median(per_instance))})"
        )
    expected = pairs * burst
    counted = [kind for kind in kinds if running[kind].counted]  # the last start's (the same for all)
    if counted:
        print("  access lines printed: " + ", ".join(f"{printed[k]} of {expected} by {k}" for k in counted))


def _switch_log(path: str, off: bool, settle: float = 0.15) -> None:
    """Turn the access log of a server started with ``log_switch=path`` off or on; its processes
    look every 50 ms, so *settle* s later every one has."""
    if off:
        Path(path).touch()
    else:
        Path(path).unlink(missing_ok=True)
    time.sleep(settle)


def _answer(question: PairedQuestion, ratio: float) -> str:
    return f"CPU/req {ratio - 1:+.1%}" if question.answer == "cpu" else f"req/s {ratio:.2f}x"


def report(
    servers: list[str],
    modes: tuple[str, ...],
    rounds: int,
    results: dict[tuple[str, str], list[tuple[float, float]]],
    cpu: dict[tuple[str, str], list[float]],
    procs: dict[str, int],
    lines: dict[str, list[tuple[int, int]]],
    post: int | None,
    ours_log: str,
) -> None:
    print()
    print(
        f"Medians over {rounds} round(s); h2load --h1 -c 32 -t 2; {THREADS} threads per process; "
        f"loopback; {os.cpu_count()} cores; "
        + (f"POST {post} bytes" if post else "GET")
        + f"; serve's access log to a {ours_log}"
    )
    head = "| server | processes |"
    rule = "|---|---|"
    for mode in modes:
        head += f" {mode} req/s | p99 ms | ratio | CPU ms/req | best CPU |"
        rule += "---|---|---|---|---|"
    print(head)
    print(rule)
    base_kind = "waitress-http" if "waitress-http" in servers else servers[0]
    rps = {
        (kind, mode): statistics.median(r for r, _ in results[(kind, mode)])
        for kind in servers
        for mode in modes
    }
    cpu_ms = {key: statistics.median(values) for key, values in cpu.items()}
    best_cpu = {key: min(values) for key, values in cpu.items()}
    for kind in servers:
        cells = [str(procs.get(kind, "?"))]
        for mode in modes:
            p99 = statistics.median(p for _, p in results[(kind, mode)])
            ratio = rps[(kind, mode)] / rps[(base_kind, mode)]
            cells += [f"{rps[(kind, mode)]:.0f}", f"{p99:.1f}", f"{ratio:.2f}"]
            cells += [f"{cpu_ms[(kind, mode)]:.3f}", f"{best_cpu[(kind, mode)]:.3f}"]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print(
        f"(ratio: requests/s to {base_kind}; CPU: the median and the lowest of the rounds; "
        "processes: the server's process tree under load)"
    )
    print()
    for mode in modes:
        pairs = []
        if mode == "keep-alive":  # the targets are keep-alive ones
            pairs = [(num, den, note) for num, den, note in RATIOS if num in servers and den in servers]
        pairs += [
            (kind, other, "this checkout / the other")
            for kind in servers
            if "@" not in kind
            for other in servers
            if other.startswith(f"{kind}@")
        ]
        if not pairs:
            continue
        print(
            f"{mode}: requests/s ratio, then server CPU per request ratio (lower: cheaper; "
            "medians, then the lowest of each)"
        )
        for num, den, note in pairs:
            print(
                f"  {num} / {den}: {rps[(num, mode)] / rps[(den, mode)]:.2f} req/s, "
                f"{cpu_ms[(num, mode)] / cpu_ms[(den, mode)]:.2f} CPU/req "
                f"(best {best_cpu[(num, mode)] / best_cpu[(den, mode)]:.2f})  ({note})"
            )
        for logged, unlogged in (("ours-w2", "ours-w2-nolog"), ("ours-w1", "ours-w1-nolog")):
            if logged in servers and unlogged in servers:
                by_rps = 1 - rps[(logged, mode)] / rps[(unlogged, mode)]
                by_cpu = cpu_ms[(logged, mode)] / cpu_ms[(unlogged, mode)] - 1
                print(
                    f"  logging cost ({logged} against {unlogged}): {by_rps * 100:+.1f}% req/s lost, "
                    f"{by_cpu * 100:+.1f}% server CPU per request (target <= 5%)"
                )
        if "ours-https" in servers and "ours-https-nobodies" in servers:
            with_, without = (cpu_ms[(k, mode)] for k in ("ours-https", "ours-https-nobodies"))
            print(f"  server CPU per request, bodies on / off: {with_ / without:.3f}")
    for kind, seen in lines.items():
        printed, requests = sum(p for p, _ in seen), sum(n for _, n in seen)
        if kind.split("@")[0].endswith("-nolog"):
            if printed:
                print(
                    f"warning: {kind} printed {printed} access lines: the request log was not left out "
                    "in every worker, so its logging cost above is not one"
                )
        elif printed < requests:
            print(f"note: {kind} printed {printed} access lines for {requests} requests")
    if "ours-w2" in servers and procs.get("ours-w2", 0) < 2:
        print("note: ours-w2 ran as one process: --workers 2 does not start worker processes yet")


if __name__ == "__main__":
    main()
