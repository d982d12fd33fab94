"""The bundled demo app: every page under HTTP and HTTPS, CSRF, cookies, redirects, CSP.

Two layers. First Flask's test client, with the environ the launcher's listeners provide
(``launcher.listener`` and the ``SSL_*`` keys) so both schemes are covered without sockets. Then
one real ``Servers`` pair on loopback port 0 (module-scoped, shared by all real-socket tests) that
every page is fetched from over http:// and https://, with certificate verification on.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import http.cookiejar
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from itsdangerous import TimestampSigner
from werkzeug.security import generate_password_hash

from flaskapp import create_app
from flaskapp.security import CSP

HTTPS_ENVIRON = {
    "launcher.listener": "https",
    "HTTPS": "on",
    "SSL_PROTOCOL": "TLSv1.3",
    "SSL_CIPHER": "TLS_AES_256_GCM_SHA384",
    "SSL_CIPHER_USEKEYSIZE": "256",
    "SSL_TLS_SNI": "localhost",
    "SSL_ALPN_PROTOCOL": "http/1.1",
}
HTTP_ENVIRON = {"launcher.listener": "http"}
HEADLINE = {
    "https": "This page came to you over HTTPS.",
    "http": "This page came to you over plain HTTP.",
}
CONTRACT_KEYS = [
    "scheme",
    "is_secure",
    "url_root",
    "host",
    "server_port",
    "url_for_external",
    "wsgi_url_scheme",
    "remote_addr",
    "listener",
    "x_forwarded_proto",
    "tls",
]
PAGES = [
    "/",
    "/tls",
    "/hsts",
    "/methods",
    "/echo",
    "/login",
    "/redirect/301",
    "/redirect/302",
    "/redirect/303",
    "/redirect/307",
    "/redirect/308",
]
CODES = (301, 302, 303, 307, 308)
KEEPS_POST = {301: False, 302: False, 303: False, 307: True, 308: True}

# One scrypt hash for the module: create_app() would otherwise make a new one each time.
PASSWORD_HASH = generate_password_hash("demo")


def make_app(**config: Any) -> Flask:
    return create_app({"DEMO_PASSWORD_HASH": PASSWORD_HASH, **config})


@pytest.fixture(scope="module")
def app() -> Flask:
    return make_app()


class Visitor:
    """A test client that looks like a browser on one listener (base URL plus listener environ)."""

    def __init__(self, app: Flask, scheme: str, host: str | None = None) -> None:
        self.app = app
        self.scheme = scheme
        self.client = app.test_client()
        port = 8443 if scheme == "https" else 8080
        self.base_url = f"{scheme}://{host or 'localhost'}:{port}"
        self.environ = dict(HTTPS_ENVIRON if scheme == "https" else HTTP_ENVIRON)

    def open(self, path: str, method: str = "GET", environ: dict[str, Any] | None = None, **kw: Any):
        return self.client.open(
            path,
            method=method,
            base_url=self.base_url,
            environ_overrides={**self.environ, **(environ or {})},
            **kw,
        )

    def get(self, path: str, **kw: Any):
        return self.open(path, "GET", **kw)

    def post(self, path: str, **kw: Any):
        return self.open(path, "POST", **kw)

    def token(self, path: str = "/echo") -> str:
        """Load a form page and return its CSRF token (the cookie lands in this client's jar)."""
        return csrf_token_in(self.get(path).get_data(as_text=True))


def csrf_token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


@pytest.fixture(params=["http", "https"])
def visitor(request: pytest.FixtureRequest, app: Flask) -> Visitor:
    return Visitor(app, request.param)


@pytest.fixture
def https(app: Flask) -> Visitor:
    return Visitor(app, "https")


@pytest.fixture
def plain(app: Flask) -> Visitor:
    return Visitor(app, "http")


@dataclass
class SetCookie:
    name: str
    value: str
    attrs: dict[str, str | None]

    def has(self, attr: str) -> bool:
        return attr.lower() in self.attrs


def parse_set_cookies(headers: list[str]) -> dict[str, SetCookie]:
    cookies = {}
    for header in headers:
        first, *params = header.split(";")
        name, _, value = first.strip().partition("=")
        attrs: dict[str, str | None] = {}
        for param in params:
            key, sep, val = param.strip().partition("=")
            attrs[key.lower()] = val if sep else None
        cookies[name] = SetCookie(name, value, attrs)
    return cookies


BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "tr", "th", "td", "h1", "h2", "table", "pre", "nav", "header", "footer"}
)


class PageAudit(HTMLParser):
    """Collects links and anything a strict CSP would block: inline scripts, styles, handlers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: set[str] = set()
        self.scripts: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "a" and values.get("href"):
            self.links.add(values["href"] or "")
        if tag in BLOCK_TAGS:
            self.text.append(" ")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self._in_script = True
            if not values.get("src"):
                self.problems.append("<script> without src")
            else:
                self.scripts.append(values["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        if tag in BLOCK_TAGS:
            self.text.append(" ")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script body: {data.strip()[:40]!r}")
        self.text.append(data)


def audit(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    parser.close()
    return parser


def text_of(html: str) -> str:
    """The page's visible text with whitespace collapsed (for sentence checks)."""
    return " ".join("".join(audit(html).text).split())


def check_headers(response: Any) -> None:
    assert response.headers["Content-Security-Policy"] == CSP
    assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert "form-action 'self'" in CSP and "base-uri 'none'" in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def check_page(response: Any) -> PageAudit:
    """A page is served with the security headers, links home and holds nothing a CSP blocks."""
    check_headers(response)
    assert response.mimetype == "text/html"
    page = audit(response.get_data(as_text=True))
    assert page.problems == []
    assert "/" in page.links
    return page


