"""Workers in the window: the setting switches between one server process and a pool of them.

Real widgets offscreen, real server processes, real sockets on 127.0.0.1 (ports 0), real TLS
with the CA the window generates.  Each request below opens a new connection (urllib); the
workers take turns accepting them (``launcher.acceptshare``), so both serve.
"""

from __future__ import annotations

import json
import os
import signal
import socket

import pytest
from guihelpers import ca_context, fetch, refuses, wait_state
from nethelpers import process_alive
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QPushButton

from launcher.apptarget import AppTarget
from launcher.gui.logmodel import COL_PATH, COL_WORKER
from launcher.messages import MessageLevel

pytestmark = pytest.mark.skipif(os.name != "posix", reason="worker pools need POSIX")

REQUESTS = 24  # per scheme; with two workers, all on one is a 2 × 2⁻⁴⁸ chance


def start_all(qtbot, window) -> tuple[int, int]:
    qtbot.mouseClick(window.findChild(QPushButton, "startAllButton"), Qt.MouseButton.LeftButton)
    wait_state(qtbot, window, "http", "running", timeout=15000)
    wait_state(qtbot, window, "https", "running", timeout=15000)
    return window.servers.http.port, window.servers.https.port


def set_workers(qtbot, window, workers: int) -> None:
    """Type *workers* into the Workers spin box and wait until the window serves with them."""
    window.servers_panel.workers_spin.setValue(workers)
    # The switch starts once the spin box settled and may end between two looks (stopped
    # servers switch in a moment): wait for its result, not for the switch itself.
    qtbot.waitUntil(lambda: window.servers.workers == workers and not window.switching, timeout=20000)
    assert window.banner.isHidden(), window.banner.text


def saved_workers(path, workers: int) -> None:
    """Workers = *workers* in the settings file at *path*, as a window saved it."""
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    settings.setValue("servers/workers", workers)
    settings.sync()


def requests_over_new_connections(window, http_port: int, https_port: int, tag: str) -> None:
    context = ca_context(window)
    for i in range(REQUESTS):
        assert fetch(f"http://127.0.0.1:{http_port}/{tag}/http/{i}")[0] == 200
        assert fetch(f"https://localhost:{https_port}/{tag}/https/{i}", context)[0] == 200


def rows_of(qtbot, window, tag: str) -> list[int]:
    """The table's rows for the requests tagged *tag* (waits until all of them arrived)."""
    model = window.log_panel.model

    def rows() -> list[int]:
        return [r for r in range(model.rowCount()) if f"/{tag}/" in str(model.data(model.index(r, COL_PATH)))]

    qtbot.waitUntil(lambda: len(rows()) == 2 * REQUESTS, timeout=5000)
    return rows()


def test_workers_2_serves_through_two_processes_and_1_through_one_again(qtbot, make_window, tmp_path):
    window = make_window(show=True, process=True)
    assert window.servers.workers == 1 and window.servers_panel.workers_spin.value() == 1
    http_port, https_port = start_all(qtbot, window)
    (single,) = window.servers.pids
    assert window.log_panel.view.isColumnHidden(COL_WORKER)  # one process: nothing to tell apart

    set_workers(qtbot, window, 2)
    pids = window.servers.pids
    assert len(pids) == 2 and single not in pids
    assert sorted(window.servers.diagnostics()["workers"]) == [1, 2]
    qtbot.waitUntil(lambda: not process_alive(single), timeout=5000)  # the one process ended
    # Same ports, same app (the test app's JSON, not the demo page), both listeners running again.
    assert (window.servers.http.port, window.servers.https.port) == (http_port, https_port)
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")

    requests_over_new_connections(window, http_port, https_port, "pool")
    model = window.log_panel.model
    rows = rows_of(qtbot, window, "pool")
    shown = {model.data(model.index(r, COL_WORKER)) for r in rows}
    assert shown == {"1", "2"}, shown
    assert not window.log_panel.view.isColumnHidden(COL_WORKER)
    assert "Worker" in [a.text() for a in window.log_panel.column_menu().actions()]
    for row in rows:
        record = model.record(row)
        assert record is not None and record.worker in (1, 2)
        assert ("HTTPS" if "/https/" in record.path else "HTTP") == record.listener.upper()
    # Both exports carry it: HAR as "_worker", JSON Lines as "worker".
    window.log_panel.export_to("har", tmp_path / "log.har")
    window.log_panel.export_to("jsonl", tmp_path / "log.jsonl")
    entries = json.loads((tmp_path / "log.har").read_text())["log"]["entries"]
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert {e["_worker"] for e in entries if "/pool/" in e["request"]["url"]} == {1, 2}
    assert {d["worker"] for d in lines if "/pool/" in d["url"]} == {1, 2}
    # The detail pane names the worker of the selected request.
    row = next(r for r in rows if model.data(model.index(r, COL_WORKER)) == "2")
    window.log_panel.view.selectRow(window.log_panel.proxy.mapFromSource(model.index(row, 0)).row())
    qtbot.waitUntil(lambda: "worker 2" in window.log_panel.detail.toPlainText(), timeout=2000)

    set_workers(qtbot, window, 1)
    (again,) = window.servers.pids
    assert again not in pids
    for pid in pids:
        qtbot.waitUntil(lambda pid=pid: not process_alive(pid), timeout=5000)
    assert "workers" not in window.servers.diagnostics()
    assert (window.servers.http.port, window.servers.https.port) == (http_port, https_port)
    requests_over_new_connections(window, http_port, https_port, "single")
    rows = rows_of(qtbot, window, "single")
    assert {model.record(r).worker for r in rows} == {0}
    assert window.log_panel.view.isColumnHidden(COL_WORKER)


