"""The Inspector tab: one path fetched over HTTP and HTTPS, side by side, with plain-language verdicts.

``InspectorPanel(servers, cert_store, parent=None, tasks=None)`` (objectName ``inspectorPanel``): a
path or URL field and an Inspect button; the probe (``launcher.inspector``) runs in a worker thread
(``tasks``, the window's ``TaskRunner``; its own when not given) and its report comes back to the
GUI thread through the runner's ``GuiBridge``.

What a report shows, top to bottom:

- the **fact matrix** (``launcher.inspector.matrix``): "fact | HTTP | HTTPS", each cell green,
  amber, red or grey (the ``level`` property, coloured by the style sheet), its explanation as a
  tooltip;
- one **summary line per column** (the counts and the most serious verdict); "Show all verdicts"
  opens the two columns with every verdict and the facts (redirect chain, what Flask saw, TLS,
  HSTS, cookies);
- the behind-a-proxy lens, when asked for.

A **stale mark** (``mark_stale(reason)``) says the report no longer describes what is served: the
window calls it when the serving options, the certificate or the app change after the report was
made; the next report clears it.

The trusted-proxy check box writes ``servers.policy.trusted_proxy`` directly (next request).
``inspect_path(path)`` is a public slot for the request log's "Inspect" action.
"Copy as text" puts ``InspectReport.to_text()`` on the clipboard, "Copy as Markdown"
``InspectReport.to_markdown()``.

Limits: one probe at a time is shown; starting another while one runs makes the older result be
dropped when it arrives.  The trusted-proxy box is read back from the policy when the panel is
shown and after each probe (another panel may have changed it meanwhile).
"""

from __future__ import annotations

import html
import itertools
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from launcher.certs import CertStore
from launcher.control import ServersControl
from launcher.errors import LauncherError
from launcher.gui.panel import Panel
from launcher.gui.tasks import TaskRunner
from launcher.inspector import (
    InspectReport,
    ProxyLens,
    SchemeReport,
    Verdict,
    VerdictLevel,
    flask_rows,
    inspect_target,
    target_for_servers,
    tls_rows,
)
from launcher.inspector.matrix import FACTS, Cell, fact_matrix
from launcher.messages import MessageLevel
from launcher.options import DEFAULTS

LEVEL_COLOUR = {
    VerdictLevel.OK: "#15803d",
    VerdictLevel.WARN: "#b45309",
    VerdictLevel.BAD: "#b91c1c",
    VerdictLevel.INFO: "#64748b",
}
LEVEL_WORD = {
    VerdictLevel.OK: "OK",
    VerdictLevel.WARN: "Warning",
    VerdictLevel.BAD: "Problem",
    VerdictLevel.INFO: "Note",
}
IDLE_TEXT = "Type a path such as /login (or a URL) and press Inspect."
STALE_TEXT = "Settings changed since this report ({reasons}): run it again."
#: Plural words for the summary line's counts.
LEVEL_COUNT_WORDS = {
    VerdictLevel.BAD: ("problem", "problems"),
    VerdictLevel.WARN: ("warning", "warnings"),
    VerdictLevel.OK: ("OK", "OK"),
    VerdictLevel.INFO: ("note", "notes"),
}


def verdict_summary(column: SchemeReport) -> str:
    """One line for a column: the counts per level, then the most serious verdict's text."""
    if column.skipped:
        return f"Not probed: {column.skipped}"
    if not column.verdicts:
        return "No verdicts."
    counts = []
    for level in (VerdictLevel.BAD, VerdictLevel.WARN, VerdictLevel.OK, VerdictLevel.INFO):
        n = sum(1 for v in column.verdicts if VerdictLevel(v.level) is level)
        if n:
            one, many = LEVEL_COUNT_WORDS[level]
            counts.append(f"{n} {one if n == 1 else many}")
    worst = max(column.verdicts, key=lambda v: VerdictLevel(v.level).severity)
    return f"{', '.join(counts)}. {worst.text}"


