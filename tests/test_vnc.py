"""The window over VNC: Qt's ``vnc`` platform plugin, viewed with a real VNC client (vncdotool).

This is the route the container image uses for the GUI (docs/container.md): PySide6-Essentials
ships ``platforms/libqvnc.so``, so ``QT_QPA_PLATFORM=vnc:port=5900`` needs no X server.
Qt's VNC server listens on every interface with no password, so the test runs the window and the
client inside a private network namespace (``unshare --net``) where only loopback exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PLATFORMS = "PySide6/Qt/plugins/platforms"


def _netns_prefix() -> list[str] | None:
    """``unshare`` arguments for a private network namespace, or None when not allowed here."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return None
    for prefix in (["unshare", "--net", "--"], ["unshare", "--user", "--map-root-user", "--net", "--"]):
        try:
            probe = subprocess.run(
                [*prefix, "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix
    return None


def test_pyside6_essentials_ships_the_vnc_platform_plugin() -> None:
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqvnc.so"
    if sys.platform != "linux":
        pytest.skip("the vnc platform plugin is a Linux plugin")
    assert plugin.is_file(), (
        f"{PLATFORMS}/libqvnc.so is missing: use Xvfb + x11vnc instead (docs/container.md)"
    )


def test_window_over_vnc_shows_a_frame(tmp_path: Path) -> None:
    pytest.importorskip("vncdotool", reason="needs vncdotool from PyPI (the test extra)")
    pytest.importorskip("PIL", reason="needs Pillow (a vncdotool dependency)")
    prefix = _netns_prefix()
    if prefix is None:
        pytest.skip(
            "needs a private network namespace (unshare --net, as root or with user namespaces) and "
            "iproute2: Qt's VNC server listens on all interfaces without a password"
        )
    shot = tmp_path / "frame.png"
    env = dict(os.environ)
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(
        [
            *prefix,
            sys.executable,
            str(HERE / "vnc_capture.py"),
            str(shot),
            "--cert-dir",
            str(tmp_path / "certs"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=150,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in result, result
    assert "QVncServer created on port 5900" in result["gui_output"], result["gui_output"]
    assert result["alive_after_capture"] is True
    assert (result["width"], result["height"]) == (1440, 900)
    # A blank frame has one colour; the window has text, buttons and a green "Start all".
    assert result["colours"] >= 32, result
    assert result["top_share"] < 0.95, result
    assert result["gui_exit"] == 0, result["gui_output"]
    # The window's close saved its settings: it was a real window that closed normally.
    assert (tmp_path / "config" / "flask-https-launcher" / "Flask HTTPS Launcher.conf").is_file()
