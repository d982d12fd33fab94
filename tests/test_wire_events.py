"""Wire events in the core: real clients that go wrong on real listeners, and what the sink gets.

A connection that fails before a request (wrong protocol on a port, a refused certificate, no
shared cipher, a wrong server name, a hang-up) is a ``WireEvent`` in the listener's sink, with its
kind and the advice in plain words, and the same advice in the ``launcher.wire`` log line.
"""

from __future__ import annotations

import logging
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wirehelpers import (
    curl_without_ca,
    hang_up_mid_handshake,
    no_shared_cipher,
    plain_http_on_https,
    tls_hello_on_http,
    wait_until,
    wrong_name,
)

from launcher.scheme import Scheme
from launcher.wireevents import WireEvent, WireEventKind


@pytest.fixture
def servers(make_servers):
    from flaskapp import create_app

    return make_servers(create_app())


def one_event(sink, kind: WireEventKind) -> WireEvent:
    events = wait_until(lambda: [e for e in sink.snapshot_events() if e.kind is kind])
    assert events, sink.snapshot_events()
    return events[0]


def test_tls_hello_on_http_port_is_an_event_with_the_https_url(servers, caplog) -> None:
    caplog.set_level(logging.INFO, logger="launcher.wire")
    tls_hello_on_http(servers.http.port)
    event = one_event(servers.sink, WireEventKind.TLS_ON_HTTP)
    assert event.listener is Scheme.HTTP
    assert event.client_addr == "127.0.0.1" and event.client_port > 0
    assert f"use {servers.https.url}" in event.advice
    assert servers.sink.snapshot() == []  # no request record
    lines = [r.getMessage() for r in caplog.records if r.name == "launcher.wire"]
    assert any(line == event.notice() for line in lines), lines


def test_plain_http_on_https_port_is_an_event_and_a_400(servers) -> None:
    reply = plain_http_on_https(servers.https.port, "/page")
    assert reply.startswith(b"HTTP/1.1 400 ")
    event = one_event(servers.sink, WireEventKind.HTTP_ON_HTTPS)
    assert event.listener is Scheme.HTTPS
    assert f"use https://127.0.0.1:{servers.https.port}/page" in event.advice
    assert "answered 400" in event.advice


def test_curl_without_the_ca_is_an_untrusted_ca_event(servers) -> None:
    result = curl_without_ca(servers.https.port)
    assert result.returncode == 60, result  # curl: peer certificate cannot be authenticated
    event = one_event(servers.sink, WireEventKind.UNTRUSTED_CA)
    assert event.reason == "TLSV1_ALERT_UNKNOWN_CA"
    assert event.sni == "localhost"
    assert "does not trust this CA (unknown_ca)" in event.advice
    assert "flask-launcher trust install" in event.advice and "restart the browser" in event.advice
    assert "Trust CA…" in event.window_advice and "restart the browser" in event.window_advice
    assert event.notice().startswith(f"TLS handshake failed from 127.0.0.1:{event.client_port}: ")


def test_a_name_the_leaf_does_not_cover_is_a_name_mismatch(servers, ca_file) -> None:
    wrong_name(servers.https.port, ca_file, "elsewhere.test")
    event = one_event(servers.sink, WireEventKind.NAME_MISMATCH)
    assert event.sni == "elsewhere.test"
    assert '"elsewhere.test"' in event.advice and "does not cover" in event.advice


def test_no_shared_cipher_is_named(servers) -> None:
    no_shared_cipher(servers.https.port)
    event = one_event(servers.sink, WireEventKind.NO_SHARED_PROTOCOL)
    assert event.reason == "NO_SHARED_CIPHER"
    assert "no TLS version or cipher suite" in event.advice


def test_a_hang_up_mid_handshake_is_client_closed(servers) -> None:
    hang_up_mid_handshake(servers.https.port)
    event = one_event(servers.sink, WireEventKind.CLIENT_CLOSED)
    assert "closed the connection during the TLS handshake" in event.advice


