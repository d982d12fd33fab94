"""Write request records as HAR 1.2 or as JSON Lines.  No Qt.

Limits, stated once:
- Bodies are there as far as the log recorded them (``--body-limit``, 64 KiB of each by
  default): the request's ``postData`` (``mimeType``, ``text``) and the response's
  ``content.text``.  A body that is text per its ``Content-Type`` charset is the decoded text; a
  binary one is base64, marked ``encoding: "base64"`` on the response content (HAR's own field)
  and ``_encoding: "base64"`` on ``postData`` (HAR has no such field there).  A truncated body
  has ``_truncated: true`` and a ``comment`` giving how much of how many bytes is there; a body
  the log's budget dropped has no text, ``_dropped: true`` and a ``comment``.  With bodies not
  recorded, ``postData`` and ``content.text`` are absent.  ``content.size`` is the number of body
  bytes the app produced; the request's ``bodySize`` is its full size (``Content-Length``; -1
  when unknown).
- The log has no per-phase timings: the whole server-side duration is reported as ``wait``,
  ``send`` and ``receive`` are 0, and ``connect``/``ssl``/``dns`` are -1 (not known).
- ``headersSize`` is -1 (the raw header block is not kept).
- The URL is rebuilt from the listener's scheme and the request's ``Host`` header (the listener's
  address when the client sent none).
- Extra facts go in the underscore-prefixed custom fields HAR allows: ``_listener``,
  ``_clientAddress``, ``_clientPort``, ``_tls`` and ``_error``.

Both keep what the client sent exactly as the record holds it (JSON escapes control characters,
and ``launcher.recordformat.to_json`` also the DEL, C1 and line-separator characters that
``json.dumps`` would leave raw), so one JSON Lines record is always one line.

Files are written to a temporary file beside the target and renamed into place, so a failed
export never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from launcher import __version__
from launcher.recordformat import format_iso, to_json
from launcher.requestlog import Body, RequestRecord

HAR_VERSION = "1.2"
CREATOR_NAME = "Flask HTTPS Launcher"


def _headers(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def _request_cookies(record: RequestRecord) -> list[dict[str, Any]]:
    cookies: list[dict[str, Any]] = []
    for name, value in record.request_headers:
        if name.lower() != "cookie":
            continue
        for part in value.split(";"):
            key, sep, val = part.strip().partition("=")
            if key and sep:
                cookies.append({"name": key, "value": val})
    return cookies


def _response_cookies(record: RequestRecord) -> list[dict[str, Any]]:
    cookies: list[dict[str, Any]] = []
    for name, value in record.response_headers:
        if name.lower() != "set-cookie":
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value)
        except CookieError:
            key, _, rest = value.partition("=")
            cookies.append({"name": key.strip(), "value": rest.split(";", 1)[0]})
            continue
        for morsel in jar.values():
            cookie: dict[str, Any] = {"name": morsel.key, "value": morsel.value}
            if morsel["path"]:
                cookie["path"] = morsel["path"]
            if morsel["domain"]:
                cookie["domain"] = morsel["domain"]
            if morsel["expires"]:
                cookie["expires"] = morsel["expires"]
            cookie["httpOnly"] = bool(morsel["httponly"])
            cookie["secure"] = bool(morsel["secure"])
            cookies.append(cookie)
    return cookies


def record_url(record: RequestRecord, default_host: str = "127.0.0.1") -> str:
    """The absolute URL of the request: listener scheme, Host header, path and query."""
    host = record.header("Host") or default_host
    return f"{record.listener}://{host}{record.target}"


def _status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _int_or(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _body_note(body: Body) -> str | None:
    """The ``comment`` for a body that is not all there, else None."""
    if body.dropped:
        return f"body dropped from the log's memory budget (it was {body.size} bytes)"
    if body.truncated:
        return f"the first {len(body.data or b'')} of {body.size} bytes"
    return None


def _post_data(record: RequestRecord) -> dict[str, Any] | None:
    """HAR ``postData`` for the recorded request body (None: not recorded, or no body)."""
    body = record.request_body
    if body is None or body.size == 0:
        return None
    mime = record.header("Content-Type") or ""
    exported = body.export(mime)
    post: dict[str, Any] = {"mimeType": mime, "text": exported.get("text", "")}
    if "encoding" in exported:
        post["_encoding"] = exported["encoding"]
    return _mark(post, body)


def _content(record: RequestRecord) -> dict[str, Any]:
    """HAR ``response.content``: size, MIME type and, when recorded, the text."""
    mime = record.header("Content-Type", response=True) or ""
    content: dict[str, Any] = {"size": record.response_bytes, "mimeType": mime}
    body = record.response_body
    if body is None:
        return content
    exported = body.export(mime)
    if "text" in exported:
        content["text"] = exported["text"]
    if "encoding" in exported:
        content["encoding"] = exported["encoding"]
    return _mark(content, body)


def _mark(target: dict[str, Any], body: Body) -> dict[str, Any]:
    """Add the ``comment``, ``_truncated`` and ``_dropped`` of a body that is not all there."""
    note = _body_note(body)
    if note is not None:
        target["comment"] = note
    if body.truncated:
        target["_truncated"] = True
    if body.dropped:
        target["_dropped"] = True
    return target


def har_entry(record: RequestRecord) -> dict[str, Any]:
    """One HAR 1.2 ``entries[]`` object for *record*."""
    http_version = record.http_version or "HTTP/1.1"
    location = record.header("Location", response=True) or ""
    entry: dict[str, Any] = {
        "startedDateTime": format_iso(record.time),
        "time": round(record.duration_ms, 3),
        "request": {
            "method": record.method,
            "url": record_url(record),
            "httpVersion": http_version,
            "cookies": _request_cookies(record),
            "headers": _headers(record.request_headers),
            "queryString": [
                {"name": k, "value": v} for k, v in parse_qsl(record.query, keep_blank_values=True)
            ],
            "headersSize": -1,
            "bodySize": (
                record.request_body.size
                if record.request_body is not None and record.request_body.size
                else _int_or(record.header("Content-Length"), -1)
            ),
        },
        "response": {
            "status": record.status,
            "statusText": _status_text(record.status),
            "httpVersion": http_version,
            "cookies": _response_cookies(record),
            "headers": _headers(record.response_headers),
            "content": _content(record),
            "redirectURL": location,
            "headersSize": -1,
            "bodySize": record.response_bytes,
        },
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "ssl": -1,
            "send": 0,
            "wait": round(record.duration_ms, 3),
            "receive": 0,
        },
        "connection": str(record.client_port),
        "_listener": record.listener,
        "_clientAddress": record.client_addr,
        "_clientPort": record.client_port,
        "_tls": (
            {"version": record.tls_version, "cipher": record.tls_cipher} if record.tls_version else None
        ),
    }
    post = _post_data(record)
    if post is not None:
        entry["request"]["postData"] = post
    if record.error:
        entry["_error"] = record.error
    if record.worker:
        entry["_worker"] = record.worker
    return entry


def to_har(records: Iterable[RequestRecord]) -> dict[str, Any]:
    """A complete HAR 1.2 document (``{"log": ...}``) for *records*, in the given order."""
    return {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": CREATOR_NAME, "version": __version__},
            "pages": [],
            "entries": [har_entry(r) for r in records],
        }
    }


def _write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def write_har(records: Iterable[RequestRecord], path: str | os.PathLike[str]) -> int:
    """Write *records* as a HAR 1.2 file at *path*; returns the number of entries written."""
    document = to_har(records)
    _write_atomic(path, to_json(document, indent=2) + "\n")
    return len(document["log"]["entries"])


def jsonl_lines(records: Iterable[RequestRecord]) -> Iterable[str]:
    """One compact JSON object per record (``RequestRecord.to_dict()`` plus ``url``), no line break."""
    for record in records:
        data = record.to_dict()
        data["url"] = record_url(record)
        yield to_json(data)


def write_jsonl(records: Iterable[RequestRecord], path: str | os.PathLike[str]) -> int:
    """Write *records* as JSON Lines at *path*; returns the number of lines written."""
    lines = list(jsonl_lines(records))
    _write_atomic(path, "".join(line + "\n" for line in lines))
    return len(lines)
