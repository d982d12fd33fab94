"""The request detail pane: every fact of one ``RequestRecord`` as simple HTML.

Shows the request line and outcome, the TLS facts (or that the request came over plain HTTP),
all request and response headers in the order they were seen, and the app's traceback when the
request raised.  Everything is HTML-escaped; nothing is loaded from the network.
"""

from __future__ import annotations

import html
import time

from PySide6.QtWidgets import QTextBrowser, QWidget

from launcher.harexport import record_url
from launcher.requestlog import RequestRecord

PLACEHOLDER = "Select a request to see its headers, TLS facts and any error."


def _rows(pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return "<p class='none'>(none)</p>"
    body = "".join(f"<tr><td class='k'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in pairs)
    return f"<table cellspacing='0' cellpadding='2'>{body}</table>"


def record_html(record: RequestRecord) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.time))
    stamp += f".{int(record.time % 1 * 1000):03d}"
    general = [
        ("URL", record_url(record)),
        ("Listener", record.listener.upper()),
        ("Method", record.method),
        ("Status", str(record.status)),
        ("Protocol", record.http_version),
        ("Time", stamp),
        ("Duration", f"{record.duration_ms:.2f} ms"),
        ("Response body", f"{record.response_bytes} bytes"),
        ("Client", f"{record.client_addr}:{record.client_port}"),
    ]
    if record.tls_version:
        tls = [("Version", record.tls_version), ("Cipher", record.tls_cipher or "")]
    else:
        tls = [("TLS", "none: this request came over plain HTTP")]
    parts = [
        f"<h3>{html.escape(record.method)} {html.escape(record.target)} → {record.status}</h3>",
        _rows(general),
        "<h4>TLS</h4>",
        _rows(tls),
        f"<h4>Request headers ({len(record.request_headers)})</h4>",
        _rows(record.request_headers),
        f"<h4>Response headers ({len(record.response_headers)})</h4>",
        _rows(record.response_headers),
    ]
    if record.error:
        parts += ["<h4 class='err'>Error</h4>", f"<pre>{html.escape(record.error)}</pre>"]
    return "".join(parts)


STYLE = """
h3 { margin: 0 0 6px 0; }
h4 { margin: 10px 0 2px 0; }
td.k { color: #475569; font-weight: bold; padding-right: 10px; white-space: nowrap; }
p.none { color: #64748b; }
h4.err { color: #b91c1c; }
pre { font-family: monospace; color: #7f1d1d; }
"""


class RequestDetailView(QTextBrowser):
    """Read-only, selectable pane for the selected request."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("requestDetailView")
        self.setAccessibleName("Request details")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.document().setDefaultStyleSheet(STYLE)
        self.record: RequestRecord | None = None
        self.show_record(None)

    def show_record(self, record: RequestRecord | None) -> None:
        self.record = record
        if record is None:
            self.setHtml(f"<p class='none'>{html.escape(PLACEHOLDER)}</p>")
        else:
            self.setHtml(record_html(record))
