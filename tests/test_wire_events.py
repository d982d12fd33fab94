"""Wire events in the core: real clients that go wrong on real listeners, and what the sink gets.

A connection that fails before a request (wrong protocol on a port, a refused certificate, no
shared cipher, a wrong server name, a hang-up) is a ``WireEvent`` in the listener's sink, with its
kind and the advice in plain words, and the same advice in the ``launcher.wire`` log line.
"""

from __future__ import annotations

import logging
import pickle

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
