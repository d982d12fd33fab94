"""Does a running browser pick up a CA that certutil adds to its NSS database?  (docs/trust.md)

Bounded experiment, headless, loopback only, in a temporary HOME and profile:

1. start our servers with a fresh CA;
2. start the browser (Debian ``chromium``: NSS db ``$HOME/.pki/nssdb``; ``firefox-esr``: the
   profile's ``cert9.db``) and open the HTTPS URL: refused (a wire event says which alert);
3. with the browser still running, add the CA with ``certutil -A -t C,,``;
4. open the URL again in the running browser (a name it has not seen, then the same name), again
   after 20 s; a request record means it now trusts the CA, a wire event means it does not;
5. restart the browser on the same HOME/profile and open the URL once more.

Chromium is driven over its DevTools HTTP endpoint (``PUT /json/new?URL`` opens a tab); Firefox
over Marionette (``WebDriver:Navigate``).  Prints one line per step.  Usage:
``python scripts/browser_restart_experiment.py chromium|firefox``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from launcher.certs import CertStore
from launcher.servers import Servers

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<html><body>hello over https</body></html>"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def outcome(servers: Servers, before: tuple[int, int], wait: float = 8.0) -> str:
    """What the server saw since *before* (records, events): 'loaded', or the refusal's alert."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        records = servers.sink.snapshot()[before[0] :]
        events = servers.sink.snapshot_events()[before[1] :]
        if any(r.path == "/" for r in records):
            return f"LOADED (request records: {len(records)}; wire events: {[e.reason for e in events]})"
        if events and time.monotonic() > deadline - wait + 3:
            return f"REFUSED: {sorted({e.reason for e in events})}"
        time.sleep(0.1)
    return "nothing seen"


def mark(servers: Servers) -> tuple[int, int]:
    return len(servers.sink.snapshot()), len(servers.sink.snapshot_events())


def add_ca(db: str, ca: Path) -> None:
    subprocess.run(["certutil", "-d", db, "-A", "-t", "C,,", "-n", "experiment-ca", "-i", str(ca)],
                   check=True, timeout=30)


class Chromium:
    def __init__(self, home: Path, profile: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [shutil.which("chromium") or "chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             f"--remote-debugging-port={self.port}", "about:blank"],
            env={**os.environ, "HOME": str(home)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("chromium did not start")

    def open(self, url: str) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?{url}", method="PUT")
        urllib.request.urlopen(req, timeout=10).read()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Firefox:
    def __init__(self, home: Path, profile: Path) -> None:
        self.port = free_port()
        (profile / "user.js").write_text(
            f'user_pref("marionette.port", {self.port});\n'
            'user_pref("browser.shell.checkDefaultBrowser", false);\n'
            'user_pref("app.update.enabled", false);\n'
            'user_pref("network.dns.disableIPv6", true);\n'
        )
        self.proc = subprocess.Popen(
            [shutil.which("firefox-esr") or "firefox-esr", "--headless", "--marionette", "--no-remote",
             "--profile", str(profile), "about:blank"],
            env={**os.environ, "HOME": str(home), "MOZ_HEADLESS": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("firefox did not start") from None
                time.sleep(0.3)
        self.msgid = 0
        self._read()  # the server's hello
        self._call("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False}}})

    def _read(self) -> Any:
        size = b""
        while not size.endswith(b":"):
            size += self.sock.recv(1)
        want = int(size[:-1])
        data = b""
        while len(data) < want:
            data += self.sock.recv(want - len(data))
        return json.loads(data)

    def _call(self, name: str, params: dict[str, Any]) -> Any:
        self.msgid += 1
        body = json.dumps([0, self.msgid, name, params]).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body)
        return self._read()

    def open(self, url: str) -> None:
        reply = self._call("WebDriver:Navigate", {"url": url})
        print("   marionette:", str(reply[2] or "ok")[:120])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def main(which: str) -> None:
    with tempfile.TemporaryDirectory(prefix="browser-exp-") as tmp:
        root = Path(tmp)
        home, profile = root / "home", root / "profile"
        home.mkdir()
        profile.mkdir()
        store = CertStore(root / "certs")
        store.ensure()
        servers = Servers(app, cert_store=store, http_port=0, https_port=0)
        servers.start_all()
        port = servers.https.port
        if which == "chromium":
            db = f"sql:{home / '.pki' / 'nssdb'}"
            (home / ".pki" / "nssdb").mkdir(parents=True)
            subprocess.run(["certutil", "-d", db, "-N", "--empty-password"], check=True, timeout=30)
            browser: Any = Chromium(home, profile)
        else:
            browser = Firefox(home, profile)
            db = f"sql:{profile}"
        try:
            before = mark(servers)
            browser.open(f"https://localhost:{port}/")
            print("1. before trust, localhost:        ", outcome(servers, before))
            add_ca(db, Path(store.ca_cert_path))
            print("2. certutil -A done while the browser runs")
            before = mark(servers)
            browser.open(f"https://127.0.0.1:{port}/")
            print("3. running, a name not seen before: ", outcome(servers, before))
            before = mark(servers)
            browser.open(f"https://localhost:{port}/")
            print("4. running, the same name again:    ", outcome(servers, before))
            time.sleep(20)
            before = mark(servers)
            browser.open(f"https://localhost:{port}/?later")
            print("5. running, 20 s later:             ", outcome(servers, before))
        finally:
            browser.close()
        browser = Chromium(home, profile) if which == "chromium" else Firefox(home, profile)
        try:
            before = mark(servers)
            browser.open(f"https://localhost:{port}/")
            print("6. after a restart of the browser:  ", outcome(servers, before))
        finally:
            browser.close()
            servers.stop_all()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "chromium")
