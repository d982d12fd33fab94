"""/login: a demo user, a hashed password and a session cookie whose flags are shown live.

The session is Flask's signed cookie. It is made permanent at login, so it lasts
PERMANENT_SESSION_LIFETIME (15 minutes) after the last request: Flask re-sends the cookie with a
fresh expiry on every response (SESSION_REFRESH_EACH_REQUEST), and rejects a cookie whose signature
is older than the lifetime, whatever the browser does with Expires.

Limits: one demo user, kept in memory; no lockout or rate limit. Not a template for real accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from flaskapp.facts import host_name, is_ip_host, transport

bp = Blueprint("login", __name__)

DEMO_USER = "demo"
DEMO_PASSWORD = "demo"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _duration(seconds: float) -> str:
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{int(seconds)} seconds"


def _cookie_facts() -> dict[str, object]:
    cfg = current_app.config
    lifetime = current_app.permanent_session_lifetime
    name = cfg["SESSION_COOKIE_NAME"]
    return {
        "name": name,
        "secure": bool(cfg["SESSION_COOKIE_SECURE"]),
        "httponly": bool(cfg["SESSION_COOKIE_HTTPONLY"]),
        "samesite": cfg["SESSION_COOKIE_SAMESITE"] or "not set",
        "lifetime": _duration(lifetime.total_seconds()),
        "refresh": bool(cfg["SESSION_REFRESH_EACH_REQUEST"]),
        "sent": name in request.cookies,
    }


def _render(error: str | None = None, status: int = 200) -> tuple[str, int]:
    user = session.get("user")
    now = datetime.now(UTC)
    expires = now + current_app.permanent_session_lifetime if user and session.permanent else None
    host = host_name(request)
    return (
        render_template(
            "login.html",
            user=user,
            login_at=session.get("login_at"),
            expires=expires.strftime("%H:%M:%S UTC") if expires else None,
            cookie=_cookie_facts(),
            transport=transport(request.environ),
            is_secure=request.is_secure,
            loopback=host in LOOPBACK_NAMES or host.endswith(".localhost"),
            ip_host=is_ip_host(request),
            just_logged_in=request.args.get("just") == "in",
            demo_user=DEMO_USER,
            demo_password=DEMO_PASSWORD,
            hash_method=current_app.config["DEMO_PASSWORD_HASH"].split("$", 1)[0],
            error=error,
        ),
        status,
    )


@bp.get("/login")
def login_page() -> tuple[str, int]:
    return _render()


@bp.post("/login")
def login() -> Response | tuple[str, int]:
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    # Check the hash even for an unknown user, so the answer takes the same time either way.
    good = check_password_hash(current_app.config["DEMO_PASSWORD_HASH"], password)
    if username != DEMO_USER or not good:
        return _render(error="Wrong user name or password.", status=400)
    session.clear()
    session["user"] = DEMO_USER
    session["login_at"] = datetime.now(UTC).strftime("%H:%M:%S UTC")
    session.permanent = True
    return redirect(url_for("login.login_page", just="in"), code=303)


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("login.login_page"), code=303)
