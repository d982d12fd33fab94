"""The window's trust doctor: "Trust doctor…" in the trust section opens a dialog with the same rows
as ``flask-launcher trust doctor``, read from a real NSS database (real certutil) in a temporary
HOME; each fix has a Copy button; "Check again" reads the stores again.

The doctor is pointed at a temporary root and a non-WSL kernel release, so the machine's own
system files never decide the rows; the Debian store is the temporary, non-root one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QToolButton

from launcher.trust import DebianSystemStore, LocalCA, chromium_store
from launcher.trustdoctor import Check, DoctorEnv


@pytest.fixture
def doctor_window(make_window, home: Path, certutil: str, tmp_path: Path):
    system = DebianSystemStore(local_dir=tmp_path / "local-cas", etc_dir=tmp_path / "etc-ssl", as_root=False)
    window = make_window(trust_stores=lambda: [chromium_store(), system])
    section = window.cert_panel.trust
    release = tmp_path / "osrelease"
    release.write_text("6.1.0-28-amd64\n")
    (tmp_path / "root").mkdir()
    section.doctor_env_factory = lambda: DoctorEnv(
        osrelease=release,
        root=tmp_path / "root",
        platform="linux",
        environ={"PATH": os.environ.get("PATH", "")},
        debian_store=system,
    )
    return window, section


def open_doctor(qtbot, window, section):
    qtbot.mouseClick(window.findChild(QToolButton, "trustDoctorButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: section.doctor_dialog is not None and section.doctor_dialog.isVisible(), timeout=5000
    )
    qtbot.waitUntil(lambda: not section.doctor_running, timeout=30_000)
    return section.doctor_dialog


def test_doctor_dialog_rows_copy_and_check_again(qtbot, doctor_window, home: Path) -> None:
    window, section = doctor_window
    dialog = open_doctor(qtbot, window, section)
    assert dialog.report is None and "no local CA" in dialog.summary.text()  # nothing made by looking
    assert not window.cert_store.ca_cert_path.exists()

    window.cert_store.ensure_ca()
    ca = LocalCA.load(window.cert_store.ca_cert_path)
    chromium_store().install(ca)
    chromium_store().uninstall(ca)  # the database exists, without the CA
    qtbot.mouseClick(dialog.recheck_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not section.doctor_running and dialog.report is not None, timeout=30_000)
    report = dialog.report
    row = report.row("Chromium")
    assert row is not None and row.state is Check.NOT_TRUSTED and report.exit_code == 1
    assert "Some browser does not trust" in dialog.summary.text()
    state, fix, copy = dialog.rows["Chromium/Chrome (NSS)"]
    assert state.property("state") == "not trusted" and "not trusted" in state.accessibleName()
    assert fix.text() == "flask-launcher trust install --store chromium" and copy is not None
    qtbot.mouseClick(copy, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "flask-launcher trust install --store chromium"
    # every area of the CLI's report is in the dialog, the same rows
    assert set(dialog.rows) == {r.name for r in report.rows}
    assert dialog.rows["Windows host user Root store (WSL)"][0].property("state") == "absent"
    assert dialog.rows["Windows host user Root store (WSL)"][2] is None  # absent: nothing to copy

    chromium_store().install(ca)
    qtbot.mouseClick(dialog.recheck_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not section.doctor_running and dialog.report is not report, timeout=30_000)
    assert dialog.report.row("Chromium").state is Check.TRUSTED
    assert dialog.rows["Chromium/Chrome (NSS)"][0].property("state") == "trusted"
    assert "Every browser found trusts the CA." in dialog.summary.text()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == dialog.report.to_text()
