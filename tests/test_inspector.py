"""The scheme inspector over real sockets: both listeners serving the bundled demo app.

Every fact the inspector reports is checked against what the server and the certificate store
know independently: the redirect chain with the redirect on (308, and a chosen 301) and off, what
Flask saw, client-side TLS facts, HSTS on and off, cookie flags under HTTP and HTTPS, the proxy lens
both ways, a verification failure, unreachable and stopped listeners, and the CLI.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app, redirect, session

from flaskapp import create_app
from launcher.certs import CertStore
from launcher.cli import main
from launcher.inspector import (
    FORWARDED_HEADERS,
    USER_AGENT,
    InspectReport,
    InvalidTargetError,
    ProbeMark,
    SchemeReport,
    inspect_servers,
    inspect_target,
    normalize_path,
    parse_hsts,
    parse_set_cookie,
    resolve_target,
    target_for_path,
    target_for_url,
    worst_level,
)
from launcher.options import HSTS_MAX_AGE
from launcher.policy import Policy

# --- helpers ---------------------------------------------------------------------------------------


def demo_app(config: dict[str, Any] | None = None) -> Flask:
    """The bundled demo app plus a few pages that set cookies and redirect, for the tests."""
    app = create_app(config)

    @app.get("/set-session")
    def set_session() -> str:
        session["n"] = 1
        return "session set"

    @app.get("/cookies")
    def cookies() -> Any:
        resp = current_app.make_response("three cookies")
        resp.set_cookie("plain", "a")
        resp.set_cookie("pref", "b", samesite="None")
        resp.set_cookie("__Host-bad", "c", path="/")
        return resp

    @app.get("/chain/<int:n>")
    def chain(n: int) -> Any:
        return redirect(f"/chain/{n - 1}", code=302) if n > 0 else "end of chain"

    @app.get("/loop")
    def loop() -> Any:
        return redirect("/loop", code=307)

    @app.get("/to-http")
    def to_http() -> Any:
        return redirect(current_app.config["HTTP_ORIGIN"] + "/", code=301)

    return app


def start(make_servers, app: Any = None, **policy: Any):
    servers = make_servers(app or demo_app(), policy=Policy(**policy))
    flask_app = servers.app
    if isinstance(flask_app, Flask):
        flask_app.config["HTTP_ORIGIN"] = f"http://127.0.0.1:{servers.http.port}"
    return servers


def texts(column: SchemeReport, level: str | None = None) -> list[str]:
    return [v.text for v in column.verdicts if level is None or v.level == level]


def verdict(column: SchemeReport, needle: str) -> tuple[str, str]:
    found = [(v.level, v.text) for v in column.verdicts if needle in v.text]
    assert len(found) == 1, (needle, column.verdicts)
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def servers(make_servers):
    return start(make_servers)


# --- targets (no sockets) --------------------------------------------------------------------------


def test_path_target_uses_both_ports() -> None:
    target = target_for_path("/login?x=1", http_port=8080, https_port=8443)
    assert target.http_url == "http://127.0.0.1:8080/login?x=1"
    assert target.https_url == "https://127.0.0.1:8443/login?x=1"
    assert target_for_path("/", host="::1", http_port=80, https_port=443).https_url == "https://[::1]/"
    assert target_for_path("/", host="0.0.0.0").http_url == "http://127.0.0.1:8080/"


@pytest.mark.parametrize(
    ("url", "http_url", "https_url"),
    [
        ("https://localhost:8443/a?b=1", "http://localhost:8080/a?b=1", "https://localhost:8443/a?b=1"),
        ("http://localhost:8080/", "http://localhost:8080/", "https://localhost:8443/"),
        ("https://example.com/x", "http://example.com/x", "https://example.com/x"),
        ("http://example.com:9000/", "http://example.com:9000/", "https://example.com/"),
        ("HTTPS://[::1]:8443", "http://[::1]:8080/", "https://[::1]:8443/"),
    ],
)
def test_url_twin_swaps_the_given_ports_else_uses_standard_ones(
    url: str, http_url: str, https_url: str
) -> None:
    target = target_for_url(url, http_port=8080, https_port=8443)
    assert (target.http_url, target.https_url) == (http_url, https_url)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp://example.com/", "not an http:// or https:// URL"),
        ("login", "neither a path nor a URL"),
        ("https:///nohost", "has no host"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://example.com:99999/", "not a valid URL"),
        ("//evil.example/x", "names a host"),
        ("/a\x00b", "control characters"),
    ],
)
def test_bad_targets_raise_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidTargetError, match=message) as info:
        resolve_target(text)
    assert "\n" not in str(info.value)


def test_paths_are_normalised() -> None:
    assert normalize_path("") == "/"
    assert normalize_path("login") == "/login"
    assert normalize_path("/a b/é?q=1#frag") == "/a%20b/%C3%A9?q=1"
    assert normalize_path("/already%20encoded") == "/already%20encoded"


def test_set_cookie_parsing() -> None:
    cookie = parse_set_cookie(
        "session=abc.def; Expires=Wed, 21 Oct 2026 07:28:00 GMT; secure; HTTPONLY; Path=/; samesite=lax",
        over="https",
        url="https://x/",
    )
    assert cookie is not None
    assert (cookie.name, cookie.value_length) == ("session", 7)
    assert cookie.secure and cookie.httponly
    assert cookie.samesite == "Lax"
    assert cookie.expires == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert cookie.path == "/"
    bare = parse_set_cookie("token=1")
    assert bare is not None and not bare.secure and not bare.httponly and bare.samesite is None
    nameless = parse_set_cookie("justavalue; Secure")
    assert nameless is not None and nameless.name == "" and nameless.secure
    assert parse_set_cookie("   ") is None


def test_hsts_parsing() -> None:
    assert parse_hsts("max-age=31536000; includeSubDomains; preload") == parse_hsts(
        'MAX-AGE="31536000";includesubdomains;PRELOAD'
    )
    hsts = parse_hsts("max-age=600")
    assert (hsts.max_age, hsts.include_subdomains, hsts.preload, hsts.valid) == (600, False, False, True)
    assert not parse_hsts("includeSubDomains").valid


def test_worst_level() -> None:
    from launcher.inspector import Verdict

    assert worst_level([]) == "info"
    assert worst_level([Verdict("ok", ""), Verdict("warn", ""), Verdict("info", "")]) == "warn"
    assert worst_level([Verdict("bad", ""), Verdict("warn", "")]) == "bad"


# --- what Flask saw, TLS facts -----------------------------------------------------------------------


def test_both_schemes_side_by_side_with_flask_view_and_tls(servers, cert_store) -> None:
    report = inspect_servers(servers, "/")
    http, https = report.http, report.https
    http_origin = f"http://127.0.0.1:{servers.http.port}"
    https_origin = f"https://127.0.0.1:{servers.https.port}"

    assert (http.final_status, http.final_scheme, http.final_url) == (200, "http", http_origin + "/")
    assert (https.final_status, https.final_scheme, https.final_url) == (200, "https", https_origin + "/")
    assert [h.status for h in http.hops] == [200] and [h.status for h in https.hops] == [200]
    assert http.hops[0].http_version == "HTTP/1.1"

    # What Flask saw, captured inside the app for the probed URL itself, per scheme.
    for column, origin, scheme in ((http, http_origin, "http"), (https, https_origin, "https")):
        flask = column.flask
        assert flask is not None and flask.available, flask
        assert flask.inspect_url == flask.final_url == origin + "/"
        assert flask.kind == "flask" and flask.endpoint == "pages.index"
        assert flask.scheme == scheme
        assert flask.wsgi_url_scheme == scheme
        assert flask.is_secure is (scheme == "https")
        assert flask.url_root == origin + "/"
        assert flask.url_for_external == origin + "/"
        assert flask.remote_addr == "127.0.0.1"
        assert flask.host == origin.split("://")[1]
        assert flask.listener == scheme
        assert flask.x_forwarded_proto is None
    assert http.flask.tls is None
    assert https.flask.tls is not None and https.flask.tls["version"] == https.tls.version

    # Client-side TLS facts, checked against the certificate store.
    assert http.tls is None
    tls = https.tls
    leaf = cert_store.leaf_info()
    assert tls is not None and tls.verified and tls.verify_error is None
    assert tls.version in ("TLSv1.2", "TLSv1.3")
    assert "GCM" in tls.cipher or "CHACHA20" in tls.cipher
    assert tls.cipher_bits in (128, 256)
    assert tls.alpn == "http/1.1"
    assert tls.sni is None  # never sent for an IP address
    assert tls.subject == leaf.subject and tls.issuer == leaf.issuer
    assert "IP:127.0.0.1" in tls.sans and "DNS:localhost" in tls.sans
    assert tls.not_after == leaf.not_after.isoformat()
    assert tls.fingerprint_sha256 == leaf.fingerprint_sha256
    assert tls.days_left == leaf.days_left
    assert tls.key_type == "ECDSA P-256"

    assert verdict(https, "Flask knows it") == (
        "ok",
        f"Served over HTTPS ({tls.version}, {tls.cipher}); Flask knows it (request.is_secure=True), and "
        f"url_for builds https:// links ({https_origin}/).",
    )
    level, text = verdict(http, "Flask knows it")
    assert level == "warn"
    assert text.startswith(
        "Served over plain HTTP, with no redirect to HTTPS; Flask knows it (request.is_secure=False)"
    )
    assert verdict(https, "The certificate verified")[0] == "ok"
    assert report.cafile == str(cert_store.ca_cert_path)


def test_the_probe_is_one_real_marked_request_per_scheme(servers, wait_records) -> None:
    report = inspect_servers(servers, "/tls")
    assert report.https.flask is not None and report.https.flask.endpoint == "pages.tls"
    records = wait_records(servers.sink, 2)
    time.sleep(0.2)  # a third request (the old GET /inspect) would be logged by now
    records = servers.sink.snapshot()
    assert sorted((r.listener, r.path) for r in records) == [("http", "/tls"), ("https", "/tls")]
    assert all(r.user_agent == USER_AGENT and r.probe for r in records)
    # The token is never kept in the log (it is shown and exported).
    assert all(servers.probe_token not in str(r.request_headers) for r in records)


def test_target_inspect_is_read_once(servers, wait_records) -> None:
    report = inspect_servers(servers, "/inspect")
    assert report.https.flask is not None and report.https.flask.available
    records = wait_records(servers.sink, 2)  # /inspect once over each scheme
    assert [r.path for r in records if r.listener == "https"] == ["/inspect"]


def test_a_request_without_the_token_is_untouched(servers) -> None:
    import http.client

    from launcher.appview import PROBE_HEADER, VIEW_HEADER

    for token in (None, "wrong", servers.probe_token[:-1]):
        conn = http.client.HTTPConnection("127.0.0.1", servers.http.port, timeout=5)
        try:
            conn.request("GET", "/", headers={PROBE_HEADER: token} if token else {})
            resp = conn.getresponse()
            resp.read()
        finally:
            conn.close()
        assert resp.status == 200 and resp.getheader(VIEW_HEADER) is None


def test_a_server_without_a_token_is_not_available_in_one_line(servers, ca_file) -> None:
    target = target_for_path("/", http_port=servers.http.port, https_port=servers.https.port)
    report = inspect_target(target, cafile=ca_file)
    for column in report.columns:
        assert column.final_status == 200 and column.error is None
        assert column.flask is not None and not column.flask.available
        level, text = verdict(column, "What the app saw is not available")
        assert level == "info" and "no probe token" in text and "\n" not in text


def _force_scheme(app: Any, scheme: str) -> Any:
    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.url_scheme"] = scheme
        return app(environ, start_response)

    return wrapped


def test_https_but_flask_thinks_http(make_servers) -> None:
    servers = make_servers(_force_scheme(demo_app(), "http"))
    report = inspect_servers(servers, "/")
    level, text = verdict(report.https, "Flask thinks http")
    assert level == "bad"
    assert (
        f"url_for(..., _external=True) builds http:// links (http://127.0.0.1:{servers.https.port}/)" in text
    )
    assert report.https.worst == "bad"


def test_http_but_flask_thinks_https(make_servers) -> None:
    servers = make_servers(_force_scheme(demo_app(), "https"))
    level, text = verdict(inspect_servers(servers, "/").http, "Flask thinks https")
    assert level == "bad" and "request.is_secure=True" in text


# --- redirects -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [(308, "Permanent Redirect"), (301, "Moved Permanently")])
def test_http_redirects_to_https(make_servers, status: int, reason: str) -> None:
    servers = start(make_servers, redirect_https=status)
    report = inspect_servers(servers, "/login?x=1")
    http = report.http
    https_url = f"https://127.0.0.1:{servers.https.port}/login?x=1"
    assert [(h.status, h.reason, h.location) for h in http.hops] == [
        (status, reason, https_url),
        (200, "OK", None),
    ]
    assert http.hops[0].next_url == https_url
    assert (http.final_status, http.final_scheme, http.final_url) == (200, "https", https_url)
    level, text = verdict(http, "HTTP redirects to HTTPS")
    assert level == "ok"
    assert text.startswith(f"HTTP redirects to HTTPS with {status} (")
    assert ("may turn a POST into a GET" in text) is (status == 301)
    assert verdict(http, "After the redirect, served over HTTPS")[0] == "ok"
    # Flask never ran for http://: its view comes from the HTTPS listener, and the report says so.
    assert http.flask is not None and http.flask.scheme == "https"
    assert verdict(http, "the app never ran for http://")[0] == "info"
    # The HTTPS column is not redirected.
    assert [h.status for h in report.https.hops] == [200]
    assert http.tls is not None and http.tls.verified


def test_redirect_off_serves_http(servers) -> None:
    report = inspect_servers(servers, "/login")
    assert [h.status for h in report.http.hops] == [200]
    assert report.http.final_scheme == "http" and report.http.redirects == []
    assert not [t for t in texts(report.http) if "redirects to HTTPS" in t]
    assert "with no redirect to HTTPS" in verdict(report.http, "Served over plain HTTP")[1]


def test_in_app_chain_is_followed_one_hop_at_a_time(servers) -> None:
    http = inspect_servers(servers, "/chain/3").http
    assert [(h.status, h.location) for h in http.hops] == [
        (302, "/chain/2"),
        (302, "/chain/1"),
        (302, "/chain/0"),
        (200, None),
    ]
    assert http.final_url == f"http://127.0.0.1:{servers.http.port}/chain/0"
    assert http.error is None


def test_redirect_loop_and_too_many_redirects(servers) -> None:
    report = inspect_servers(servers, "/loop")
    assert report.https.error is not None and report.https.error.startswith("Redirect loop")
    assert verdict(report.https, "Redirect loop")[0] == "bad"
    long = inspect_servers(servers, "/chain/15").https
    assert len(long.hops) == 11
    assert long.error == "Stopped after 10 redirects (a redirect loop?)."


def test_https_to_http_downgrade_is_bad(servers) -> None:
    https = inspect_servers(servers, "/to-http").https
    http_origin = f"http://127.0.0.1:{servers.http.port}"
    assert [h.status for h in https.hops] == [301, 200]
    assert https.final_scheme == "http" and https.final_url == http_origin + "/"
    level, text = verdict(https, "HTTPS redirects to plain HTTP")
    assert level == "bad" and f"→ {http_origin}/" in text


# --- HSTS ------------------------------------------------------------------------------------------


def test_hsts_off(servers) -> None:
    report = inspect_servers(servers, "/")
    assert report.https.hsts is None
    assert verdict(report.https, "No HSTS header")[0] == "warn"
    assert report.http.hsts is None and not [t for t in texts(report.http) if "HSTS" in t]


def test_hsts_on_for_an_ip_host(make_servers) -> None:
    servers = start(make_servers, hsts=600)
    https = inspect_servers(servers, "/").https
    assert https.hsts == "max-age=600"
    assert https.hops[0].hsts == "max-age=600"
    assert https.flask is not None and https.flask.hsts == "max-age=600"
    level, text = verdict(https, "HSTS is on")
    assert level == "warn"
    assert text.startswith("HSTS is on: max-age=600 (600 seconds)")
    assert "browsers ignore HSTS for IP-address hosts like 127.0.0.1" in text


def test_hsts_on_for_localhost_warns_about_the_http_port(make_servers, ca_file) -> None:
    servers = start(make_servers, hsts=HSTS_MAX_AGE)
    target = target_for_url(
        f"https://localhost:{servers.https.port}/", http_port=servers.http.port, https_port=servers.https.port
    )
    report = inspect_target(target, cafile=ca_file)
    https = report.https
    assert https.tls is not None and https.tls.verified and https.tls.sni == "localhost"
    level, text = verdict(https, "HSTS is on")
    assert level == "warn"
    assert "max-age=31536000 (365 days)" in text
    assert "only port 80 becomes 443" in text


def test_hsts_max_age_zero(make_servers) -> None:
    servers = start(make_servers, hsts=0)
    assert verdict(inspect_servers(servers, "/").https, "max-age=0")[0] == "ok"


# --- cookies ---------------------------------------------------------------------------------------


def test_login_page_cookie_flags_under_http_and_https(servers) -> None:
    report = inspect_servers(servers, "/login")
    (http_cookie,) = report.http.cookies
    (https_cookie,) = report.https.cookies
    assert (http_cookie.name, http_cookie.over) == ("csrf", "http")
    assert (http_cookie.secure, http_cookie.httponly, http_cookie.samesite) == (False, True, "Lax")
    assert (https_cookie.name, https_cookie.over) == ("__Host-csrf", "https")
    assert (https_cookie.secure, https_cookie.httponly, https_cookie.samesite) == (True, True, "Lax")
    assert https_cookie.path == "/" and https_cookie.value_length == 43
    level, text = verdict(report.http, "'csrf'")
    assert level == "warn"
    assert text.startswith(
        "Served over HTTP; the cookie 'csrf' has no Secure flag, so a browser would send it in the clear"
    )
    assert verdict(report.https, "'__Host-csrf'")[0] == "ok"
    dumped = report.to_json()
    assert "value_length" in dumped and "__Host-csrf" in dumped


def test_secure_session_cookie_set_over_http(servers) -> None:
    report = inspect_servers(servers, "/set-session")
    (cookie,) = report.http.cookies
    assert (cookie.name, cookie.secure, cookie.httponly, cookie.samesite) == ("session", True, True, "Lax")
    level, text = verdict(report.http, "'session'")
    assert level == "warn"
    assert "Set over plain HTTP, the session cookie 'session' is Secure" in text
    assert "loopback hosts like 127.0.0.1" in text
    level, text = verdict(report.https, "'session'")
    assert level == "ok" and "sent back over HTTPS only" in text


def test_session_cookie_without_secure_flag(make_servers) -> None:
    servers = start(make_servers, demo_app({"SESSION_COOKIE_SECURE": False}))
    report = inspect_servers(servers, "/set-session")
    level, text = verdict(report.http, "'session'")
    assert level == "bad"
    assert text.startswith(
        "Served over HTTP; the session cookie 'session' has no Secure flag, "
        "so a browser would send it in the clear"
    )
    level, text = verdict(report.https, "'session'")
    assert level == "bad" and "also sends it over plain http://" in text


def test_several_set_cookie_headers(servers) -> None:
    https = inspect_servers(servers, "/cookies").https
    cookies = {c.name: c for c in https.cookies}
    assert list(cookies) == ["plain", "pref", "__Host-bad"]
    assert not cookies["plain"].secure and cookies["plain"].samesite is None
    assert cookies["pref"].samesite == "None"
    level, text = verdict(https, "'pref'")
    assert level == "bad" and "SameSite=None without Secure: browsers reject the cookie" in text
    level, text = verdict(https, "'__Host-bad'")
    assert level == "bad" and "a __Host- cookie needs Secure" in text
    level, text = verdict(https, "'plain'")
    assert level == "warn" and "no SameSite" in text and "not HttpOnly" in text


def test_cookie_set_after_a_redirect_is_listed_with_its_scheme(make_servers) -> None:
    servers = start(make_servers, redirect_https=308)
    http = inspect_servers(servers, "/login").http
    (cookie,) = http.cookies
    assert (cookie.name, cookie.over) == ("__Host-csrf", "https")


# --- verification failure, unreachable listeners ---------------------------------------------------


def test_verification_failure_still_reports_the_facts(servers, tmp_path: Path, cert_store) -> None:
    other = CertStore(tmp_path / "other")
    other.ensure()
    report = inspect_servers(servers, "/", cafile=other.ca_cert_path)
    tls = report.https.tls
    assert tls is not None and not tls.verified
    assert tls.verify_error is not None and tls.verify_error.startswith("not verified: ")
    assert "unable to get local issuer certificate" in tls.verify_error
    assert str(other.ca_cert_path) in tls.verify_error
    # The facts still come through the unverified retry.
    assert tls.subject == cert_store.leaf_info().subject
    assert tls.version in ("TLSv1.2", "TLSv1.3") and tls.sans
    assert report.https.final_status == 200
    assert report.https.flask is not None and report.https.flask.scheme == "https"
    level, text = verdict(report.https, "did not verify")
    assert level == "bad" and "second, unverified connection" in text
    row = next(line for line in report.to_text().splitlines() if line.startswith("Certificate verified"))
    assert row.split()[-2:] == ["-", "NO"]


def test_unreachable_listener_is_a_line_not_a_traceback(ca_file) -> None:
    port = free_port()
    target = target_for_url(f"http://127.0.0.1:{port}/", http_port=port, https_port=free_port())
    report = inspect_target(target, cafile=ca_file, timeout=2)
    for column in report.columns:
        assert not column.reachable and column.final_status is None
        assert column.error is not None and "connection refused" in column.error
        assert column.flask is None and column.tls is None
        assert column.verdicts[0].level == "bad"
    assert "Nothing is listening at 127.0.0.1:" in report.to_text()


def test_stopped_listener_is_not_probed(servers, wait_records) -> None:
    servers.http.stop()
    report = inspect_servers(servers, "/")
    assert report.http.skipped is not None and "HTTP listener is stopped" in report.http.skipped
    assert report.http.hops == [] and report.http.verdicts[0].level == "info"
    assert report.https.final_status == 200
    assert {r.listener for r in wait_records(servers.sink, 1)} == {"https"}


def test_https_on_the_http_port_and_http_on_the_https_port(servers, ca_file) -> None:
    swapped = target_for_url(
        f"http://127.0.0.1:{servers.https.port}/", http_port=servers.https.port, https_port=servers.http.port
    )
    report = inspect_target(swapped, cafile=ca_file)
    assert report.http.final_status == 400
    assert verdict(report.http, "This port speaks HTTPS")[0] == "bad"
    assert report.https.error is not None
    assert "does not speak TLS on this port" in report.https.error


# --- proxy lens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("original", [False, True])
def test_proxy_lens_shows_both_settings_and_restores_the_policy(make_servers, original: bool) -> None:
    servers = start(make_servers, trusted_proxy=original)
    report = inspect_servers(servers, "/", proxy_lens=True)
    assert servers.policy.trusted_proxy is original
    lens = report.proxy_lens
    assert lens is not None and lens.toggled
    assert lens.sent_headers == FORWARDED_HEADERS
    default, trusted = lens.cases
    assert default.trusted is False and trusted.trusted is True
    origin = f"http://127.0.0.1:{servers.http.port}"
    d, t = default.flask, trusted.flask
    assert d is not None and t is not None
    assert (d.scheme, d.is_secure, d.url_for_external, d.remote_addr, d.x_forwarded_proto) == (
        "http",
        False,
        origin + "/",
        "127.0.0.1",
        None,
    )
    assert (t.scheme, t.is_secure, t.url_for_external, t.remote_addr, t.host) == (
        "https",
        True,
        "https://myapp.example/",
        "203.0.113.7",
        "myapp.example",
    )
    assert [v.level for v in lens.verdicts] == ["warn", "ok"]
    assert "deleted before Flask ran" in lens.verdicts[0].text
    assert "url_for builds https://myapp.example/" in lens.verdicts[1].text
    text = report.to_text()
    assert "Why url_for builds http:// behind a TLS-terminating proxy" in text
    assert "app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)" in text


def test_proxy_lens_against_a_url_reports_the_current_setting(make_servers, ca_file) -> None:
    for trusted, scheme in ((False, "http"), (True, "https")):
        servers = start(make_servers, trusted_proxy=trusted)
        target = target_for_path("/", http_port=servers.http.port, https_port=servers.https.port)
        mark = ProbeMark(servers.probe_token, frozenset({servers.http.port, servers.https.port}))
        lens = inspect_target(target, cafile=ca_file, proxy_lens=True, probe_mark=mark).proxy_lens
        assert lens is not None and not lens.toggled
        (case,) = lens.cases
        assert case.trusted is None and case.flask is not None and case.flask.scheme == scheme


def test_proxy_lens_with_the_redirect_on(make_servers) -> None:
    servers = start(make_servers, redirect_https=308)
    lens = inspect_servers(servers, "/", proxy_lens=True).proxy_lens
    assert lens is not None
    assert [c.status for c in lens.cases] == [308, 308]
    (only,) = lens.verdicts
    assert only.level == "bad" and "ignores X-Forwarded-Proto" in only.text
    assert servers.policy.trusted_proxy is False


# --- report forms ----------------------------------------------------------------------------------


def test_json_and_text_forms(servers) -> None:
    report = inspect_servers(servers, "/login", proxy_lens=True)
    data = json.loads(report.to_json())
    assert set(data) >= {"target", "http", "https", "proxy_lens", "cafile", "elapsed_ms"}
    assert data["http"]["flask"]["scheme"] == "http" and data["https"]["flask"]["scheme"] == "https"
    assert data["https"]["tls"]["verified"] is True
    assert data["https"]["worst"] in ("ok", "warn") and data["http"]["reachable"] is True
    assert all(set(v) == {"level", "text"} for v in data["http"]["verdicts"])
    text = report.to_text()
    lines = text.splitlines()
    assert lines[0] == "Inspecting /login"
    header = next(line for line in lines if line.strip().startswith("HTTP") and "HTTPS" in line)
    assert header.index("HTTP") < header.index("HTTPS")
    assert f"== HTTP: http://127.0.0.1:{servers.http.port}/login ==" in lines
    assert f"== HTTPS: https://127.0.0.1:{servers.https.port}/login ==" in lines
    assert any(line.strip().startswith("[ok]") for line in lines)
    assert isinstance(report, InspectReport)


# --- CLI -------------------------------------------------------------------------------------------


def _ports(servers) -> list[str]:
    return ["--http-port", str(servers.http.port), "--https-port", str(servers.https.port)]


def test_cli_json(servers, cert_store, capsys) -> None:
    rc = main(["inspect", "/login", "--json", "--cert-dir", str(cert_store.directory), *_ports(servers)])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == "/login"
    assert data["http"]["url"] == f"http://127.0.0.1:{servers.http.port}/login"
    assert data["https"]["tls"]["verified"] is True
    assert data["cafile"] == str(Path(cert_store.directory) / "ca.pem")
    assert data["proxy_lens"] is None


def test_cli_text_with_url_twin_and_proxy_lens(servers, ca_file, capsys) -> None:
    url = f"https://127.0.0.1:{servers.https.port}/"
    rc = main(["inspect", url, "--cacert", str(ca_file), "--proxy-lens", *_ports(servers)])
    out = capsys.readouterr().out
    assert rc == 0
    assert f"== HTTP: http://127.0.0.1:{servers.http.port}/ ==" in out
    assert "== Behind a proxy" in out and "the server's current setting" in out


def test_cli_unreachable_exits_0_with_a_line(ca_file, capsys) -> None:
    port = str(free_port())
    rc = main(["inspect", "/", "--cacert", str(ca_file), "--http-port", port, "--https-port", port])
    captured = capsys.readouterr()
    assert rc == 0
    assert "connection refused" in captured.out and "Traceback" not in captured.out + captured.err


def test_cli_missing_default_ca_is_a_note(servers, tmp_path: Path, capsys) -> None:
    rc = main(["inspect", "/", "--cert-dir", str(tmp_path), "--json", *_ports(servers)])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["cafile"] is None
    assert data["notes"] and "no CA at" in data["notes"][0]
    assert data["https"]["tls"]["verified"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inspect", "ftp://x/"], "not an http:// or https:// URL"),
        (["inspect", "/", "--cacert", "/nonexistent/ca.pem"], "does not exist"),
        (["inspect", "/", "--timeout", "0"], "invalid timeout"),
    ],
)
def test_cli_user_errors_exit_2(argv: list[str], message: str, capsys) -> None:
    if "--timeout" in argv:  # argparse's own error: one line, exit 2
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    else:
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_verdict_levels_are_an_enum_that_serialises_as_before() -> None:
    from dataclasses import asdict

    from launcher.inspector import Verdict, VerdictLevel

    ok, bad, info = VerdictLevel.OK, VerdictLevel.BAD, VerdictLevel.INFO
    verdicts = [Verdict(ok, "a"), Verdict(bad, "b"), Verdict(info, "c")]
    assert worst_level(verdicts) is VerdictLevel.BAD
    assert worst_level([Verdict(VerdictLevel.INFO, "")]) is VerdictLevel.INFO
    # ``inspect --json`` carries the plain words, as it did when the levels were strings.
    assert json.dumps([asdict(v) for v in verdicts[:2]]) == (
        '[{"level": "ok", "text": "a"}, {"level": "bad", "text": "b"}]'
    )
    assert [str(level) for level in VerdictLevel] == ["ok", "warn", "bad", "info"]