# --------------------------------------------------------------------------- / and /inspect


def test_index_says_which_scheme_in_one_sentence(visitor: Visitor) -> None:
    html = visitor.get("/").get_data(as_text=True)
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert h1 and h1.group(1).strip() == HEADLINE[visitor.scheme]
    other = HEADLINE["http" if visitor.scheme == "https" else "https"]
    assert other not in html
    text = text_of(html)
    assert f"request.scheme {visitor.scheme}" in text
    assert f"request.is_secure {visitor.scheme == 'https'}" in text
    assert f"Listener (launcher.listener) {visitor.scheme}" in text
    port = 8443 if visitor.scheme == "https" else 8080
    assert f"Host (request.host) localhost:{port}" in text
    assert f"Server port (SERVER_PORT) {port}" in text
    if visitor.scheme == "https":
        assert "TLS version TLSv1.3" in text
        assert "Cipher TLS_AES_256_GCM_SHA384" in text
    else:
        assert "TLS none: this connection is not encrypted" in text
        assert "TLSv1" not in text


def test_index_links_every_demo_page(visitor: Visitor) -> None:
    page = check_page(visitor.get("/"))
    assert {"/inspect", *PAGES} <= page.links


def test_inspect_keys_and_values_https(https: Visitor) -> None:
    doc = https.get("/inspect").get_json()
    assert list(doc)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert doc["scheme"] == "https" and doc["is_secure"] is True
    assert doc["url_root"] == "https://localhost:8443/"
    assert doc["host"] == "localhost:8443"
    assert doc["server_port"] == 8443
    assert doc["url_for_external"] == "https://localhost:8443/"
    assert doc["wsgi_url_scheme"] == "https"
    assert doc["remote_addr"] == "127.0.0.1"
    assert doc["listener"] == "https"
    assert doc["x_forwarded_proto"] is None
    assert doc["tls"] == {
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "sni": "localhost",
        "alpn": "http/1.1",
        "cipher_bits": 256,
    }
    assert doc["transport"] == "https" and doc["flask_agrees"] is True
    assert doc["summary"] == HEADLINE["https"]


def test_inspect_keys_and_values_http(plain: Visitor) -> None:
    response = plain.get("/inspect")
    check_headers(response)
    doc = response.get_json()
    assert list(doc)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert (doc["scheme"], doc["is_secure"], doc["wsgi_url_scheme"]) == ("http", False, "http")
    assert doc["url_root"] == doc["url_for_external"] == "http://localhost:8080/"
    assert (doc["server_port"], doc["listener"], doc["tls"]) == (8080, "http", None)
    assert doc["summary"] == HEADLINE["http"]
    assert doc["hsts"] is None


def test_inspect_reports_forwarded_proto_as_received(plain: Visitor) -> None:
    doc = plain.get("/inspect", headers={"X-Forwarded-Proto": "https"}).get_json()
    assert doc["x_forwarded_proto"] == "https"
    assert doc["scheme"] == "http"  # a header alone changes nothing: only a trusted-proxy setting does


def test_flask_disagreeing_with_the_transport_is_explained(plain: Visitor) -> None:
    """A trusted proxy rewrote wsgi.url_scheme: the connection was HTTP, Flask thinks HTTPS."""
    trusted = {"wsgi.url_scheme": "https", "HTTP_X_FORWARDED_PROTO": "https"}
    doc = plain.get("/inspect", environ=trusted).get_json()
    assert (doc["scheme"], doc["is_secure"], doc["transport"], doc["flask_agrees"]) == (
        "https",
        True,
        "http",
        False,
    )
    assert doc["summary"] == HEADLINE["http"]
    text = text_of(plain.get("/", environ=trusted).get_data(as_text=True))
    assert HEADLINE["http"] in text
    assert "But Flask thinks this request is HTTPS" in text
    assert "X-Forwarded-Proto: https" in text
    assert "But Flask thinks" not in text_of(plain.get("/").get_data(as_text=True))


@pytest.mark.parametrize(
    ("base", "environ", "expected"),
    [
        ("http://localhost:5000", {}, "http"),
        ("https://localhost:5000", {}, "https"),  # e.g. flask run --cert: the server's own scheme
        ("http://localhost:5000", {"SSL_PROTOCOL": "TLSv1.2"}, "https"),
        ("https://localhost:5000", {"launcher.listener": "http"}, "http"),  # the listener wins
    ],
)
def test_transport_without_or_with_the_launcher(app: Flask, base: str, environ: dict, expected: str) -> None:
    doc = app.test_client().get("/inspect", base_url=base, environ_overrides=environ).get_json()
    assert doc["transport"] == expected
    assert doc["summary"] == HEADLINE[expected]


# --------------------------------------------------------------------------- every page


@pytest.mark.parametrize("path", PAGES)
def test_every_page_both_schemes(visitor: Visitor, path: str) -> None:
    response = visitor.get(path)
    assert response.status_code == 200
    page = check_page(response)
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    badge = re.search(r'<span class="badge [a-z]+">(HTTPS?)</span>', html)
    assert badge and badge.group(1) == visitor.scheme.upper()
    for script in page.scripts:
        assert script.startswith("/static/")


def test_error_pages_and_static_files_carry_the_headers(visitor: Visitor) -> None:
    missing = visitor.get("/no-such-page")
    assert missing.status_code == 404
    check_page(missing)
    wrong_code = visitor.get("/redirect/300")
    assert wrong_code.status_code == 404
    assert "301, 302, 303, 307, 308" in wrong_code.get_data(as_text=True)
    check_page(wrong_code)
    assert visitor.post("/inspect").status_code == 405  # wrong method: 405, not a CSRF 400
    for name in ("style.css", "methods.js", "favicon.svg"):
        static = visitor.get(f"/static/{name}")
        assert static.status_code == 200
        check_headers(static)


