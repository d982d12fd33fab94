"""The trust section (issue 5 §2, §3): a real NSS database with real certutil in a temporary HOME,
the confirm dialog driven like a user would, the system store's sudo commands, the CA expiry warning.

The Debian system store is pointed at a temporary tree and told it is not root, so these tests
never touch the machine's own trust store (as root, the real one would run update-ca-certificates).
"""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QCheckBox, QLabel, QPushButton

from launcher.certs import CertStore
from launcher.gui.trustpanel import TrustConfirmDialog
from launcher.trust import DebianSystemStore, LocalCA, chromium_store


@pytest.fixture
def home(home: Path, certutil: str) -> Path:
    """The temporary HOME of tests/conftest.py (the stores read it at call time), with certutil at hand."""
    return home


@pytest.fixture
def system_store(tmp_path: Path) -> DebianSystemStore:
    """The Debian system store in a temporary tree, as a non-root user sees it (sudo commands only)."""
    return DebianSystemStore(local_dir=tmp_path / "local-cas", etc_dir=tmp_path / "etc-ssl", as_root=False)


@pytest.fixture
def trust_window(make_window, home: Path, system_store: DebianSystemStore):
    window = make_window(trust_stores=lambda: [chromium_store(), system_store])
    section = window.cert_panel.trust
    return window, section


def nss_db(home: Path) -> str:
    return f"sql:{home}/.pki/nssdb"


def certutil_trust(home: Path, nickname: str) -> str | None:
    """The trust flags certutil lists for *nickname* ("C,," ...), or None when it is not there."""
    proc = subprocess.run(["certutil", "-d", nss_db(home), "-L"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    for line in proc.stdout.splitlines():
        if line.startswith(nickname):
            return line[len(nickname) :].strip()
    return None


def open_dialog(qtbot, window, button_name: str) -> TrustConfirmDialog:
    section = window.cert_panel.trust
    qtbot.waitUntil(lambda: not section.busy, timeout=5000)
    qtbot.mouseClick(window.findChild(QPushButton, button_name), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: section.confirm_dialog is not None and section.confirm_dialog.isVisible(), timeout=10_000
    )
    return section.confirm_dialog


def wait_states(qtbot, section) -> None:
    qtbot.waitUntil(lambda: not section.busy and bool(section.states), timeout=10_000)


def test_status_list_before_anything(qtbot, trust_window, system_store, home):
    _window, section = trust_window
    wait_states(qtbot, section)
    assert section.state_of("Chromium").text() == "not trusted (no CA yet)"
    label = section.status_labels["Chromium/Chrome (NSS)"]
    assert "not trusted (no CA yet)" in label.text() and label.accessibleName().startswith("Chromium")
    if system_store.available:
        assert section.state_of("System").state == "no CA"
    else:
        assert section.state_of("System").text().startswith("unavailable: ")
    assert not (home / ".pki").exists()  # reading the status created nothing


def test_trust_then_untrust_in_a_real_nss_db(qtbot, trust_window, home, system_store):
    window, section = trust_window
    wait_states(qtbot, section)
    dialog = open_dialog(qtbot, window, "trustCaButton")
    ca = LocalCA.load(window.cert_store.ca_cert_path)  # Trust CA… made the CA first
    assert window.cert_panel.ca_info is not None and window.cert_panel.ca_info.fingerprint_sha256 == ca.sha256

    # The dialog shows exactly what will run, shell-quoted.
    chromium = chromium_store()
    shown = dialog.views["Chromium/Chrome (NSS)"].toPlainText()
    assert shown == " &&\n".join(shlex.join(c) for c in chromium.install_commands(ca))
    assert f"-n {shlex.quote(ca.nickname)}" in shown and "certutil -d sql:" in shown
    assert dialog.checks["Chromium/Chrome (NSS)"].isChecked()
    if system_store.available:
        system_text = dialog.views[system_store.name].toPlainText()
        assert system_text.startswith("sudo ") and "update-ca-certificates" in system_text
        assert system_store.name not in dialog.checks  # nothing to tick: it is never run here
    assert ca.sha256 in dialog.findChild(QLabel, "trustConfirmText").text()
    assert not (home / ".pki" / "nssdb").exists()  # nothing done before the click

    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: section.last_result is not None and not section.busy, timeout=15_000)
    assert section.state_of("Chromium").trusted
    assert certutil_trust(home, ca.nickname) == "C,,"  # as certutil itself lists it
    assert window.banner.isVisibleTo(window) and "now trusts" in window.banner.text
    assert "Chromium/Chrome (NSS): trusted" in section.status_labels["Chromium/Chrome (NSS)"].accessibleName()
    if system_store.available:
        # Not root: the sudo commands to copy, and nothing run.
        assert section.manual_view.isVisibleTo(window)
        manual = section.manual_view.toPlainText()
        assert manual.startswith("sudo mkdir -p ") and "sudo install -m 0644" in manual
        qtbot.mouseClick(window.findChild(QPushButton, "trustCopyManualButton"), Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == manual
        assert not system_store.local_dir.exists()
        assert section.state_of("System").text() == "not trusted (needs sudo)"

    dialog = open_dialog(qtbot, window, "untrustCaButton")
    assert dialog.views["Chromium/Chrome (NSS)"].toPlainText() == shlex.join(
        ["certutil", "-d", nss_db(home), "-D", "-n", ca.nickname]
    )
    section.last_result = None
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: section.last_result is not None and not section.busy, timeout=15_000)
    assert section.state_of("Chromium").state == "not trusted"
    assert certutil_trust(home, ca.nickname) is None
    assert "removed" in window.banner.text


def test_cancel_does_nothing(qtbot, trust_window, home):
    window, section = trust_window
    wait_states(qtbot, section)
    dialog = open_dialog(qtbot, window, "trustCaButton")
    assert dialog.cancel_button.isDefault()  # Enter cancels
    # Unticking every store that would run disables the confirm button (unless sudo commands remain).
    box = dialog.findChild(QCheckBox, "trustStoreCheck0")
    box.setChecked(False)
    if not any(item.manual for item in dialog.plan.stores):
        assert not dialog.confirm_button.isEnabled()
    box.setChecked(True)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: section.confirm_dialog is None and not section.busy, timeout=5000)
    assert section.last_result is None
    assert not (home / ".pki").exists()  # no NSS database was even created
    assert window.findChild(QPushButton, "trustCaButton").isEnabled()
    assert not window.banner.isVisibleTo(window)


