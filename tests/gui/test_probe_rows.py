"""The inspector's own requests are marked in the log, and one check box hides them."""

from __future__ import annotations

from guihelpers import wait_state
from PySide6.QtCore import Qt

from launcher.gui.logmodel import COL_PATH, PROBE_MARK
from launcher.inspector import inspect_servers


def test_probes_are_marked_and_can_be_hidden(qtbot, make_window, gui_settings) -> None:
    window = make_window()
    window.servers_panel.start_all()
    wait_state(qtbot, window, "https", "running")
    wait_state(qtbot, window, "http", "running")
    inspect_servers(window.servers, "/")  # two probes, one per scheme
    panel = window.log_panel
    qtbot.waitUntil(lambda: panel.proxy.rowCount() >= 2, timeout=5000)
    model = panel.proxy
    paths = [model.index(r, COL_PATH).data() for r in range(model.rowCount())]
    assert len(paths) == 2 and all(p.endswith(PROBE_MARK) for p in paths), paths
    assert model.index(0, COL_PATH).data(Qt.ItemDataRole.FontRole).italic()
    panel.probes_check.setChecked(False)
    assert model.rowCount() == 0
    panel.probes_check.setChecked(True)
    assert model.rowCount() == 2
    panel.probes_check.setChecked(False)
    window.close()
    qtbot.waitUntil(lambda: window._close_done, timeout=3000)
    again = make_window()
    assert not again.log_panel.probes_check.isChecked()  # the choice is kept
