"""The detail pane's "Request body" and "Response body" sections, for requests served for real."""

from __future__ import annotations

import json
import os

from bodyapps import body_app, post
from hostile import RAW_CONTROL

from launcher.gui.detail import HEX_HEAD, RequestDetailView, hex_head
from launcher.requestlog import BODY_OVERHEAD, RequestSink


def shown(qtbot, record) -> str:
    view = RequestDetailView()
    qtbot.addWidget(view)
    view.show_record(record)
    return view.toPlainText()


def section(text: str, title: str) -> str:
    """The pane's text from the heading starting with *title* to the next body heading or the end."""
    start = text.index(title)
    end = text.find("Response body (", start + 1) if title.startswith("Request") else -1
    return text[start:end] if end != -1 else text[start:]


def test_a_json_400_shows_both_bodies_as_text(qtbot, make_servers, wait_records, client_context):
    servers = make_servers(body_app())
    sent = json.dumps({"item": "tea", "qty": "three", "note": "line\nbreak\x1b[2J"}).encode()
    status, answer = post(servers.https.port, "/items", sent, "application/json", client_context)
    assert status == 400
    [record] = wait_records(servers.sink, 1)
    text = shown(qtbot, record)
    request = section(text, "Request body")
    assert f"Request body ({len(sent)} bytes)" in request
    assert '"qty": "three"' in request and "\\\\u001b[2J" in request  # JSON's own escape, escaped
    response = section(text, "Response body (")
    assert f"Response body ({len(answer)} bytes)" in response
    assert "qty must be a whole number" in response
    assert "truncated" not in text and "dropped" not in text


def test_a_binary_upload_shows_its_size_and_a_hex_head(qtbot, make_servers, wait_records):
    servers = make_servers(body_app())
    blob = os.urandom(1024)
    assert post(servers.http.port, "/echo", blob, "application/octet-stream")[0] == 200
    [record] = wait_records(servers.sink, 1)
    text = shown(qtbot, record)
    request = section(text, "Request body")
    assert "Request body (1024 bytes)" in request
    assert f"binary, 1024 bytes; the first {HEX_HEAD} in hex:" in request
    assert blob[:16].hex(" ") in request and blob[112:128].hex(" ") in request
    assert blob[128:144].hex(" ") not in request  # only the head
    assert not RAW_CONTROL.search(text.replace("\n", ""))


def test_hex_head_lines():
    assert hex_head(b"AB\x00\xff" * 5) == (
        "00000000  41 42 00 ff 41 42 00 ff 41 42 00 ff 41 42 00 ff  |AB..AB..AB..AB..|\n"
        "00000010  41 42 00 ff                                      |AB..|"
    )


def test_truncated_dropped_and_not_recorded_bodies_say_so(qtbot, make_servers, wait_records):
    sink = RequestSink(body_budget=2 * (100 + BODY_OVERHEAD))
    servers = make_servers(body_app(), sink=sink, body_limit=100)
    for payload in (b"a" * 300, b"b" * 300):
        assert post(servers.http.port, "/echo", payload, "text/plain")[1] == payload
    old, new = wait_records(sink, 2)
    text = shown(qtbot, new)
    assert "truncated: the first 100 of 300 bytes" in section(text, "Request body")
    assert "b" * 100 in text and "b" * 101 not in text
    text = shown(qtbot, old)
    assert "Request body (300 bytes)" in text and "dropped: the request log's body budget" in text
    assert "a" * 10 not in text

    off = make_servers(body_app(), body_limit=0)
    assert post(off.http.port, "/echo", b"c" * 10, "text/plain")[0] == 200
    [record] = wait_records(off.sink, 1)
    text = shown(qtbot, record)
    assert text.count("not recorded (bodies are off: --body-limit 0)") == 2


def test_a_body_the_app_did_not_read_says_so(qtbot, make_servers, wait_records):
    def rejects(environ, start_response):
        start_response("413 Content Too Large", [("Content-Type", "text/plain")])
        return [b"too big for me"]

    servers = make_servers(rejects)
    assert post(servers.http.port, "/", b"z" * 700, "text/plain")[0] == 413
    [record] = wait_records(servers.sink, 1)
    text = shown(qtbot, record)
    request = section(text, "Request body")
    assert "Request body (700 bytes)" in request and "the app did not read this body" in request
    assert "too big for me" in section(text, "Response body (")