def test_unticked_store_is_left_alone(qtbot, trust_window, home):
    """Confirming with the Chromium box unticked runs nothing for it."""
    window, section = trust_window
    wait_states(qtbot, section)
    dialog = open_dialog(qtbot, window, "trustCaButton")
    dialog.checks["Chromium/Chrome (NSS)"].setChecked(False)
    if not dialog.confirm_button.isEnabled():
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    else:
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: section.last_result is not None, timeout=15_000)
    qtbot.waitUntil(lambda: not section.busy, timeout=5000)
    assert not (home / ".pki" / "nssdb").exists()


def test_confirmation_is_an_overridable_method(qtbot, make_window, home, system_store):
    """A subclass (or test) may answer instead of the dialog: here it declines, then accepts."""
    window = make_window(trust_stores=lambda: [chromium_store()])
    section = window.cert_panel.trust
    wait_states(qtbot, section)
    answers = iter([False, True])
    plans = []

    def confirm(plan, proceed, cancelled):
        plans.append(plan)
        if next(answers):
            proceed(plan.stores)
        else:
            cancelled()

    section.confirm = confirm
    section.trust()
    qtbot.waitUntil(lambda: len(plans) == 1 and not section.busy, timeout=10_000)
    assert not (home / ".pki").exists()
    section.trust()
    qtbot.waitUntil(lambda: section.last_result is not None and not section.busy, timeout=15_000)
    assert section.state_of("Chromium").trusted
    # Already trusted: Trust CA… says so and asks nothing.
    section.trust()
    qtbot.waitUntil(lambda: not section.busy, timeout=10_000)
    assert len(plans) == 2
    assert "Nothing to do" in window.banner.text and "already trusts" in window.banner.text


