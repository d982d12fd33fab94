"""Make docs/screenshot.png: the window with both servers running and a few requests in the log;
then docs/screenshot-inspector.png: the Inspector tab's report on a small app of the user's own.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--size 1440x880]
        [--inspector-out docs/screenshot-inspector.png] [--inspect-path /login]

Offscreen (QT_QPA_PLATFORM=offscreen) and self-contained: a temporary certificate folder and
settings file, the bundled demo app on 8080/8443 when those ports are free (else 18080/18443,
28080/28443, or any free ports), real requests over HTTP and HTTPS (verified against the
generated CA), one HTTPS row selected so the detail pane shows its headers and TLS facts, then
``QWidget.grab()``.  The CA is trusted in a Chromium NSS database under a temporary HOME (when
``certutil`` is there), as "Trust CA…" would, so the "Trusted by" list shows both states; no real
trust store is ever changed.
For the Inspector picture the app selector serves ``OWN_APP`` (written to the temporary folder,
as a user's ``myapp.py``: a login page that sets a session cookie and redirects with ``url_for``),
with "Redirect HTTP to HTTPS" and HSTS on, and the Inspector probes ``--inspect-path``; the
picture shows whatever the report says about it (what Flask saw included, when it is known).
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
#: The "own app" the Inspector picture is about (see the module docstring).
OWN_APP = """\
from flask import Flask, redirect, request, session, url_for

app = Flask(__name__)
app.secret_key = "screenshot"


@app.get("/")
def index():
    return f"Hello over {request.scheme}"


@app.route("/login", methods=["GET", "POST"])
def login():
    session["user"] = "ada"
    return redirect(url_for("index", _external=True))
"""


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
    parser.add_argument("--inspector-out", default=str(ROOT / "docs" / "screenshot-inspector.png"))
    parser.add_argument("--inspect-path", default="/login", help="what the Inspector probes (default /login)")
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
        inspector_picture(app, window, Path(tmp), Path(args.inspector_out), args.inspect_path)
        print(f"wrote {args.inspector_out} ({width}x{height})")
        window.shutdown()
        window.close()
    return 0


def inspector_picture(app, window, tmp: Path, out: Path, path: str) -> None:
    """Serve ``OWN_APP`` with redirect and HSTS on, inspect *path*, and grab the Inspector tab."""
    folder = tmp / "own-app"
    folder.mkdir()
    (folder / "myapp.py").write_text(OWN_APP, encoding="utf-8")
    apps = window.app_panel
    served = []
    apps.appChanged.connect(served.append)
    apps.custom_radio.setChecked(True)
    apps.target_edit.setText("myapp")
    apps.folder_edit.setText(str(folder))
    apps.apply()
    wait(app, lambda: bool(served) or bool(apps.error_label.text()), timeout=20.0)
    if apps.error_label.text():
        raise SystemExit(f"the own app did not load: {apps.error_label.text()}")
    wait(app, lambda: window.servers.http.running and window.servers.https.running)
    servers = window.servers_panel
    servers.redirect_check.setChecked(True)
    servers.hsts_check.setChecked(True)
    inspector = window.inspector_panel
    inspector.lens_check.setChecked(False)
    reports = []
    inspector.inspected.connect(reports.append)
    window.inspect_path(path)
    wait(app, lambda: bool(reports), timeout=20.0)
    window.banner.dismiss()
    window.statusBar().clearMessage()
    for _ in range(10):
        app.processEvents()
        time.sleep(0.03)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise SystemExit(f"could not write {out}")


if __name__ == "__main__":
    sys.exit(main())