def test_a_new_name_restarts_a_pool_with_one_new_set_of_workers(qtbot, make_window, gui_settings):
    """Sharing changes (a name, the LAN) restart the running listeners: together, so a pool
    starts one set of workers for both, not one per listener."""
    saved_workers(gui_settings, 2)
    window = make_window(show=True, process=True, test_app=False)
    http_port, https_port = start_all(qtbot, window)
    pool = window.servers.inner
    sets: list[int] = []
    replace = pool.replace_workers

    def counted(*args, **kwargs):
        sets.append(1)
        return replace(*args, **kwargs)

    pool.replace_workers = counted
    before = window.servers.pids
    panel = window.servers_panel
    panel.name_edit.setText("myapp")
    panel.name_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "myapp.localhost" in window.servers.cert_hosts(), timeout=5000)
    wait_state(qtbot, window, "http", "running", timeout=20000)
    wait_state(qtbot, window, "https", "running", timeout=20000)

    def new_set() -> bool:
        return len(window.servers.pids) == 2 and not set(window.servers.pids) & set(before)

    qtbot.waitUntil(new_set, timeout=20000)
    assert sets == [1]  # one new set of workers for both listeners
    assert (window.servers.http.port, window.servers.https.port) == (http_port, https_port)
    context = ca_context(window)
    assert fetch(f"https://localhost:{https_port}/", context)[0] == 200
    assert fetch(f"http://127.0.0.1:{http_port}/")[0] == 200


def test_workers_setting_persists(qtbot, make_window, gui_settings):
    window = make_window(process=True, test_app=False)
    set_workers(qtbot, window, 3)  # stopped: only the servers object changes
    assert window.servers.pids == []  # a pool starts its processes with its listeners
    window.save_settings()
    assert QSettings(str(gui_settings), QSettings.Format.IniFormat).value("servers/workers") in (3, "3")

    again = make_window(process=True, test_app=False)
    assert again.servers_panel.workers_spin.value() == 3
    assert again.servers.workers == 3
    assert not again.log_panel.view.isColumnHidden(COL_WORKER)
    assert "worker" not in again.settings.get("log/hidden_columns").split(",")


