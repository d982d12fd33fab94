"""Issue 5, item 4: the local CA in a real browser (Debian chromium, headless, temporary HOME).

One pair of servers serves all four checks: before ``trust install`` the HTTPS page is refused
(ERR_CERT_AUTHORITY_INVALID, empty DOM); after it the page loads and says it came over HTTPS;
after ``trust uninstall`` it is refused again; and with the HTTP→HTTPS redirect on, opening the
http:// URL lands on the https:// page.  Chromium exits 0 even when it refuses a certificate, so
the DOM is checked, not the exit code.  Trust goes through ``flask-launcher trust`` itself, limited
to the Chromium store (``--store chromium``) so the machine's system store is never touched.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

HTTPS_TEXT = "This page came to you over HTTPS"


def open_page(chromium: str, flags: list[str], url: str, home: Path) -> tuple[str, str]:
    """Load ``url`` in a fresh headless Chromium profile with HOME=home; return (DOM, stderr)."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run(
            [chromium, *flags, f"--user-data-dir={profile}", "--dump-dom", url],
            env={**os.environ, "HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=90,
        )
    return proc.stdout, proc.stderr


def trust(action: str, cert_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    from launcher.cli import main

    assert main(["trust", action, "--cert-dir", str(cert_dir), "--store", "chromium"]) == 0
    return capsys.readouterr().out


@pytest.mark.timeout(900)  # the first run in CI may install chromium
def test_chromium_trusts_the_local_ca_only_while_installed(
    chromium: str,
    chromium_flags: list[str],
    home: Path,
    tmp_path: Path,
    make_servers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flaskapp import create_app
    from launcher.certs import CertStore

    cert_dir = tmp_path / "certs"
    servers = make_servers(create_app(), cert_store=CertStore(cert_dir))
    https_url, http_url = servers.https.url, servers.http.url
    assert https_url.startswith("https://127.0.0.1:")

    # 1. Not trusted yet: Chromium refuses the certificate and renders nothing.
    dom, err = open_page(chromium, chromium_flags, https_url, home)
    assert "ERR_CERT_AUTHORITY_INVALID" in err, err[-2000:]
    assert HTTPS_TEXT not in dom and dom.strip() == ""

    # 2. After `trust install`: the page loads and knows it came over HTTPS.
    out = trust("install", cert_dir, capsys)
    assert "now trusts" in out, out
    dom, err = open_page(chromium, chromium_flags, https_url, home)
    assert HTTPS_TEXT in dom, (dom[-2000:], err[-2000:])
    assert "ERR_CERT" not in err

    # 3. With the HTTP→HTTPS redirect on, the http:// URL lands on the https:// page.
    servers.policy.redirect_https = 308
    before = len(servers.sink.snapshot())
    dom, err = open_page(chromium, chromium_flags, http_url, home)
    assert HTTPS_TEXT in dom, (dom[-2000:], err[-2000:])
    assert https_url in dom  # the page's url_root is the https:// one
    seen = [(r.listener, r.status, r.path) for r in servers.sink.snapshot()[before:]]
    assert ("http", servers.policy.redirect_https, "/") in seen and ("https", 200, "/") in seen, seen
    servers.policy.redirect_https = None

    # 4. After `trust uninstall`: refused again.
    out = trust("uninstall", cert_dir, capsys)
    assert "removed" in out, out
    dom, err = open_page(chromium, chromium_flags, https_url, home)
    assert "ERR_CERT_AUTHORITY_INVALID" in err, err[-2000:]
    assert HTTPS_TEXT not in dom and dom.strip() == ""
