"""The record-formatting functions on their own: escaping, WSGI text, peers, times, sizes, JSON."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from hostile import RAW_CONTROL

from launcher.recordformat import (
    escape_control,
    format_clock,
    format_iso,
    format_ms,
    format_peer,
    format_size,
    format_timestamp,
    format_wsgi,
    to_json,
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("/plain/path?a=1", "/plain/path?a=1"),
        ("/a\x1b[2J", "/a\\x1b[2J"),
        ("/a\nGET /forged", "/a\\nGET /forged"),
        ("a\r\nb\tc", "a\\r\\nb\\tc"),
        ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
        ("next\x85line \x9b31m", "next\\x85line \\x9b31m"),
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
        ("user\u202etxt.exe", "user\\u202etxt.exe"),
        ("café ☕ 日本 €", "café ☕ 日本 €"),  # printable non-ASCII stays readable
        ("nbsp\u00a0here", "nbsp\u00a0here"),
    ],
)
def test_escape_control_makes_every_control_character_visible(text, shown):
    assert escape_control(text) == shown
    assert not RAW_CONTROL.search(escape_control(text))


def test_every_c0_c1_and_del_character_is_escaped():
    every = "".join(map(chr, [*range(0x20), 0x7F, *range(0x80, 0xA0)]))
    out = escape_control(every)
    assert not RAW_CONTROL.search(out)
    assert out.isascii() and out.isprintable()
    assert out.count("\\") == len(every)  # one escape per character


def test_a_backslash_is_doubled_so_an_escape_always_means_a_replaced_character():
    sent_text = "/a\\x1b"  # the client sent the four characters \x1b, not ESC
    sent_esc = "/a\x1b"
    assert escape_control(sent_text) == "/a\\\\x1b"
    assert escape_control(sent_esc) == "/a\\x1b"
    assert escape_control(sent_text) != escape_control(sent_esc)
    assert escape_control("C:\\dir") == "C:\\\\dir"


def test_quote_escapes_double_quotes_and_multiline_keeps_lines():
    assert escape_control('/a" 200 x "b') == '/a" 200 x "b'
    assert escape_control('/a" 200 x "b', quote=True) == '/a\\" 200 x \\"b'
    traceback = "Traceback:\n  File x\n\tline\x1b[2J\rmore"
    assert escape_control(traceback, multiline=True) == "Traceback:\n  File x\n\tline\\x1b[2J\\rmore"


def test_format_wsgi_decodes_utf8_carried_as_latin1_and_escapes():
    def wsgi(text: str) -> str:
        return text.encode("utf-8").decode("latin-1")  # as PEP 3333 hands a path over

    assert format_wsgi(wsgi("/café/€")) == "/café/€"  # € is E2 82 AC: U+0082 raw, unless decoded
    assert format_wsgi(wsgi("/a\u2028b\u0085c")) == "/a\\u2028b\\x85c"
    assert format_wsgi("loc\x85al") == "loc\\x85al"  # a real Latin-1 byte, not UTF-8: kept, escaped
    assert format_wsgi("caf\xe9") == "caf\xe9"
    assert format_wsgi('GET "/x"', quote=True) == 'GET \\"/x\\"'


def test_format_peer_brackets_ipv6_and_escapes():
    assert format_peer("127.0.0.1", 5555) == "127.0.0.1:5555"
    assert format_peer("::1", 5555) == "[::1]:5555"
    assert format_peer("fe80::1%eth0", 80) == "[fe80::1%eth0]:80"
    assert format_peer("evil\nhost", 1) == "evil\\nhost:1"


def test_the_clock_follows_a_change_of_time_zone(monkeypatch):
    """``format_clock`` keeps the last second's text; a new zone (``time.tzset``) is not served
    from it."""
    ts = 1_700_000_000.5
    try:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        assert format_clock(ts) == "22:13:20"
        assert format_clock(ts + 0.4) == "22:13:20"
        assert format_clock(ts + 0.6) == "22:13:21"
        monkeypatch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        assert format_clock(ts + 0.6) == time.strftime("%H:%M:%S", time.localtime(ts + 0.6)) == "03:43:21"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_times_are_local_clock_local_stamp_and_utc_iso():
    ts = 1_700_000_000.1234
    assert format_clock(ts) == time.strftime("%H:%M:%S", time.localtime(ts))
    assert format_timestamp(ts) == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + ".123"
    assert format_iso(ts) == "2023-11-14T22:13:20.123Z"
    assert format_iso(0) == "1970-01-01T00:00:00.000Z"
    # The local stamp and the ISO time are the same instant to the millisecond.
    assert datetime.fromisoformat(format_iso(ts)).timestamp() == pytest.approx(ts, abs=0.001)


def test_durations_and_sizes():
    assert format_ms(1.25) == "1.2" and format_ms(1.5) == "1.5" and format_ms(2, 2) == "2.00"
    assert [format_size(n) for n in (0, 1023, 1024, 1536, 1024 * 1024, 5 * 1024 * 1024 + 1)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "1.0 MiB",
        "5.0 MiB",
    ]


def test_to_json_is_faithful_and_keeps_one_record_on_one_line():
    value = {"path": "/a\x1b[2J\n\x7f\x85\u2028\u2029\u202eé€", "n": [1, 2]}
    text = to_json(value)
    assert json.loads(text) == value  # nothing lost, nothing double-escaped
    assert not RAW_CONTROL.search(text)
    assert text.splitlines() == [text]
    assert "é€" in text  # readable, not \u-escaped
    assert text.startswith('{"path":"/a\\u001b[2J\\n\\u007f\\u0085\\u2028')
    indented = to_json(value, indent=2)
    assert json.loads(indented) == value and indented == json.dumps(
        value, indent=2, ensure_ascii=False
    ).translate({0x7F: "\\u007f", 0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029", 0x202E: "\\u202e"})
