"""The certificate panel: the local CA and the server (leaf) certificate, regenerate, import.

Everything about certificates is done by ``launcher.certs`` (``CertStore``, ``describe``,
``parse_name``); this panel only shows it.  Making a certificate and restarting HTTPS run in a
worker thread.  The SAN editor checks each name with ``parse_name`` as it is typed and marks the
invalid ones in red with the reason.

Names always included in a generated certificate: those the servers need to serve without a
warning (``Servers.cert_hosts()``: localhost, 127.0.0.1, ::1 and the bind address), so a later
HTTPS start never has to replace the certificate the user just made.

Trust (``launcher.gui.trustpanel.TrustSection``) sits under the CA: its "Trusted by" list per
store, and its Trust CA… / Untrust… buttons in the CA's button row.  The CA's own expiry warning
(``CertStore.ca_expiry_warning``, a year ahead) shows under the CA's facts.

The words follow the truth for an **imported** certificate: it is kept as it is (HTTPS never
renews or replaces it), so its expiry warning asks for a renewed import, not for HTTPS to start;
and when it was not issued by the local CA (``served_by_local_ca``), the trust section says that
the local CA's trust is not the served certificate's.  ``certificateChanged`` says when the served
certificate changed (Regenerate, Import, or HTTPS making a new one).  Open folder reports a failed
system opener and copies the path (``launcher.gui.opener``).

Name constraints: a CA without them is flagged under its facts (anyone who copies its key could
impersonate any site to the browsers that trust it).  Rotate CA… makes a new name-constrained CA
(``CertStore.plan_rotation``/``rotate_ca``: local names, private IPs and the "CA domains" under
"Names & key"), re-signs the leaf, keeps the old files in a dated backup folder and moves trust
(``launcher.trustmove``): the exact commands are shown first, nothing runs on Cancel.  The CA
domains also shape a CA that Generate makes when there is none.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from launcher.certs import CertInfo, CertStore, KeyType, RotationPlan, parse_ca_domain, parse_name
from launcher.control import ServersControl
from launcher.errors import InvalidNameError, LauncherError
from launcher.gui.opener import Opener, open_external
from launcher.gui.panel import Panel
from launcher.gui.tasks import TaskRunner
from launcher.gui.trustpanel import StoresFactory, TrustSection
from launcher.messages import MessageLevel
from launcher.trust import LocalCA
from launcher.trustmove import MovePlan, MoveResult, local_ca, plan_move, run_move

#: Shown under the CA's facts when it has no name constraints.
UNCONSTRAINED_TEXT = (
    "This CA has no name constraints: anyone who copies its key (ca-key.pem) can impersonate any web "
    "site to the browsers that trust it. Press Rotate CA… to replace it with a name-constrained CA; "
    "trust moves with it."
)

KEY_TYPE_LABELS = {
    KeyType.ECDSA_P256: "ECDSA P-256 (fast, recommended)",
    KeyType.RSA_2048: "RSA 2048",
    KeyType.RSA_3072: "RSA 3072",
}
WARN_DAYS = 30
_SPLIT = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class NameCheck:
    """The outcome of checking the SAN editor's text."""

    names: tuple[str, ...]  # every entry, as typed
    valid: tuple[str, ...]
    errors: tuple[tuple[str, str], ...]  # (entry, reason)

    @property
    def ok(self) -> bool:
        return bool(self.valid) and not self.errors


def check_names(text: str) -> NameCheck:
    """Split *text* on commas and whitespace and check each entry with ``parse_name``."""
    names = tuple(n for n in _SPLIT.split(text.strip()) if n)
    valid: list[str] = []
    errors: list[tuple[str, str]] = []
    for name in names:
        try:
            parse_name(name)
        except InvalidNameError as exc:
            errors.append((name, str(exc)))
        else:
            valid.append(name)
    return NameCheck(names, tuple(valid), tuple(errors))


def short_fingerprint(fingerprint: str) -> str:
    parts = fingerprint.split(":")
    if len(parts) <= 12:
        return fingerprint
    return ":".join(parts[:8]) + " … " + ":".join(parts[-4:])


def validity_text(info: CertInfo) -> str:
    until = info.not_after.strftime("%Y-%m-%d")
    if info.expired:
        return f"expired on {until}"
    return f"until {until} ({info.days_left} days left)"