def test_a_killed_worker_is_reported_and_served_again(qtbot, make_window, gui_settings):
    saved_workers(gui_settings, 2)  # the window starts with a pool
    window = make_window(show=True, process=True)
    assert window.servers.workers == 2
    http_port, https_port = start_all(qtbot, window)
    qtbot.waitUntil(lambda: len(window.servers.pids) == 2, timeout=10000)
    pids = window.servers.pids

    victim = pids[0]
    number = next(n for n, d in window.servers.diagnostics()["workers"].items() if d["pid"] == victim)
    os.kill(victim, signal.SIGKILL)
    qtbot.waitUntil(lambda: any("exited unexpectedly" in n for n in window.worker_notices), timeout=5000)
    assert f"orker {number} exited unexpectedly" in window.worker_notices[0]
    assert window.banner.isVisible() and window.banner.level is MessageLevel.WARNING
    qtbot.waitUntil(lambda: any("serving again" in n for n in window.worker_notices), timeout=10000)
    assert f"Worker {number} is serving again" in window.banner.text
    new_pids = window.servers.pids
    assert len(new_pids) == 2 and victim not in new_pids and pids[1] in new_pids
    assert not process_alive(victim)

    requests_over_new_connections(window, http_port, https_port, "after")
    rows = rows_of(qtbot, window, "after")
    assert {window.log_panel.model.record(r).worker for r in rows} == {1, 2}  # both serve again

    with qtbot.waitSignal(window.closed, timeout=3000):  # closing ends every worker, frees the ports
        window.close()
    for pid in new_pids:
        qtbot.waitUntil(lambda pid=pid: not process_alive(pid), timeout=3000)
    assert refuses(http_port) and refuses(https_port)


def test_a_switch_that_cannot_happen_changes_nothing_and_says_why(qtbot, make_window, gui_settings, tmp_path):
    saved_workers(gui_settings, 2)
    window = make_window(process=True, test_app=False)
    project = tmp_path / "project"
    project.mkdir()
    (project / "breakable.py").write_text(
        "from flask import Flask\napp = Flask(__name__)\napp.get('/')(lambda: 'still here')\n"
    )
    window.servers.serve_target(AppTarget("breakable:app", project))
    http_port, _ = start_all(qtbot, window)
    pids = window.servers.pids
    (project / "breakable.py").write_text("raise RuntimeError('broken on purpose')\n")

    window.servers_panel.workers_spin.setValue(1)  # one process imports the app first: it fails
    qtbot.waitUntil(lambda: window.switching, timeout=3000)
    qtbot.waitUntil(lambda: not window.switching, timeout=20000)
    assert "broken on purpose" in window.banner.text
    assert window.servers.workers == 2 and window.servers.pids == pids
    assert window.servers_panel.workers_spin.value() == window.servers_panel.config.workers == 2
    assert fetch(f"http://127.0.0.1:{http_port}/") == (200, b"still here")


def test_start_all_with_a_port_taken_names_it_and_starts_the_other(qtbot, make_window, gui_settings):
    saved_workers(gui_settings, 2)
    window = make_window(show=True, process=True, test_app=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        window.servers_panel.rows["http"].port_spin.setValue(taken.getsockname()[1])
        window.servers_panel.start_all()  # one call: the pool starts one set of processes
        wait_state(qtbot, window, "https", "running", timeout=15000)
        wait_state(qtbot, window, "http", "error")
        qtbot.waitUntil(lambda: "HTTP did not start" in window.banner.text, timeout=5000)
    assert "in use" in window.banner.text
    assert len(window.servers.pids) == 2
    context = ca_context(window)
    assert fetch(f"https://localhost:{window.servers.https.port}/", context)[0] == 200


def test_a_pool_not_started_yet_names_the_chosen_app_and_refuses_one_that_does_not_import(
    qtbot, make_window, gui_settings, tmp_path
):
    saved_workers(gui_settings, 2)
    window = make_window(process=True, test_app=False)
    project = tmp_path / "project"
    project.mkdir()
    (project / "myapp.py").write_text("from flask import Flask\napp = Flask('myapp')\n")
    (project / "broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    panel = window.app_panel
    panel.custom_radio.setChecked(True)
    panel.folder_edit.setText(str(project))
    for name in ("myapp.py", "broken.py"):
        panel.target_edit.setText(name)
        panel.apply()
        qtbot.waitUntil(lambda: not panel.busy, timeout=20000)
    assert window.servers.pids == []  # still nothing started: the pool starts with its listeners
    assert window.app_label.text() == "Flask app “myapp”"  # not the demo app, not the broken one
    assert "broken on purpose" in panel.error_label.text()
    start_all(qtbot, window)
    assert fetch(f"http://127.0.0.1:{window.servers.http.port}/")[0] == 404  # myapp: no routes
    assert window.app_label.text() == "Flask app “myapp”"


def test_workers_do_not_apply_to_servers_in_the_windows_process(make_window):
    window = make_window()  # MainWindow(app=...): Servers in this process
    assert window.switchable is None and window.workers == 1
    assert not window.servers_panel.workers_spin.isEnabled()
