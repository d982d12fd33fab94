"""Does the window stay responsive under load?  And how fast does it open?

    .venv/bin/python bench/gui_responsiveness.py              # 10 s of load + 5 cold starts
    .venv/bin/python bench/gui_responsiveness.py --seconds 3 --cold-starts 2   # quicker
    .venv/bin/python bench/gui_responsiveness.py --workers 2  # load phases with 2 worker processes too

Load: the real ``MainWindow`` (offscreen, shown, auto-scroll on, row cap 10 000) as users get
it: both listeners run in its server process (``launcher.remote``), serving a tiny Flask app
chosen through the app selector.  Two h2load processes (Debian's ``nghttp2-client``: ``h2load
--h1 -n N -c 16 -t 1 URL``, one per listener, restarted in a loop until the time is up) send
requests at ``--rate`` in total (paced), then as fast as the server answers (flat out).
Meanwhile a 5 ms ``QTimer`` heartbeat (Qt.PreciseTimer) records every gap between its ticks: the
longest gap minus 5 ms is the longest stall of the GUI event loop (target < 50 ms).  RSS (window
plus server process) is sampled once a second.  Afterwards it checks the model kept its cap.
With ``--in-process`` (the default) each phase runs again right after with the servers inside
the window's process (``MainWindow(app=...)``), and the two are printed side by side.  With
``--workers N`` (N > 1) each phase also runs with the window's Workers setting at N (a pool of N
server processes on the same ports, ``launcher.workers``; set through the spin box, as a user
does, after the app is chosen), printed next to the one-process figures of the same run.

Cold start: a fresh ``python`` process (offscreen) imports the launcher, builds the window and
shows it; the parent measures from just before spawning the process to the child's "shown" line
(written once the window is exposed and painted).  Target < 1.5 s.

Reload on change (``--reloads N``, default 5): the window serves a user app from a temporary
folder, chosen through the app selector ("My app…", Apply) with "Reload on change" ticked, both
listeners running.  A thread rewrites the app's file N times and, each time, polls both schemes
(urllib, verified against the CA) until they answer with the new text: save-to-served latency
(the watcher's 0.3 s poll and 0.2 s debounce, a fresh import, both listeners restarted; target
< 1 s) while the 5 ms heartbeat measures the event loop's longest stall (target < 50 ms).

Limits: offscreen rendering is a software raster (what users see may differ a little); the
load generator shares the same 2 cores as the window and the servers.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HEARTBEAT_MS = 5
CLIENTS = 16  # h2load connections per listener
STALL_TARGET_MS = 50.0
RELOAD_TARGET_S = 1.0
COLD_START_TARGET_S = 1.5


def tiny_app():
    from flask import Flask

    app = Flask("bench")

    @app.route("/")
    def hello():
        return "Hello from the benchmark app\n"

    return app


def rss_mib(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


TINY_APP = """\
from flask import Flask

app = Flask("gui_bench_app")


@app.route("/")
def hello():
    return "Hello from the benchmark app\\n"
"""


def serve_tiny_app_in_child(app, window, tmp: Path) -> None:
    """Serve the tiny app the way a user would: "My app…", its file, Apply (the server process loads it)."""
    project = tmp / "project"
    project.mkdir()
    (project / "gui_bench_app.py").write_text(TINY_APP)
    panel = window.app_panel
    panel.custom_radio.setChecked(True)
    panel.target_edit.setText("gui_bench_app.py")
    panel.folder_edit.setText(str(project))
    panel.apply()
    deadline = time.monotonic() + 20
    while panel.busy or not window.app_label.text().endswith("“gui_bench_app”"):
        app.processEvents()
        if time.monotonic() > deadline:
            raise SystemExit(f"the benchmark app did not load: {window.banner.text}")
        time.sleep(0.01)


# --- load ---------------------------------------------------------------------------------------


class LoadLoop(threading.Thread):
    """Runs ``h2load`` against *url* again and again until *deadline*; sums what it reports."""

    def __init__(self, url: str, deadline: float, chunk: int, rps_per_client: float | None = None) -> None:
        super().__init__(name=f"load-{url}", daemon=True)
        self.url = url
        self.deadline = deadline
        self.chunk = chunk
        self.rps = rps_per_client
        self.succeeded = 0
        self.failed = 0
        self.runs = 0
        self.errors: list[str] = []

    def run(self) -> None:
        while time.monotonic() < self.deadline and not (self.rps and self.runs):
            cmd = ["h2load", "--h1", "-n", str(self.chunk), "-c", str(CLIENTS), "-t", "1", self.url]
            if self.rps:
                cmd[1:1] = [f"--rps={self.rps:g}"]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            self.runs += 1
            match = re.search(
                r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", proc.stdout
            )
            if match:
                self.succeeded += int(match.group(1))
                self.failed += int(match.group(2))
            else:
                self.errors.append((proc.stdout + proc.stderr)[-400:])
                time.sleep(0.1)


def close_window(app, window, tmp: Path | str) -> None:
    """Close *window* (up to 3 s for the close to go through the event loop), shut it down, remove *tmp*."""
    window.close()
    settle = time.monotonic() + 3
    while window.isVisible() and time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.01)
    window.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


def use_workers(app, window, workers: int) -> None:
    """Set the window's Workers spin box to *workers* and wait until it serves with them."""
    window.servers_panel.workers_spin.setValue(workers)
    window.apply_workers()  # now, not after the spin box's settling delay
    deadline = time.monotonic() + 30
    while window.switching or window.workers != workers:
        app.processEvents()
        if time.monotonic() > deadline:
            raise SystemExit(f"the window did not switch to {workers} workers: {window.banner.text}")
        time.sleep(0.01)


