"""The window's "Share on my network": real servers on free ports, offscreen Qt, both server modes.

The LAN addresses are whatever ``launcher.lan.scan`` finds on this machine (bridges included, so a
container's bridge counts as a network here); the test is skipped when there is none.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess

import pytest
from cryptography import x509
from guihelpers import ca_context, fetch, wait_state
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QPushButton, QWidget

from launcher.lan import mdns_name, scan
from launcher.onboarding import PREFIX, fingerprint

BOTH_MODES = pytest.mark.parametrize("process", [False, True], ids=["in-process", "server-process"])


def served_sans(port: int) -> tuple[set[str], set[str]]:
    """The DNS names and IP addresses of the leaf HTTPS serves on 127.0.0.1:*port* (none while
    it does not answer)."""
    try:
        pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=5)
    except OSError:  # restarting
        return set(), set()
    san = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    names = set(san.value.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)}
    return names, ips


def both_running(qtbot, window) -> tuple[int, int]:
    wait_state(qtbot, window, "http", "running")
    wait_state(qtbot, window, "https", "running")
    return window.servers.http.port, window.servers.https.port


@BOTH_MODES
def test_share_on_my_network_and_stop_sharing(qtbot, make_window, tmp_path, process):
    found = scan(include_bridges=True, ipv6=False).addresses
    if not found:
        pytest.skip("launcher.lan.scan() finds no LAN address on this machine (bridges included)")
    window = make_window(show=True, process=process)
    panel = window.servers_panel
    panel.set_config(panel.config.replace(lan_bridges=True))  # a container's bridge is its LAN
    panel.start_all()
    http_port, https_port = both_running(qtbot, window)
    assert window.servers.host == "127.0.0.1"
    box = panel.findChild(QWidget, "lanShareBox")
    assert not box.isVisible()

    name_edit = panel.findChild(QLineEdit, "nameEdit")
    name_edit.setText("shop")
    name_edit.editingFinished.emit()  # running: the servers restart with the name...
    qtbot.waitUntil(lambda: "shop.localhost" in served_sans(window.servers.https.port)[0], timeout=8000)
    both_running(qtbot, window)

    qtbot.mouseClick(panel.findChild(QCheckBox, "lanShareCheck"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.servers.host == "0.0.0.0", timeout=8000)
    assert both_running(qtbot, window) == (http_port, https_port)  # restarted on the same ports
    assert panel.config.lan

    names, ips = served_sans(https_port)
    assert {str(item.address) for item in found} <= ips
    assert "shop.localhost" in names
    local = mdns_name()
    if local is not None:
        assert local in names

    ca_pem = window.cert_store.ca_cert_path.read_bytes()
    ca = x509.load_pem_x509_certificate(ca_pem)
    status, body = fetch(f"http://127.0.0.1:{http_port}{PREFIX}")
    assert status == 200 and fingerprint(ca).encode() in body
    status, body = fetch(f"http://127.0.0.1:{http_port}{PREFIX}ca.pem")
    assert status == 200 and x509.load_pem_x509_certificate(body) == ca

    first = found[0].url_host
    expected = f"http://{first}:{http_port}{PREFIX}"
    qtbot.waitUntil(lambda: box.isVisible() and panel._qr_url == expected, timeout=5000)
    warning = panel.findChild(QLabel, "lanWarningLabel")
    assert warning.isVisible() and "anyone on it can reach this app" in warning.text()
    urls = panel.findChild(QLabel, "lanUrlsLabel").text()
    assert f"http://{first}:{http_port}/" in urls and f"https://{first}:{https_port}/" in urls
    assert expected in panel.findChild(QLabel, "lanOnboardingLabel").text()
    qr = panel.findChild(QLabel, "lanQrLabel")
    assert qr.isVisible() and not qr.pixmap().isNull()
    if shutil.which("zbarimg"):
        path = tmp_path / "qr.png"
        assert qr.pixmap().save(str(path), "PNG")
        done = subprocess.run(
            ["zbarimg", "--raw", "-q", str(path)], capture_output=True, text=True, timeout=20
        )
        assert done.stdout.strip() == expected

    qtbot.mouseClick(panel.findChild(QPushButton, "stopSharingButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.servers.host == "127.0.0.1", timeout=8000)
    assert both_running(qtbot, window) == (http_port, https_port)
    assert not panel.config.lan and not panel.findChild(QCheckBox, "lanShareCheck").isChecked()
    assert window.servers.lan_scan is None
    # No page any more: the request reaches the app (the test app echoes every path it has).
    status, body = fetch(f"http://127.0.0.1:{http_port}{PREFIX}ca.pem", ca_context(window))
    assert status == 200 and json.loads(body)["path"] == PREFIX.lstrip("/") + "ca.pem"
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=3000)
    assert "shop.localhost" in served_sans(https_port)[0]  # the name stays


def test_sharing_while_stopped_applies_at_once_and_refuses_ipv6_loopback(qtbot, make_window):
    window = make_window(show=True)
    panel = window.servers_panel
    check = panel.findChild(QCheckBox, "lanShareCheck")
    check.setChecked(True)
    assert window.servers.host == "0.0.0.0" and window.servers.lan_scan is not None
    box = panel.findChild(QWidget, "lanShareBox")
    assert box.isVisible() and "press Start all" in panel.findChild(QLabel, "lanUrlsLabel").text()
    assert not panel.host_combo.isEnabled()
    check.setChecked(False)
    assert window.servers.host == "127.0.0.1" and window.servers.lan_scan is None and not box.isVisible()

    panel.set_host("::1")  # --lan cannot go with a loopback IPv6 host: said, and the switch stays off
    check.setChecked(True)
    assert not check.isChecked() and not panel.config.lan
    assert window.servers.host == "127.0.0.1" and window.servers.lan_scan is None


def test_a_new_network_brings_an_offer_to_re_sign(qtbot, make_window):
    """When this machine's LAN addresses change while sharing, the panel offers to re-sign.

    The new network is the one thing played here (this machine's interfaces cannot be changed by
    a test): the panel's ``scan_lan`` reports one address more; everything else is real.
    """
    import ipaddress

    from launcher.lan import LanAddress, LanScan

    window = make_window(show=True)
    panel = window.servers_panel
    panel.findChild(QCheckBox, "lanShareCheck").setChecked(True)
    shared = window.servers.lan_scan
    assert shared is not None
    real_scan = panel.scan_lan
    moved = LanAddress("wlan9", ipaddress.ip_address("192.168.55.5"))
    panel.scan_lan = lambda: LanScan((*shared.addresses, moved))
    panel.check_lan()
    button = panel.findChild(QPushButton, "lanResignButton")
    qtbot.waitUntil(button.isVisible, timeout=5000)
    assert "192.168.55.5" in panel.findChild(QLabel, "lanChangedLabel").text()
    panel.scan_lan = real_scan  # back on the old network
    button.click()
    assert not button.isVisible() and window.servers.lan_scan is not None
    panel.check_lan()  # the same addresses as shared: no offer
    qtbot.wait(300)
    qtbot.waitUntil(lambda: not panel._lan_checking, timeout=5000)
    assert not button.isVisible()
