"""HAR and JSON Lines export of a hostile request served for real: faithful, and one line per record."""

from __future__ import annotations

import json

from hostile import (
    HOSTILE_AGENT,
    HOSTILE_HOST,
    HOSTILE_PATH,
    HOSTILE_QUERY,
    HOSTILE_REQUEST,
    RAW_CONTROL,
    ok_app,
    raw_request,
)

from launcher.harexport import har_entry, record_url, write_har, write_jsonl


def hostile_record(make_servers, wait_records):
    servers = make_servers(ok_app)
    raw_request(servers.http.port, HOSTILE_REQUEST)
    [record] = wait_records(servers.sink, 1)
    return record


def test_har_keeps_the_decoded_text_json_escaped(make_servers, wait_records, tmp_path):
    record = hostile_record(make_servers, wait_records)
    path = tmp_path / "out.har"
    assert write_har([record], path) == 1
    text = path.read_text(encoding="utf-8")
    # No raw control character in the file but the indentation's line breaks.
    assert not RAW_CONTROL.search(text.replace("\n", ""))
    assert "\\u001b[2J\\n[00:00:00]" in text and "loc\\u0085al" in text
    [entry] = json.loads(text)["log"]["entries"]
    assert (
        entry["request"]["url"]
        == f"http://{HOSTILE_HOST}{HOSTILE_PATH}?{HOSTILE_QUERY}"
        == record_url(record)
    )
    assert entry["request"]["queryString"] == [{"name": "q", "value": "\x1b[31mred"}]
    assert {"name": "User-Agent", "value": HOSTILE_AGENT} in entry["request"]["headers"]
    assert entry == json.loads(json.dumps(har_entry(record)))  # what was built is what was written
    assert entry["startedDateTime"].endswith("Z") and entry["startedDateTime"][10] == "T"


def test_jsonl_is_one_line_per_record_and_faithful(make_servers, wait_records, tmp_path):
    record = hostile_record(make_servers, wait_records)
    path = tmp_path / "out.jsonl"
    assert write_jsonl([record, record], path) == 2
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()  # splits at NEL and U+2028 too: none may be raw in a record
    assert len(lines) == 2 and text.count("\n") == 2
    assert not RAW_CONTROL.search(text.replace("\n", ""))
    data = json.loads(lines[0])
    assert (data["path"], data["query"], data["user_agent"]) == (HOSTILE_PATH, HOSTILE_QUERY, HOSTILE_AGENT)
    assert data["url"] == record_url(record) and ["Host", HOSTILE_HOST] in data["request_headers"]