def _restyle(widget: QWidget) -> None:
    """Apply the style sheet again after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


def _marker(level: VerdictLevel) -> str:
    colour = LEVEL_COLOUR[level]
    word = LEVEL_WORD[level]
    return f"<span style='color:{colour}' title='{word}'>&#9679;</span>"


def _e(value: object) -> str:
    return html.escape("-" if value is None else str(value))


def verdicts_html(verdicts: list[Verdict]) -> str:
    rows = "".join(
        f"<tr><td valign='top' style='padding-right:6px'>{_marker(v.level)}</td>"
        f"<td class='{v.level}'>{_e(v.text)}</td></tr>"
        for v in verdicts
    )
    return f"<table cellspacing='2'>{rows}</table>"


def _facts_table(rows: list[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><td style='color:#475569; padding-right:10px' valign='top'>{_e(k)}</td><td>{_e(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table cellspacing='1'>{body}</table>"


def column_html(column: SchemeReport) -> str:
    """One column's verdicts and facts as HTML (the same facts as the text form)."""
    parts = [verdicts_html(column.verdicts)]
    if column.skipped or not column.hops:
        return "".join(parts)
    chain = []
    for hop in column.hops:
        if hop.error:
            chain.append(f"<li>GET {_e(hop.url)} → {_e(hop.error)}</li>")
        else:
            loc = f"<br>Location: {_e(hop.location)}" if hop.location else ""
            chain.append(f"<li>GET {_e(hop.url)} → <b>{_e(hop.status)} {_e(hop.reason)}</b>{loc}</li>")
    parts.append("<h4>Redirect chain</h4><ol style='margin-left:-20px'>" + "".join(chain) + "</ol>")
    if column.error and not column.hops[-1].error:
        parts.append(f"<p>Stopped: {_e(column.error)}</p>")
    if not column.reachable:
        return "".join(parts)
    parts.append("<h4>What Flask saw</h4>")
    flask = column.flask
    if flask is None:
        parts.append("<p>-</p>")
    elif not flask.available:
        parts.append(f"<p>{_e(flask.note)}</p>")
    else:
        parts.append(_facts_table([*flask_rows(flask, short=True), ("read from", flask.final_url)]))
    parts.append("<h4>TLS (as the client saw it)</h4>")
    tls = column.tls
    if tls is None:
        parts.append("<p>No TLS connection.</p>")
    else:
        parts.append(_facts_table(tls_rows(tls, short=True)))
    parts.append(f"<h4>HSTS</h4><p>{_e(column.hsts or 'none')}</p>")
    parts.append("<h4>Cookies set</h4>")
    if not column.cookies:
        parts.append("<p>none</p>")
    else:
        items = "".join(
            f"<li><b>{_e(c.name)}</b> (over {_e(c.over.upper())}): Secure={'yes' if c.secure else 'no'}, "
            f"HttpOnly={'yes' if c.httponly else 'no'}, SameSite={_e(c.samesite or 'not set')}</li>"
            for c in column.cookies
        )
        parts.append(f"<ul style='margin-left:-20px'>{items}</ul>")
    return "".join(parts)


def lens_html(lens: ProxyLens) -> str:
    sent = ", ".join(f"{k}: {v}" for k, v in lens.sent_headers.items())
    parts = [f"<p>GET {_e(lens.url)} with {_e(sent)}</p>", verdicts_html(lens.verdicts)]
    rows = []
    for case in lens.cases:
        f = case.flask
        if f is not None and f.available:
            rows.append(
                f"<tr><td>{_e(case.label)}</td><td>{_e(f.scheme)}</td><td>{_e(f.is_secure)}</td>"
                f"<td>{_e(f.url_for_external)}</td><td>{_e(f.remote_addr)}</td></tr>"
            )
    if rows:
        parts.append(
            "<table cellspacing='4'><tr>"
            + "".join(
                f"<th align='left'>{h}</th>"
                for h in ("setting", "scheme", "is_secure", "url_for", "remote_addr")
            )
            + "</tr>"
            + "".join(rows)
            + "</table>"
        )
    parts.append(f"<p>{_e(lens.explanation)}</p><p>{_e(lens.fix)}</p><pre>{_e(lens.fix_code)}</pre>")
    return "".join(parts)