def test_methods_page_loads_its_script_from_static(https: Visitor) -> None:
    page = check_page(https.get("/methods"))
    assert page.scripts == ["/static/methods.js"]
    js = https.get("/static/methods.js").get_data(as_text=True)
    assert "X-CSRF-Token" in js and "fetch(" in js


# --------------------------------------------------------------------------- CSRF


def test_csrf_missing_cookie_missing_token_wrong_token(visitor: Visitor) -> None:
    fresh = visitor.post("/echo", data={"text": "x"})
    assert fresh.status_code == 400
    check_page(fresh)
    assert "CSRF check failed" in fresh.get_data(as_text=True)
    assert "did not send the CSRF cookie" in fresh.get_data(as_text=True)

    token = visitor.token()
    no_token = visitor.post("/echo", data={"text": "x"})
    assert no_token.status_code == 400
    assert "carried no CSRF token" in no_token.get_data(as_text=True)

    wrong = visitor.post("/echo", data={"text": "x", "csrf_token": "0" * 64})
    assert wrong.status_code == 400
    assert "does not match" in wrong.get_data(as_text=True)

    good = visitor.post("/echo", data={"text": "x", "csrf_token": token})
    assert good.status_code == 200


def test_csrf_token_from_another_browser_is_refused(app: Flask) -> None:
    alice, mallory = Visitor(app, "https"), Visitor(app, "https")
    alice.token()
    stolen = mallory.token()  # the attacker's own valid token, tied to the attacker's cookie
    assert alice.post("/echo", data={"text": "x", "csrf_token": stolen}).status_code == 400


def test_csrf_http_cookie_does_not_satisfy_https(app: Flask) -> None:
    """A cookie set (or injected) over plain HTTP is not the one HTTPS checks."""
    browser = Visitor(app, "http")
    token = browser.token()
    browser.base_url, browser.environ = "https://localhost:8443", dict(HTTPS_ENVIRON)
    refused = browser.post("/echo", data={"text": "x", "csrf_token": token})
    assert refused.status_code == 400
    assert "__Host-csrf" in refused.get_data(as_text=True)


def test_csrf_on_fetch_methods_with_header_and_json_error(visitor: Visitor) -> None:
    token = visitor.token("/methods")
    for method in ("POST", "PUT", "DELETE"):
        refused = visitor.open("/methods/echo", method, headers={"Accept": "application/json"}, data="hi")
        assert refused.status_code == 400
        assert refused.get_json()["csrf"] is True
        check_headers(refused)
        ok = visitor.open("/methods/echo", method, headers={"X-CSRF-Token": token}, data="hi")
        assert ok.status_code == 200


@pytest.mark.parametrize(
    ("scheme", "name", "secure"), [("http", "csrf", False), ("https", "__Host-csrf", True)]
)
def test_csrf_cookie_flags(app: Flask, scheme: str, name: str, secure: bool) -> None:
    response = Visitor(app, scheme).get("/echo")
    cookies = parse_set_cookies(response.headers.getlist("Set-Cookie"))
    cookie = cookies[name]
    assert cookie.has("secure") is secure
    assert cookie.has("httponly")
    assert cookie.attrs.get("samesite") == "Lax"
    assert cookie.attrs.get("path") == "/"
    assert not cookie.has("domain")  # host-only, as __Host- requires


# --------------------------------------------------------------------------- /echo


@pytest.mark.parametrize(
    "payload",
    ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "</textarea><script>alert(2)</script>"],
)
def test_echo_autoescapes(https: Visitor, payload: str) -> None:
    token = https.token()
    response = https.post("/echo", data={"text": payload, "csrf_token": token})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    check_page(response)  # no tag from the payload became markup (no script, no handler)
    assert payload not in html
    escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = escaped.replace('"', "&#34;")
    assert html.count(escaped) >= 3  # textarea, raw input row, rendered row
    assert escaped.replace("&", "&amp;") in html  # row 2: the escaped text, itself shown as text
    text = text_of(html)
    assert payload in text  # what a reader sees: the payload as plain text


def test_echo_form_is_prefilled_with_a_script_payload(plain: Visitor) -> None:
    html = plain.get("/echo").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;hello&#34;)&lt;/script&gt;" in html
    assert "<script>alert" not in html


# --------------------------------------------------------------------------- /methods


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_methods_echo_reports_what_arrived(visitor: Visitor, method: str) -> None:
    token = visitor.token("/methods")
    headers = {"X-CSRF-Token": token, "Content-Type": "text/plain;charset=utf-8"}
    body = None if method == "GET" else "hello body"
    response = visitor.open("/methods/echo?q=demo&n=1&n=2", method, headers=headers, data=body)
    assert response.status_code == 200
    check_headers(response)
    doc = response.get_json()
    assert doc["method"] == method
    assert doc["path"] == "/methods/echo"
    assert doc["query"] == "q=demo&n=1&n=2"
    assert doc["args"] == {"q": ["demo"], "n": ["1", "2"]}
    assert doc["body"] == (body or "")
    assert doc["body_bytes"] == len(body or "")
    assert doc["scheme"] == visitor.scheme and doc["listener"] == visitor.scheme
    assert doc["headers"]["X-CSRF-Token"] == "(present, 64 characters)"
    assert token not in json.dumps(doc)
    # Cookie values never go back to script (that would defeat HttpOnly): names only.
    cookie_name = "__Host-csrf" if visitor.scheme == "https" else "csrf"
    assert doc["headers"]["Cookie"] == f"names only: {cookie_name}"
    if body:
        assert doc["headers"]["Content-Type"] == "text/plain;charset=utf-8"


