"""Request and response bodies in the request log, served for real over HTTP and HTTPS sockets.

What the app reads from ``wsgi.input`` and what it answers are recorded up to the body limit,
reach HAR (``postData``, ``content.text``) and JSON Lines, and the app still gets every byte; the
sink's budget drops the oldest bodies first; ``body_limit=0`` records none.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import http.client
import json
import os
import pickle
import time

import pytest
from bodyapps import body_app, post, wsgi_reader
from hostile import raw_request

from launcher.harexport import har_entry, write_har, write_jsonl
from launcher.options import DEFAULTS, add_arguments, config_from_args
from launcher.requestlog import BODY_OVERHEAD, Body, RequestSink, body_charset

BAD_ORDER = {"item": "tea", "qty": "three"}


def one_record(servers, wait_records):
    [record] = wait_records(servers.sink, 1)
    return record


def test_a_json_post_answered_400_has_both_bodies_in_har_and_jsonl(
    make_servers, wait_records, client_context, tmp_path
):
    servers = make_servers(body_app())
    sent = json.dumps(BAD_ORDER).encode()
    status, answer = post(servers.https.port, "/items", sent, "application/json", client_context)
    assert status == 400
    record = one_record(servers, wait_records)
    assert record.request_body == Body(sent, len(sent)) and not record.request_body.truncated
    assert record.response_body is not None and record.response_body.data == answer

    har = tmp_path / "out.har"
    write_har([record], har)
    [entry] = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    post_data = entry["request"]["postData"]
    assert post_data["mimeType"] == "application/json"
    assert json.loads(post_data["text"]) == BAD_ORDER
    assert entry["request"]["bodySize"] == len(sent)
    content = entry["response"]["content"]
    assert content["size"] == len(answer) and "encoding" not in content
    assert json.loads(content["text"])["error"] == "qty must be a whole number"
    assert "_truncated" not in content and "_dropped" not in content

    lines = tmp_path / "out.jsonl"
    write_jsonl([record], lines)
    data = json.loads(lines.read_text(encoding="utf-8"))
    assert json.loads(data["request_body"]["text"]) == BAD_ORDER
    assert data["request_body"] == {
        "size": len(sent),
        "truncated": False,
        "dropped": False,
        "text": sent.decode(),
    }
    assert json.loads(data["response_body"]["text"])["got"] == BAD_ORDER


def test_a_binary_upload_is_base64_in_har(make_servers, wait_records, tmp_path):
    servers = make_servers(body_app())
    blob = os.urandom(1024)
    status, answer = post(servers.http.port, "/echo", blob, "application/octet-stream")
    assert (status, answer) == (200, blob)
    record = one_record(servers, wait_records)
    assert record.request_body.text("application/octet-stream") is None  # binary: never "decoded"
    entry = har_entry(record)
    post_data = entry["request"]["postData"]
    assert post_data["_encoding"] == "base64"
    assert base64.b64decode(post_data["text"]) == blob
    content = entry["response"]["content"]
    assert content["encoding"] == "base64" and base64.b64decode(content["text"]) == blob
    assert record.to_dict()["request_body"]["encoding"] == "base64"


def test_a_body_over_the_limit_is_truncated_with_its_full_size(make_servers, wait_records):
    servers = make_servers(body_app(), body_limit=1000)
    text = ("é" * 3000).encode()  # 6000 bytes; the limit falls inside no character (1000 is even)
    status, answer = post(servers.http.port, "/echo", text, "text/plain; charset=utf-8")
    assert (status, answer) == (200, text)  # the app and the client still get every byte
    record = one_record(servers, wait_records)
    for body in (record.request_body, record.response_body):
        assert body.size == 6000 and body.truncated and body.data == text[:1000]
        assert body.text("text/plain; charset=utf-8") == "é" * 500
    entry = har_entry(record)
    assert entry["request"]["postData"]["_truncated"] is True
    assert entry["request"]["bodySize"] == 6000
    assert entry["response"]["content"]["comment"] == "the first 1000 of 6000 bytes"


def test_a_truncated_utf8_body_leaves_out_a_split_character():
    body = Body("aé".encode()[:2], 3)  # the limit cut "é" in half
    assert body.truncated and body.text("text/plain") == "a"


def test_a_response_in_many_chunks_is_teed_up_to_the_limit(make_servers, wait_records):
    servers = make_servers(body_app(), body_limit=2500)
    conn = http.client.HTTPConnection("127.0.0.1", servers.http.port, timeout=10)
    try:
        conn.request("GET", "/big")
        assert conn.getresponse().read() == b"x" * 100_000
    finally:
        conn.close()
    record = one_record(servers, wait_records)
    assert record.request_body.size == 0 and record.request_body.data == b""  # a GET has no body
    assert record.response_body.size == record.response_bytes == 100_000
    assert record.response_body.data == b"x" * 2500 and record.response_body.truncated


def test_a_chunked_upload_is_recorded_whole(make_servers, wait_records):
    servers = make_servers(wsgi_reader)
    body = b"hello chunked world\n" * 50
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 100]), body[i : i + 100]) for i in range(0, len(body), 100)
    )
    request = (
        b"POST /?read HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    answer = raw_request(servers.http.port, request)
    assert answer.startswith(b"HTTP/1.1 200") and hashlib.sha256(body).hexdigest().encode() in answer
    record = one_record(servers, wait_records)
    assert record.request_body == Body(body, len(body))


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_app_receives_a_1_mib_upload_byte_exact(make_servers, wait_records, client_context, scheme):
    servers = make_servers(body_app(), body_limit=4096)
    blob = os.urandom(1024 * 1024)
    context = client_context if scheme == "https" else None
    port = servers.https.port if scheme == "https" else servers.http.port
    status, answer = post(port, "/sha", blob, "application/octet-stream", context)
    assert (status, answer.decode()) == (200, f"{len(blob)} {hashlib.sha256(blob).hexdigest()}")
    record = one_record(servers, wait_records)
    assert record.request_body.size == len(blob) and record.request_body.data == blob[:4096]


@pytest.mark.parametrize("how", ["read", "readline", "iter", "mixed"])
def test_wsgi_input_reads_are_unchanged(make_servers, wait_records, how):
    servers = make_servers(wsgi_reader, body_limit=50)
    lines = b"".join(f"line {n} {'y' * n}\n".encode() for n in range(40)) + b"no newline at the end"
    status, answer = post(servers.http.port, f"/?{how}", lines, "text/plain")
    assert (status, answer.decode()) == (200, f"{len(lines)} {hashlib.sha256(lines).hexdigest()}")
    record = one_record(servers, wait_records)
    assert record.request_body.data == lines[:50] and record.request_body.size == len(lines)


def test_a_body_the_app_does_not_read_is_not_read_for_it(make_servers, wait_records):
    def ignores_body(environ, start_response):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"no"]

    servers = make_servers(ignores_body)
    status, _ = post(servers.http.port, "/", b"z" * 500, "text/plain")
    assert status == 400
    record = one_record(servers, wait_records)
    assert record.request_body.size == 500 and record.request_body.data == b""
    assert record.request_body.truncated


def test_a_head_request_keeps_its_content_length_as_response_bytes(make_servers, wait_records):
    def announces(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"hello"]

    servers = make_servers(announces)
    conn = http.client.HTTPConnection("127.0.0.1", servers.http.port, timeout=10)
    try:
        conn.request("HEAD", "/")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b""
    finally:
        conn.close()
    record = one_record(servers, wait_records)
    # No body was produced; the record's size is still the one the headers announce, as without bodies.
    assert record.response_body == Body(b"", 0) and record.response_bytes == 5


def test_the_budget_drops_the_oldest_bodies_first(make_servers, wait_records):
    # Room for the bodies of two requests (request + response of 1000 bytes each, plus overhead).
    sink = RequestSink(body_budget=4 * (1000 + BODY_OVERHEAD))
    servers = make_servers(body_app(), sink=sink)
    payloads = [bytes([65 + n]) * 1000 for n in range(5)]
    for payload in payloads:
        assert post(servers.http.port, "/echo", payload, "text/plain")[1] == payload
    records = wait_records(sink, 5)
    assert len(records) == 5  # every record stays
    kept = [(r.request_body.dropped, r.response_body.dropped) for r in records]
    assert kept == [(True, True)] * 3 + [(False, False)] * 2
    assert [r.request_body.data for r in records[3:]] == payloads[3:]
    assert sink.bodies_dropped == 6 and sink.body_bytes <= sink.body_budget
    dropped = records[0].request_body
    assert dropped.size == 1000 and dropped.data is None
    entry = har_entry(records[0])
    assert entry["request"]["postData"]["_dropped"] is True and entry["request"]["postData"]["text"] == ""
    assert "text" not in entry["response"]["content"] and entry["response"]["content"]["_dropped"] is True
    assert records[0].to_dict()["request_body"] == {"size": 1000, "truncated": False, "dropped": True}


def test_recording_off_records_no_body(make_servers, wait_records, client_context):
    servers = make_servers(body_app(), body_limit=0)
    sent = json.dumps(BAD_ORDER).encode()
    assert post(servers.https.port, "/items", sent, "application/json", client_context)[0] == 400
    record = one_record(servers, wait_records)
    assert record.request_body is None and record.response_body is None
    entry = har_entry(record)
    assert "postData" not in entry["request"] and "text" not in entry["response"]["content"]
    assert entry["request"]["bodySize"] == len(sent)
    assert record.to_dict()["request_body"] is None and servers.sink.body_bytes == 0


def test_a_sink_of_capacity_0_keeps_no_body_alive_once_its_subscribers_let_go(make_servers, wait_records):
    sink = RequestSink(capacity=0)
    subscription = sink.subscribe()
    servers = make_servers(body_app(), sink=sink)
    assert post(servers.http.port, "/echo", b"q" * 1000, "text/plain")[0] == 200
    for _ in range(200):
        if batch := subscription.drain():
            break
        time.sleep(0.01)
    [record] = batch
    assert sink.body_bytes == 2 * (1000 + BODY_OVERHEAD)
    del record, batch
    gc.collect()
    assert post(servers.http.port, "/echo", b"r" * 10, "text/plain")[0] == 200
    for _ in range(200):
        if batch := subscription.drain():
            break
        time.sleep(0.01)
    # The first request's bodies were let go: only the second's are counted now.
    assert sink.body_bytes == 2 * (10 + BODY_OVERHEAD)
    assert batch[0].request_body.data == b"r" * 10


def test_a_record_with_bodies_crosses_to_the_window_intact(make_servers, wait_records):
    servers = make_servers(body_app(), body_limit=10)
    post(servers.http.port, "/echo", b"0123456789abc", "text/plain")
    record = one_record(servers, wait_records)
    copy = pickle.loads(pickle.dumps(record))
    assert copy == record and copy.request_body.truncated and copy.request_body.size == 13
    window = RequestSink(body_budget=10 + BODY_OVERHEAD)  # the window's own budget applies
    window.add(copy)
    assert copy.request_body.dropped and not copy.response_body.dropped
    assert not record.request_body.dropped  # the server process's copy is another object


@pytest.mark.parametrize(
    ("content_type", "data", "charset"),
    [
        ("application/json", b"{}", "utf-8"),
        ("text/html; charset=ISO-8859-1", b"x", "iso8859-1"),
        ("application/problem+json", b"{}", "utf-8"),
        ("application/octet-stream", b"abc", None),
        ("image/png", b"abc", None),
        ("text/plain; charset=no-such", b"abc", None),
        (None, b"plain words", "utf-8"),
        (None, b"\x00\x01", None),
    ],
)
def test_body_charset(content_type, data, charset):
    assert body_charset(content_type, data) == charset


def test_the_options_reach_the_servers(cert_store):
    import argparse

    from launcher.servers import Servers

    parser = argparse.ArgumentParser()
    add_arguments(parser, command="launch")  # the window's log keeps bodies; serve prints lines only
    config = config_from_args(parser.parse_args(["--body-limit", "0", "--log-body-budget", "2"]))
    assert (config.body_limit, config.body_budget_bytes) == (0, 2 * 1024 * 1024)
    assert (DEFAULTS.body_limit, DEFAULTS.log_body_budget) == (65536, 64)
    servers = Servers.from_config(body_app(), config, cert_store=cert_store)
    assert servers.body_limit == 0 and servers.sink.body_budget == 2 * 1024 * 1024
    with pytest.raises(SystemExit):
        parser.parse_args(["--log-body-budget", "0"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--body-limit", "-1"])
