"""The local CA in a real Firefox (Debian firefox-esr 153 ESR, headless, temporary HOME and profile).

``flask-launcher trust install`` finds the profile in ``~/.mozilla/firefox`` (made here with real
``certutil``, as Firefox itself would) and adds the CA to its ``cert9.db``; ``trust uninstall``
removes it.  Firefox is run as ``firefox-esr --headless -profile DIR URL`` and stopped once our
server has heard from it (at most 60 s).  What decides is what the server heard, as in
docs/trust.md: a refused certificate is a wire event of kind "untrusted CA" (Firefox sends
``unknown_ca``) and no request; a loaded page is a ``GET /`` request record on the HTTPS
listener.  Trust goes through the CLI limited to ``--store firefox``, so the machine's system
store is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


def make_profile(home: Path) -> Path:
    """A Firefox profile where Firefox keeps it on Debian, listed in profiles.ini, with an NSS db."""
    root = home / ".mozilla" / "firefox"
    profile = root / "t3st0001.default-esr"
    profile.mkdir(parents=True)
    (root / "profiles.ini").write_text(
        "[Profile0]\nName=default-esr\nIsRelative=1\nPath=t3st0001.default-esr\nDefault=1\n\n"
        "[General]\nStartWithLastProfile=1\nVersion=2\n"
    )
    # Nothing fetched in the background: loopback only.
    (profile / "user.js").write_text(
        'user_pref("app.update.enabled", false);\n'
        'user_pref("browser.shell.checkDefaultBrowser", false);\n'
        'user_pref("datareporting.policy.dataSubmissionEnabled", false);\n'
        'user_pref("network.captive-portal-service.enabled", false);\n'
        'user_pref("network.connectivity-service.enabled", false);\n'
        'user_pref("browser.safebrowsing.malware.enabled", false);\n'
        'user_pref("browser.safebrowsing.phishing.enabled", false);\n'
        'user_pref("extensions.update.enabled", false);\n'
        'user_pref("security.OCSP.enabled", 0);\n'
        'user_pref("security.enterprise_roots.enabled", false);\n'
    )
    subprocess.run(["certutil", "-d", f"sql:{profile}", "-N", "--empty-password"], check=True, timeout=30)
    return profile


Heard = tuple[list[tuple[str, int, str]], list[str]]


def browse(firefox: str, profile: Path, home: Path, url: str, servers) -> Heard:
    """Open *url* in headless Firefox on *profile*; return what our server heard meanwhile.

    Firefox runs until the server has heard either a request or a refused handshake (at most 60 s),
    then a little longer for anything that follows, and is stopped (its whole process group).
    ``--screenshot`` is not used: on a certificate error page it never finishes.
    Returns ``(listener, status, path)`` per request record and the wire events' kinds.
    """
    n_rec, n_ev = len(servers.sink.snapshot()), len(servers.sink.snapshot_events())

    def news() -> Heard:
        records = servers.sink.snapshot()[n_rec:]
        events = servers.sink.snapshot_events()[n_ev:]
        return [(r.listener, r.status, r.path) for r in records], [e.kind.value for e in events]

    proc = subprocess.Popen(
        [firefox, "--headless", "--no-remote", "-profile", str(profile), url],
        env={**os.environ, "HOME": str(home), "MOZ_CRASHREPORTER_DISABLE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(news()) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(1.5)  # a retry or a favicon request after the first answer
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            _out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _out, err = proc.communicate(timeout=10)
    records, events = news()
    assert records or events, f"Firefox reached nothing within 60 s: {err.decode(errors='replace')[-2000:]}"
    return records, events


def trust(action: str, cert_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    from launcher.cli import main

    assert main(["trust", action, "--cert-dir", str(cert_dir), "--store", "firefox"]) == 0
    return capsys.readouterr().out


@pytest.mark.timeout(900)  # the first run in CI may install firefox-esr
def test_firefox_trusts_the_local_ca_only_while_installed(
    firefox: str, home: Path, tmp_path: Path, make_servers, capsys: pytest.CaptureFixture[str]
) -> None:
    from flaskapp import create_app
    from launcher.certs import CertStore
    from launcher.trust import LocalCA, NssStore

    cert_dir = tmp_path / "certs"
    servers = make_servers(create_app(), cert_store=CertStore(cert_dir))
    url = servers.https.url
    profile = make_profile(home)
    ca = LocalCA.load(cert_dir / "ca.pem")
    store = NssStore("Firefox profile", profile)

    def visit() -> Heard:
        return browse(firefox, profile, home, url, servers)

    # 1. Not trusted yet: Firefox refuses the certificate (unknown_ca) and asks for nothing.
    records, events = visit()
    assert "untrusted-ca" in events and not records, (records, events)

    # 2. After `trust install` (it finds the profile itself): the page loads over HTTPS.
    out = trust("install", cert_dir, capsys)
    assert "Firefox profile t3st0001.default-esr: now trusts" in out, out
    assert store.status(ca)
    records, events = visit()
    assert ("https", 200, "/") in records and not events, (records, events)

    # 3. After `trust uninstall`: refused again.
    out = trust("uninstall", cert_dir, capsys)
    assert "removed" in out, out
    assert not store.status(ca)
    records, events = visit()
    assert "untrusted-ca" in events and not records, (records, events)