class SchemeColumn(QWidget):
    """One side of the comparison: a title with the worst marker, then the verdicts and facts."""

    def __init__(self, scheme: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scheme = scheme
        self.setObjectName(f"{scheme}Column")
        self.title = QLabel(self)
        self.title.setObjectName(f"{scheme}ColumnTitle")
        self.title.setProperty("role", "sectionTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.summary = QLabel(self)
        self.summary.setObjectName(f"{scheme}VerdictSummary")
        self.summary.setAccessibleName(f"{scheme.upper()} verdicts in short")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Maximum)
        self.title.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.body = QTextBrowser(self)
        self.body.setObjectName(f"{scheme}Facts")
        self.body.setAccessibleName(f"{scheme.upper()} inspection")
        self.body.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.body, 100)
        layout.addStretch(1)  # collapsed (no body), the two lines stay at the top
        self.report: SchemeReport | None = None
        self.clear()

    def clear(self, text: str = "") -> None:
        self.report = None
        self.title.setText(f"<b>{self.scheme.upper()}</b>")
        self.title.setProperty("level", "")
        self.summary.setText(text)
        self.summary.setProperty("level", "")
        self.body.setPlainText(text)

    def show_report(self, column: SchemeReport) -> None:
        self.report = column
        level = column.worst
        self.title.setText(f"{_marker(level)}&nbsp;<b>{self.scheme.upper()}</b>&nbsp; {_e(column.url)}")
        self.title.setProperty("level", level.value)
        self.summary.setText(verdict_summary(column))
        self.summary.setProperty("level", level.value)
        _restyle(self.summary)
        self.body.setHtml(column_html(column))

    def set_expanded(self, expanded: bool) -> None:
        """Show every verdict and fact (True), or only the title and the summary line."""
        self.body.setVisible(expanded)
        if expanded:
            self.body.verticalScrollBar().setValue(0)  # from the first verdict

    @property
    def level(self) -> str:
        """The worst verdict's level shown on the title ("" before a report)."""
        return str(self.title.property("level") or "")


