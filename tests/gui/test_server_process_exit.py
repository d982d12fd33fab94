"""The window exits promptly on SIGTERM whatever its server process (``launcher.remote``) is doing.

A real window (``run_gui`` offscreen, in its own process) with HTTP running in its server
process; the server process is then frozen with SIGSTOP (as a hung or debugged process would
be) and the window gets SIGTERM, as from ``kill`` or ``podman stop``.
"""

from __future__ import annotations

import os
import signal
import time

from guihelpers import start_window_process
from nethelpers import freeze, process_alive, refuses, wait_for


def test_sigterm_ends_the_window_within_2_s_with_a_hung_server_process(tmp_path):
    proc, port, server_pid = start_window_process(tmp_path)
    try:
        assert not refuses(port)
        freeze(server_pid)  # hung: it reads nothing and answers nothing
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if server_pid and process_alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert elapsed < 2.0, f"the window took {elapsed:.1f} s to exit\n{out}"
    assert not process_alive(server_pid), "the hung server process was left behind"
    wait_for(lambda: refuses(port), timeout=5)
