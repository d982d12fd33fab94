"""Apps and a client for the body-recording tests (imported by name: tests/ is on sys.path).

``body_app`` is a small Flask app: ``POST /items`` validates a JSON body and answers 400 with a
JSON reason (the case bodies in the log exist for); ``POST /sha`` reads its body with
``request.get_data()`` (werkzeug's ``readinto`` path) and answers its length and sha256;
``POST /echo`` answers the body it got with the request's ``Content-Type``.  ``wsgi_reader`` reads
``wsgi.input`` the ways a plain WSGI app may (``read(n)``, ``readline``, iteration) and answers
the sha256 of what it read.
"""

from __future__ import annotations

import hashlib
import http.client
import ssl
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request


def body_app() -> Flask:
    app = Flask("bodyapp")

    @app.post("/items")
    def items() -> Any:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("qty"), int):
            return jsonify(error="qty must be a whole number", got=data), 400
        return jsonify(ok=True), 201

    @app.post("/sha")
    def sha() -> Any:
        data = request.get_data()
        return f"{len(data)} {hashlib.sha256(data).hexdigest()}"

    @app.post("/echo")
    def echo() -> Response:
        return Response(request.get_data(), content_type=request.content_type)

    @app.get("/big")
    def big() -> Response:
        return Response((b"x" * 1000 for _ in range(100)), content_type="text/plain")

    return app


def wsgi_reader(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Reads the body as ``?how=`` says: ``read`` (read(7) until EOF), ``readline``, ``iter``, or
    ``mixed`` (a line, read(3), then iteration); answers ``<length> <sha256>``."""
    stream = environ["wsgi.input"]
    how = environ.get("QUERY_STRING", "")
    parts: list[bytes] = []
    if how == "read":
        while chunk := stream.read(7):
            parts.append(chunk)
    elif how == "readline":
        while line := stream.readline():
            parts.append(line)
    elif how == "iter":
        parts.extend(stream)
    else:
        parts += [stream.readline(), stream.read(3)]
        parts.extend(iter(stream))
    data = b"".join(parts)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()]


def post(
    port: int,
    path: str,
    body: bytes,
    content_type: str,
    context: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    """POST *body* to 127.0.0.1 (HTTPS with *context*, else HTTP); (status, response body)."""
    conn: http.client.HTTPConnection
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    else:
        conn = http.client.HTTPSConnection("localhost", port, timeout=10, context=context)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