def test_methods_echo_without_script_takes_a_form_post(plain: Visitor) -> None:
    token = plain.token("/methods")
    doc = plain.post("/methods/echo", data={"csrf_token": token, "body": "hello", "method": "PUT"}).get_json()
    assert doc["method"] == "POST"  # an HTML form cannot send PUT
    assert "body=hello" in doc["body"]


def test_methods_echo_truncates_big_bodies_and_caps_uploads(https: Visitor) -> None:
    token = https.token("/methods")
    doc = https.post("/methods/echo", headers={"X-CSRF-Token": token}, data="x" * 10_000).get_json()
    assert (len(doc["body"]), doc["body_bytes"], doc["body_truncated"]) == (4096, 10_000, True)
    too_big = https.post("/methods/echo", headers={"X-CSRF-Token": token}, data=b"x" * (1024 * 1024 + 1))
    assert too_big.status_code == 413
    check_headers(too_big)


# --------------------------------------------------------------------------- /redirect


@pytest.mark.parametrize("code", CODES)
def test_redirect_status_and_location(visitor: Visitor, code: int) -> None:
    token = visitor.token(f"/redirect/{code}")
    response = visitor.post(f"/redirect/{code}/go", data={"csrf_token": token, "message": "hi"})
    assert response.status_code == code
    assert response.headers["Location"] == f"/redirect/arrived?via={code}"
    assert response.headers["Cache-Control"] == "no-store"
    check_headers(response)


def follow_like_a_browser(visitor: Visitor, response: Any, data: dict[str, str]) -> Any:
    """One redirect step as the Fetch standard does it after a POST.

    301/302 turn a POST into a GET, 303 turns anything but HEAD into a GET, both without the body;
    307/308 re-send method and body. (Werkzeug's ``follow_redirects`` cannot re-send a body the
    app has already read, so 307/308 are followed here by hand.)
    """
    location = response.headers["Location"]
    if response.status_code in (307, 308):
        return visitor.post(location, data=data)
    return visitor.get(location)


@pytest.mark.parametrize("code", CODES)
def test_redirect_followed_keeps_or_drops_the_post(visitor: Visitor, code: int) -> None:
    token = visitor.token(f"/redirect/{code}")
    data = {"csrf_token": token, "message": "hello there"}
    if KEEPS_POST[code]:
        first = visitor.post(f"/redirect/{code}/go", data=data)
        assert first.status_code == code
        response = follow_like_a_browser(visitor, first, data)
        assert response.request.method == "POST"
    else:
        response = visitor.post(f"/redirect/{code}/go", data=data, follow_redirects=True)
        assert [r.status_code for r in response.history] == [code]
        assert response.request.method == "GET"
    assert response.status_code == 200
    check_page(response)
    text = text_of(response.get_data(as_text=True))
    if KEEPS_POST[code]:
        assert "arrived as POST with its body" in text
        assert "message hello there" in text
        assert "csrf_token (the CSRF token, kept)" in text
    else:
        assert "arrived as GET without a body: the browser switched to GET and dropped the form data" in text
        assert "hello there" not in text
    assert f"Arrived via {code}" in text
    assert (
        f"Expected for {code}: {'POST with the body' if KEEPS_POST[code] else 'GET without a body'}" in text
    )


@pytest.mark.parametrize("code", CODES)
def test_redirect_page_states_the_rule(plain: Visitor, code: int) -> None:
    text = text_of(plain.get(f"/redirect/{code}").get_data(as_text=True))
    rule = "keeps the method and the body" if KEEPS_POST[code] else "switches to GET and drops the body"
    assert f"After a POST, a browser following a {code} {rule}." in text
    form_action = f'action="/redirect/{code}/go"'
    assert form_action in plain.get(f"/redirect/{code}").get_data(as_text=True)


def test_redirect_go_needs_csrf_on_post(https: Visitor) -> None:
    assert https.post("/redirect/307/go", data={"message": "x"}).status_code == 400


# --------------------------------------------------------------------------- /login


def login(visitor: Visitor, password: str = "demo", user: str = "demo"):
    token = visitor.token("/login")
    return visitor.post("/login", data={"username": user, "password": password, "csrf_token": token})


def test_login_sets_a_secure_httponly_lax_cookie_for_15_minutes(https: Visitor) -> None:
    before = dt.datetime.now(dt.UTC)
    response = login(https)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?just=in"
    session = parse_set_cookies(response.headers.getlist("Set-Cookie"))["session"]
    assert session.has("secure") and session.has("httponly")
    assert session.attrs["samesite"] == "Lax"
    expires = parsedate_to_datetime(session.attrs["expires"] or "")
    assert dt.timedelta(minutes=14) <= expires - before <= dt.timedelta(minutes=15, seconds=5)

    page = https.get("/login?just=in")
    text = text_of(page.get_data(as_text=True))
    assert "You are logged in as demo" in text
    assert "This request carried the session cookie yes" in text
    assert "Secure yes: sent back over HTTPS only" in text
    assert "HttpOnly yes: page scripts cannot read it" in text
    assert "SameSite Lax" in text
    assert "Timeout 15 minutes after your last request" in text
    assert "plain HTTP" not in text
    # Sliding timeout: every response re-sends the cookie with a fresh expiry.
    assert "session" in parse_set_cookies(page.headers.getlist("Set-Cookie"))

    logout_token = csrf_token_in(page.get_data(as_text=True))
    out = https.post("/logout", data={"csrf_token": logout_token}, follow_redirects=True)
    assert "Not logged in." in text_of(out.get_data(as_text=True))


