"""The Inspector panel, driven with pytest-qt against real servers on both schemes.

The probe runs in a worker thread; the tests wait for the columns to fill (``qtbot.waitUntil``).
"""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from flaskapp import create_app
from launcher.gui.inspector_panel import LEVEL_COLOUR, InspectorPanel
from launcher.policy import Policy


@pytest.fixture
def servers(make_servers):
    return make_servers(create_app(), policy=Policy())


@pytest.fixture
def panel(qtbot, servers) -> InspectorPanel:
    widget = InspectorPanel(servers, servers.cert_store)
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    return widget


def wait_report(qtbot, panel: InspectorPanel, previous=None):
    qtbot.waitUntil(lambda: panel.last_report is not previous and not panel.busy, timeout=10_000)
    return panel.last_report


def test_the_panel_fills_both_columns_from_a_probe_off_the_gui_thread(qtbot, panel, servers) -> None:
    assert panel.objectName() == "inspectorPanel"
    panel.lens_check.setChecked(False)
    with qtbot.waitSignal(panel.inspected, timeout=10_000) as blocker:
        panel.inspect_path("/login")
        # The call returned at once: the probe is still running in a worker thread.
        assert panel.busy
        assert panel.columns["http"].body.toPlainText() == "Inspecting…"
        names = [t.name for t in threading.enumerate() if t.name.startswith("launcher-inspector-")]
    assert names, "the probe did not run in a launcher-inspector thread"
    report = blocker.args[0]
    assert report is panel.last_report
    assert panel.path_edit.text() == "/login"

    http_text = panel.columns["http"].body.toPlainText()
    https_text = panel.columns["https"].body.toPlainText()
    assert "Served over plain HTTP" in http_text and "request.is_secure" in http_text
    assert "Served over HTTPS" in https_text and "Flask knows it" in https_text
    assert report.https.tls.version in https_text and "http/1.1" in https_text
    assert "__Host-csrf" in https_text and "csrf" in http_text
    assert f"http://127.0.0.1:{servers.http.port}/login" in panel.columns["http"].title.text()

    # Markers: the worst level on each title, and coloured dots per verdict.
    assert panel.columns["http"].level == "warn"
    assert panel.columns["https"].level in ("ok", "warn")
    https_html = panel.columns["https"].body.toHtml()
    assert LEVEL_COLOUR["ok"] in https_html
    assert LEVEL_COLOUR["warn"] in panel.columns["http"].body.toHtml()
    assert not panel.lens_box.isVisibleTo(panel)
    assert panel.copy_button.isEnabled()
    assert "Inspected /login" in panel.status.text()


def test_enter_in_the_field_inspects(qtbot, panel) -> None:
    panel.lens_check.setChecked(False)
    panel.path_edit.setText("/tls")
    qtbot.keyClick(panel.path_edit, Qt.Key.Key_Return)
    report = wait_report(qtbot, panel)
    assert report.target == "/tls"
    assert report.https.final_status == 200


def test_bad_input_is_one_line_in_the_panel(qtbot, panel) -> None:
    panel.path_edit.setText("ftp://example.com/")
    qtbot.mouseClick(panel.inspect_button, Qt.MouseButton.LeftButton)
    assert not panel.busy and panel.last_report is None
    assert "not an http:// or https:// URL" in panel.status.text()
    assert panel.path_edit.property("state") == "invalid"


def test_red_marker_for_a_verification_failure(qtbot, panel, servers, tmp_path) -> None:
    from launcher.certs import CertStore

    other = CertStore(tmp_path / "other")
    other.ensure()
    panel.cert_store = other  # the panel verifies against another CA
    panel.lens_check.setChecked(False)
    panel.inspect_path("/")
    report = wait_report(qtbot, panel)
    assert not report.https.tls.verified
    assert panel.columns["https"].level == "bad"
    assert LEVEL_COLOUR["bad"] in panel.columns["https"].body.toHtml()
    assert "not verified: " in panel.columns["https"].body.toPlainText()


def test_trusted_proxy_toggle_and_proxy_lens(qtbot, panel, servers) -> None:
    assert not panel.trusted_check.isChecked()
    with qtbot.waitSignal(panel.message) as blocker:
        panel.trusted_check.setChecked(True)
    assert servers.policy.trusted_proxy is True
    text, level = blocker.args
    assert level == "info" and "trusted proxy" in text
    panel.trusted_check.setChecked(False)
    assert servers.policy.trusted_proxy is False

    panel.lens_check.setChecked(True)
    panel.inspect_path("/")
    assert not panel.trusted_check.isEnabled()  # the lens flips the policy for a moment
    wait_report(qtbot, panel)
    assert panel.trusted_check.isEnabled()
    assert servers.policy.trusted_proxy is False and not panel.trusted_check.isChecked()
    assert panel.lens_box.isVisibleTo(panel)
    lens_text = panel.lens_view.toPlainText()
    assert "https://myapp.example/" in lens_text and "203.0.113.7" in lens_text
    assert "ProxyFix" in lens_text and "deleted before Flask ran" in lens_text


