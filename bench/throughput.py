"""Requests/s and p99 of our listeners against plain waitress and werkzeug's TLS server.

One run measures every server side by side, in interleaved rounds (these machines are noisy), on
loopback only, with h2load (Debian's ``nghttp2-client``; docs/benchmarks.md says why not wrk for TLS):

    .venv/bin/python bench/throughput.py            # 3 rounds, ~4 minutes
    .venv/bin/python bench/throughput.py --quick    # 1 round, smaller counts
    .venv/bin/python bench/throughput.py --post 1024 --only ours-https,ours-https-nobodies
                                                    # POST 1 KiB bodies that the app reads
    .venv/bin/python bench/throughput.py --middleware   # no sockets: the request log's own cost

Servers, each in its own process serving the same tiny Flask app:
  ours-https       our HTTPS listener (TLS inside waitress), with the request log (bodies
                   recorded: the default 64 KiB --body-limit)
  ours-https-nobodies  the same with --body-limit 0 (shows what recording bodies costs)
  ours-http        our HTTP listener, with the request log
  ours-http-nolog  our HTTP listener without the request log (shows what logging costs)
  waitress-http    plain waitress, no logging: the ceiling for one process
  werkzeug-https   werkzeug's ssl_context server (what `flask run --cert` gives)

Modes: keep-alive (32 connections reused) and new connection per request (Connection: close).
It prints medians over the rounds, each server's ratio to waitress-http, and the server process's
CPU time per request (less sensitive to the machine's noise than requests/s, since the load
generator's own TLS work shares the 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVERS = (
    "ours-https",
    "ours-https-nobodies",
    "ours-http",
    "ours-http-nolog",
    "waitress-http",
    "werkzeug-https",
)
THREADS = 8


def tiny_app():
    from flask import Flask, request

    app = Flask(__name__)

    @app.route("/", methods=["GET", "POST"])
    def hello():
        if request.method == "POST":  # --post: the app reads the body, as a JSON API would
            return f"Hello from the benchmark app: {len(request.get_data())} bytes\n"
        return "Hello from the benchmark app\n"

    return app


def serve(kind: str, cert_dir: str, port_file: str) -> None:
    """Run one server in this process until SIGTERM; write its port to *port_file*."""
    import threading

    app = tiny_app()
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
        import logging

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


def start_server(kind: str, cert_dir: str) -> tuple[subprocess.Popen, int]:
    port_file = tempfile.mktemp()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--cert-dir", cert_dir, "--port-file", port_file]
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if os.path.exists(port_file) and Path(port_file).read_text():
            port = int(Path(port_file).read_text())
            os.unlink(port_file)
            return proc, port
        if proc.poll() is not None:
            raise SystemExit(f"{kind} exited with {proc.returncode}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{kind} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def h2load(url: str, requests: int, new_connection: bool, post: str | None = None) -> tuple[float, float]:
    """Run h2load; return (requests/s, p99 ms) computed from its per-request log.

    With *post* (a file), every request is a POST of that file's bytes.
    """
    log = tempfile.mktemp()
    cmd = ["h2load", "--h1", "-n", str(requests), "-c", "32", "-t", "2", "--log-file", log, url]
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
    parser.add_argument("--serve")
    parser.add_argument("--cert-dir")
    parser.add_argument("--port-file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated servers to run (default: all)")
    parser.add_argument("--post", type=int, metavar="BYTES", help="POST a body of BYTES to every request")
    parser.add_argument("--middleware", action="store_true", help="only the request log's own cost")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.cert_dir, args.port_file)
        return
    if args.middleware:
        middleware_cost()
        return
    if not shutil.which("h2load"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            subprocess.run(["apt-get", "install", "-y", "-qq", "nghttp2-client"], check=True)
        else:
            raise SystemExit("h2load is missing: sudo apt-get install -y nghttp2-client")
    rounds = 1 if args.quick else args.rounds
    keepalive_n, close_n = (5000, 2000) if args.quick else (20000, 6000)
    cert_dir = tempfile.mkdtemp(prefix="bench-certs-")
    post_file = None
    if args.post:
        post_file = os.path.join(cert_dir, "post.json")
        Path(post_file).write_text(('{"pad": "' + "x" * args.post)[: args.post - 2] + '"}')
    from launcher.certs import CertStore

    CertStore(cert_dir).ensure()
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    servers = tuple(args.only.split(",")) if args.only else SERVERS
    cpu: dict[tuple[str, str], list[float]] = {}
    for round_no in range(1, rounds + 1):
        for kind in servers:
            proc, port = start_server(kind, cert_dir)
            scheme = "https" if "https" in kind else "http"
            url = f"{scheme}://127.0.0.1:{port}/"
            try:
                h2load(url, 500, False, post_file)  # warm-up
                for mode, n, close in (("keep-alive", keepalive_n, False), ("new-conn", close_n, True)):
                    cpu_before = cpu_seconds(proc.pid)
                    rps, p99 = h2load(url, n, close, post_file)
                    cpu_ms = (cpu_seconds(proc.pid) - cpu_before) * 1000 / n
                    results.setdefault((kind, mode), []).append((rps, p99))
                    cpu.setdefault((kind, mode), []).append(cpu_ms)
                    print(
                        f"round {round_no} {kind:16} {mode:10} {rps:8.0f} req/s  p99 {p99:6.1f} ms"
                        f"  server CPU {cpu_ms:.3f} ms/request",
                        flush=True,
                    )
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print()
    print(
        f"Medians over {rounds} round(s); h2load --h1 -c 32 -t 2; {THREADS} server threads; "
        f"loopback; {os.cpu_count()} cores; " + (f"POST {args.post} bytes" if args.post else "GET")
    )
    print(
        "| server | keep-alive req/s | p99 ms | ratio | CPU ms/req "
        "| new-conn req/s | p99 ms | ratio | CPU ms/req |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    base_kind = "waitress-http" if "waitress-http" in servers else servers[0]
    base = {
        mode: statistics.median(r for r, _ in results[(base_kind, mode)])
        for mode in ("keep-alive", "new-conn")
    }
    print(f"(ratio: to {base_kind})")
    for kind in servers:
        cells = []
        for mode in ("keep-alive", "new-conn"):
            rps = statistics.median(r for r, _ in results[(kind, mode)])
            p99 = statistics.median(p for _, p in results[(kind, mode)])
            cpu_ms = statistics.median(cpu[(kind, mode)])
            cells += [f"{rps:.0f}", f"{p99:.1f}", f"{rps / base[mode]:.2f}", f"{cpu_ms:.3f}"]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    ka = {kind: statistics.median(r for r, _ in results[(kind, "keep-alive")]) for kind in servers}
    print()
    for num, den, target in (
        ("ours-https", "waitress-http", "target >= 0.85, goal 0.9"),
        ("ours-https", "werkzeug-https", "target >= 3.5"),
        ("ours-http", "waitress-http", "target >= 0.95"),
        ("ours-http", "ours-http-nolog", "the cost of logging; target >= 0.95"),
        ("ours-https", "ours-https-nobodies", "the cost of recording bodies; target >= 0.95"),
    ):
        if num in ka and den in ka:
            print(f"{num} / {den} (keep-alive): {ka[num] / ka[den]:.2f}  ({target})")
    if "ours-https" in servers and "ours-https-nobodies" in servers:
        for mode in ("keep-alive", "new-conn"):
            with_, without = (
                statistics.median(cpu[(k, mode)]) for k in ("ours-https", "ours-https-nobodies")
            )
            print(f"server CPU per request, bodies on / off ({mode}): {with_ / without:.3f}")


if __name__ == "__main__":
    main()