@pytest.mark.parametrize(("user", "password"), [("demo", "wrong"), ("root", "demo"), ("", "")])
def test_login_refuses_bad_credentials(https: Visitor, user: str, password: str) -> None:
    response = login(https, password=password, user=user)
    assert response.status_code == 400
    assert "Wrong user name or password." in response.get_data(as_text=True)
    assert "session" not in parse_set_cookies(response.headers.getlist("Set-Cookie"))


def test_login_page_shows_the_hash_not_the_password(app: Flask, https: Visitor) -> None:
    stored = app.config["DEMO_PASSWORD_HASH"]
    assert stored != "demo" and stored.startswith(("scrypt:", "pbkdf2:"))
    text = text_of(https.get("/login").get_data(as_text=True))
    assert "user demo, password demo" in text
    assert f"method {stored.split('$')[0]}" in text
    assert stored not in text


def test_login_over_http_does_not_stick(plain: Visitor) -> None:
    """The server logs in and sends a Secure cookie; a browser drops it over http://."""
    page = plain.get("/login")
    assert "You are on plain HTTP: the Secure session cookie will not come back." in text_of(
        page.get_data(as_text=True)
    )
    response = login(plain)
    assert response.status_code == 303
    session = parse_set_cookies(response.headers.getlist("Set-Cookie"))["session"]
    assert session.has("secure")
    plain.client.delete_cookie("session", domain="localhost")  # what a browser does with it over http://
    text = text_of(plain.get("/login?just=in").get_data(as_text=True))
    assert "The login worked on the server" in text
    assert "came back without it, so you are not logged in" in text
    assert "Secure flag at work on plain HTTP" in text
    assert "This request carried the session cookie no" in text


@pytest.mark.parametrize(
    ("host", "loopback"), [("localhost", True), ("127.0.0.1", True), ("192.0.2.10", False)]
)
def test_login_over_http_explains_the_loopback_exception(app: Flask, host: str, loopback: bool) -> None:
    text = text_of(Visitor(app, "http", host=host).get("/login").get_data(as_text=True))
    assert ("Chrome, Edge and Firefox treat localhost" in text) is loopback


