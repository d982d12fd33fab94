"""``Scheme``: one enum for HTTP and HTTPS, equal to its word wherever a word arrives."""

from __future__ import annotations

import json
import pickle

from launcher.scheme import Scheme


def test_the_twin_and_the_default_port() -> None:
    assert (Scheme.HTTP.other, Scheme.HTTPS.other) == (Scheme.HTTPS, Scheme.HTTP)
    assert (Scheme.HTTP.default_port, Scheme.HTTPS.default_port) == (80, 443)


def test_it_travels_as_its_word() -> None:
    assert json.dumps({"listener": Scheme.HTTPS}) == '{"listener": "https"}'
    assert f"{Scheme.HTTP}://" == "http://"
    assert Scheme("https") is Scheme.HTTPS and Scheme.HTTPS == "https"
    assert pickle.loads(pickle.dumps(Scheme.HTTP)) is Scheme.HTTP


def test_listeners_and_records_carry_it(make_servers, wait_records) -> None:
    import urllib.request

    from flask import Flask

    app = Flask("schemes")
    app.add_url_rule("/", "index", lambda: "ok")
    servers = make_servers(app, start=False)
    assert (servers.http.scheme, servers.https.scheme) == (Scheme.HTTP, Scheme.HTTPS)
    servers.http.start()
    with urllib.request.urlopen(servers.http.url, timeout=5) as resp:
        assert resp.status == 200
    [record] = wait_records(servers.sink, 1)
    assert record.listener is Scheme.HTTP
