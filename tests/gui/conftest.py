"""GUI fixtures: offscreen Qt, a configured QApplication, a test Flask app, windows on free ports.

Every test in tests/gui fails on an unexpected Qt warning (pytest-qt's ``qt_log_level_fail``),
as qutebrowser's suite does; the known harmless offscreen-platform messages are ignored.
"""

from __future__ import annotations

import os

# Before anything imports Qt: never look for a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from guihelpers import make_test_app, records_via

from launcher.requestlog import RequestRecord

GUI_DIR = Path(__file__).parent

#: Qt messages that the offscreen platform prints on its own; anything else at WARNING fails.
IGNORED_QT_MESSAGES = (
    r"This plugin does not support propagateSizeHints\(\)",
    r"This plugin does not support raise\(\)",
    r"This plugin does not support grabbing the keyboard",
    r"QFont::setPointSizeF: Point size <= 0",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if GUI_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*IGNORED_QT_MESSAGES))


@pytest.fixture(scope="session", autouse=True)
def _configured_qapp(qapp):
    """The QApplication as ``run_gui`` sets it up (Fusion, style sheet, icon, names)."""
    from launcher.gui.mainwindow import configure_application

    configure_application(qapp)
    return qapp


@pytest.fixture
def flask_app() -> Flask:
    return make_test_app()


@pytest.fixture
def make_records(flask_app: Flask) -> Callable[..., list[RequestRecord]]:
    def make(
        n: int = 1, *, path: str = "/item", listener: str = "http", method: str = "GET"
    ) -> list[RequestRecord]:
        return records_via(flask_app, [(method, f"{path}{i}" if n > 1 else path) for i in range(n)], listener)

    return make


@pytest.fixture
def gui_settings(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def gui_cert_dir(tmp_path: Path) -> Path:
    return tmp_path / "certs"


@pytest.fixture
def make_window(
    qtbot, flask_app: Flask, gui_settings: Path, gui_cert_dir: Path
) -> Iterator[Callable[..., Any]]:
    """Factory: a ``MainWindow`` (not shown) serving the test app, both port spins at 0 (any free)."""
    from launcher.gui import MainWindow

    made: list[Any] = []

    def make(
        *,
        free_ports: bool = True,
        show: bool = False,
        process: bool = False,
        test_app: bool = True,
        **kw: Any,
    ):
        """*process*: the window as users get it, servers in a child process; with *test_app*
        they serve the same test app (``guihelpers.make_test_app``, imported there), else the
        demo app."""
        kw.setdefault("cert_dir", gui_cert_dir)
        kw.setdefault("settings", gui_settings)
        if process:
            kw["server_process"] = True
        elif "servers" not in kw:
            kw.setdefault("app", flask_app)
        window = MainWindow(**kw)
        qtbot.addWidget(window)
        if process and test_app:
            from launcher.apptarget import AppTarget

            info, errors = window.servers.serve_target(AppTarget("guihelpers:make_test_app()", GUI_DIR))
            assert errors == []
            window.app_panel._served(info)  # the label, as for an app object given in-process
        if free_ports:
            for row in window.servers_panel.rows.values():
                row.port_spin.setValue(0)
        if show:
            window.show()
            qtbot.waitExposed(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.shutdown(timeout=1.0)
        window.log_panel.pump.close()