def _strip_name(name: str) -> str:
    """``DNS:x`` -> ``x``, ``IP:::1`` -> ``::1``; anything else unchanged."""
    prefix, sep, rest = name.partition(":")
    return rest if sep and prefix.upper() in ("DNS", "IP") else name


class _Facts(QWidget):
    """A form of certificate facts: subject, names, validity, fingerprint, key."""

    def __init__(self, prefix: str, with_sans: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(3)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.fields: dict[str, QLabel] = {}
        rows = [("subject", "Subject"), ("sans", "Names"), ("validity", "Valid"), ("fingerprint", "SHA-256")]
        rows.append(("key", "Key"))
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.92))
        for key, label in rows:
            if key == "sans" and not with_sans:
                continue
            value = QLabel(self)
            value.setObjectName(f"{prefix}{key.capitalize()}Label")
            value.setAccessibleName(f"{prefix.removeprefix('cert')} {label}".strip())
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            if key == "fingerprint":
                value.setFont(mono)
            name = QLabel(label, self)
            name.setProperty("role", "fieldName")
            form.addRow(name, value)
            self.fields[key] = value

    def show_info(self, info: CertInfo | None, missing: str) -> None:
        if info is None:
            for key, label in self.fields.items():
                label.setText(missing if key == "subject" else "–")
                label.setToolTip("")
            return
        self.fields["subject"].setText(info.subject)
        if "sans" in self.fields:
            self.fields["sans"].setText(", ".join(_strip_name(n) for n in info.sans) or "(none)")
            self.fields["sans"].setToolTip("\n".join(info.sans))
        self.fields["validity"].setText(validity_text(info))
        self.fields["validity"].setToolTip(
            f"From {info.not_before:%Y-%m-%d %H:%M} UTC to {info.not_after:%Y-%m-%d %H:%M} UTC"
        )
        self.fields["fingerprint"].setText(short_fingerprint(info.fingerprint_sha256))
        self.fields["fingerprint"].setToolTip(info.fingerprint_sha256)
        self.fields["fingerprint"].setAccessibleDescription(info.fingerprint_sha256)
        self.fields["key"].setText(info.key_type)