def run_load(
    seconds: float, rate: float | None = None, *, in_process: bool = False, workers: int = 1
) -> dict[str, float | int | str]:
    """Load both listeners for *seconds*: at *rate* requests/s in total (paced), or flat out.

    *in_process*: the servers run in the window's process (``MainWindow(app=...)``), as before
    the server process existed; otherwise the window as users get it (servers in a child process,
    or in *workers* of them).
    """
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from launcher.gui.mainwindow import MainWindow, configure_application

    app = QApplication.instance() or QApplication([])
    configure_application(app)
    from launcher.gui.app import settle_heap

    tmp = Path(tempfile.mkdtemp(prefix="gui-bench-"))
    if in_process:
        window = MainWindow(cert_dir=tmp / "certs", settings=tmp / "settings.ini", app=tiny_app())
    else:
        window = MainWindow(cert_dir=tmp / "certs", settings=tmp / "settings.ini")
    for row in window.servers_panel.rows.values():
        row.port_spin.setValue(0)
    window.resize(1440, 880)
    window.show()
    settle_heap()  # what run_gui does once the window is up
    if not in_process:
        serve_tiny_app_in_child(app, window, tmp)
        if workers > 1:
            use_workers(app, window, workers)

    def rss_now() -> float:  # the window and its server processes (a pool's change as they restart)
        return rss_mib() + sum(rss_mib(pid) for pid in getattr(window.servers, "pids", ()))

    window.servers_panel.start_all()
    deadline = time.monotonic() + 10
    while not (window.servers.http.running and window.servers.https.running):
        app.processEvents()
        if time.monotonic() > deadline:
            raise SystemExit(f"servers did not start: {window.banner.text}")
        time.sleep(0.01)
    app.processEvents()
    http_url, https_url = window.servers.http.url, window.servers.https.url

    # Warm up both listeners (first TLS handshakes, Flask's first request) before measuring.
    subprocess.run(["h2load", "--h1", "-n", "200", "-c", "4", "-t", "1", http_url], capture_output=True)
    subprocess.run(["h2load", "--h1", "-n", "200", "-c", "4", "-t", "1", https_url], capture_output=True)
    # ... and let their records arrive (a pool holds them 0.25 s to merge them in order), so the
    # count below is the measured load's alone.
    settle = time.monotonic() + 0.6
    while time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.01)

    gaps: list[float] = []
    clock = QElapsedTimer()
    last = [0]
    rss: list[float] = [rss_now()]
    max_rows = [0]
    model = window.log_panel.model

    def beat() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now
        max_rows[0] = max(max_rows[0], model.rowCount())

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(beat)
    sampler = QTimer()
    sampler.setInterval(1000)
    sampler.timeout.connect(lambda: rss.append(rss_now()))

    total_before = window.servers.sink.total
    end = time.monotonic() + seconds
    if rate:
        per_listener = rate / 2
        chunk = int(per_listener * seconds)
        per_client = per_listener / CLIENTS
        loads = [LoadLoop(http_url, end, chunk, per_client), LoadLoop(https_url, end, chunk, per_client)]
    else:
        loads = [LoadLoop(http_url, end, 4000), LoadLoop(https_url, end, 4000)]
    started = time.perf_counter()
    clock.start()
    heartbeat.start()
    sampler.start()
    for load in loads:
        load.start()

    # The real event loop, as app.exec() runs it, until both load loops have finished.
    loop = QEventLoop()
    watcher = QTimer()
    watcher.setInterval(100)
    watcher.timeout.connect(lambda: None if any(load.is_alive() for load in loads) else loop.quit())
    watcher.start()
    loop.exec()
    watcher.stop()
    elapsed = time.perf_counter() - started
    heartbeat.stop()
    sampler.stop()
    # Let the pump take what arrived last.
    settle = time.monotonic() + 0.5
    while time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.005)
    rss.append(rss_now())

    served = window.servers.sink.total - total_before
    stalls = sorted(gaps)
    workers_seen = sorted({r.worker for r in model.records()})
    result: dict[str, float | int | str] = {
        "workers": window.workers,
        "served_by": ", ".join(f"worker {w}" for w in workers_seen if w) or "one process",
        "seconds": round(elapsed, 2),
        "requests": served,
        "req_per_s": served / elapsed,
        "http_ok": loads[0].succeeded,
        "https_ok": loads[1].succeeded,
        "failed": loads[0].failed + loads[1].failed,
        "h2load_runs": loads[0].runs + loads[1].runs,
        "beats": len(gaps),
        "max_stall_ms": max(0.0, stalls[-1] - HEARTBEAT_MS) if stalls else float("nan"),
        "p99_gap_ms": stalls[int(len(stalls) * 0.99) - 1] if stalls else float("nan"),
        "median_gap_ms": statistics.median(stalls) if stalls else float("nan"),
        "rows": model.rowCount(),
        "max_rows": max_rows[0],
        "cap": model.cap,
        "dropped": window.log_panel.dropped,
        "rss_start_mib": rss[0],
        "rss_mid_mib": rss[len(rss) // 2],
        "rss_peak_mib": max(rss),
        "rss_end_mib": rss[-1],
        "status_total": window.status_total.text(),
        "load_errors": "; ".join(
            e.strip().splitlines()[-1] for e in loads[0].errors + loads[1].errors if e.strip()
        )[:300],
    }
    close_window(app, window, tmp)
    return result


# --- reload on change ------------------------------------------------------------------------------

BENCH_APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return {text!r}
"""


def run_reloads(count: int) -> dict[str, float | int | str]:
    """Save the served app *count* times; time save -> both schemes serve it; watch the event loop."""
    import ssl
    import urllib.request

    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from launcher.gui.app import settle_heap
    from launcher.gui.mainwindow import MainWindow, configure_application

    app = QApplication.instance() or QApplication([])
    configure_application(app)
    tmp = Path(tempfile.mkdtemp(prefix="gui-reload-bench-"))
    project = tmp / "project"
    project.mkdir()
    source = project / "reload_bench_app.py"
    source.write_text(BENCH_APP.format(text="version 0"))
    window = MainWindow(cert_dir=tmp / "certs", settings=tmp / "settings.ini")
    for row in window.servers_panel.rows.values():
        row.port_spin.setValue(0)
    window.resize(1440, 880)
    window.show()
    settle_heap()

    def wait(condition, what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            app.processEvents()
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}: {window.banner.text}")
            time.sleep(0.005)

    panel = window.app_panel
    panel.custom_radio.setChecked(True)
    panel.target_edit.setText(source.name)
    panel.folder_edit.setText(str(project))
    panel.apply()
    wait(lambda: not panel.busy and window.app_label.text().endswith("“reload_bench_app”"), "the app to load")
    window.servers_panel.start_all()
    wait(lambda: window.servers.http.running and window.servers.https.running, "the servers")
    panel.reload_check.setChecked(True)
    wait(lambda: panel.reloader is not None and panel.reloader.running and not panel.busy, "the reloader")
    urls = (window.servers.http.url, window.servers.https.url.replace("127.0.0.1", "localhost"))
    context = ssl.create_default_context(cafile=str(window.cert_store.ca_cert_path))

    def body(url: str) -> bytes | None:
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as response:
                return response.read()
        except OSError:
            return None  # restarting

    latencies: list[float] = []
    failures: list[str] = []

    def edit_and_poll() -> None:
        time.sleep(0.7)  # files saved in the same instant as the load would count as a change
        for i in range(1, count + 1):
            text = f"version {i}"
            source.write_text(BENCH_APP.format(text=text))
            saved = time.perf_counter()
            deadline = saved + 10
            pending = set(urls)
            while pending and time.perf_counter() < deadline:
                pending = {u for u in pending if body(u) != text.encode()}
                if pending:
                    time.sleep(0.01)
            if pending:
                failures.append(f"{text}: not served by {', '.join(sorted(pending))} within 10 s")
            else:
                latencies.append(time.perf_counter() - saved)
            time.sleep(0.3)

    gaps: list[float] = []
    clock = QElapsedTimer()
    last = [0]

    def beat() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(beat)
    editor = threading.Thread(target=edit_and_poll, name="reload-bench-editor", daemon=True)
    clock.start()
    heartbeat.start()
    editor.start()
    loop = QEventLoop()
    watcher = QTimer()
    watcher.setInterval(50)
    watcher.timeout.connect(lambda: None if editor.is_alive() else loop.quit())
    watcher.start()
    loop.exec()
    watcher.stop()
    heartbeat.stop()
    reloads = panel.reloader.reloads if panel.reloader is not None else 0
    errors = panel.error_label.text() if panel.error_label.isVisibleTo(window) else ""
    close_window(app, window, tmp)
    stalls = sorted(gaps)
    return {
        "saves": count,
        "served": len(latencies),
        "reloads": reloads,
        "median_s": statistics.median(latencies) if latencies else float("nan"),
        "max_s": max(latencies) if latencies else float("nan"),
        "max_stall_ms": max(0.0, stalls[-1] - HEARTBEAT_MS) if stalls else float("nan"),
        "p99_gap_ms": stalls[int(len(stalls) * 0.99) - 1] if stalls else float("nan"),
        "beats": len(gaps),
        "problems": "; ".join([*failures, errors] if errors else failures),
    }


def report_reloads(r: dict[str, float | int | str]) -> None:
    ok = "OK" if float(r["max_s"]) < RELOAD_TARGET_S else "OVER TARGET"
    stall_ok = "OK" if float(r["max_stall_ms"]) < STALL_TARGET_MS else "OVER TARGET"
    print("Reload on change (save -> both schemes serve the new version):")
    print(
        f"  latency:      median {r['median_s']:.2f} s, max {r['max_s']:.2f} s"
        f" over {r['served']}/{r['saves']} saves, {r['reloads']} reloads"
        f" (target < {RELOAD_TARGET_S:.0f} s: {ok})"
    )
    print(
        f"  event loop:   longest stall {r['max_stall_ms']:.1f} ms (target < {STALL_TARGET_MS:.0f} ms:"
        f" {stall_ok}); p99 gap {r['p99_gap_ms']:.1f} ms ({r['beats']:,} beats)"
    )
    if r["problems"]:
        print(f"  problems:     {r['problems']}")


# --- cold start ------------------------------------------------------------------------------------


CHILD = """
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, {root!r})
from PySide6.QtWidgets import QApplication
from launcher.gui.mainwindow import MainWindow, configure_application
app = QApplication([])
configure_application(app)
window = MainWindow(cert_dir={cert_dir!r}, settings={settings!r})
window.show()
while not (window.windowHandle() and window.windowHandle().isExposed()):
    app.processEvents()