def test_panel_reads_the_policy_back_when_shown(qtbot, panel, servers) -> None:
    servers.policy.trusted_proxy = True
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.trusted_check.isChecked()


def test_copy_as_text(qtbot, panel) -> None:
    panel.lens_check.setChecked(False)
    panel.inspect_path("/hsts")
    report = wait_report(qtbot, panel)
    with qtbot.waitSignal(panel.message) as blocker:
        qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["Inspector report copied as text.", "info"]
    copied = QGuiApplication.clipboard().text()
    assert copied == report.to_text() == panel.text()
    assert "== HTTP:" in copied and "== HTTPS:" in copied


def test_stopped_listener_shows_in_its_column(qtbot, panel, servers) -> None:
    servers.https.stop()
    panel.lens_check.setChecked(False)
    panel.inspect_path("/")
    report = wait_report(qtbot, panel)
    assert report.https.skipped
    assert "HTTPS listener is stopped" in panel.columns["https"].body.toPlainText()
    assert panel.columns["https"].level == "info"
    assert "Served over plain HTTP" in panel.columns["http"].body.toPlainText()


def test_a_newer_probe_wins(qtbot, panel) -> None:
    panel.lens_check.setChecked(False)
    panel.inspect_path("/tls")
    panel.inspect_path("/hsts")
    qtbot.waitUntil(lambda: panel.last_report is not None and panel.tasks.running == 0, timeout=10_000)
    assert panel.last_report.target == "/hsts"


def test_the_fact_matrix_reads_at_a_glance(qtbot, panel, servers) -> None:
    from launcher.inspector.matrix import FACTS, fact_matrix

    panel.lens_check.setChecked(False)
    panel.inspect_path("/login")
    report = wait_report(qtbot, panel)
    assert set(panel.matrix_cells) == {(fact, s) for fact in FACTS for s in ("http", "https")}
    for row in fact_matrix(report):
        for scheme in ("http", "https"):
            label = panel.matrix_cells[(row.fact, scheme)]
            cell = row.cell(scheme)
            assert label.text() == cell.text
            assert label.property("level") == cell.level.value
    cells = panel.matrix_cells
    assert cells[("Served over", "http")].property("level") == "warn"
    assert cells[("Served over", "https")].property("level") == "ok"
    assert cells[("What Flask saw", "https")].text() == "https (is_secure=True)"
    assert cells[("Certificate verified", "https")].property("level") == "ok"
    assert cells[("Certificate verified", "http")].text() == "no TLS"
    # The style sheet colours the cells by level: an amber cell is not drawn like a green one.
    panel.show()
    qtbot.waitExposed(panel)
    amber = cells[("Served over", "http")].grab().toImage().pixelColor(3, 3)
    green = cells[("Served over", "https")].grab().toImage().pixelColor(3, 3)
    assert amber != green


def test_verdicts_are_summed_up_and_expand_on_demand(qtbot, panel) -> None:
    panel.lens_check.setChecked(False)
    panel.show()
    qtbot.waitExposed(panel)
    panel.inspect_path("/login")
    report = wait_report(qtbot, panel)
    http = panel.columns["http"]
    assert not panel.verdicts_expanded and not http.body.isVisible()
    assert http.summary.isVisible()
    assert "warning" in http.summary.text()
    worst = max(report.http.verdicts, key=lambda v: v.level.severity)
    assert worst.text in http.summary.text()
    qtbot.mouseClick(panel.verdicts_toggle, Qt.MouseButton.LeftButton)
    assert panel.verdicts_expanded and http.body.isVisible() and panel.columns["https"].body.isVisible()
    assert panel.verdicts_toggle.text() == "Hide the details"
    qtbot.mouseClick(panel.verdicts_toggle, Qt.MouseButton.LeftButton)
    assert not http.body.isVisible()


def test_copy_as_markdown(qtbot, panel) -> None:
    panel.lens_check.setChecked(False)
    assert not panel.copy_markdown_button.isEnabled()
    panel.inspect_path("/hsts")
    report = wait_report(qtbot, panel)
    with qtbot.waitSignal(panel.message) as blocker:
        qtbot.mouseClick(panel.copy_markdown_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["Inspector report copied as Markdown.", "info"]
    copied = QGuiApplication.clipboard().text()
    assert copied == report.to_markdown()
    assert "| Fact | HTTP | HTTPS |" in copied


def test_stale_mark_waits_for_a_report_and_the_next_one_clears_it(qtbot, panel) -> None:
    panel.lens_check.setChecked(False)
    panel.mark_stale("the certificate")
    assert not panel.stale  # no report to be stale yet
    panel.inspect_path("/")
    wait_report(qtbot, panel)
    panel.mark_stale("the certificate")
    panel.mark_stale("the app")
    panel.mark_stale("the app")
    assert (
        panel.stale_label.text()
        == "Settings changed since this report (the certificate, the app): run it again."
    )
    assert not panel.stale_label.isHidden()
    previous = panel.last_report
    panel.inspect()
    wait_report(qtbot, panel, previous)
    assert not panel.stale and panel.stale_label.isHidden()
