"""Capture one frame from a VNC server with vncdotool, and tell whether it shows anything.

Used by tests/test_vnc.py (the window on Qt's ``vnc`` platform, on this machine) and
tests/test_container.py (the window inside the image built with ``GUI=1``).

Run as a script it is the whole host-side session, meant to run inside a private network
namespace (``unshare --net``): Qt's VNC server listens on every interface with no password and has
no option to bind one address, so the test gives it a namespace where only loopback exists.

    unshare --net -- python tests/vnc_capture.py OUT.png [flask-launcher args...]

It brings loopback up, starts ``python -m launcher gui`` with ``QT_QPA_PLATFORM=vnc:port=5900``,
waits for the port, captures a frame, closes the window with SIGINT (the window's normal close),
and prints one JSON line: the frame's statistics and the GUI's exit code and output.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

VNC_PORT = 5900
SCREEN = "1440x900"


def vncdo_command() -> list[str]:
    """The vncdo client next to this interpreter (a venv), else on PATH."""
    here = Path(sys.executable).parent / "vncdo"
    if here.is_file():
        return [str(here)]
    found = shutil.which("vncdo")
    if found:
        return [found]
    raise FileNotFoundError("vncdo (PyPI vncdotool) is not installed")


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def capture(host: str, port: int, out: Path, timeout: float = 60) -> None:
    """Connect with vncdotool's ``vncdo`` and save the current screen as *out* (PNG)."""
    cmd = [*vncdo_command(), "-s", f"{host}::{port}", "--timeout", str(int(timeout)), "capture", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 15)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"vncdo failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def press_key(host: str, port: int, key: str, timeout: float = 30) -> None:
    """Send one key (vncdo syntax, e.g. ``ctrl-r``) to the VNC server."""
    cmd = [*vncdo_command(), "-s", f"{host}::{port}", "--timeout", str(int(timeout)), "key", key]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 15)
    if done.returncode != 0:
        raise RuntimeError(f"vncdo key {key} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def frame_stats(path: Path) -> dict[str, object]:
    """Size, number of distinct colours, and the share of the commonest colour (1.0 = blank)."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        colours = rgb.getcolors(maxcolors=width * height) or []
    total = width * height
    top = max((count for count, _ in colours), default=total)
    return {"width": width, "height": height, "colours": len(colours), "top_share": top / total}


def _loopback_up() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)


def gui_session(out: Path, gui_args: list[str]) -> dict[str, object]:
    """Start the window on the vnc platform, capture a frame, close the window; return the facts."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = f"vnc:port={VNC_PORT}:size={SCREEN}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", "gui", *gui_args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    result: dict[str, object] = {}
    try:
        wait_port("127.0.0.1", VNC_PORT, 60, proc)
        time.sleep(1.5)  # the first paint happens after the event loop starts
        capture("127.0.0.1", VNC_PORT, out)
        result.update(frame_stats(out))
        result["alive_after_capture"] = proc.poll() is None
    except Exception as exc:  # reported as data, with the window's output below
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    result["gui_exit"] = proc.returncode
    result["gui_output"] = output[-2000:]
    return result


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    _loopback_up()
    print(json.dumps(gui_session(Path(argv[0]), argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
