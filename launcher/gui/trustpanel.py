"""Trust the local CA from the window: per-store status, "Trust CA…" and "Untrust…".

Everything about stores is ``launcher.trust``'s and the plan (states, the exact commands, running
them) is ``launcher.trustplan``'s; this module only shows it and asks first:

1. A click on Trust CA… (or Untrust…) works out, in a worker thread, what each store would run
   (``install_commands`` / ``uninstall_commands``; the CA is created first when there is none).
2. ``TrustSection.confirm`` shows exactly those commands, shell-quoted, in a dialog
   (``TrustConfirmDialog``) with one check box per store.  Nothing is run before its confirm
   button is pressed; Cancel does nothing at all.
3. The chosen stores' ``install``/``uninstall`` run in a worker thread; the outcome and any
   ``TrustError`` go to the window's banner (``report``), and the statuses are read again.

A store that needs root while we are not (the Debian system store) is never run: its sudo
commands are shown, in the dialog and then under the status list, with a Copy button.

After Trust CA…, a client that still refuses the certificate (a ``WireEvent`` of kind
``UNTRUSTED_CA`` from the request log, ``note_wire_events``) brings up ``restart_hint``: which
browsers need a restart, as measured on Debian 12 (docs/trust.md): a running Chromium reads the
new CA from its NSS database but keeps refusing a site it refused before until it restarts;
a running Firefox ESR picks the CA up from its profile at once (reload the page).

"Trusted" means the served certificate verifies: when the served certificate was not issued by the
local CA (an imported one from elsewhere, ``set_served_by_ca(False)``), a store that trusts the
local CA says "trusts the local CA, not the served certificate's issuer" in grey, and a note above
the list says so.

"Trust doctor…" (next to Check again) opens ``TrustDoctorDialog``: every row of
``launcher.trustdoctor.diagnose`` (browsers, system stores, WSL's Windows host, runtimes, which
running browsers need a restart), each with its state and a Copy button for its fix; read in a
worker thread, again on its "Check again".

Limits: the status is read when the section is made, after each action, when the CA changes and
on "Check again"; a change made outside the launcher (the user's own sudo) shows after "Check
again".  Commands are shown shell-quoted for a POSIX shell (``shlex.join``), also on Windows.
"""

from __future__ import annotations

import html
import shlex
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from launcher.certs import CertStore
from launcher.gui.panel import Panel
from launcher.gui.tasks import TaskRunner
from launcher.gui.widgets import DetailsView, monospace_font
from launcher.messages import MessageLevel
from launcher.trust import LocalCA, TrustState, TrustStore, default_stores
from launcher.trustdoctor import Area, Check, DoctorEnv, DoctorReport, DoctorRow, diagnose
from launcher.trustplan import (
    StorePlan,
    StoreState,
    TrustAction,
    TrustPlan,
    TrustResult,
    make_plan,
    read_states,
    run_plan,
)
from launcher.wireevents import WireEvent, WireEventKind

StoresFactory = Callable[[], Sequence[TrustStore]]

STATE_STYLE = {  # state -> (symbol, colour)
    TrustState.TRUSTED: ("●", "#15803d"),
    TrustState.NOT_TRUSTED: ("○", "#b45309"),
    TrustState.NO_CA: ("○", "#64748b"),
    TrustState.UNAVAILABLE: ("–", "#64748b"),
    TrustState.FAILED: ("✗", "#b91c1c"),
}


DOCTOR_STYLE = {  # doctor verdict -> (symbol, colour)
    Check.TRUSTED: ("●", "#15803d"),
    Check.NOT_TRUSTED: ("○", "#b45309"),
    Check.ABSENT: ("–", "#64748b"),
    Check.ADVICE: ("i", "#2563eb"),
    Check.ERROR: ("✗", "#b91c1c"),
}

DOCTOR_AREAS = {
    Area.BROWSER: "Browsers",
    Area.SYSTEM: "System stores",
    Area.RUNTIME: "Runtimes and tools",
    Area.RESTART: "Restart needed",
}