window.repaint()
app.processEvents()
print("shown", flush=True)
window.close()
window.shutdown()
"""


def cold_start(runs: int) -> list[float]:
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gui-cold-") as tmp:
        # A CA and leaf already exist on a normal start (made once); make them first.
        from launcher.certs import CertStore

        CertStore(Path(tmp) / "certs").ensure()
        code = CHILD.format(
            root=str(ROOT), cert_dir=str(Path(tmp) / "certs"), settings=str(Path(tmp) / "s.ini")
        )
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        for _ in range(runs + 1):  # the first run warms the OS file cache and is not counted
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", code],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()
            shown = time.perf_counter() - start
            proc.communicate(timeout=30)
            if line.strip() != "shown":
                raise SystemExit(f"cold-start child failed: {proc.stderr}")
            times.append(shown)
    return times[1:]


def report(label: str, r: dict[str, float | int | str]) -> None:
    ok = "OK" if float(r["max_stall_ms"]) < STALL_TARGET_MS else "OVER TARGET"
    cap_ok = "OK" if int(r["max_rows"]) <= int(r["cap"]) else "OVER CAP"
    print(f"{label}:")
    print(
        f"  load:         {r['requests']:,} requests in {r['seconds']} s = {r['req_per_s']:,.0f} req/s"
        f" (HTTP {r['http_ok']:,}, HTTPS {r['https_ok']:,}, failed {r['failed']})"
    )
    if int(r["workers"]) > 1:
        print(f"  workers:      {r['workers']} server processes; the log's rows came from {r['served_by']}")
    print(
        f"  event loop:   longest stall {r['max_stall_ms']:.1f} ms (target < {STALL_TARGET_MS:.0f} ms: {ok});"
        f" {HEARTBEAT_MS} ms heartbeat gaps: median {r['median_gap_ms']:.1f} ms,"
        f" p99 {r['p99_gap_ms']:.1f} ms ({r['beats']:,} beats)"
    )
    print(
        f"  model:        {r['rows']:,} rows at the end, never more than {r['max_rows']:,}"
        f" (cap {r['cap']:,}: {cap_ok}); {r['dropped']:,} older rows dropped"
    )
    print(
        f"  memory (RSS): start {r['rss_start_mib']:.0f} MiB, half-way {r['rss_mid_mib']:.0f} MiB,"
        f" peak {r['rss_peak_mib']:.0f} MiB, end {r['rss_end_mib']:.0f} MiB"
    )
    if r["load_errors"]:
        print(f"  load errors:  {r['load_errors']}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration per phase (default 10)")
    parser.add_argument(
        "--rate", type=float, default=1200.0, help="paced phase: total requests/s (default 1200)"
    )
    parser.add_argument("--no-flat-out", action="store_true", help="skip the flat-out phase")
    parser.add_argument("--cold-starts", type=int, default=5, help="cold-start runs (default 5)")
    parser.add_argument("--reloads", type=int, default=5, help="reload-on-change saves (default 5; 0: skip)")
    parser.add_argument("--no-load", action="store_true", help="skip the paced and flat-out phases")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="also run each load phase with the window's Workers setting at N (N > 1), next to one process",
    )
    parser.add_argument(
        "--in-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run each load phase with the servers in the window's process, side by side (default on)",
    )
    args = parser.parse_args()
    from launcher.options import MAX_WORKERS

    if not 1 <= args.workers <= MAX_WORKERS:
        parser.error(f"--workers: a number from 1 to {MAX_WORKERS}")
    if not shutil.which("h2load"):
        raise SystemExit("h2load is missing: sudo apt-get install -y nghttp2-client")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" notes

    print(
        f"GUI responsiveness: window offscreen and shown, both listeners running, h2load --h1"
        f" -c {CLIENTS} -t 1 per listener, {args.seconds:.0f} s per phase, {os.cpu_count()} cores"
    )
    if args.cold_starts > 0:
        times = cold_start(args.cold_starts)
        median = statistics.median(times)
        ok = "OK" if median < COLD_START_TARGET_S else "OVER TARGET"
        print("Cold start (process start to window shown, offscreen):")
        print(
            f"  median {median:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s over {len(times)} runs"
            f" (target < {COLD_START_TARGET_S} s: {ok})"
        )
    if args.reloads > 0:
        report_reloads(run_reloads(args.reloads))
    if not args.no_load:
        phases = [(f"Paced at {args.rate:,.0f} req/s", args.rate)]
        if not args.no_flat_out:
            phases.append(("Flat out (as fast as the server answers)", None))
        for label, rate in phases:
            child = run_load(args.seconds, rate)
            report(f"{label}, servers in the server process (the window as users get it)", child)
            if args.workers > 1:
                pooled = run_load(args.seconds, rate, workers=args.workers)
                report(f"{label}, Workers = {args.workers} (a pool of server processes)", pooled)
                print(
                    f"  side by side: longest stall {float(pooled['max_stall_ms']):.1f} ms with"
                    f" {args.workers} workers vs {float(child['max_stall_ms']):.1f} ms with one process;"
                    f" p99 gap {float(pooled['p99_gap_ms']):.1f} vs {float(child['p99_gap_ms']):.1f} ms;"
                    f" {float(pooled['req_per_s']):,.0f} vs {float(child['req_per_s']):,.0f} req/s"
                )
            if args.in_process:
                inside = run_load(args.seconds, rate, in_process=True)
                report(f"{label}, servers in the window's process (for comparison)", inside)
                print(
                    f"  side by side: longest stall {float(child['max_stall_ms']):.1f} ms vs"
                    f" {float(inside['max_stall_ms']):.1f} ms in-process"
                    f" (ratio {float(child['max_stall_ms']) / max(0.1, float(inside['max_stall_ms'])):.2f});"
                    f" p99 gap {float(child['p99_gap_ms']):.1f} vs {float(inside['p99_gap_ms']):.1f} ms;"
                    f" {float(child['req_per_s']):,.0f} vs {float(inside['req_per_s']):,.0f} req/s"
                )

    return 0


if __name__ == "__main__":
    sys.exit(main())