class InspectorPanel(Panel, QWidget):
    """The scheme inspector.  See the module docstring."""

    #: Emitted in the GUI thread with each shown ``InspectReport``.
    inspected = Signal(object)
    #: True while a probe runs.
    busyChanged = Signal(bool)

    def __init__(
        self,
        servers: ServersControl,
        cert_store: CertStore,
        parent: QWidget | None = None,
        *,
        tasks: TaskRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("inspectorPanel")
        self.setAccessibleName("Inspector")
        self.servers = servers
        self.cert_store = cert_store
        self.tasks = tasks if tasks is not None else TaskRunner(self)
        self.last_report: InspectReport | None = None
        self._generation = itertools.count(1)
        self._current = 0
        self._running: set[int] = set()  # probes started and not delivered yet

        self.path_edit = QLineEdit("/", self)
        self.path_edit.setObjectName("inspectorPath")
        self.path_edit.setAccessibleName("Path or URL to inspect")
        self.path_edit.setPlaceholderText(
            f"/login, or a URL such as https://localhost:{DEFAULTS.https_port}/"
        )
        self.path_edit.setClearButtonEnabled(True)
        self.path_edit.returnPressed.connect(self.inspect)
        self.inspect_button = QPushButton("Inspect", self)
        self.inspect_button.setObjectName("inspectButton")
        self.inspect_button.setAccessibleName("Inspect the path over HTTP and HTTPS")
        self.inspect_button.setProperty("role", "primary")
        self.inspect_button.setToolTip("Fetch it over http:// and https:// and explain the difference")
        self.inspect_button.clicked.connect(self.inspect)
        self.copy_button = QPushButton("Copy as text", self)
        self.copy_button.setObjectName("copyReportButton")
        self.copy_button.setAccessibleName("Copy the inspection report as text")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_text)

        self.lens_check = QCheckBox("Proxy lens", self)
        self.lens_check.setObjectName("proxyLensCheck")
        self.lens_check.setAccessibleName("Proxy lens")
        self.lens_check.setChecked(True)
        self.lens_check.setToolTip(
            "Also send X-Forwarded-Proto: https over HTTP, as a TLS-terminating proxy would, and show what "
            "Flask sees with the proxy untrusted (waitress's default) and trusted"
        )
        self.trusted_check = QCheckBox("Trust X-Forwarded-* from 127.0.0.1", self)
        self.trusted_check.setObjectName("trustedProxyCheck")
        self.trusted_check.setAccessibleName("Trust X-Forwarded headers from 127.0.0.1")
        self.trusted_check.setToolTip(
            "Trusted proxy. On: a proxy on this machine may tell Flask the scheme, host and client address "
            "(X-Forwarded-Proto/-Host/-For). Off (waitress's default): those headers are removed."
        )
        self.sync_from_policy()
        self.trusted_check.toggled.connect(self._set_trusted_proxy)

        self.status = QLabel(IDLE_TEXT, self)
        self.status.setObjectName("inspectorStatus")
        self.status.setAccessibleName("Inspector status")
        self.status.setProperty("role", "hint")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.stale_label = QLabel(self)
        self.stale_label.setObjectName("inspectorStaleLabel")
        self.stale_label.setAccessibleName("The report is out of date")
        self.stale_label.setWordWrap(True)
        self.stale_label.hide()
        #: What changed since the shown report (empty: it is current).
        self.stale_reasons: list[str] = []

        self.copy_markdown_button = QPushButton("Copy as Markdown", self)
        self.copy_markdown_button.setObjectName("copyMarkdownButton")
        self.copy_markdown_button.setAccessibleName("Copy the inspection report as Markdown")
        self.copy_markdown_button.setEnabled(False)
        self.copy_markdown_button.clicked.connect(self.copy_markdown)

        self.matrix = QFrame(self)
        self.matrix.setObjectName("inspectorMatrix")
        self.matrix.setAccessibleName("Facts for HTTP and HTTPS")
        matrix_grid = QGridLayout(self.matrix)
        matrix_grid.setContentsMargins(0, 0, 0, 0)
        matrix_grid.setHorizontalSpacing(2)
        matrix_grid.setVerticalSpacing(2)
        for col, heading in enumerate(("Fact", "HTTP", "HTTPS")):
            head = QLabel(heading, self.matrix)
            head.setProperty("role", "matrixHeader")
            matrix_grid.addWidget(head, 0, col)
        #: The matrix's value labels by (fact, scheme); their ``level`` property is the cell's level.
        self.matrix_cells: dict[tuple[str, str], QLabel] = {}
        for row, fact in enumerate(FACTS, 1):
            name = QLabel(fact, self.matrix)
            name.setProperty("role", "matrixFact")
            matrix_grid.addWidget(name, row, 0)
            for col, scheme in enumerate(("http", "https"), 1):
                cell = QLabel("–", self.matrix)
                cell.setObjectName(f"matrix{scheme.upper()}{row}")
                cell.setAccessibleName(f"{fact}, {scheme.upper()}")
                cell.setProperty("role", "matrixCell")
                cell.setProperty("level", "")
                cell.setWordWrap(True)
                cell.setTextFormat(Qt.TextFormat.PlainText)
                cell.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                cell.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
                matrix_grid.addWidget(cell, row, col)
                self.matrix_cells[(fact, scheme)] = cell
        matrix_grid.setColumnStretch(1, 1)
        matrix_grid.setColumnStretch(2, 1)

        self.verdicts_toggle = QPushButton("Show all verdicts", self)
        self.verdicts_toggle.setObjectName("verdictsToggle")
        self.verdicts_toggle.setAccessibleName("Show every verdict and fact")
        self.verdicts_toggle.setCheckable(True)
        self.verdicts_toggle.setToolTip("Every verdict in plain words, and the facts behind them")
        self.verdicts_toggle.toggled.connect(self.set_verdicts_expanded)

        self.columns = {"http": SchemeColumn("http", self), "https": SchemeColumn("https", self)}
        self.columns_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.columns_splitter.setObjectName("inspectorColumns")
        self.columns_splitter.setChildrenCollapsible(False)
        self.columns_splitter.setHandleWidth(8)
        for column in self.columns.values():
            self.columns_splitter.addWidget(column)

        self.lens_box = QGroupBox("Behind a proxy: X-Forwarded-Proto over HTTP", self)
        self.lens_box.setObjectName("proxyLensBox")
        self.lens_view = QTextBrowser(self.lens_box)
        self.lens_view.setObjectName("proxyLensView")
        self.lens_view.setAccessibleName("Proxy lens")
        lens_layout = QVBoxLayout(self.lens_box)
        lens_layout.addWidget(self.lens_view)
        self.lens_box.setVisible(False)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("inspectorSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.columns_splitter)
        self.splitter.addWidget(self.lens_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)

        top = QHBoxLayout()
        top.addWidget(QLabel("Path or URL:", self))
        top.addWidget(self.path_edit, 1)
        top.addWidget(self.inspect_button)
        results = QHBoxLayout()
        results.addWidget(self.verdicts_toggle)
        results.addStretch(1)
        results.addWidget(self.copy_button)
        results.addWidget(self.copy_markdown_button)
        options = QHBoxLayout()
        options.addWidget(self.lens_check)
        options.addWidget(self.trusted_check)
        options.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(options)
        layout.addWidget(self.status)
        layout.addWidget(self.stale_label)
        layout.addLayout(results)
        layout.addWidget(self.matrix)
        layout.addWidget(self.splitter, 1)
        layout.addStretch(0)  # collapsed, the room left goes under the results, not between them
        for widget in (self.status, self.stale_label, self.matrix):
            widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.set_verdicts_expanded(False)

    # --- public API ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._current in self._running

    @Slot(str)
    def inspect_path(self, path: str) -> None:
        """Inspect *path* (a path, or a URL) now: the request log's "Inspect" action calls this."""
        self.path_edit.setText(path)
        self.inspect()

    @Slot()
    def inspect(self) -> None:
        """Start a probe of the field's path in a worker thread."""
        text = self.path_edit.text().strip() or "/"
        try:
            target = target_for_servers(self.servers, text)
        except LauncherError as exc:
            self.path_edit.setProperty("state", "invalid")
            self._restyle(self.path_edit)
            self._set_status(str(exc), VerdictLevel.BAD)  # shown inline, next to the field
            return
        self.path_edit.setProperty("state", "")
        self._restyle(self.path_edit)
        ca = Path(self.cert_store.ca_cert_path)
        cafile = ca if ca.is_file() else None
        lens = self.lens_check.isChecked()
        policy = self.servers.policy
        generation = next(self._generation)
        self._current = generation

        def work() -> InspectReport:
            return inspect_target(target, cafile=cafile, proxy_lens=lens, policy=policy)

        def done(report: InspectReport) -> None:
            self._on_finished(generation, report, None)

        def failed(exc: BaseException) -> None:  # shown here, whatever it is (see _on_finished)
            self._on_finished(generation, None, exc)

        self._running.add(generation)
        self._set_status(f"Inspecting {target.text} over http:// and https://…")
        for column in self.columns.values():
            column.clear("Inspecting…")
        self._show_matrix(None)
        if lens:
            self.trusted_check.setEnabled(False)  # the lens flips the policy for a moment
        self.busyChanged.emit(True)
        self.tasks.submit(work, on_done=done, on_error=failed, name=f"launcher-inspector-{generation}")

    @Slot(bool)
    def set_verdicts_expanded(self, expanded: bool) -> None:
        """Every verdict and fact in the two columns (True), or one summary line per column."""
        if self.verdicts_toggle.isChecked() != expanded:
            self.verdicts_toggle.setChecked(expanded)  # comes back here through toggled
            return
        self.verdicts_toggle.setText("Hide the details" if expanded else "Show all verdicts")
        for column in self.columns.values():
            column.set_expanded(expanded)
        # Collapsed, the columns hold two short lines: the matrix above them gets the room.
        policy = QSizePolicy.Policy.Expanding if expanded else QSizePolicy.Policy.Maximum
        self.columns_splitter.setSizePolicy(QSizePolicy.Policy.Preferred, policy)
        self.splitter.setSizePolicy(QSizePolicy.Policy.Preferred, policy)

    @property
    def verdicts_expanded(self) -> bool:
        return self.verdicts_toggle.isChecked()

    @Slot(str)
    def mark_stale(self, reason: str) -> None:
        """Say on the results that *reason* (e.g. "the serving options") changed since the report.

        Nothing happens before the first report; the next report clears it."""
        if self.last_report is None:
            return
        if reason not in self.stale_reasons:
            self.stale_reasons.append(reason)
        self.stale_label.setText(STALE_TEXT.format(reasons=", ".join(self.stale_reasons)))
        self.stale_label.setProperty("state", "warning")
        self.stale_label.show()

    @property
    def stale(self) -> bool:
        return bool(self.stale_reasons)

    def _clear_stale(self) -> None:
        self.stale_reasons = []
        self.stale_label.hide()
        self.stale_label.clear()

    def _show_matrix(self, report: InspectReport | None) -> None:
        if report is None:
            for label in self.matrix_cells.values():
                self._set_cell(label, Cell("–", VerdictLevel.INFO), "")
            return
        for row in fact_matrix(report):
            for scheme in ("http", "https"):
                cell = row.cell(scheme)
                self._set_cell(self.matrix_cells[(row.fact, scheme)], cell, cell.level.value)

    @staticmethod
    def _set_cell(label: QLabel, cell: Cell, level: str) -> None:
        label.setText(cell.text)
        label.setToolTip(f"{LEVEL_WORD[cell.level]}: {cell.detail}" if cell.detail and level else "")
        if label.property("level") != level:
            label.setProperty("level", level)
            _restyle(label)

    @Slot()
    def copy_markdown(self) -> None:
        if self.last_report is not None:
            QGuiApplication.clipboard().setText(self.last_report.to_markdown())
            self.say("Inspector report copied as Markdown.")

    @Slot()
    def copy_text(self) -> None:
        if self.last_report is not None:
            QGuiApplication.clipboard().setText(self.last_report.to_text())
            self.say("Inspector report copied as text.")

    def sync_from_policy(self) -> None:
        """Show the policy's current trusted-proxy setting (without writing it back)."""
        blocked = self.trusted_check.blockSignals(True)
        self.trusted_check.setChecked(bool(self.servers.policy.trusted_proxy))
        self.trusted_check.blockSignals(blocked)

    def text(self) -> str:
        """The last report as text ("" before the first)."""
        return self.last_report.to_text() if self.last_report is not None else ""

    # --- internals ----------------------------------------------------------------------------------

    def _on_finished(self, generation: int, report: InspectReport | None, exc: BaseException | None) -> None:
        self._running.discard(generation)
        if generation != self._current:
            return  # a newer probe was started: drop this result
        self.trusted_check.setEnabled(True)
        self.sync_from_policy()
        self.busyChanged.emit(False)
        if exc is not None or report is None:
            text = str(exc) if isinstance(exc, LauncherError) else f"The inspection failed: {exc!r}"
            self._set_status(text, VerdictLevel.BAD)
            for column in self.columns.values():
                column.clear()
            self._show_matrix(None)
            self.say(text, MessageLevel.ERROR)
            return
        self.last_report = report
        self._clear_stale()
        self._show_matrix(report)
        for scheme_report in report.columns:
            self.columns[scheme_report.scheme].show_report(scheme_report)
        if report.proxy_lens is not None:
            self.lens_view.setHtml(lens_html(report.proxy_lens))
            self.lens_box.setVisible(True)
        else:
            self.lens_box.setVisible(False)
        self.copy_button.setEnabled(True)
        self.copy_markdown_button.setEnabled(True)
        levels = {c.scheme: LEVEL_WORD[c.worst].lower() for c in report.columns}
        ca = report.cafile or "system trust store only"
        self._set_status(
            f"Inspected {report.target} in {report.elapsed_ms:.0f} ms — HTTP: {levels['http']}, "
            f"HTTPS: {levels['https']}. CA: {ca}."
        )
        self.inspected.emit(report)

    def _set_trusted_proxy(self, on: bool) -> None:
        self.servers.policy.trusted_proxy = on
        self.say(
            "Trusting X-Forwarded-* headers from 127.0.0.1 (trusted proxy)."
            if on
            else "X-Forwarded-* headers are removed again (waitress's default)."
        )

    def _set_status(self, text: str, level: VerdictLevel | None = None) -> None:
        self.status.setText(text)
        self.status.setProperty("state", "invalid" if level is VerdictLevel.BAD else "")
        self._restyle(self.status)

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        _restyle(widget)

    def showEvent(self, event: QShowEvent) -> None:
        if not self.busy:
            self.sync_from_policy()
        super().showEvent(event)
