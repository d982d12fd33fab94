"""/redirect/<code>: what 301, 302, 303, 307 and 308 do to a POST, with a live demo.

The demo form POSTs to /redirect/<code>/go, which answers with that status and a Location pointing
at /redirect/arrived?via=<code>; the arrived page shows the method and body the browser sent there.
Redirect responses carry ``Cache-Control: no-store`` so a browser never replays a cached 301/308
instead of asking this server.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from flaskapp.security import CSRF_FIELD

bp = Blueprint("redirects", __name__, url_prefix="/redirect")


@dataclass(frozen=True)
class RedirectCode:
    code: int
    name: str
    permanent: bool
    keeps_post: bool  # method and body kept when a browser follows it after a POST
    note: str


CODES: dict[int, RedirectCode] = {
    c.code: c
    for c in (
        RedirectCode(
            301,
            "Moved Permanently",
            True,
            False,
            "Browsers turn a POST into a GET and drop the body (a historical habit the spec now allows; "
            "PUT and DELETE keep their method). Browsers may cache it.",
        ),
        RedirectCode(
            302,
            "Found",
            False,
            False,
            "Same as 301 in practice: a POST becomes a GET without its body. Temporary, not cached.",
        ),
        RedirectCode(
            303,
            "See Other",
            False,
            False,
            "Always a GET (only HEAD stays HEAD), body dropped, whatever the method was. Made for "
            "Post/Redirect/Get: answer a form POST with 303 to a page that is safe to reload.",
        ),
        RedirectCode(
            307,
            "Temporary Redirect",
            False,
            True,
            "Method and body are kept: a POST is sent again, with the same body, to the new URL.",
        ),
        RedirectCode(
            308,
            "Permanent Redirect",
            True,
            True,
            "Like 307 (method and body kept), but permanent and cacheable, like 301. The right choice "
            "for moving an API or for HTTP to HTTPS redirects.",
        ),
    )
}


def _code_or_404(code: int) -> RedirectCode:
    if code not in CODES:
        abort(404, description=f"No demo for status {code}. Try one of: {', '.join(map(str, CODES))}.")
    return CODES[code]


@bp.get("/<int:code>")
def explain(code: int) -> str:
    return render_template("redirect.html", current=_code_or_404(code), codes=CODES.values())


@bp.route("/<int:code>/go", methods=["GET", "POST"])
def go(code: int) -> Response:
    _code_or_404(code)
    response = redirect(url_for("redirects.arrived", via=code), code=code)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/arrived", methods=["GET", "POST", "PUT", "DELETE"])
def arrived() -> str:
    via = request.args.get("via", type=int)
    raw = request.get_data(cache=True)
    fields = [
        (name, "(the CSRF token, kept)" if name == CSRF_FIELD else value)
        for name, value in request.form.items(multi=True)
    ]
    kept = bool(raw)
    return render_template(
        "redirect_arrived.html",
        via=CODES.get(via) if via is not None else None,
        method=request.method,
        fields=fields,
        body_bytes=len(raw),
        content_type=request.content_type,
        kept=kept,
        codes=CODES.values(),
    )
