"""The fact matrix and the Markdown report, built from report data (no network, no Qt)."""

from __future__ import annotations

import re

from launcher.inspector.markdown import md_escape
from launcher.inspector.matrix import FACTS, fact_matrix
from launcher.inspector.report import (
    Cookie,
    FlaskView,
    Hop,
    InspectReport,
    SchemeReport,
    TLSFacts,
    VerdictLevel,
)
from launcher.inspector.verdicts import scheme_verdicts

OK, WARN, BAD, INFO = VerdictLevel.OK, VerdictLevel.WARN, VerdictLevel.BAD, VerdictLevel.INFO


def _tls(verified: bool = True, days_left: int = 300) -> TLSFacts:
    return TLSFacts(
        version="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
        subject="CN=localhost",
        issuer="CN=Local CA",
        sans=["localhost"],
        not_after="2027-01-01T00:00:00",
        days_left=days_left,
        verified=verified,
        verify_error=None if verified else "not verified: self-signed certificate",
    )


def _flask(url: str, scheme: str) -> FlaskView:
    return FlaskView(
        available=True,
        inspect_url=url,
        final_url=url,
        status=200,
        scheme=scheme,
        is_secure=scheme == "https",
        url_for_external=f"{scheme}://localhost/",
    )


def _cookie(over: str, secure: bool) -> Cookie:
    return Cookie(
        "session", 10, secure, True, "Lax", "/", None, None, None, False, over, f"{over}://localhost/"
    )


def _https(
    *, flask_scheme: str = "https", verified: bool = True, hsts: str | None = "max-age=31536000"
) -> SchemeReport:
    url = "https://localhost:8443/"
    c = SchemeReport(
        "https",
        url,
        hops=[Hop(url, 200, "OK", tls=_tls(verified), hsts=hsts)],
        final_url=url,
        final_status=200,
        final_reason="OK",
        final_scheme="https",
        tls=_tls(verified),
        hsts=hsts,
        cookies=[_cookie("https", True)],
        flask=_flask(url, flask_scheme),
    )
    c.verdicts = scheme_verdicts(c)
    return c


def _http_redirected() -> SchemeReport:
    url, to = "http://localhost:8080/", "https://localhost:8443/"
    c = SchemeReport(
        "http",
        url,
        hops=[Hop(url, 308, "Permanent Redirect", location=to, next_url=to), Hop(to, 200, "OK", tls=_tls())],
        final_url=to,
        final_status=200,
        final_reason="OK",
        final_scheme="https",
        tls=_tls(),
        flask=_flask(to, "https"),
    )
    c.verdicts = scheme_verdicts(c)
    return c


def _http_plain(flask: FlaskView | None = None) -> SchemeReport:
    url = "http://127.0.0.1:8080/"
    c = SchemeReport(
        "http",
        url,
        hops=[Hop(url, 200, "OK")],
        final_url=url,
        final_status=200,
        final_reason="OK",
        final_scheme="http",
        cookies=[_cookie("http", False)],
        flask=flask if flask is not None else _flask(url, "http"),
    )
    c.verdicts = scheme_verdicts(c)
    return c


def _levels(report: InspectReport, scheme: str) -> dict[str, VerdictLevel]:
    return {row.fact: row.cell(scheme).level for row in fact_matrix(report)}


def test_a_good_setup_is_green_on_https_and_the_redirect_is_green_on_http() -> None:
    report = InspectReport("/", _http_redirected(), _https(), cafile=None)
    rows = fact_matrix(report)
    assert [r.fact for r in rows] == list(FACTS)
    https = _levels(report, "https")
    assert https["Served over"] is OK and https["What Flask saw"] is OK
    assert https["Certificate verified"] is OK and https["Cookie flags"] is OK
    # HSTS on a loopback name is amber, as its verdict explains (the HTTP port stops working).
    assert https["HSTS"] is WARN
    http = _levels(report, "http")
    assert http["Redirect"] is OK
    assert rows[1].http.text.startswith("308 → https://localhost:8443/")
    assert rows[0].http.text.startswith("HTTPS")


def test_plain_http_is_amber_and_flask_agreeing_is_green() -> None:
    report = InspectReport("/", _http_plain(), _https(), cafile=None)
    http = _levels(report, "http")
    assert http["Served over"] is WARN
    assert http["Redirect"] is WARN
    assert http["What Flask saw"] is OK
    assert http["Certificate verified"] is INFO
    assert http["Cookie flags"] in (WARN, BAD)


def test_flask_thinking_http_over_https_is_red_and_not_available_is_grey() -> None:
    report = InspectReport(
        "/", _http_plain(FlaskView(False, "x", note="no /inspect")), _https(flask_scheme="http"), cafile=None
    )
    rows = {r.fact: r for r in fact_matrix(report)}
    assert rows["What Flask saw"].https.level is BAD
    assert rows["What Flask saw"].https.text == "http (is_secure=False)"
    assert rows["What Flask saw"].http.level is INFO
    assert rows["What Flask saw"].http.text == "not available"


def test_an_unverified_certificate_and_missing_hsts() -> None:
    report = InspectReport("/", _http_plain(), _https(verified=False, hsts=None), cafile=None)
    rows = {r.fact: r for r in fact_matrix(report)}
    assert rows["Certificate verified"].https.level is BAD
    assert "self-signed" in rows["Certificate verified"].https.detail
    assert rows["HSTS"].https.level is WARN and rows["HSTS"].https.text == "none"


def test_a_skipped_column_is_not_probed_everywhere() -> None:
    skipped = SchemeReport("http", "http://localhost:8080/", skipped="HTTP is stopped")
    report = InspectReport("/", skipped, _https(), cafile=None)
    assert {r.http.text for r in fact_matrix(report)} == {"not probed"}
    assert {r.http.level for r in fact_matrix(report)} == {INFO}


def test_markdown_has_the_matrix_and_each_verdict() -> None:
    report = InspectReport("/login", _http_redirected(), _https(flask_scheme="http"), cafile="/tmp/ca.pem")
    md = report.to_markdown()
    assert md.startswith("## Inspecting /login\n")
    assert "| Fact | HTTP | HTTPS |" in md and "|---|---|---|" in md
    assert "| What Flask saw | **OK** https (is\\_secure=True) | **BAD** http (is\\_secure=False) |" in md
    for column in report.columns:
        for verdict in column.verdicts:
            assert md_escape(verdict.text) in md
    assert "### HTTP: http://localhost:8080/" in md
    assert "1. GET http://localhost:8080/ → 308 Permanent Redirect" in md


def test_markdown_escapes_network_text_so_it_cannot_break_the_table() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<script>\n`x`") == "\\<script\\> \\`x\\`"
    report = InspectReport("/x|y", _http_plain(), _https(hsts="max-age=1 | evil"), cafile=None)
    md = report.to_markdown()
    hsts_line = next(line for line in md.splitlines() if line.startswith("| HSTS"))
    # Four cell borders only: the value's own pipe is escaped.
    assert len(re.findall(r"(?<!\\)\|", hsts_line)) == 4
    assert "max-age=1 \\| evil" in hsts_line