def _session_cookie(app: Flask, age: dt.timedelta, monkeypatch: pytest.MonkeyPatch) -> str:
    """A signed session cookie for the demo user whose signature is *age* old."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    stamp = int((dt.datetime.now(dt.UTC) - age).timestamp())
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: stamp)
        return serializer.dumps({"user": "demo", "login_at": "then", "_permanent": True})


def test_session_timeout_is_15_minutes(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.permanent_session_lifetime == dt.timedelta(minutes=15)
    assert app.config["SESSION_REFRESH_EACH_REQUEST"] is True
    for age, logged_in in ((dt.timedelta(minutes=14), True), (dt.timedelta(minutes=16), False)):
        browser = Visitor(app, "https")
        browser.client.set_cookie("session", _session_cookie(app, age, monkeypatch), domain="localhost")
        text = text_of(browser.get("/login").get_data(as_text=True))
        assert ("You are logged in as demo" in text) is logged_in, age


# --------------------------------------------------------------------------- /tls and /hsts


def test_tls_page_https(https: Visitor) -> None:
    text = text_of(https.get("/tls").get_data(as_text=True))
    for fact in (
        "Protocol (SSL_PROTOCOL) TLSv1.3",
        "Cipher (SSL_CIPHER) TLS_AES_256_GCM_SHA384",
        "Key size (SSL_CIPHER_USEKEYSIZE) 256 bits",
        "Server name sent by the client (SNI) localhost",
        "Application protocol (ALPN) http/1.1",
        "Listener https",
    ):
        assert fact in text
    no_sni = text_of(https.get("/tls", environ={"SSL_TLS_SNI": None}).get_data(as_text=True))
    assert "(SNI) none" in no_sni and "No SNI" in no_sni


def test_tls_page_http(plain: Visitor) -> None:
    text = text_of(plain.get("/tls").get_data(as_text=True))
    assert "There is no TLS on this connection" in text
    assert "SSL_PROTOCOL" not in text


def test_hsts_page(app: Flask) -> None:
    on = {"launcher.hsts": "max-age=31536000"}
    https = Visitor(app, "https")
    assert "This response carries Strict-Transport-Security: max-age=31536000." in text_of(
        https.get("/hsts", environ=on).get_data(as_text=True)
    )
    assert "the launcher's HSTS option is off" in text_of(https.get("/hsts").get_data(as_text=True))
    plain = Visitor(app, "http")
    off_http = text_of(plain.get("/hsts").get_data(as_text=True))
    assert "does not carry the header" in off_http and "HTTPS responses only" in off_http
    outside = text_of(app.test_client().get("/hsts").get_data(as_text=True))
    assert "not served by the launcher" in outside
    for host, warned in (("127.0.0.1", True), ("localhost", False)):
        text = text_of(Visitor(app, "https", host=host).get("/hsts").get_data(as_text=True))
        assert "Browsers ignore HSTS for IP-address hosts" in text
        assert ("You reached this page by IP address" in text) is warned


# --------------------------------------------------------------------------- app factory


def test_secret_key_random_per_app_unless_given() -> None:
    first, second = make_app(), make_app()
    assert isinstance(first.secret_key, bytes) and len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key
    assert make_app(SECRET_KEY="given").secret_key == "given"


def test_debug_is_never_on() -> None:
    app = make_app(DEBUG=True, TESTING=False)
    assert app.debug is False and app.config["DEBUG"] is False

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    seen: dict[str, Any] = {}
    inner = app.wsgi_app

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        seen["environ"] = environ
        return inner(environ, start_response)

    app.wsgi_app = spy  # type: ignore[method-assign]
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "secret detail" not in html and "Traceback" not in html
    check_page(response)
    assert "RuntimeError: secret detail" in seen["environ"]["launcher.error"]


def test_session_cookie_defaults_and_overrides() -> None:
    app = make_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    relaxed = make_app(PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=5))
    text = text_of(Visitor(relaxed, "https").get("/login").get_data(as_text=True))
    assert "Timeout 5 minutes after your last request" in text


# =========================================================================== real sockets


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def served(cert_store: Any) -> Iterator[Any]:
    """One HTTP + HTTPS pair serving the demo app on free loopback ports, for the whole module."""
    from launcher.servers import Servers

    servers = Servers(make_app(), cert_store=cert_store, http_port=0, https_port=0, threads=4)
    errors = servers.start_all()
    assert not errors, errors
    yield servers
    servers.stop_all()


@pytest.fixture(scope="module")
def tls_client(cert_store: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cert_store.ca_cert_path))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def real_fetch(
    url: str,
    ctx: ssl.SSLContext | None = None,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request over a new connection, no redirects followed."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, context=ctx, timeout=10
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(
            method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body, headers=headers or {}
        )
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def base(served: Any, scheme: str, host: str = "127.0.0.1") -> str:
    listener = served.https if scheme == "https" else served.http
    return f"{scheme}://{host}:{listener.port}"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_real_every_page(served: Any, tls_client: ssl.SSLContext, scheme: str) -> None:
    root = base(served, scheme)
    for path in [*PAGES, "/inspect", "/static/style.css", "/static/methods.js"]:
        reply = real_fetch(root + path, tls_client)
        assert reply.status == 200, path
        assert reply.headers["Content-Security-Policy"] == CSP, path
        assert reply.headers["X-Content-Type-Options"] == "nosniff", path
        if reply.headers.get_content_type() == "text/html":
            page = audit(reply.text)
            assert page.problems == [], path
            assert "/" in page.links, path
            assert (
                f'<span class="badge {"ok" if scheme == "https" else "warn"}">{scheme.upper()}</span>'
                in reply.text
            )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_real_index_and_inspect_tell_the_scheme(served: Any, tls_client: ssl.SSLContext, scheme: str) -> None:
    root = base(served, scheme)
    port = (served.https if scheme == "https" else served.http).port
    index = real_fetch(root + "/", tls_client).text
    assert re.search(r"<h1[^>]*>(.*?)</h1>", index, re.S).group(1).strip() == HEADLINE[scheme]  # type: ignore[union-attr]
    doc = real_fetch(root + "/inspect", tls_client).json()
    assert list(doc)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert doc["scheme"] == doc["wsgi_url_scheme"] == doc["listener"] == doc["transport"] == scheme
    assert doc["is_secure"] is (scheme == "https")
    assert doc["host"] == f"127.0.0.1:{port}"
    assert doc["server_port"] == port
    assert doc["url_root"] == doc["url_for_external"] == f"{scheme}://127.0.0.1:{port}/"
    assert doc["remote_addr"] == "127.0.0.1"
    assert doc["x_forwarded_proto"] is None
    if scheme == "https":
        tls = doc["tls"]
        assert tls["version"] in ("TLSv1.2", "TLSv1.3")
        assert tls["cipher"] and ("GCM" in tls["cipher"] or "CHACHA20" in tls["cipher"])
        assert tls["alpn"] == "http/1.1"
        assert tls["sni"] is None  # no SNI for an IP literal
        text = text_of(index)
        assert f"TLS version {tls['version']}" in text and f"Cipher {tls['cipher']}" in text
    else:
        assert doc["tls"] is None


def test_real_tls_facts_match_the_client_side(served: Any, tls_client: ssl.SSLContext) -> None:
    """What /inspect reports is what the client negotiated; SNI arrives for a host name."""
    port = served.https.port
    conn = http.client.HTTPSConnection("localhost", port, context=tls_client, timeout=10)
    try:
        conn.request("GET", "/inspect")
        response = conn.getresponse()
        doc = json.loads(response.read())
        sock = conn.sock
        assert isinstance(sock, ssl.SSLSocket)
        version, cipher = sock.version(), sock.cipher()
    finally:
        conn.close()
    assert doc["tls"]["version"] == version
    assert doc["tls"]["cipher"] == cipher[0]  # type: ignore[index]
    assert doc["tls"]["sni"] == "localhost"
    assert doc["tls"]["cipher_bits"] == cipher[2]  # type: ignore[index]
    tls_text = text_of(real_fetch(f"https://localhost:{port}/tls", tls_client).text)
    assert "Your client asked for localhost" in tls_text


def _opener(ctx: ssl.SSLContext) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    """A cookie-keeping client: like a browser, it does not send Secure cookies over http://."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ctx), urllib.request.HTTPCookieProcessor(jar)
    )
    return opener, jar


def _real_login(opener: urllib.request.OpenerDirector, root: str) -> str:
    with opener.open(root + "/login", timeout=10) as resp:
        token = csrf_token_in(resp.read().decode())
    form = urllib.parse.urlencode({"username": "demo", "password": "demo", "csrf_token": token}).encode()
    with opener.open(root + "/login", data=form, timeout=10) as resp:  # follows the 303 to /login?just=in
        assert resp.url.endswith("/login?just=in")
        return text_of(resp.read().decode())


def test_real_login_sticks_over_https(served: Any, tls_client: ssl.SSLContext) -> None:
    opener, jar = _opener(tls_client)
    text = _real_login(opener, base(served, "https", "localhost"))
    assert "You are logged in as demo" in text
    session = next(c for c in jar if c.name == "session")
    assert session.secure and session.has_nonstandard_attr("HttpOnly")
    assert session.expires is not None


