"""``flask-launcher serve --name myapp`` in a real browser: ``https://myapp.localhost:PORT/`` loads in
headless Chromium (which sends any ``*.localhost`` to this machine) with the local CA trusted in a
temporary NSS database, and the leaf ``serve`` made names it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_browser_trust import HTTPS_TEXT, open_page, trust

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)  # the first run in CI may install chromium
def test_serve_name_myapp_loads_in_chromium(
    chromium: str, chromium_flags: list[str], home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert_dir = tmp_path / "certs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", "serve", "--no-http", "--https-port", "0",
         "--name", "myapp", "--cert-dir", str(cert_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        named = None
        deadline = time.monotonic() + 60
        while named is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "serve ended early"
            if line.startswith("Named host: "):
                named = line.removeprefix("Named host: ").split()[0]
        assert named is not None and named.startswith("https://myapp.localhost:"), named
        out = trust("install", cert_dir, capsys)
        assert "now trusts" in out, out
        dom, err = open_page(chromium, chromium_flags, named, home)
        assert HTTPS_TEXT in dom, (dom[-2000:], err[-2000:])
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
