"""How a request record's facts become text: one place for escaping, times, peers, sizes, JSON.  No Qt.

Everything that shows a ``RequestRecord`` to a person (the access line ``flask-launcher serve``
prints, the GUI's table and detail pane) or writes it out (HAR, JSON Lines) formats its fields
with these functions, so the same fact reads the same everywhere and is made safe in one place.

Why escaping matters: the method, path, query and headers are chosen by whoever sends the
request.  Printed as they are, a path with ``%1b[2J`` (decoded to ESC) clears the terminal
running ``serve``, ``%0a`` starts a forged access-log line, and a U+0085 (NEL) or U+2028 in a
header makes ``str.splitlines()`` and Qt's text layout break a line.  ``escape_control`` turns
every such character into a visible, unambiguous escape; text for people goes through it (via
``format_wsgi`` for strings taken from the WSGI environ).  JSON output is already escaped by the
JSON encoding and stays faithful: ``to_json`` only adds ``\\uXXXX`` escapes for the characters
``json.dumps(ensure_ascii=False)`` leaves raw, and ``json.loads`` gives back the original text.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from typing import Any, Protocol

#: Unicode format characters that reorder text on screen (bidirectional embeddings, overrides,
#: isolates and marks): a log line containing them can display as something it is not.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
#: The line and paragraph separators: ``str.splitlines()`` and Qt break lines at them.
_SEPARATORS = (0x2028, 0x2029)
#: Every character ``escape_control`` replaces, besides the backslash: C0, DEL, C1, and the above.
_CONTROL = (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_SEPARATORS, *_BIDI)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(code: int) -> str:
    char = chr(code)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _table(*, multiline: bool, quote: bool) -> dict[int, str]:
    table = {code: _escape(code) for code in _CONTROL}
    table[ord("\\")] = "\\\\"
    if multiline:
        del table[ord("\n")], table[ord("\t")]
    if quote:
        table[ord('"')] = '\\"'
    return table


_TABLES = {(m, q): _table(multiline=m, quote=q) for m in (False, True) for q in (False, True)}


def escape_control(text: str, *, multiline: bool = False, quote: bool = False) -> str:
    """*text* with every control character made visible, for a terminal or a widget.

    C0 controls (ESC, CR, LF, TAB, NUL, ...), DEL and C1 controls become ``\\x1b``-style escapes
    (``\\n``, ``\\r`` and ``\\t`` for the common three); the line and paragraph separators and
    the bidirectional-reordering marks become ``\\u2028``-style escapes.  So that an escape in
    the output always means a replaced character, a backslash in *text* is doubled, always (a
    client cannot send the four characters ``\\x1b`` and have them read as ESC).  Printable
    non-ASCII text is kept as it is.

    *multiline* keeps LF and TAB (for a traceback shown as a block); *quote* also escapes ``"``
    (for a field the caller puts between double quotes, as the access line's request line).
    """
    if text.isprintable() and "\\" not in text and not (quote and '"' in text):
        return text  # the common case: nothing to replace
    return text.translate(_TABLES[(multiline, quote)])


def format_wsgi(text: str, *, quote: bool = False) -> str:
    """A string from the WSGI environ (method, path, query, header value) as readable, safe text.

    WSGI hands request bytes over as Latin-1 characters, so a UTF-8 path such as ``/café`` arrives
    as ``/cafÃ©``, and a ``€`` contains the C1 character U+0082.  Text that is valid UTF-8 once
    turned back into bytes is shown decoded; anything else (real Latin-1, stray bytes) is kept
    as it came.  Then ``escape_control`` (with *quote* passed on).  For display only: exports keep
    the record's strings as they are.
    """
    if not text.isascii():
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:  # not a WSGI byte string, or not UTF-8: show it as it is
            pass
    return escape_control(text, quote=quote)


def format_peer(host: str, port: int) -> str:
    """``host:port`` for a client or listener address; an IPv6 address goes in brackets (``[::1]:5555``)."""
    host = escape_control(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts)


#: The last ``format_clock``: (whole second, ``time.tzname`` then, its text).  Requests come in
#: thousands a second and their clocks change once a second.
_last_clock: tuple[int, tuple[str, str] | None, str] = (0, None, "")


def format_clock(ts: float) -> str:
    """The local wall-clock time of *ts* (seconds since the epoch) as ``HH:MM:SS``: the log's time column."""
    global _last_clock
    second = math.floor(ts)
    zone = time.tzname  # a new tuple after time.tzset(): a changed zone is not served from the cache
    last = _last_clock
    if last[0] == second and last[1] is zone:
        return last[2]
    text = _local(ts).strftime("%H:%M:%S")
    _last_clock = (second, zone, text)
    return text


def format_timestamp(ts: float) -> str:
    """The local date and time of *ts* to the millisecond, ``YYYY-MM-DD HH:MM:SS.mmm``: for details."""
    moment = _local(ts)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}"