def test_real_login_over_http_does_not_stick(served: Any, tls_client: ssl.SSLContext) -> None:
    opener, jar = _opener(tls_client)
    text = _real_login(opener, base(served, "http", "localhost"))
    assert "came back without it, so you are not logged in" in text
    assert "This request carried the session cookie no" in text
    assert any(c.name == "session" and c.secure for c in jar)  # received, but never sent back over http


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_real_csrf_rejection(served: Any, tls_client: ssl.SSLContext, scheme: str) -> None:
    reply = real_fetch(
        base(served, scheme) + "/echo",
        tls_client,
        "POST",
        b"text=x",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 400
    assert "CSRF check failed" in reply.text
    assert reply.headers["Content-Security-Policy"] == CSP


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_real_redirects_and_methods(served: Any, tls_client: ssl.SSLContext, scheme: str) -> None:
    """Status and Location of each demo redirect, and a re-sent POST, over a real socket."""
    opener, jar = _opener(tls_client)
    root = base(served, scheme, "localhost")
    with opener.open(root + "/methods", timeout=10) as resp:
        token = csrf_token_in(resp.read().decode())
    cookie_header = "; ".join(f"{c.name}={c.value}" for c in jar)
    form = urllib.parse.urlencode({"csrf_token": token, "message": "hi"}).encode()
    form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie_header}
    for code in CODES:
        reply = real_fetch(f"{root}/redirect/{code}/go", tls_client, "POST", form, form_headers)
        assert reply.status == code
        assert reply.headers["Location"] == f"/redirect/arrived?via={code}"
    # What a browser sends after a 307/308: the same POST, body included, to the Location.
    arrived = real_fetch(f"{root}/redirect/arrived?via=308", tls_client, "POST", form, form_headers)
    assert "arrived as POST with its body" in text_of(arrived.text)
    for method in ("PUT", "DELETE"):
        headers = {"X-CSRF-Token": token, "Cookie": cookie_header, "Content-Type": "text/plain"}
        doc = real_fetch(f"{root}/methods/echo?x=1", tls_client, method, b"payload", headers).json()
        assert (doc["method"], doc["query"], doc["body"], doc["listener"]) == (
            method,
            "x=1",
            "payload",
            scheme,
        )


def test_real_hsts_page_follows_the_policy(served: Any, tls_client: ssl.SSLContext) -> None:
    url = base(served, "https", "localhost") + "/hsts"
    served.policy.hsts = 31_536_000
    try:
        reply = real_fetch(url, tls_client)
        assert reply.headers["Strict-Transport-Security"] == served.policy.hsts_value()
        assert f"This response carries Strict-Transport-Security: {served.policy.hsts_value()}." in text_of(
            reply.text
        )
    finally:
        served.policy.hsts = None
    reply = real_fetch(url, tls_client)
    assert "Strict-Transport-Security" not in reply.headers
    assert "the launcher's HSTS option is off" in text_of(reply.text)


def test_real_trusted_proxy_changes_what_flask_thinks(served: Any, tls_client: ssl.SSLContext) -> None:
    url = base(served, "http") + "/inspect"
    forwarded = {"X-Forwarded-Proto": "https"}
    doc = real_fetch(url, headers=forwarded).json()
    assert (doc["scheme"], doc["x_forwarded_proto"]) == ("http", None)  # waitress deleted the header
    served.policy.trusted_proxy = True
    try:
        doc = real_fetch(url, headers=forwarded).json()
        page = text_of(real_fetch(base(served, "http") + "/", headers=forwarded).text)
    finally:
        served.policy.trusted_proxy = False
    assert (doc["scheme"], doc["is_secure"], doc["transport"], doc["flask_agrees"]) == (
        "https",
        True,
        "http",
        False,
    )
    assert doc["x_forwarded_proto"] == "https"
    assert HEADLINE["http"] in page and "But Flask thinks this request is HTTPS" in page


# =========================================================================== real browser

NON_LOOPBACK_NAME = "demo.test"  # mapped to 127.0.0.1 inside chromium: a host that is not loopback by name


