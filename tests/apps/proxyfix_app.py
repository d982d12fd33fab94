"""An app deployed the usual way behind a TLS-terminating proxy: ``ProxyFix`` with a proxy count,
a Secure session cookie, https as the preferred scheme, and (optionally) its own HTTP→HTTPS
redirect, as Flask-Talisman-style apps do.  ``create_app(proxies=2)`` is the off-by-one set-up.
"""

from __future__ import annotations

from flask import Flask, redirect, request, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response


def create_app(proxies: int = 1, force_https: bool = False, secure_cookie: bool = True) -> Flask:
    """The app, with ``ProxyFix(x_for=proxies, x_proto=proxies, x_host=proxies)``."""
    app = Flask(__name__)
    app.secret_key = "proxyfix-app-test-only"
    app.config.update(SESSION_COOKIE_SECURE=secure_cookie, PREFERRED_URL_SCHEME="https")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    if force_https:

        @app.before_request
        def to_https() -> Response | None:
            if not request.is_secure:
                return redirect(request.url.replace("http://", "https://", 1), code=308)
            return None

    @app.get("/")
    def index() -> str:
        session["seen"] = True
        return f"{request.scheme} {url_for('index', _external=True)} {request.remote_addr}"

    return app


app = create_app()