def format_iso(ts: float) -> str:
    """*ts* as ISO 8601 in UTC to the millisecond with a ``Z`` (HAR's ``startedDateTime``)."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_ms(ms: float, digits: int = 1) -> str:
    """A duration in milliseconds as a number with *digits* decimals and no unit (``1.5``)."""
    return f"{ms:.{digits}f}"


def format_size(size: int) -> str:
    """A byte count for people: ``512 B``, ``1.5 KiB``, ``2.0 MiB``."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


class AccessFacts(Protocol):
    """What an access line shows: a ``RequestRecord`` (the window's log) or an
    ``AccessEntry`` (``serve``'s, ``launcher.accesslog``) has these."""

    @property
    def time(self) -> float: ...
    @property
    def client_addr(self) -> str: ...
    @property
    def client_port(self) -> int: ...
    @property
    def listener(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def http_version(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def response_bytes(self) -> int: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def tls_version(self) -> str | None: ...
    @property
    def tls_cipher(self) -> str | None: ...
    @property
    def worker(self) -> int: ...


def format_access_line(item: AccessFacts) -> str:
    """One line for a terminal: time, client, listener, request line, status, size, time, TLS,
    and the worker (``w2``) in a pool.

    Always exactly one line with no control character in it: what the client sent is escaped,
    so a request cannot clear the terminal or forge lines, and a ``"`` in the request line is
    escaped so its quoted field stays one field.
    """
    method, path, query, version = item.method, item.path, item.query, item.http_version
    addr, tls_version, tls_cipher = item.client_addr, item.tls_version, item.tls_cipher
    plain = f"{method}{path}{query}{version}{addr}{tls_version or ''}{tls_cipher or ''}"
    if plain.isascii() and plain.isprintable() and "\\" not in plain and '"' not in plain:
        # The common case, in one step: nothing to decode or escape (serve prints thousands of
        # these a second).  Anything else takes the general path, ``_escaped_access_line``.
        target = f"{path}?{query}" if query else path
        peer = f"[{addr}]:{item.client_port}" if ":" in addr else f"{addr}:{item.client_port}"
        tls = f" {tls_version} {tls_cipher}" if tls_version else ""
        worker = f" w{item.worker}" if item.worker else ""
        return (
            f'[{format_clock(item.time)}] {peer} {item.listener} "{method} {target} {version}" '
            f"{item.status} {item.response_bytes}B {item.duration_ms:.1f}ms{tls}{worker}"
        )
    return _escaped_access_line(item)


def _escaped_access_line(item: AccessFacts) -> str:
    """``format_access_line`` for facts with text to decode or escape."""
    tls = (
        f" {escape_control(item.tls_version)} {escape_control(str(item.tls_cipher))}"
        if item.tls_version
        else ""
    )
    target = f"{item.path}?{item.query}" if item.query else item.path
    request_line = " ".join(
        format_wsgi(part, quote=True) for part in (item.method, target, item.http_version)
    )
    return (
        f"[{format_clock(item.time)}] {format_peer(item.client_addr, item.client_port)} {item.listener} "
        f'"{request_line}" {item.status} '
        f"{item.response_bytes}B {format_ms(item.duration_ms)}ms{tls}"
        + (f" w{item.worker}" if item.worker else "")
    )


#: What ``to_json`` escapes beyond what ``json.dumps`` does: DEL, C1, separators, bidi marks.
#: They can only occur inside JSON strings, where ``\\uXXXX`` means the same character.
_JSON_EXTRA = {code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0), *_SEPARATORS, *_BIDI)}


def to_json(value: Any, *, indent: int | None = None) -> str:
    """*value* as JSON text that keeps non-ASCII readable and holds no raw control character.

    ``json.dumps(ensure_ascii=False)`` escapes C0 controls but writes DEL, C1 controls, U+2028
    and U+2029 raw: a JSON Lines record holding a NEL or U+2028 is split in two by
    ``str.splitlines()``, and C1 controls reach a terminal that shows the file.  Those are
    written as ``\\uXXXX`` escapes, so ``json.loads`` still gives back exactly the original text.
    Compact (no spaces) unless *indent* is given.
    """
    separators = (",", ": ") if indent is not None else (",", ":")
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)
    return text if text.isprintable() else text.translate(_JSON_EXTRA)