class DevTools:
    """The few Chrome DevTools Protocol calls these tests need, over a minimal WebSocket client.

    Limits: text frames only, no compression, one caller at a time; events are collected, not
    dispatched.
    """

    def __init__(self, ws_url: str) -> None:
        parts = urllib.parse.urlsplit(ws_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=15)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.last_id = 0
        self.events: list[dict[str, Any]] = []

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("DevTools closed the connection")
        return chunk

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _message(self) -> dict[str, Any]:
        data = b""
        while True:
            b1, b2 = self._read(2)
            size = b2 & 0x7F
            if size == 126:
                size = struct.unpack(">H", self._read(2))[0]
            elif size == 127:
                size = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(size)
            opcode = b1 & 0x0F
            if opcode in (0x0, 0x1):
                data += payload
                if b1 & 0x80:
                    return json.loads(data)
            elif opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        payload = json.dumps({"id": self.last_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = bytes([0x81, 0x80 | size])
        elif size < 65536:
            head = bytes([0x81, 0x80 | 126]) + struct.pack(">H", size)
        else:
            head = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", size)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            message = self._message()
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.eval(expression)
            except RuntimeError:  # the page is between documents
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.05)

    def wait_page(self, url_part: str) -> None:
        needle = json.dumps(url_part)
        self.wait_for(f"location.href.includes({needle}) && document.readyState === 'complete'")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_page(url)

    def text(self) -> str:
        return " ".join(str(self.eval("document.body.innerText")).split())

    def csp_violations(self) -> list[str]:
        return list(self.eval("window.__cspViolations || []"))


@pytest.fixture(scope="module")
def browser(
    served: Any,
    cert_store: Any,
    tmp_path_factory: pytest.TempPathFactory,
    chromium: str,
    certutil: str,
    chromium_flags: list[str],
) -> Iterator[DevTools]:
    """Headless Debian chromium that trusts the generated CA (through a temporary NSS database)."""
    home = tmp_path_factory.mktemp("browser-home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([certutil, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [
            certutil,
            "-d",
            f"sql:{nssdb}",
            "-A",
            "-t",
            "C,,",
            "-n",
            "demo-ca",
            "-i",
            str(cert_store.ca_cert_path),
        ],
        check=True,
    )
    profile = home / "profile"
    log = (home / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [
            chromium,
            *chromium_flags,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            f"--host-resolver-rules=MAP {NON_LOOPBACK_NAME} 127.0.0.1",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, "HOME": str(home)},
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            assert proc.poll() is None, (home / "chromium.log").read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            page = next(t for t in json.load(resp) if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        tools.call(
            "Page.addScriptToEvaluateOnNewDocument",
            source=(
                "window.__cspViolations = [];"
                "document.addEventListener('securitypolicyviolation',"
                " e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
            ),
        )
        yield tools
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def fresh_browser(browser: DevTools) -> DevTools:
    browser.call("Network.clearBrowserCookies")
    return browser


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_browser_every_page_holds_the_csp(fresh_browser: DevTools, served: Any, scheme: str) -> None:
    root = base(served, scheme, "localhost")
    for path in ["/", *PAGES]:
        fresh_browser.goto(root + path)
        assert fresh_browser.csp_violations() == [], path
        assert fresh_browser.eval("document.styleSheets.length") == 1, path  # style.css loaded
    fresh_browser.goto(root + "/")
    assert fresh_browser.eval("document.querySelector('h1').textContent.trim()") == HEADLINE[scheme]


@pytest.mark.browser
def test_browser_methods_page_sends_every_method(fresh_browser: DevTools, served: Any) -> None:
    fresh_browser.goto(base(served, "https", "localhost") + "/methods")
    for method in ("GET", "POST", "PUT", "DELETE"):
        fresh_browser.eval(f"document.querySelector('button[value={method}]').click()")
        status = fresh_browser.wait_for(
            f"(s => s.startsWith('{method} ') && s.includes('answered') && s)"
            "(document.getElementById('status').textContent)"
        )
        assert "answered 200" in status
        doc = json.loads(fresh_browser.eval("document.getElementById('result').textContent"))
        assert (doc["method"], doc["query"], doc["scheme"]) == (method, "q=demo&n=1", "https")
        assert doc["body"] == ("" if method == "GET" else "hello")
        assert (
            doc["headers"]["Sec-Fetch-Mode"] == "cors" and doc["headers"]["Sec-Fetch-Site"] == "same-origin"
        )
        assert "HttpOnly" not in doc["headers"].get("Cookie", "") and "=" not in doc["headers"].get(
            "Cookie", ""
        )
    assert fresh_browser.csp_violations() == []


@pytest.mark.browser
@pytest.mark.parametrize(
    ("scheme", "host", "sticks"),
    [
        ("https", "localhost", True),
        ("http", "127.0.0.1", True),  # loopback: chromium treats it as a secure context for cookies
        ("http", NON_LOOPBACK_NAME, False),  # any other host: the Secure cookie is dropped
    ],
)
def test_browser_login_and_the_secure_cookie(
    fresh_browser: DevTools, served: Any, scheme: str, host: str, sticks: bool
) -> None:
    """What the /login page claims is what a real browser does."""
    fresh_browser.goto(base(served, scheme, host) + "/login")
    text = fresh_browser.text()
    assert ("the Secure session cookie will not come back" in text) is (scheme == "http")
    assert ("Chrome, Edge and Firefox treat localhost" in text) is (host == "127.0.0.1")
    fresh_browser.eval(
        "document.getElementById('password').value = 'demo';"
        "document.querySelector('form[action=\"/login\"] button').click()"
    )
    fresh_browser.wait_page("/login?just=in")
    text = fresh_browser.text()
    if sticks:
        assert "You are logged in as demo" in text
        assert "This request carried the session cookie yes" in text
    else:
        assert "came back without it, so you are not logged in" in text
        assert "This request carried the session cookie no" in text
    assert fresh_browser.csp_violations() == []


@pytest.mark.browser
@pytest.mark.parametrize("code", CODES)
def test_browser_redirect_demo(fresh_browser: DevTools, served: Any, code: int) -> None:
    fresh_browser.goto(base(served, "https", "localhost") + f"/redirect/{code}")
    fresh_browser.eval("document.querySelector('form button').click()")
    fresh_browser.wait_page(f"/redirect/arrived?via={code}")
    text = fresh_browser.text()
    if KEEPS_POST[code]:
        assert "This request arrived as POST with its body" in text
        assert "hello from the form" in text
    else:
        assert "This request arrived as GET without a body" in text
        assert "hello from the form" not in text


@pytest.mark.browser
def test_browser_echo_shows_the_payload_as_text(fresh_browser: DevTools, served: Any) -> None:
    payload = '<img src=x onerror="document.title=1"><script>document.title=2</script>'
    fresh_browser.goto(base(served, "http", "localhost") + "/echo")
    fresh_browser.eval(
        f"document.getElementById('text').value = {json.dumps(payload)};"
        "document.querySelector('form button').click()"
    )
    fresh_browser.wait_for("document.querySelector('.rendered') !== null")
    assert fresh_browser.eval("document.querySelector('.rendered').textContent") == payload
    assert fresh_browser.eval("document.querySelectorAll('main img, main script').length") == 0
    assert fresh_browser.eval("document.title") == "Echo · Flask HTTPS Launcher demo"
