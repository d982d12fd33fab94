"""Response security headers and a small CSRF guard (no extra dependency).

CSRF design (signed double-submit, bound to the browser): each browser gets a random secret in its
own HttpOnly, SameSite=Lax cookie; a form's token is HMAC-SHA256(SECRET_KEY, cookie name + secret).
A POST/PUT/DELETE/PATCH must carry the token (form field ``csrf_token`` or header ``X-CSRF-Token``)
that matches the cookie it arrived with, else it gets a 400 that says which part was missing.

Why not keep the secret in the Flask session: the session cookie is ``Secure``, and a browser does
not keep or send a Secure cookie over plain http:// (loopback hosts aside), so every form on the
HTTP listener would fail. The CSRF cookie is therefore per scheme: ``csrf`` (not Secure) over HTTP,
and ``__Host-csrf`` (Secure, host-only) over HTTPS, so a cookie injected over plain HTTP can never
satisfy a check on HTTPS.

Limits: tokens do not expire on their own; they last as long as the browser keeps the cookie (the
browser session). A token only proves same-origin intent; it is no substitute for authentication.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from flask import Flask, Response, g, request
from werkzeug.exceptions import BadRequest

CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_COOKIE_HTTP = "csrf"
CSRF_COOKIE_HTTPS = "__Host-csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


class CSRFError(BadRequest):
    """A state-changing request without a valid CSRF token (HTTP 400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(description=reason)
        self.reason = reason


def csrf_cookie_name() -> str:
    return CSRF_COOKIE_HTTPS if request.is_secure else CSRF_COOKIE_HTTP


def _token_for(secret: str, cookie_name: str, key: bytes) -> str:
    return hmac.new(key, f"{cookie_name}:{secret}".encode(), hashlib.sha256).hexdigest()


def _secret_key() -> bytes:
    from flask import current_app

    key = current_app.secret_key
    return key if isinstance(key, bytes) else str(key).encode()


def _cookie_secret() -> str | None:
    value = request.cookies.get(csrf_cookie_name(), "")
    return value if _SECRET_RE.match(value) else None


def csrf_token() -> str:
    """The token for this browser's CSRF cookie; makes the cookie (set after the view) if needed."""
    secret = g.get("csrf_secret") or _cookie_secret()
    if secret is None:
        secret = secrets.token_urlsafe(32)
        g.csrf_new = True
    g.csrf_secret = secret
    return _token_for(secret, csrf_cookie_name(), _secret_key())


def check_csrf() -> None:
    """Reject an unsafe-method request whose token is missing or does not match its cookie."""
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return  # unknown URLs and wrong methods get their own 404/405
    secret = _cookie_secret()
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        request.get_data(cache=True)  # keep the raw body readable for the echo pages
        sent = request.form.get(CSRF_FIELD)
    if secret is None:
        raise CSRFError(
            f"Your browser did not send the CSRF cookie ({csrf_cookie_name()}). "
            "Load the form again (cookies must be enabled) and resend it."
        )
    if not sent:
        raise CSRFError("The request carried no CSRF token. Load the form again and resend it.")
    if not hmac.compare_digest(sent.encode(), _token_for(secret, csrf_cookie_name(), _secret_key()).encode()):
        raise CSRFError(
            "The CSRF token does not match this browser's CSRF cookie (a stale form, or a form from "
            "another site). Load the form again and resend it."
        )


def _after_request(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if request.endpoint != "static":
        # Every page shows facts about this very request; a cached copy would show stale ones.
        response.headers["Cache-Control"] = "no-store"
    if g.get("csrf_new"):
        response.set_cookie(
            csrf_cookie_name(),
            g.csrf_secret,
            path="/",
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    return response


def init_app(app: Flask) -> None:
    """Install the CSRF check, the security headers and the ``csrf_token()`` template helper."""
    app.before_request(check_csrf)
    app.after_request(_after_request)
    app.jinja_env.globals["csrf_token"] = csrf_token
