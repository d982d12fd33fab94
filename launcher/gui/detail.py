"""The request detail pane: every fact of one ``RequestRecord`` as simple HTML.

Shows the request line and outcome, the TLS facts (or that the request came over plain HTTP),
all request and response headers in the order they were seen, and the app's traceback when the
request raised.  What the client sent has its control characters escaped
(``launcher.recordformat``), then everything is HTML-escaped; nothing is loaded from the network.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser, QWidget

from launcher.harexport import record_url
from launcher.recordformat import escape_control, format_ms, format_peer, format_timestamp, format_wsgi
from launcher.requestlog import RequestRecord
from launcher.wireevents import WireEvent

PLACEHOLDER = "Select a request to see its headers, TLS facts and any error."


def _rows(pairs: list[tuple[str, str]]) -> str:
    """An HTML table of (name, text) *pairs* that are already display text (escaped here for HTML)."""
    if not pairs:
        return "<p class='none'>(none)</p>"
    body = "".join(f"<tr><td class='k'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in pairs)
    return f"<table cellspacing='0' cellpadding='2'>{body}</table>"


def _header_rows(headers: tuple[tuple[str, str], ...]) -> str:
    """Headers as they were sent, made display text (``format_wsgi``), in their order."""
    return _rows([(format_wsgi(name), format_wsgi(value)) for name, value in headers])


def record_html(record: RequestRecord) -> str:
    """The pane's HTML for *record*: no control character from the request reaches it."""
    general = [
        ("URL", format_wsgi(record_url(record))),
        ("Listener", record.listener.upper()),
        ("Method", format_wsgi(record.method)),
        ("Status", str(record.status)),
        ("Protocol", format_wsgi(record.http_version)),
        ("Time", format_timestamp(record.time)),
        ("Duration", f"{format_ms(record.duration_ms, 2)} ms"),
        ("Response body", f"{record.response_bytes} bytes"),
        ("Client", format_peer(record.client_addr, record.client_port)),
    ]
    if record.tls_version:
        tls = [
            ("Version", escape_control(record.tls_version)),
            ("Cipher", escape_control(record.tls_cipher or "")),
        ]
    else:
        tls = [("TLS", "none: this request came over plain HTTP")]
    parts = [
        f"<h3>{html.escape(format_wsgi(record.method))} {html.escape(format_wsgi(record.target))}"
        f" → {record.status}</h3>",
        _rows(general),
        "<h4>TLS</h4>",
        _rows(tls),
        f"<h4>Request headers ({len(record.request_headers)})</h4>",
        _header_rows(record.request_headers),
        f"<h4>Response headers ({len(record.response_headers)})</h4>",
        _header_rows(record.response_headers),
    ]
    if record.error:
        error = escape_control(record.error, multiline=True)  # a traceback: its lines stay lines
        parts += ["<h4 class='err'>Error</h4>", f"<pre>{html.escape(error)}</pre>"]
    return "".join(parts)


def event_html(event: WireEvent) -> str:
    """The pane's HTML for a wire event: what happened, the full advice, the facts (escaped)."""
    facts = [
        ("Listener", event.listener.upper()),
        ("Kind", event.kind.value),
        ("Time", format_timestamp(event.time)),
        ("Client", event.peer),
    ]
    if event.sni:
        facts.append(("Server name (SNI)", escape_control(event.sni)))
    if event.reason:
        facts.append(("OpenSSL", escape_control(event.reason)))
    return "".join(
        [
            f"<h3 class='wire'>⚠ {html.escape(event.kind.headline)}</h3>",
            f"<p class='advice'>{html.escape(escape_control(event.window_advice))}</p>",
            _rows(facts),
            "<p class='none'>No request was served on this connection.</p>",
        ]
    )


STYLE = """
h3 { margin: 0 0 6px 0; }
h4 { margin: 10px 0 2px 0; }
td.k { color: #475569; font-weight: bold; padding-right: 10px; white-space: nowrap; }
p.none { color: #64748b; }
h4.err { color: #b91c1c; }
pre { font-family: monospace; color: #7f1d1d; }
h3.wire { color: #b45309; }
p.advice { color: #78350f; font-weight: bold; }
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

    def show_event(self, event: WireEvent) -> None:
        """Show a wire event (a connection that failed before a request) and its advice."""
        self.record = None
        self.setHtml(event_html(event))