def test_untrust_without_ca_says_so(qtbot, trust_window):
    window, section = trust_window
    wait_states(qtbot, section)
    qtbot.mouseClick(window.findChild(QPushButton, "untrustCaButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.banner.isVisibleTo(window), timeout=5000)
    assert "no local CA yet" in window.banner.text
    assert section.confirm_dialog is None


def test_store_failure_is_shown_in_the_banner(qtbot, make_window, home, tmp_path):
    """A certutil failure (an unreadable NSS database) is a TrustError in the banner, not a dialog."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    (db / "cert9.db").write_bytes(b"this is not a database")
    window = make_window(trust_stores=lambda: [chromium_store()])
    section = window.cert_panel.trust
    wait_states(qtbot, section)
    section.confirm = lambda plan, proceed, cancelled: proceed(plan.stores)
    section.trust()
    qtbot.waitUntil(lambda: not section.busy and window.banner.isVisibleTo(window), timeout=15_000)
    assert window.banner.level == "error"
    assert "Chromium/Chrome (NSS)" in window.banner.text and "Traceback" not in window.banner.text
    assert window.unexpected_errors == 0


def test_check_again_reads_the_stores(qtbot, trust_window, home):
    """After the user trusts the CA outside the launcher, Check again shows it."""
    window, section = trust_window
    wait_states(qtbot, section)
    store = window.cert_store
    store.ensure_ca()
    window.cert_panel.refresh()  # the panel sees the new CA and reads the statuses again
    qtbot.waitUntil(lambda: section.state_of("Chromium").state == "not trusted", timeout=10_000)
    chromium_store().install(LocalCA.load(store.ca_cert_path))
    qtbot.mouseClick(
        window.findChild(type(section.recheck_button), "trustRecheckButton"), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: section.state_of("Chromium").trusted, timeout=10_000)


def test_ca_expiry_warning_a_year_ahead(make_window, gui_cert_dir):
    now = dt.datetime.now(dt.UTC)
    CertStore(gui_cert_dir).ensure_ca(now=now - dt.timedelta(days=3650 - 200))
    window = make_window()
    warning = window.findChild(QLabel, "certCaWarningLabel")
    assert warning.isVisibleTo(window)
    assert "The local CA expires on" in warning.text() and "days left" in warning.text()
    assert "Trust CA…" in warning.text() and "flask-launcher" not in warning.text()


def test_no_ca_warning_for_a_fresh_ca(make_window, gui_cert_dir):
    CertStore(gui_cert_dir).ensure_ca()
    window = make_window()
    assert not window.findChild(QLabel, "certCaWarningLabel").isVisibleTo(window)


def test_open_in_browser_stays_one_click(qtbot, make_window):
    """The trust section adds no step before Open: one click opens the HTTPS page."""
    from PySide6.QtCore import QObject, QUrl, Slot
    from PySide6.QtGui import QDesktopServices

    opened: list[str] = []

    class Catcher(QObject):
        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            opened.append(url.toString())

    catcher = Catcher()
    QDesktopServices.setUrlHandler("https", catcher, "open")
    try:
        window = make_window()
        window.servers_panel.start("https")
        qtbot.waitUntil(lambda: window.servers.https.running, timeout=10_000)
        qtbot.waitUntil(lambda: window.findChild(QPushButton, "httpsOpenButton").isEnabled(), timeout=5000)
        qtbot.mouseClick(window.findChild(QPushButton, "httpsOpenButton"), Qt.MouseButton.LeftButton)
        # The certificate names localhost: the browser gets localhost, not 127.0.0.1.
        expected = window.servers.https.url.replace("127.0.0.1", "localhost")
        assert opened == [expected] == [window.servers_panel.browser_url("https")]
        assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, TrustConfirmDialog)]
    finally:
        QDesktopServices.unsetUrlHandler("https")
