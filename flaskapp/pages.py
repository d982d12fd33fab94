"""The scheme pages (/, /inspect, /tls, /hsts) and the input pages (/methods, /echo)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from markupsafe import escape

from flaskapp.facts import HEADLINE, HSTS_KEY, LISTENER_KEY, host_name, inspect_facts, is_ip_host, transport

bp = Blueprint("pages", __name__)

#: Request headers the /methods echo reports (values shown as sent, except the secrets below).
HEADERS_OF_INTEREST = (
    "Host",
    "Content-Type",
    "Content-Length",
    "Accept",
    "Origin",
    "Referer",
    "Sec-Fetch-Site",
    "Sec-Fetch-Mode",
    "Sec-Fetch-Dest",
    "X-CSRF-Token",
    "Cookie",
    "User-Agent",
)
ECHO_BODY_LIMIT = 4096  # characters of the body shown back


@bp.get("/")
def index() -> str:
    facts = inspect_facts(request)
    return render_template("index.html", facts=facts, headline=facts["summary"])


@bp.get("/inspect")
def inspect() -> Response:
    return jsonify(inspect_facts(request))


@bp.get("/tls")
def tls() -> str:
    return render_template("tls.html", facts=inspect_facts(request))


@bp.get("/hsts")
def hsts() -> str:
    header = request.environ.get(HSTS_KEY)
    return render_template(
        "hsts.html",
        header=header,
        transport=transport(request.environ),
        under_launcher=request.environ.get(LISTENER_KEY) is not None,
        host=host_name(request),
        ip_host=is_ip_host(request),
    )


@bp.route("/echo", methods=["GET", "POST"])
def echo() -> str:
    text = request.form.get("text") if request.method == "POST" else None
    return render_template(
        "echo.html",
        default='<script>alert("hello")</script>',
        text=text,
        escaped=str(escape(text)) if text is not None else None,
    )


@bp.get("/methods")
def methods() -> str:
    return render_template("methods.html", headline=HEADLINE[transport(request.environ)])


def _shown_header(name: str, value: str) -> str:
    if name == "X-CSRF-Token":
        return f"(present, {len(value)} characters)"
    if name == "Cookie":  # names only: echoing values to script would defeat HttpOnly
        names = [part.split("=", 1)[0].strip() for part in value.split(";") if part.strip()]
        return "names only: " + ", ".join(names)
    return value


@bp.route("/methods/echo", methods=["GET", "POST", "PUT", "DELETE"])
def methods_echo() -> Response:
    """Echo what arrived, as JSON. Bodies are shown as text, cut at ECHO_BODY_LIMIT characters."""
    raw = request.get_data(cache=True)
    body = raw.decode("utf-8", errors="replace")
    headers = {
        name: _shown_header(name, request.headers[name])
        for name in HEADERS_OF_INTEREST
        if name in request.headers
    }
    doc: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "args": request.args.to_dict(flat=False),
        "headers": headers,
        "body": body[:ECHO_BODY_LIMIT],
        "body_bytes": len(raw),
        "body_truncated": len(body) > ECHO_BODY_LIMIT,
        "scheme": request.scheme,
        "listener": request.environ.get(LISTENER_KEY),
    }
    return jsonify(doc)
