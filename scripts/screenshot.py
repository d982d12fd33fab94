"""Make docs/screenshot.png: the window with both servers running and a few requests in the log.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--size 1440x880]

Offscreen (QT_QPA_PLATFORM=offscreen) and self-contained: a temporary certificate folder and
settings file, the bundled demo app on 8080/8443 when those ports are free (else 18080/18443,
28080/28443, or any free ports), real requests over HTTP and HTTPS (verified against the
generated CA), one HTTPS row selected so the detail pane shows its headers and TLS facts, then
``QWidget.grab()``.  The CA is trusted in a Chromium NSS database under a temporary HOME (when
``certutil`` is there), as "Trust CA…" would, so the "Trusted by" list shows both states; no real
trust store is ever changed.
Needs a font (Debian ``fonts-dejavu-core``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REQUESTS = (
    ("http", "GET", "/"),
    ("https", "GET", "/"),
    ("https", "GET", "/inspect"),
    ("http", "GET", "/inspect"),
    ("https", "GET", "/tls"),
    ("https", "GET", "/methods"),
    ("http", "GET", "/redirect/308"),
    ("https", "GET", "/hsts"),
    ("https", "GET", "/login"),
    ("http", "GET", "/no-such-page"),
    ("https", "GET", "/echo?text=%3Cscript%3E"),
    ("https", "GET", "/inspect"),
)
SELECT_PATH = "/inspect"


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait(app, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the window")
        app.processEvents()
        time.sleep(0.01)


def send(url: str, method: str, context: ssl.SSLContext) -> None:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": "Mozilla/5.0 (screenshot)"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            response.read()
    except urllib.error.HTTPError as exc:  # 404 and friends are part of the picture
        exc.read()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--size", default="1440x880", help="window size, WxH (default 1440x880)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PySide6.QtWidgets import QApplication

    from launcher.gui.mainwindow import MainWindow, configure_application
    from launcher.trust import DebianSystemStore, NssStore, chromium_store

    app = QApplication([])
    configure_application(app)
    with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
        os.environ["HOME"] = str(Path(tmp) / "home")  # the Chromium NSS db the picture trusts
        Path(tmp, "home").mkdir()
        window = MainWindow(
            cert_dir=Path(tmp) / "certs",
            settings=Path(tmp) / "settings.ini",
            trust_stores=lambda: [chromium_store(), DebianSystemStore()],
        )
        panel = window.servers_panel
        pairs = [(8080, 8443), (18080, 18443), (28080, 28443)]
        http_port, https_port = next(((h, s) for h, s in pairs if port_free(h) and port_free(s)), (0, 0))
        panel.rows["http"].port_spin.setValue(http_port)
        panel.rows["https"].port_spin.setValue(https_port)
        window.resize(width, height)
        window.show()
        wait(app, lambda: window.windowHandle() is not None and window.windowHandle().isExposed())
        panel.start_all()
        wait(app, lambda: window.servers.http.running and window.servers.https.running)
        wait(app, lambda: window.cert_panel.leaf_info is not None or window.cert_panel.refresh() or False)
        trust = window.cert_panel.trust
        if shutil.which("certutil"):
            # Trust CA…, answered for the temporary NSS database only (never the system store).
            trust.confirm = lambda plan, proceed, _cancel: proceed(
                [item for item in plan.stores if isinstance(item.store, NssStore)]
            )
            wait(app, lambda: not trust.busy)
            trust.trust()
            wait(app, lambda: trust.last_result is not None and not trust.busy)
        window.banner.dismiss()

        context = ssl.create_default_context(cafile=str(window.cert_store.ca_cert_path))
        urls = {"http": window.servers.http.url.rstrip("/"), "https": window.servers.https.url.rstrip("/")}
        urls["https"] = urls["https"].replace("127.0.0.1", "localhost")
        for scheme, method, path in REQUESTS:
            send(urls[scheme] + path, method, context)
        model = window.log_panel.model
        wait(app, lambda: model.rowCount() >= len(REQUESTS))

        # Select the last HTTPS /inspect row so the detail pane has something to say.
        records = model.records()
        row = max(i for i, r in enumerate(records) if r.listener == "https" and r.path == SELECT_PATH)
        window.log_panel.view.selectRow(row)
        window.log_panel.view.clearFocus()
        window.statusBar().clearMessage()
        for _ in range(20):  # let the pump, the status bar and the layout settle
            app.processEvents()
            time.sleep(0.03)
        window._update_status()
        app.processEvents()

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            raise SystemExit(f"could not write {out}")
        print(f"wrote {out} ({width}x{height})")
        window.shutdown()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