def test_events_reach_only_subscriptions_that_ask(servers) -> None:
    plain, with_events = servers.sink.subscribe(), servers.sink.subscribe(events=True)
    tls_hello_on_http(servers.http.port)
    assert wait_until(lambda: with_events.wait(0.05))
    events = wait_until(with_events.drain_events)
    assert [e.kind for e in events] == [WireEventKind.TLS_ON_HTTP]
    assert plain.drain_events() == [] and plain.drain() == []
    assert servers.sink.events_total == 1
    assert pickle.loads(pickle.dumps(events[0])) == events[0]  # crosses to the window as it is
    assert events[0].to_dict()["kind"] == "tls-on-http"


def test_serve_prints_each_event_with_its_advice(tmp_path) -> None:
    """``flask-launcher serve``: each wrong-protocol client and curl without the CA is one
    ``notice:`` line on stderr that says what to do."""
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "launcher",
            "serve",
            "--http-port",
            "0",
            "--https-port",
            "0",
            "--cert-dir",
            str(tmp_path / "certs"),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        urls: list[str] = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline and not (line := proc.stdout.readline()).startswith(
            "CA certificate: "
        ):
            assert line, "serve ended early"
            urls.append(line.split()[0])
        https = next(u for u in urls if u.startswith("https://"))
        http = next(u for u in urls if u.startswith("http://"))
        https_port = int(https.rsplit(":", 1)[1].strip("/"))
        http_port = int(http.rsplit(":", 1)[1].strip("/"))
        tls_hello_on_http(http_port)
        assert plain_http_on_https(https_port, "/p").startswith(b"HTTP/1.1 400 ")
        assert curl_without_ca(https_port).returncode == 60
        time.sleep(0.3)  # the last notice is printed by the loop thread just after the close
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert proc.stderr is not None
    notices = [line for line in proc.stderr.read().splitlines() if line.startswith("notice: ")]
    assert any(
        line.startswith("notice: TLS handshake on the HTTP port from 127.0.0.1:") and f"use {https}" in line
        for line in notices
    ), notices
    assert any(
        line.startswith("notice: Plain HTTP on the HTTPS port from 127.0.0.1:")
        and f"(answered 400): use https://127.0.0.1:{https_port}/p" in line
        for line in notices
    ), notices
    assert any(
        line.startswith("notice: TLS handshake failed from 127.0.0.1:")
        and line.endswith(
            "the client does not trust this CA (unknown_ca): trust it with `flask-launcher trust install`,"
            " then restart the browser"
        )
        for line in notices
    ), notices


@pytest.mark.parametrize(
    ("reason", "covered", "kind"),
    [
        ("SSLV3_ALERT_CERTIFICATE_UNKNOWN", True, WireEventKind.UNTRUSTED_CA),  # Chromium, name covered
        ("SSLV3_ALERT_CERTIFICATE_UNKNOWN", None, WireEventKind.UNTRUSTED_CA),  # no SNI (an IP address)
        ("SSLV3_ALERT_BAD_CERTIFICATE", False, WireEventKind.NAME_MISMATCH),
        ("TLSV1_ALERT_UNKNOWN_CA", False, WireEventKind.UNTRUSTED_CA),  # says so itself
        ("WRONG_VERSION_NUMBER", None, WireEventKind.NO_SHARED_PROTOCOL),
        ("UNEXPECTED_EOF_WHILE_READING", None, WireEventKind.CLIENT_CLOSED),
        ("SOMETHING_ELSE", None, WireEventKind.HANDSHAKE_FAILED),
    ],
)
def test_classification_of_openssl_reasons(reason: str, covered: bool | None, kind: WireEventKind) -> None:
    import ssl

    exc = ssl.SSLError(1, f"[SSL: {reason}] ({reason})")
    exc.reason = reason
    from launcher.wireevents import classify_handshake

    event = classify_handshake(
        ("127.0.0.1", 5555), exc, "localhost" if covered is not None else None, covered
    )
    assert event.kind is kind
    assert event.notice().startswith("TLS handshake failed from 127.0.0.1:5555: ")


def test_a_reset_mid_handshake_is_client_closed() -> None:
    from launcher.wireevents import classify_handshake

    event = classify_handshake(("::1", 7), ConnectionResetError(104, "Connection reset by peer"), None, None)
    assert event.kind is WireEventKind.CLIENT_CLOSED and "ECONNRESET" in event.advice
    assert event.peer == "[::1]:7"
