"""The Production tab: the proxy's configuration and the app side, from ``launcher.deploy``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication


def test_the_tab_follows_the_choices_and_copies(qtbot, make_window) -> None:
    window = make_window()
    panel = window.production_panel
    assert window.tabs.indexOf(panel) >= 0
    assert "proxy_set_header X-Forwarded-Proto" in panel.config_view.toPlainText()
    panel.proxy_combo.setCurrentIndex(panel.proxy_combo.findText("caddy"))
    assert "admin off" in panel.config_view.toPlainText()
    panel.proxies_spin.setValue(2)
    assert "x_for=2, x_proto=2, x_host=2" in panel.app_view.toPlainText()
    panel.name_edit.setText("shop.example")
    assert "shop.example" in panel.config_view.toPlainText()
    panel.copy_app_button.click()
    assert QGuiApplication.clipboard().text() == panel.app_view.toPlainText()


def test_a_bad_upstream_is_said_and_keeps_the_last_texts(qtbot, make_window) -> None:
    panel = make_window().production_panel
    before = panel.config_view.toPlainText()
    panel.upstream_edit.setText("not an address")
    assert panel.problem_label.isVisibleTo(panel) and "App at:" in panel.problem_label.text()
    assert panel.config_view.toPlainText() == before
    panel.upstream_edit.setText("127.0.0.1:9000")
    assert not panel.problem_label.isVisibleTo(panel)
    assert "127.0.0.1:9000" in panel.config_view.toPlainText()


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.mark.skipif(NGINX is None, reason="needs nginx (Debian: nginx; scripts/test.sh installs it)")
def test_the_shown_nginx_configuration_is_valid(qtbot, make_window, tmp_path) -> None:
    """What the tab shows passes the real ``nginx -t`` (with a real certificate in place)."""
    from launcher.certs import CertStore

    store = CertStore(tmp_path / "certs")
    store.ensure()
    panel = make_window().production_panel
    panel.cert_edit.setText(str(store.cert_path))
    panel.key_edit.setText(str(store.key_path))
    conf = tmp_path / "nginx.conf"
    conf.write_text(panel.config_view.toPlainText())
    assert NGINX is not None
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
