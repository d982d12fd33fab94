"""The certificate panel and the name-constrained CA: the flag on a CA without constraints, the
CA domains field, and Rotate CA… moving trust in a real NSS database (real certutil, temporary HOME).

The Debian system store is pointed at a temporary tree and told it is not root, so the machine's
own trust store is never touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from launcher.certs import CertStore, ca_constraints
from launcher.trust import DebianSystemStore, LocalCA, chromium_store


@pytest.fixture
def home(home: Path, certutil: str) -> Path:
    """The temporary HOME of tests/conftest.py, with certutil at hand."""
    return home


def nicknames(home: Path) -> list[str]:
    proc = subprocess.run(
        ["certutil", "-d", f"sql:{home}/.pki/nssdb", "-L"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [line[:60].strip() for line in proc.stdout.splitlines()[4:] if line.strip()]


def test_rotate_ca_from_the_panel_moves_trust_and_clears_the_flag(
    qtbot, make_window, gui_cert_dir: Path, home: Path, tmp_path: Path
) -> None:
    store = CertStore(gui_cert_dir)
    store.create_leaf(["localhost", "myapp.dev"], constrained=False)  # an old, unconstrained CA
    old = LocalCA.load(store.ca_cert_path)
    assert "now trusts" in chromium_store().install(old).message
    system = DebianSystemStore(local_dir=tmp_path / "local-cas", etc_dir=tmp_path / "etc-ssl", as_root=False)
    window = make_window(trust_stores=lambda: [chromium_store(), system])
    panel = window.cert_panel
    assert panel.ca_constraint_label.isVisibleTo(panel)
    assert "no name constraints" in panel.ca_constraint_label.text()

    # Without the domain the leaf needs: refused, shown inline, nothing changed.
    qtbot.mouseClick(window.findChild(QPushButton, "certRotateCaButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel._busy, timeout=10_000)
    assert LocalCA.load(store.ca_cert_path).sha256 == old.sha256
    assert not list(gui_cert_dir.glob("backup-*"))

    panel.ca_domains_edit.setText("myapp.dev")
    qtbot.mouseClick(window.findChild(QPushButton, "certRotateCaButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: panel.rotate_dialog is not None and panel.rotate_dialog.isVisible(), timeout=10_000
    )
    box = panel.rotate_dialog
    assert isinstance(box, QMessageBox)
    assert "certutil" in box.detailedText() and "-D -n" in box.detailedText()
    assert box.defaultButton() is not None and box.defaultButton().text() != "Rotate"
    rotate = next(b for b in box.buttons() if b.text() == "Rotate")
    rotate.click()
    qtbot.waitUntil(lambda: not panel._busy, timeout=20_000)

    ca = x509.load_pem_x509_certificate(store.ca_cert_path.read_bytes())
    assert ca_constraints(ca) is not None
    new = LocalCA.load(store.ca_cert_path)
    assert nicknames(home) == [new.nickname]
    assert len(list(gui_cert_dir.glob("backup-*"))) == 1
    assert not panel.ca_constraint_label.isVisibleTo(panel)
    x509.load_pem_x509_certificate(store.cert_path.read_bytes()).verify_directly_issued_by(ca)