class CertificatePanel(Panel, QGroupBox):
    """Shows and manages the certificates of a ``CertStore``."""

    #: Emitted after the panel re-read the store (new leaf_info / ca_info).
    refreshed = Signal()
    #: The served certificate is another one than before (its SHA-256 fingerprint, or None).
    certificateChanged = Signal(object)

    def __init__(
        self,
        store: CertStore,
        servers: ServersControl,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        stores_factory: StoresFactory | None = None,
    ) -> None:
        super().__init__("Certificate", parent)
        self.setObjectName("certificatePanel")
        self.setAccessibleName("Certificate")
        self.store = store
        self.servers = servers
        self.tasks = tasks
        self.ca_info: CertInfo | None = None
        self.leaf_info: CertInfo | None = None
        #: Whether the local CA issued the served certificate (False for a foreign import).
        self.served_by_local_ca = True
        #: How folders are opened (a hook, as ``ServersPanel.open_url``).
        self.open_url: Opener = QDesktopServices.openUrl
        self._busy = False
        self._leaf_fingerprint: str | None = None

        ca_title = QLabel("Local CA", self)
        ca_title.setProperty("role", "sectionTitle")
        self.ca_facts = _Facts("certCa", with_sans=False, parent=self)
        self.copy_ca_button = QPushButton("Copy CA path", self)
        self.copy_ca_button.setObjectName("certCopyCaPathButton")
        self.copy_ca_button.setAccessibleName("Copy the CA certificate's path")
        self.copy_ca_button.clicked.connect(self.copy_ca_path)
        self.open_folder_button = QPushButton("Open folder", self)
        self.open_folder_button.setObjectName("certOpenFolderButton")
        self.open_folder_button.setAccessibleName("Open the certificate folder")
        self.open_folder_button.clicked.connect(self.open_folder)
        self.ca_warning_label = QLabel(self)
        self.ca_warning_label.setObjectName("certCaWarningLabel")
        self.ca_warning_label.setAccessibleName("CA expiry warning")
        self.ca_warning_label.setProperty("state", "warning")
        self.ca_warning_label.setWordWrap(True)
        self.ca_warning_label.hide()
        self.ca_constraint_label = QLabel(UNCONSTRAINED_TEXT, self)
        self.ca_constraint_label.setObjectName("certCaUnconstrainedLabel")
        self.ca_constraint_label.setAccessibleName("CA without name constraints")
        self.ca_constraint_label.setProperty("state", "warning")
        self.ca_constraint_label.setWordWrap(True)
        self.ca_constraint_label.hide()
        self.rotate_button = QPushButton("Rotate CA…", self)
        self.rotate_button.setObjectName("certRotateCaButton")
        self.rotate_button.setAccessibleName("Replace the CA with a new name-constrained one")
        self.rotate_button.setToolTip(
            "Make a new name-constrained CA (local names, private IPs and the CA domains under Names & key),"
            " re-sign the certificate, and move trust to it; the old files are kept in a backup folder"
        )
        self.rotate_button.clicked.connect(self.rotate_ca)
        #: Set by Rotate CA… while its confirmation is open (tests answer it).
        self.rotate_dialog: QMessageBox | None = None

        self.trust = TrustSection(store, tasks, self, stores_factory=stores_factory)
        self.trust.caCreated.connect(self.refresh)
        # Two short rows rather than one long one: the left column stays narrow in a 1024 px window.
        ca_buttons = QVBoxLayout()
        ca_buttons.setSpacing(6)
        for group in (
            (*self.trust.buttons, self.rotate_button),
            (self.copy_ca_button, self.open_folder_button),
        ):
            row = QHBoxLayout()
            row.setSpacing(6)
            for button in group:
                row.addWidget(button)
            row.addStretch(1)
            ca_buttons.addLayout(row)

        leaf_title = QLabel("Server certificate", self)
        leaf_title.setProperty("role", "sectionTitle")
        self.leaf_facts = _Facts("certLeaf", with_sans=True, parent=self)
        self.warning_label = QLabel(self)
        self.warning_label.setObjectName("certWarningLabel")
        self.warning_label.setAccessibleName("Certificate warning")
        self.warning_label.setProperty("state", "warning")
        self.warning_label.setWordWrap(True)
        self.warning_label.hide()

        self.hosts_edit = QLineEdit(self)
        self.hosts_edit.setObjectName("certHostsEdit")
        self.hosts_edit.setAccessibleName("Names for the new certificate")
        self.hosts_edit.setPlaceholderText("localhost, 127.0.0.1, ::1, myapp.test")
        self.hosts_edit.setToolTip(
            "Host names and IP addresses, separated by commas. localhost, 127.0.0.1, ::1 and the "
            "bind address are always included."
        )
        self.hosts_status = QLabel(self)
        self.hosts_status.setObjectName("certHostsStatus")
        self.hosts_status.setAccessibleName("Name check")
        self.hosts_status.setWordWrap(True)
        self.hosts_status.setTextFormat(Qt.TextFormat.RichText)
        self.key_combo = QComboBox(self)
        self.key_combo.setObjectName("certKeyTypeCombo")
        self.key_combo.setAccessibleName("Key type")
        for key_type, label in KEY_TYPE_LABELS.items():
            self.key_combo.addItem(label, key_type.value)
        self.key_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.key_combo.setMinimumContentsLength(14)
        self.key_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.generate_button = QPushButton("Regenerate", self)
        self.generate_button.setObjectName("certGenerateButton")
        self.generate_button.setAccessibleName("Generate a new server certificate")
        self.generate_button.setToolTip("Make a new server certificate signed by the local CA")
        self.generate_button.clicked.connect(self.generate)
        self.import_button = QPushButton("Import…", self)
        self.import_button.setObjectName("certImportButton")
        self.import_button.setAccessibleName("Import your own certificate and key")
        self.import_button.setToolTip("Use your own certificate and private key (PEM files)")
        self.import_button.clicked.connect(self.import_dialog)
        self.import_error = QLabel(self)
        self.import_error.setObjectName("certImportError")
        self.import_error.setAccessibleName("Import error")
        self.import_error.setProperty("state", "invalid")
        self.import_error.setWordWrap(True)
        self.import_error.hide()

        #: The names and key for the next Regenerate, behind "Names & key" (closed by default).
        self.options_box = QWidget(self)
        self.options_box.setObjectName("certOptionsBox")
        new_form = QFormLayout(self.options_box)
        new_form.setContentsMargins(0, 0, 0, 0)
        new_form.setHorizontalSpacing(10)
        new_form.setVerticalSpacing(4)
        names_label = QLabel("New names", self)
        names_label.setProperty("role", "fieldName")
        names_label.setBuddy(self.hosts_edit)
        key_label = QLabel("New key", self)
        key_label.setProperty("role", "fieldName")
        key_label.setBuddy(self.key_combo)
        self.ca_domains_edit = QLineEdit(self)
        self.ca_domains_edit.setObjectName("certCaDomainsEdit")
        self.ca_domains_edit.setAccessibleName("Extra domains for a new CA")
        self.ca_domains_edit.setPlaceholderText("example.dev (only for a new CA)")
        self.ca_domains_edit.setToolTip(
            "Domains (with their subdomains) or IP networks a new CA may sign for, besides localhost, "
            ".test, .internal, .local and private IPs. Used by Rotate CA…, and by Generate when there is"
            " no CA."
        )
        domains_label = QLabel("CA domains", self)
        domains_label.setProperty("role", "fieldName")
        domains_label.setBuddy(self.ca_domains_edit)
        new_form.addRow(names_label, self.hosts_edit)
        new_form.addRow(QLabel(self), self.hosts_status)
        new_form.addRow(key_label, self.key_combo)
        new_form.addRow(domains_label, self.ca_domains_edit)
        self.options_button = QToolButton(self)
        self.options_button.setObjectName("certOptionsButton")
        self.options_button.setAccessibleName("Show the names and key type for a new certificate")
        self.options_button.setText("Names && key")
        self.options_button.setToolTip("Extra host names and the key type for the next Regenerate")
        self.options_button.setCheckable(True)
        self.options_button.setAutoRaise(True)
        self.options_button.setArrowType(Qt.ArrowType.RightArrow)
        self.options_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.options_button.toggled.connect(self.show_options)
        self.options_box.hide()
        cert_buttons = QHBoxLayout()
        cert_buttons.addWidget(self.generate_button)
        cert_buttons.addWidget(self.import_button)
        cert_buttons.addStretch(1)
        cert_buttons.addWidget(self.options_button)

        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        layout.addWidget(ca_title)
        layout.addWidget(self.ca_facts)
        layout.addWidget(self.ca_warning_label)
        layout.addWidget(self.ca_constraint_label)
        layout.addWidget(self.trust)
        layout.addLayout(ca_buttons)
        layout.addSpacing(6)
        layout.addWidget(leaf_title)
        layout.addWidget(self.leaf_facts)
        layout.addWidget(self.warning_label)
        layout.addLayout(cert_buttons)
        layout.addWidget(self.options_box)
        layout.addWidget(self.import_error)

        self.hosts_edit.textChanged.connect(self._names_changed)
        self.refresh()

    # --- display -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the CA and leaf from the store (cheap: two small PEM files)."""
        try:
            self.ca_info = self.store.ca_info()
            self.leaf_info = self.store.leaf_info()
        except LauncherError as exc:
            self.ca_info = self.leaf_info = None
            self.say(f"Cannot read the certificates: {exc}", MessageLevel.ERROR)
        self.ca_facts.show_info(self.ca_info, "No CA yet: it is made when HTTPS starts or on Regenerate.")
        self.leaf_facts.show_info(self.leaf_info, "No certificate yet: it is made when HTTPS starts.")
        imported = self.leaf_info is not None and self.store.is_imported
        if imported and self.leaf_info is not None:
            self.leaf_facts.fields["subject"].setText(f"{self.leaf_info.subject}  (imported)")
        self.generate_button.setText("Regenerate" if self.leaf_info else "Generate")
        self.generate_button.setToolTip(
            "Replace the imported certificate with a new one signed by the local CA"
            if imported
            else "Make a new server certificate signed by the local CA"
        )
        self.served_by_local_ca = self._issued_by_local_ca()
        self._show_warning()
        self.copy_ca_button.setEnabled(self.ca_info is not None)
        self.rotate_button.setEnabled(self.ca_info is not None and not self._busy)
        self.ca_constraint_label.setVisible(self.ca_info is not None and not self.ca_info.constrained)
        self.trust.ca_changed(self.ca_info.fingerprint_sha256 if self.ca_info is not None else None)
        self.trust.set_served_by_ca(self.served_by_local_ca, imported=imported)
        fingerprint = self.leaf_info.fingerprint_sha256 if self.leaf_info is not None else None
        changed = fingerprint != self._leaf_fingerprint
        self._leaf_fingerprint = fingerprint
        self.refreshed.emit()
        if changed:
            self.certificateChanged.emit(fingerprint)

    def _issued_by_local_ca(self) -> bool:
        """Whether the served leaf's signature verifies with the local CA's key (True while there is
        no leaf or no CA yet: HTTPS will make both)."""
        if self.leaf_info is None or self.ca_info is None:
            return True
        try:
            leaf = x509.load_pem_x509_certificate(Path(self.store.cert_path).read_bytes())
            ca = x509.load_pem_x509_certificate(Path(self.store.ca_cert_path).read_bytes())
            leaf.verify_directly_issued_by(ca)
        except (OSError, ValueError, TypeError, InvalidSignature):  # unreadable, another issuer
            return False
        return True

    def _show_warning(self) -> None:
        parts: list[str] = []
        leaf, ca = self.leaf_info, self.ca_info
        imported = leaf is not None and self.store.is_imported
        if leaf is not None and imported:
            # An imported certificate is kept as it is: HTTPS never renews it.
            if leaf.expired:
                parts.append(
                    "The imported certificate has expired: import a renewed one, or press Regenerate "
                    "to serve one from the local CA instead."
                )
            elif leaf.expiring_soon(WARN_DAYS):
                parts.append(
                    f"The imported certificate expires in {leaf.days_left} days: import a renewed one "
                    "(it is kept as it is; starting HTTPS does not renew it)."
                )
        elif leaf is not None:
            if leaf.expired:
                parts.append("The server certificate has expired: press Regenerate.")
            elif leaf.expiring_soon(WARN_DAYS):
                parts.append(
                    f"The server certificate expires in {leaf.days_left} days: press Regenerate "
                    "(it is also renewed when HTTPS starts)."
                )
        self.warning_label.setText(" ".join(parts))
        self.warning_label.setVisible(bool(parts))
        ca_warning = None
        if ca is not None:
            try:
                ca_warning = self.store.ca_expiry_warning()
            except LauncherError:
                ca_warning = None
        if ca_warning:  # the core's sentence names the CLI; here the button is at hand
            ca_warning = ca_warning.replace("(flask-launcher trust install)", "(Trust CA… again)")
        self.ca_warning_label.setText(ca_warning or "")
        self.ca_warning_label.setVisible(bool(ca_warning))

    def show_options(self, shown: bool) -> None:
        """Open or close the names-and-key form (it opens by itself when it holds a bad name)."""
        if self.options_button.isChecked() != shown:
            self.options_button.setChecked(shown)
            return
        self.options_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.options_box.setVisible(shown)

    def set_hosts_text(self, text: str) -> None:
        self.hosts_edit.setText(text)
        self._names_changed(text)

    def set_key_type(self, value: str) -> None:
        index = self.key_combo.findData(value)
        if index >= 0:
            self.key_combo.setCurrentIndex(index)

    def key_type(self) -> KeyType:
        return KeyType(self.key_combo.currentData())

    def name_check(self) -> NameCheck:
        return check_names(self.hosts_edit.text())

    def _names_changed(self, _text: str = "") -> None:
        check = self.name_check()
        if check.errors:
            items = "<br>".join(
                f"<span style='color:#b91c1c'>✗ <b>{html.escape(name)}</b>: {html.escape(reason)}</span>"
                for name, reason in check.errors
            )
            self.hosts_status.setText(items)
            self.hosts_edit.setProperty("state", "invalid")
            self.show_options(True)  # the reason Regenerate is disabled must be on screen
        elif not check.names:
            self.hosts_status.setText(
                "<span style='color:#64748b'>localhost, 127.0.0.1 and ::1 will be used.</span>"
            )
            self.hosts_edit.setProperty("state", "valid")
        else:
            noun = "name" if len(check.valid) == 1 else "names"
            self.hosts_status.setText(f"<span style='color:#15803d'>✓ {len(check.valid)} valid {noun}</span>")
            self.hosts_edit.setProperty("state", "valid")
        self.hosts_edit.style().unpolish(self.hosts_edit)
        self.hosts_edit.style().polish(self.hosts_edit)
        self.generate_button.setEnabled(not check.errors and not self._busy)

    # --- actions --------------------------------------------------------------------------------------

    def generation_hosts(self) -> tuple[str, ...]:
        """What a new leaf covers: what the servers need, then the names typed by the user."""
        hosts = list(self.servers.cert_hosts())
        for name in self.name_check().valid:
            bare = _strip_name(name)
            if bare not in hosts and name not in hosts:
                hosts.append(name)
        return tuple(hosts)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.import_button.setEnabled(not busy)
        self.rotate_button.setEnabled(not busy and self.ca_info is not None)
        self._names_changed()

    def ca_domains(self) -> tuple[str, ...]:
        """The "CA domains" field, split on commas and whitespace (checked when used)."""
        return tuple(n for n in _SPLIT.split(self.ca_domains_edit.text().strip()) if n)

    def generate(self) -> None:
        """Make a new leaf (in a worker thread); restart HTTPS if it runs."""
        check = self.name_check()
        if check.errors or self._busy:
            return
        hosts = self.generation_hosts()
        extra = tuple(h for h in hosts if h not in self.servers.cert_hosts())
        key_type = self.key_type()
        servers, store = self.servers, self.store
        domains = self.ca_domains() if not store.ca_cert_path.exists() else ()

        def work() -> bool:
            store.create_leaf(hosts, key_type, ca_domains=domains)  # checks the names first
            servers.extra_hosts = tuple(dict.fromkeys((*servers.extra_hosts, *extra)))
            restarted = servers.https.running
            if restarted:
                servers.reload_tls()
            return restarted

        self._set_busy(True)
        self.tasks.submit(work, on_done=self._generated, on_error=self._failed, name="launcher-cert-generate")

    def _generated(self, restarted: bool) -> None:
        self._set_busy(False)
        self.import_error.hide()
        self.refresh()
        note = " HTTPS restarted with it." if restarted else ""
        self.say(f"New server certificate made.{note}")

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.refresh()
        self.route_error(exc)

    def import_dialog(self) -> None:
        cert, _ = QFileDialog.getOpenFileName(
            self,
            "Choose your certificate (PEM)",
            str(Path.home()),
            "Certificates (*.pem *.crt *.cer);;All files (*)",
        )
        if not cert:
            return
        key, _ = QFileDialog.getOpenFileName(
            self, "Choose its private key (PEM)", str(Path(cert).parent), "Keys (*.pem *.key);;All files (*)"
        )
        if not key:
            return
        self.import_pair(cert, key)

    def import_pair(self, cert_file: str | Path, key_file: str | Path) -> None:
        """Validate and copy in the user's pair (worker thread); errors show inline under Import."""
        if self._busy:
            return
        servers, store = self.servers, self.store
        host = servers.host if servers.host not in ("0.0.0.0", "::") else None

        def work() -> bool:
            store.import_pair(cert_file, key_file, host=host)
            restarted = servers.https.running
            if restarted:
                servers.reload_tls()
            return restarted

        def not_imported(error: LauncherError) -> None:
            self.import_error.setText(f"Not imported: {error}")
            self.import_error.show()

        def failed(exc: BaseException) -> None:
            self._set_busy(False)
            self.refresh()
            self.route_error(exc, not_imported)

        def done(restarted: bool) -> None:
            self._set_busy(False)
            self.import_error.hide()
            self.refresh()
            note = " HTTPS restarted with it." if restarted else ""
            self.say(f"Imported {Path(cert_file).name}.{note}")

        self._set_busy(True)
        self.tasks.submit(work, on_done=done, on_error=failed, name="launcher-cert-import")

    def copy_ca_path(self) -> None:
        path = str(self.store.ca_cert_path)
        QGuiApplication.clipboard().setText(path)
        self.say(f"Copied {path}")

    def open_folder(self) -> None:
        directory = Path(self.store.directory)
        if not directory.is_dir():
            self.say(
                f"The certificate folder {directory} does not exist yet: start HTTPS or press Generate.",
                MessageLevel.WARNING,
            )
            return
        problem = open_external(
            QUrl.fromLocalFile(str(directory)), self.open_url, f"the certificate folder {directory}"
        )
        if problem is not None:
            self.say(problem, MessageLevel.WARNING)

    # --- Rotate CA… -----------------------------------------------------------------------------------

    def rotate_ca(self) -> None:
        """Rotate CA…: work out the new CA and the trust commands (worker), ask, then carry it out."""
        if self._busy:
            return
        store, factory = self.store, self.trust.stores_factory
        domains = self.ca_domains()

        def work() -> tuple[RotationPlan, LocalCA, LocalCA, MovePlan]:
            for domain in domains:
                parse_ca_domain(domain)
            plan = store.plan_rotation(domains)
            old = LocalCA.load(store.ca_cert_path)
            old = LocalCA(
                plan.backup_dir.resolve() / store.ca_cert_path.name, old.nickname, old.sha256, old.sha1
            )
            new = local_ca(plan.new_ca, store.ca_cert_path)
            return plan, old, new, plan_move(list(factory()), old, new)

        self._set_busy(True)
        self.tasks.submit(
            work, on_done=self._rotation_planned, on_error=self._failed, name="launcher-ca-plan"
        )

    def _rotation_planned(self, planned: tuple[RotationPlan, LocalCA, LocalCA, MovePlan]) -> None:
        plan, old, new, moves = planned
        lines = [f"# {step.name}\n{step.command_text()}" for step in moves.steps]
        lines += [f"# {name}: left alone ({why})" for name, why in moves.left_alone]
        allowed = ", ".join(plan.new_info.permitted or ())
        text = (
            f"Replace the local CA “{old.nickname}” with “{new.nickname}”, which may sign only for: "
            f"{allowed}.\n\nThe old files are kept in {plan.backup_dir}. "
            + (
                "The server certificate is re-signed by the new CA. "
                if plan.leaf_hosts
                else "The imported server certificate is left as it is. "
            )
            + (
                f"Trust moves in {len(moves.steps)} store(s): they will trust the new CA and no longer"
                " the old one. These exact commands will run (Show Details)."
                if moves.steps
                else "No trust store trusts the old CA: trust the new one with Trust CA… afterwards."
            )
        )

        def proceed() -> None:
            self._rotate(plan, old, new, moves)

        def cancelled() -> None:
            self._set_busy(False)

        self.confirm_rotation(text, "\n\n".join(lines), proceed, cancelled)

    def confirm_rotation(
        self, text: str, details: str, proceed: Callable[[], None], cancelled: Callable[[], None]
    ) -> None:
        """Ask before rotating: a window-modal message box with the commands in its details;
        ``proceed()`` on Rotate, ``cancelled()`` otherwise (Cancel is the default button)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Rotate the local CA", text, parent=self.window())
        box.setObjectName("certRotateDialog")
        box.setDetailedText(details)
        rotate = box.addButton("Rotate", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.rotate_dialog = box

        def done(_code: int) -> None:
            self.rotate_dialog = None
            if box.clickedButton() is rotate:
                proceed()
            else:
                cancelled()

        box.finished.connect(done)
        box.open()

    def _rotate(self, plan: RotationPlan, old: LocalCA, new: LocalCA, moves: MovePlan) -> None:
        servers, store = self.servers, self.store

        def work() -> tuple[MoveResult, bool]:
            rotation = store.rotate_ca(plan)
            moved_old = LocalCA(rotation.old_ca_path.resolve(), old.nickname, old.sha256, old.sha1)
            result = run_move(moves.steps, moved_old, new)
            restarted = servers.https.running
            if restarted:
                servers.reload_tls()
            return result, restarted

        self.tasks.submit(work, on_done=self._rotated, on_error=self._failed, name="launcher-ca-rotate")

    def _rotated(self, done: tuple[MoveResult, bool]) -> None:
        result, restarted = done
        self._set_busy(False)
        self.refresh()
        self.trust.refresh_states()
        parts = ["The local CA was replaced by a name-constrained one."]
        parts += [o.message for o in result.outcomes]
        parts += [f"{name}: {exc}" for name, exc in result.failures]
        if restarted:
            parts.append("HTTPS restarted with the re-signed certificate.")
        level = (
            MessageLevel.ERROR
            if result.failures
            else MessageLevel.WARNING
            if result.manual
            else MessageLevel.INFO
        )
        self.say(" ".join(parts), level)