# --- the trust doctor ---------------------------------------------------------------------------------


class TrustDoctorDialog(QDialog):
    """Every place a client looks for trust (``launcher.trustdoctor``), one row each: the place, its
    state, why, and its fix with a Copy button.  Reads nothing itself: ``show_report`` fills it,
    ``recheckRequested`` asks the section to read again."""

    recheckRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trustDoctorDialog")
        self.setAccessibleName("Trust doctor")
        self.setWindowTitle("Trust doctor")
        self.resize(900, 560)
        self.report: DoctorReport | None = None
        #: Row name -> (state label, fix label, copy button or None), for tests and accessibility.
        self.rows: dict[str, tuple[QLabel, QLabel, QToolButton | None]] = {}

        self.summary = QLabel("Checking…", self)
        self.summary.setObjectName("trustDoctorSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.body = QWidget(self)
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(4)
        self.grid.setColumnStretch(2, 1)
        scroll = QScrollArea(self)
        scroll.setWidget(self.body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        buttons = QDialogButtonBox(self)
        self.recheck_button = buttons.addButton("Check again", QDialogButtonBox.ButtonRole.ActionRole)
        self.recheck_button.setObjectName("trustDoctorRecheckButton")
        self.recheck_button.setAccessibleName("Run the trust doctor again")
        self.recheck_button.clicked.connect(self.recheckRequested)
        self.copy_button = buttons.addButton("Copy report", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setObjectName("trustDoctorCopyButton")
        self.copy_button.setAccessibleName("Copy the whole report as text")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(lambda: _copy(self.report.to_text() if self.report else ""))
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setObjectName("trustDoctorCloseButton")
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)

    def set_checking(self) -> None:
        self.summary.setText("Checking…")
        self.recheck_button.setEnabled(False)

    def show_message(self, text: str) -> None:
        """No report (no CA yet, an error): the text instead."""
        self.report = None
        self._clear()
        self.summary.setText(text)
        self.recheck_button.setEnabled(True)
        self.copy_button.setEnabled(False)

    def show_report(self, report: DoctorReport) -> None:
        self.report = report
        self._clear()
        self.recheck_button.setEnabled(True)
        self.copy_button.setEnabled(True)
        verdict = (
            "Every browser found trusts the CA."
            if report.ok
            else "Some browser does not trust the CA yet: use the fixes below."
        )
        self.summary.setText(
            f"<b>{html.escape(verdict)}</b><br><span style='color:#475569'>"
            f"{html.escape(report.ca.nickname)} · SHA-256 {html.escape(report.ca.sha256)}</span>"
        )
        self.summary.setProperty("state", "ok" if report.ok else "warning")
        line = 0
        for area, title in DOCTOR_AREAS.items():
            rows = report.area(area)
            if not rows:
                continue
            heading = QLabel(title, self.body)
            heading.setProperty("role", "sectionTitle")
            self.grid.addWidget(heading, line, 0, 1, 4)
            line += 1
            for row in rows:
                self._add_row(line, row)
                line += 2 if row.fix else 1
        self.grid.setRowStretch(line, 1)

    def _add_row(self, line: int, row: DoctorRow) -> None:
        symbol, colour = DOCTOR_STYLE[row.state]
        name = QLabel(row.name, self.body)
        name.setProperty("role", "fieldName")
        name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        state = QLabel(
            f"<span style='color:{colour}'>{symbol}&nbsp;{html.escape(str(row.state))}</span>", self.body
        )
        state.setTextFormat(Qt.TextFormat.RichText)
        state.setProperty("state", row.state.value)
        state.setAccessibleName(f"{row.name}: {row.state}")
        state.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        detail = QLabel(row.detail, self.body)
        detail.setWordWrap(True)
        detail.setProperty("role", "hint")
        detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.grid.addWidget(name, line, 0)
        self.grid.addWidget(state, line, 1)
        self.grid.addWidget(detail, line, 2, 1, 2)
        fix = QLabel(row.fix, self.body)
        copy: QToolButton | None = None
        if row.fix:
            fix.setFont(monospace_font())
            fix.setWordWrap(True)
            fix.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            fix.setAccessibleName(f"Fix for {row.name}")
            copy = QToolButton(self.body)
            copy.setText("Copy")
            copy.setAccessibleName(f"Copy the fix for {row.name}")
            copy.clicked.connect(lambda _c=False, text=row.fix: _copy(text))
            self.grid.addWidget(fix, line + 1, 2)
            self.grid.addWidget(copy, line + 1, 3, Qt.AlignmentFlag.AlignTop)
        else:
            fix.hide()
        self.rows[row.name] = (state, fix, copy)

    def _clear(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.rows = {}


# --- the confirmation dialog ---------------------------------------------------------------------------


class TrustConfirmDialog(QDialog):
    """Shows exactly what a plan would run; one check box per store; nothing happens on Cancel."""

    def __init__(self, plan: TrustPlan, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = plan
        verb = "Trust" if plan.install else "Remove"
        self.setObjectName("trustConfirmDialog")
        self.setAccessibleName("Confirm trust change")
        self.setWindowTitle("Trust the local CA" if plan.install else "Remove the local CA")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(760, 440)
        ca = plan.ca
        intro = QLabel(self)
        intro.setObjectName("trustConfirmText")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        what = "trust" if plan.install else "remove"
        intro.setText(
            f"<p>This will {what} the local CA <b>{html.escape(ca.nickname)}</b></p>"
            "<table style='color:#475569'>"
            f"<tr><td>SHA-256&nbsp;</td><td>{html.escape(ca.sha256)}</td></tr>"
            f"<tr><td>File&nbsp;</td><td>{html.escape(str(ca.path))}</td></tr></table>"
            "<p>These exact commands will be run for the stores you tick:</p>"
        )

        body = QWidget(self)
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        self.checks: dict[str, QCheckBox] = {}
        self.views: dict[str, DetailsView] = {}
        for index, item in enumerate(plan.stores):
            view = DetailsView(body, lines_shown=min(6, max(1, item.command_text().count("\n") + 1)))
            view.setObjectName(f"trustCommands{index}")
            view.setAccessibleName(f"Commands for {item.name}")
            view.setPlainText(item.command_text())
            self.views[item.name] = view
            if item.manual:
                label = QLabel(
                    f"<b>{html.escape(item.name)}</b>: needs root. Nothing is run here; "
                    "copy these commands and run them yourself:",
                    body,
                )
                label.setWordWrap(True)
                copy = QPushButton("Copy commands", body)
                copy.setObjectName(f"trustCopyCommands{index}")
                copy.setAccessibleName(f"Copy the commands for {item.name}")
                copy.clicked.connect(lambda _c=False, v=view: _copy(v.toPlainText()))
                row = QHBoxLayout()
                row.addWidget(label, 1)
                row.addWidget(copy, 0, Qt.AlignmentFlag.AlignBottom)
                body_layout.addLayout(row)
            else:
                check = QCheckBox(item.name, body)
                check.setObjectName(f"trustStoreCheck{index}")
                check.setAccessibleName(f"{verb} in {item.name}")
                check.setChecked(True)
                check.toggled.connect(self._update_button)
                self.checks[item.name] = check
                body_layout.addWidget(check)
            body_layout.addWidget(view)
        notes = [f"{html.escape(p.name)}: {p.note}" for p in plan.idle]
        notes += [f"{html.escape(s.name)}: unavailable ({html.escape(s.detail)})" for s in plan.skipped]
        if notes:
            skipped = QLabel("<br>".join(["Left alone:", *notes]), body)
            skipped.setObjectName("trustConfirmSkipped")
            skipped.setProperty("role", "hint")
            skipped.setWordWrap(True)
            body_layout.addWidget(skipped)
        body_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        buttons = QDialogButtonBox(self)
        self.confirm_button = buttons.addButton(verb, QDialogButtonBox.ButtonRole.AcceptRole)
        self.confirm_button.setObjectName("trustConfirmButton")
        self.confirm_button.setAccessibleName(f"{verb}: run the commands shown")
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("trustCancelButton")
        self.cancel_button.setAccessibleName("Cancel: change nothing")
        self.cancel_button.setDefault(True)  # Enter must not change trust by accident
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self._update_button()

    def chosen(self) -> list[StorePlan]:
        """The stores to act on: the ticked ones, plus the manual ones (they only hand back commands)."""
        return [
            item
            for item in self.plan.stores
            if item.manual or (item.name in self.checks and self.checks[item.name].isChecked())
        ]

    def _update_button(self, *_args: object) -> None:
        self.confirm_button.setEnabled(bool(self.chosen()))


def restart_hint(event: WireEvent) -> str:
    """What to do when *event* (a refused certificate) came after Trust CA…: which browsers need a
    restart, and which client the alert points to (Chromium sends ``certificate_unknown``;
    Firefox and OpenSSL clients such as curl send ``unknown_ca``)."""
    alert = {
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "certificate_unknown, as Chromium and Chrome send",
        "SSLV3_ALERT_BAD_CERTIFICATE": "bad_certificate",
        "TLSV1_ALERT_UNKNOWN_CA": "unknown_ca, as Firefox, curl and other OpenSSL clients send",
    }.get(event.reason, event.reason or "a refusal")
    return (
        f"A client at {event.peer} still refused the certificate after Trust CA… ({alert}). "
        "Restart Chromium and Chrome: a running one reads the new CA, but keeps refusing a site it "
        "already refused until it is restarted. Firefox needs no restart: reload the page. "
        "curl and other command-line tools read no browser store: give them --cacert, or trust "
        "the system store."
    )


def _copy(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


# --- the section on the certificate panel --------------------------------------------------------------


class TrustSection(Panel, QWidget):
    """ "Trusted by" status list with Trust CA… / Untrust… / Check again, for one ``CertStore``."""

    #: ``(text, MessageLevel)`` for the window's banner, whatever the level: outcomes (INFO,
    #: WARNING) and errors (ERROR).  ``message`` (``Panel``'s) is for notes (the status bar).
    report = Signal(str, object)
    #: Trust CA… created the CA (there was none): the certificate panel should re-read the store.
    caCreated = Signal()
    #: The status list was updated: the list of ``StoreState``.
    statesChanged = Signal(object)
    #: A trust action finished: the ``TrustResult``.
    finished = Signal(object)

    def __init__(
        self,
        cert_store: CertStore,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        stores_factory: StoresFactory | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trustSection")
        self.setAccessibleName("Trust")
        self.cert_store = cert_store
        self.tasks = tasks
        #: Which stores to show and act on; read at each use (HOME and Firefox profiles may change).
        self.stores_factory: StoresFactory = stores_factory or default_stores
        self.states: dict[str, StoreState] = {}
        self.last_result: TrustResult | None = None
        self.confirm_dialog: TrustConfirmDialog | None = None
        self._busy = False
        self._refresh_again = False
        self._ca_fingerprint: str | None = "(not read yet)"
        self._manual_wanted: dict[str, bool] = {}
        self._rows_built = False
        #: time.time() of the last Trust CA… that trusted the CA somewhere (None: none since).
        self._trusted_at: float | None = None
        self._restart_reported = False
        #: Whether the local CA issued the served certificate (see the module docstring).
        self.served_by_ca = True

        title = QLabel("Trusted by", self)
        title.setProperty("role", "sectionTitle")
        self.recheck_button = QToolButton(self)
        self.recheck_button.setObjectName("trustRecheckButton")
        self.recheck_button.setAccessibleName("Check the trust stores again")
        self.recheck_button.setText("Check again")
        self.recheck_button.setToolTip(
            "Read every store's status again (after running a sudo command yourself)"
        )
        self.recheck_button.setAutoRaise(True)
        self.recheck_button.clicked.connect(self.refresh_states)
        self.doctor_button = QToolButton(self)
        self.doctor_button.setObjectName("trustDoctorButton")
        self.doctor_button.setAccessibleName("Trust doctor: every place a client looks for trust")
        self.doctor_button.setText("Trust doctor…")
        self.doctor_button.setToolTip(
            "Every browser, system store, WSL's Windows host and runtime: trusted or not, and the fix"
        )
        self.doctor_button.setAutoRaise(True)
        self.doctor_button.clicked.connect(self.open_doctor)
        #: Where the doctor looks (tests point it at a temporary tree); read at each check.
        self.doctor_env_factory: Callable[[], DoctorEnv] = DoctorEnv
        self.doctor_dialog: TrustDoctorDialog | None = None
        self._doctor_running = False
        title_row = QHBoxLayout()
        title_row.addWidget(title)
        title_row.addStretch(1)
        title_row.addWidget(self.doctor_button)
        title_row.addWidget(self.recheck_button)

        self.foreign_label = QLabel(
            "The served certificate was imported and is not issued by this CA: the list below is "
            "the local CA's trust, not the served certificate's.",
            self,
        )
        self.foreign_label.setObjectName("trustForeignCertLabel")
        self.foreign_label.setAccessibleName("The served certificate has another issuer")
        self.foreign_label.setProperty("state", "warning")
        self.foreign_label.setWordWrap(True)
        self.foreign_label.hide()

        self.status_box = QWidget(self)
        self.status_box.setObjectName("trustStatusList")
        self.status_box.setAccessibleName("Trust status per store")
        self.status_grid = QGridLayout(self.status_box)
        self.status_grid.setContentsMargins(0, 0, 0, 0)
        self.status_grid.setHorizontalSpacing(10)
        self.status_grid.setVerticalSpacing(3)
        self.status_grid.setColumnStretch(1, 1)
        self.status_labels: dict[str, QLabel] = {}
        self._placeholder = QLabel("Checking…", self.status_box)
        self._placeholder.setProperty("role", "hint")
        self.status_grid.addWidget(self._placeholder, 0, 0, 1, 2)

        self.manual_label = QLabel("Run this yourself (needs root), then press Check again:", self)
        self.manual_label.setObjectName("trustManualLabel")
        self.manual_label.setWordWrap(True)
        self.manual_view = DetailsView(self, lines_shown=3)
        self.manual_view.setObjectName("trustManualCommands")
        self.manual_view.setAccessibleName("Commands to run yourself")
        self.manual_copy_button = QPushButton("Copy", self)
        self.manual_copy_button.setObjectName("trustCopyManualButton")
        self.manual_copy_button.setAccessibleName("Copy the commands to run yourself")
        self.manual_copy_button.clicked.connect(lambda: self._copy_manual())
        manual_row = QHBoxLayout()
        manual_row.addWidget(self.manual_label, 1)
        manual_row.addWidget(self.manual_copy_button)
        self._manual_widgets = (self.manual_label, self.manual_view, self.manual_copy_button)
        for widget in self._manual_widgets:
            widget.hide()
        self.restart_label = QLabel(self)
        self.restart_label.setObjectName("trustRestartHint")
        self.restart_label.setAccessibleName("Which browsers need a restart")
        self.restart_label.setWordWrap(True)
        self.restart_label.setProperty("role", "hint")
        self.restart_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(title_row)
        layout.addWidget(self.foreign_label)
        layout.addWidget(self.status_box)
        layout.addLayout(manual_row)
        layout.addWidget(self.manual_view)
        layout.addWidget(self.restart_label)

        # The buttons go in the certificate panel's CA button row (see ``buttons``).
        self.trust_button = QPushButton("Trust CA…", self)
        self.trust_button.setObjectName("trustCaButton")
        self.trust_button.setAccessibleName("Trust the local CA")
        self.trust_button.setToolTip(
            "Add the local CA to the browsers' and the system's trust stores (shows the commands first)"
        )
        self.trust_button.clicked.connect(self.trust)
        self.untrust_button = QPushButton("Untrust…", self)
        self.untrust_button.setObjectName("untrustCaButton")
        self.untrust_button.setAccessibleName("Remove the local CA from the trust stores")
        self.untrust_button.setToolTip(
            "Remove this CA (and only it) from the trust stores (shows the commands first)"
        )
        self.untrust_button.clicked.connect(self.untrust)
        self.buttons = (self.trust_button, self.untrust_button)

    # --- status ----------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for button in (*self.buttons, self.recheck_button):
            button.setEnabled(not busy)
        if not busy and self._refresh_again:  # a refresh asked for while busy
            self._refresh_again = False
            QTimer.singleShot(0, self, self.refresh_states)

    def _load_ca(self) -> LocalCA | None:
        path = self.cert_store.ca_cert_path
        return LocalCA.load(path) if path.exists() else None

    def refresh_states(self) -> None:
        """Read every store's status in a worker thread; the list updates when it is done."""
        if self._busy:
            self._refresh_again = True
            return
        factory, load_ca = self.stores_factory, self._load_ca
        self._set_busy(True)
        self.tasks.submit(
            lambda: read_states(list(factory()), load_ca()),
            on_done=self._states_read,
            on_error=self._failed,
            name="launcher-trust-status",
        )

    def ca_changed(self, fingerprint: str | None) -> None:
        """Tell the section which CA the store holds now; a different one is checked again."""
        if fingerprint != self._ca_fingerprint:
            self._ca_fingerprint = fingerprint
            self.refresh_states()

    def set_served_by_ca(self, served: bool, *, imported: bool = False) -> None:
        """Whether the local CA issued the served certificate; False changes "trusted" rows'
        words (see the module docstring)."""
        changed = served != self.served_by_ca
        self.served_by_ca = served
        self.foreign_label.setText(
            (
                "The served certificate was imported and is not issued by this CA"
                if imported
                else "The served certificate is not issued by this CA"
            )
            + ": the list below is the local CA's trust, not the served certificate's."
        )
        self.foreign_label.setVisible(not served)
        if changed and self.states:
            self.show_states(list(self.states.values()))

    def state_words(self, state: StoreState) -> tuple[str, str, str]:
        """(symbol, colour, text) of one store's row, telling the truth about the served certificate."""
        symbol, colour = STATE_STYLE[state.state]
        text = state.text()
        if state.state is TrustState.TRUSTED and not self.served_by_ca:
            return (
                "○",
                STATE_STYLE[TrustState.NO_CA][1],
                "trusts the local CA, not the served certificate's issuer",
            )
        return symbol, colour, text

    def _states_read(self, states: list[StoreState]) -> None:
        self.show_states(states)
        self._set_busy(False)

    def show_states(self, states: list[StoreState]) -> None:
        self.states = {s.name: s for s in states}
        if not self._rows_built or list(self.status_labels) != [s.name for s in states]:
            self._rebuild_rows(states)
        for state in states:
            symbol, colour, text = self.state_words(state)
            label = self.status_labels[state.name]
            label.setText(f"<span style='color:{colour}'>{symbol}</span>&nbsp;{html.escape(text)}")
            label.setProperty("state", state.state.value)
            label.setAccessibleName(f"{state.name}: {text}")
            label.setToolTip(state.detail or state.text())
        # The sudo commands stay on screen until the stores say they were run.
        if self._manual_wanted and all(
            name in self.states and self.states[name].trusted == wanted
            for name, wanted in self._manual_wanted.items()
        ):
            self._manual_wanted = {}
            for widget in self._manual_widgets:
                widget.hide()
        self.statesChanged.emit(states)

    def _rebuild_rows(self, states: list[StoreState]) -> None:
        while self.status_grid.count():
            item = self.status_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.status_labels = {}
        self._rows_built = True
        if not states:
            empty = QLabel("No trust store is known on this system.", self.status_box)
            empty.setProperty("role", "hint")
            self.status_grid.addWidget(empty, 0, 0, 1, 2)
        for row, state in enumerate(states):
            name = QLabel(state.name, self.status_box)
            name.setProperty("role", "fieldName")
            name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            value = QLabel(self.status_box)
            value.setObjectName(f"trustStatus{row}")
            value.setTextFormat(Qt.TextFormat.RichText)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            self.status_grid.addWidget(name, row, 0)
            self.status_grid.addWidget(value, row, 1)
            self.status_labels[state.name] = value

    def state_of(self, name_part: str) -> StoreState | None:
        """The state of the first store whose name contains *name_part* (case-insensitive)."""
        for name, state in self.states.items():
            if name_part.lower() in name.lower():
                return state
        return None

    # --- actions ---------------------------------------------------------------------------------------

    def trust(self) -> None:
        """Trust CA…: work out the commands, ask, then install (each step off the GUI thread)."""
        self._prepare(TrustAction.INSTALL)

    def untrust(self) -> None:
        """Untrust…: work out the commands, ask, then remove our CA (only it) from the stores."""
        self._prepare(TrustAction.UNINSTALL)

    def _prepare(self, action: TrustAction) -> None:
        if self._busy:
            return
        factory, store = self.stores_factory, self.cert_store

        def work() -> tuple[TrustPlan | None, bool]:
            created = False
            if action is TrustAction.INSTALL:
                created = not store.ca_cert_path.exists()
                store.ensure_ca()
            elif not store.ca_cert_path.exists():
                return None, False
            ca = LocalCA.load(store.ca_cert_path)
            return make_plan(action, list(factory()), ca), created

        self._set_busy(True)
        self.tasks.submit(work, on_done=self._planned, on_error=self._failed, name="launcher-trust-plan")

    def _planned(self, result: tuple[TrustPlan | None, bool]) -> None:
        plan, created = result
        if created:
            self.caCreated.emit()
        if plan is None:
            self._set_busy(False)
            self.report.emit("There is no local CA yet: nothing to remove.", MessageLevel.INFO)
            return
        if not plan.stores:
            self._set_busy(False)
            done = "already trusts it" if plan.install else "does not hold it"
            usable = [p.name for p in plan.idle]
            if usable:
                self.report.emit(
                    f"Nothing to do: every usable store {done} ({', '.join(usable)}).", MessageLevel.INFO
                )
            else:
                reasons = "; ".join(f"{s.name}: {s.detail}" for s in plan.skipped) or "none found"
                self.report.emit(f"No trust store can be used here ({reasons}).", MessageLevel.ERROR)
            self.refresh_states()
            return

        def proceed(chosen: Sequence[StorePlan]) -> None:
            self._run(plan, list(chosen))

        def cancelled() -> None:
            self._set_busy(False)

        self.confirm(plan, proceed, cancelled)

    def confirm(
        self,
        plan: TrustPlan,
        proceed: Callable[[Sequence[StorePlan]], None],
        cancelled: Callable[[], None],
    ) -> None:
        """Ask before doing anything: a window-modal ``TrustConfirmDialog`` (non-blocking ``open()``).

        Calls ``proceed(chosen_stores)`` on its confirm button, ``cancelled()`` otherwise.  A
        subclass may answer differently (but must call one of the two)."""
        dialog = TrustConfirmDialog(plan, self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.confirm_dialog = dialog

        def done(code: int) -> None:
            self.confirm_dialog = None
            chosen = dialog.chosen()
            if code == QDialog.DialogCode.Accepted and chosen:
                proceed(chosen)
            else:
                cancelled()

        dialog.finished.connect(done)
        dialog.open()

    def _run(self, plan: TrustPlan, chosen: list[StorePlan]) -> None:
        for widget in self._manual_widgets:
            widget.hide()
        self._manual_wanted = {}
        self.tasks.submit(
            lambda: run_plan(plan, chosen),
            on_done=self._ran,
            on_error=self._failed,
            name="launcher-trust-run",
        )

    def _ran(self, result: TrustResult) -> None:
        self._set_busy(False)
        self.last_result = result
        manual = result.manual
        if manual:
            self._manual_wanted = {o.store: result.action is TrustAction.INSTALL for o in manual}
            self.manual_view.setPlainText(
                "\n\n".join(" &&\n".join(shlex.join(c) for c in o.manual) for o in manual)
            )
            self.manual_view.set_lines_shown(min(6, self.manual_view.document().blockCount()))
            for widget in self._manual_widgets:
                widget.show()
        self.show_states(result.states)
        self.restart_label.hide()
        trusted = result.action is TrustAction.INSTALL and any(not o.manual for o in result.outcomes)
        self._trusted_at = time.time() if trusted else None
        self._restart_reported = False
        text, level = result.summary()
        self.report.emit(text, level)
        self.finished.emit(result)

    def note_wire_events(self, events: Sequence[WireEvent]) -> None:
        """Wire events from the request log: a certificate refused after Trust CA… shows which
        browsers need a restart (under the status list, and once in the banner)."""
        since = self._trusted_at
        if since is None:
            return
        refused = [e for e in events if e.kind is WireEventKind.UNTRUSTED_CA and e.time >= since]
        if not refused:
            return
        text = restart_hint(refused[-1])
        self.restart_label.setText(text)
        self.restart_label.show()
        if not self._restart_reported:
            self._restart_reported = True
            self.report.emit(text, MessageLevel.WARNING)

    # --- the trust doctor ------------------------------------------------------------------------------

    def open_doctor(self) -> None:
        """Trust doctor…: show the dialog (one per section) and read every row in a worker thread."""
        if self.doctor_dialog is None:
            dialog = TrustDoctorDialog(self.window())
            dialog.recheckRequested.connect(self.run_doctor)
            self.doctor_dialog = dialog
        self.doctor_dialog.show()
        self.doctor_dialog.raise_()
        self.run_doctor()

    @property
    def doctor_running(self) -> bool:
        return self._doctor_running

    def run_doctor(self) -> None:
        """Read the doctor's rows again (off the GUI thread); the dialog shows them when done."""
        dialog = self.doctor_dialog
        if dialog is None or self._doctor_running:
            return
        load_ca, make_env = self._load_ca, self.doctor_env_factory

        def work() -> DoctorReport | None:
            ca = load_ca()
            return None if ca is None else diagnose(ca, make_env())

        def done(report: DoctorReport | None) -> None:
            self._doctor_running = False
            if report is None:
                dialog.show_message(
                    f"There is no local CA in {self.cert_store.directory} yet: nothing can be trusted. "
                    "Press Trust CA… to make it and trust it."
                )
            else:
                dialog.show_report(report)

        def failed(exc: BaseException) -> None:
            self._doctor_running = False
            dialog.show_message(f"The trust doctor failed: {exc}")
            self._failed_doctor(exc)

        self._doctor_running = True
        dialog.set_checking()
        self.tasks.submit(work, on_done=done, on_error=failed, name="launcher-trust-doctor")

    def _failed_doctor(self, exc: BaseException) -> None:
        self.route_error(exc, lambda error: self.report.emit(str(error), MessageLevel.ERROR))

    def _copy_manual(self) -> None:
        _copy(self.manual_view.toPlainText())
        self.say("Copied the commands: paste them into a terminal, then press Check again.")

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.route_error(exc, lambda error: self.report.emit(str(error), MessageLevel.ERROR))
