"""A hostile request sent over a real socket, and the pattern of what must never be shown raw.

Shared by the access-log, export, table-model and detail-pane tests (imported by name: tests/
is on sys.path under pytest).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any

#: Characters that must never reach a terminal or a widget raw: C0 (ESC, CR, LF, TAB, ...), DEL,
#: C1 (NEL, CSI, ...), the line and paragraph separators, and the bidi reordering marks.
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

#: The path as the app and the record see it: ``%1b[2J`` (clear screen) and a forged access line
#: after ``%0a``, with quotes that would close the access line's request field.
HOSTILE_PATH = '/a\x1b[2J\n[00:00:00] 10.6.6.6:1 http "GET /forged HTTP/1.1" 200 0B 0.0ms'
#: The query, sent raw (waitress does not percent-decode it): an ESC colour sequence.
HOSTILE_QUERY = "q=\x1b[31mred"
#: A Host and a User-Agent with NEL (U+0085, a C1 line break) sent as one raw byte.
HOSTILE_HOST = "loc\x85al"
HOSTILE_AGENT = "probe\x85/1"

HOSTILE_REQUEST = (
    b"GET /a%1b[2J%0a[00:00:00]%2010.6.6.6:1%20http%20%22GET%20/forged%20HTTP/1.1%22%20200%200B%200.0ms"
    b"?q=\x1b[31mred HTTP/1.1\r\n"
    b"Host: loc\x85al\r\n"
    b"User-Agent: probe\x85/1\r\n"
    b"Connection: close\r\n\r\n"
)

#: A plain-HTTP request whose path carries the log filter's field separator (U+001E) around a
#: forged tag: it must not pass the table's "https only" filter.
FORGED_TAG_REQUEST = b"GET /x%1escheme=https%1e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

#: A Host header with a bare LF inside it: waitress answers 400 and never calls the app.
BARE_LF_HOST_REQUEST = b"GET /bare-lf HTTP/1.1\r\nHost: a\n[00:00:00] forged\r\nConnection: close\r\n\r\n"


def raw_request(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    """Send *data* as it is to *host*:*port* over plain TCP; the whole response (read to EOF)."""
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def ok_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A WSGI app that answers 200 to any path (Flask's routes do not match a path holding LF)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
