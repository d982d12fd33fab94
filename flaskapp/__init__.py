"""The bundled demo Flask app: pages that show whether a request came over HTTP or HTTPS, and why.

``create_app(config)`` builds a fresh app. Pages: ``/`` (the verdict and Flask's evidence),
``/inspect`` (the same as JSON; the launcher's inspector does not need it: it captures what any
app saw itself, see ``launcher.appview``), ``/tls``, ``/hsts``, ``/methods``,
``/redirect/<code>``, ``/login`` and ``/echo``. The app behaves the same under both listeners.

Security defaults: a random SECRET_KEY per process unless the config gives one; DEBUG is forced off
(the Werkzeug debugger is never reachable); the session cookie is Secure, HttpOnly, SameSite=Lax and
lasts 15 minutes after the last request; every response carries a strict Content-Security-Policy and
``X-Content-Type-Options: nosniff``; forms are CSRF-protected (see ``flaskapp.security``).
Bodies are capped at 1 MiB (MAX_CONTENT_LENGTH).
"""

from __future__ import annotations

import secrets
import traceback
from datetime import timedelta
from typing import Any

from flask import Flask, got_request_exception, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.security import generate_password_hash

from flaskapp import login, pages, redirects, security
from flaskapp.facts import transport
from flaskapp.security import CSRFError

__all__ = ["CSRFError", "create_app"]

SESSION_LIFETIME = timedelta(minutes=15)
#: Environ key where the launcher's request log looks for the traceback of a failed request.
ERROR_ENVIRON_KEY = "launcher.error"

DEFAULTS: dict[str, Any] = {
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": SESSION_LIFETIME,
    "SESSION_REFRESH_EACH_REQUEST": True,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the demo app. ``config`` overrides the defaults; DEBUG is always forced off."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config["SECRET_KEY"] = secrets.token_bytes(32)
    app.config.update(config or {})
    app.config["DEBUG"] = False
    app.debug = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    if "DEMO_PASSWORD_HASH" not in app.config:
        app.config["DEMO_PASSWORD_HASH"] = generate_password_hash(login.DEMO_PASSWORD)

    security.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(redirects.bp)
    app.register_blueprint(login.bp)
    app.register_error_handler(HTTPException, _http_error)
    got_request_exception.connect(_keep_traceback, app)
    app.context_processor(lambda: {"conn_transport": transport(request.environ)})
    return app


def _http_error(error: HTTPException) -> Any:
    """Every HTTP error as a short page (or JSON for fetch callers), with a link home."""
    code = error.code or 500
    if code < 400:  # RequestRedirect and friends carry their own response
        return error
    wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    csrf = isinstance(error, CSRFError)
    message = error.description or ""
    if wants_json:
        return {"error": error.name, "status": code, "csrf": csrf, "message": message}, code
    return render_template("error.html", code=code, name=error.name, message=message, csrf=csrf), code


def _keep_traceback(sender: Flask, exception: BaseException, **_: Any) -> None:
    request.environ[ERROR_ENVIRON_KEY] = "".join(traceback.format_exception(exception))
