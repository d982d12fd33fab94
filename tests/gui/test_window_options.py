"""The window's serving options come from and go to ``launcher.options.ServeConfig``."""

from __future__ import annotations

import http.client
import threading

from guihelpers import ca_context, wait_state
from PySide6.QtCore import QSettings

from launcher.options import DEFAULTS
from launcher.remote.wire import Op


def test_one_hsts_step_sends_one_message_to_the_server_process(qtbot, make_window) -> None:
    window = make_window(process=True)
    panel, servers = window.servers_panel, window.servers.inner  # the RemoteServers in force
    panel.hsts_check.setChecked(True)
    panel.hsts_age_spin.setValue(600)
    servers.start_all()
    wait_state(qtbot, window, "https", "running")
    sent: list[tuple[Op, dict]] = []
    notify = servers._notify

    def counting(method: Op, **kwargs: object) -> None:
        sent.append((method, kwargs))
        notify(method, **kwargs)

    servers._notify = counting  # the real method, counted
    panel.hsts_age_spin.stepUp()
    assert sent == [(Op.POLICY, {"hsts": 601})]
    servers.policy.sync()
    conn = http.client.HTTPSConnection("localhost", servers.https.port, context=ca_context(window), timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().getheader("Strict-Transport-Security") == "max-age=601"
    conn.close()


def test_settings_of_the_old_shape_are_kept(qtbot, make_window, gui_settings) -> None:
    old = QSettings(str(gui_settings), QSettings.Format.IniFormat)
    for key, value in {
        "policy/redirect_https": True,
        "policy/redirect_status": 301,
        "policy/hsts": True,
        "policy/hsts_max_age": 1234,
    }.items():
        old.setValue(key, value)
    old.sync()
    window = make_window()
    assert (window.servers.policy.redirect_https, window.servers.policy.hsts) == (301, 1234)
    panel = window.servers_panel
    assert panel.redirect_check.isChecked() and panel.redirect_status_combo.currentData() == 301
    assert panel.hsts_check.isChecked() and panel.hsts_age_spin.value() == 1234
    window.close()
    qtbot.waitUntil(lambda: window._close_done, timeout=3000)
    saved = QSettings(str(gui_settings), QSettings.Format.IniFormat)
    assert not saved.contains("policy/redirect_status") and not saved.contains("policy/hsts_max_age")
    assert (int(saved.value("policy/redirect_https")), int(saved.value("policy/hsts"))) == (301, 1234)


def test_threads_from_the_settings_serve(qtbot, make_window, gui_settings) -> None:
    stored = QSettings(str(gui_settings), QSettings.Format.IniFormat)
    stored.setValue("servers/threads", 3)
    stored.sync()
    window = make_window()
    assert window.servers.threads == 3 != DEFAULTS.threads
    window.servers_panel.start("https")
    wait_state(qtbot, window, "https", "running")
    workers = [t for t in threading.enumerate() if t.name.startswith("launcher-https-worker-")]
    assert len(workers) == 3
    assert window.servers_panel.config.threads == 3


def test_the_ca_domains_field_is_kept(qtbot, make_window) -> None:
    window = make_window()
    window.cert_panel.ca_domains_edit.setText("example.dev, intranet.test")
    window.close()
    qtbot.waitUntil(lambda: window._close_done, timeout=3000)
    again = make_window()
    assert again.cert_panel.ca_domains() == ("example.dev", "intranet.test")
