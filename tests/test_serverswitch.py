"""``SwitchableServers``: one server process and a pool of them, switched while serving.

Real server processes, real sockets on 127.0.0.1 (ports 0), real TLS with a generated CA, a
user's app from a temporary folder, reload on change.
"""

from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from nethelpers import wait_for

from launcher.apptarget import AppTarget
from launcher.certs import CertStore
from launcher.errors import AppLoadError
from launcher.remote import RemoteServers
from launcher.requestlog import RequestSink
from launcher.serverswitch import Inner, SwitchableServers
from launcher.workers import WorkerPool

pytestmark = pytest.mark.skipif(os.name != "posix", reason="worker pools need POSIX")

APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return {text!r}
"""


def get(url: str, context: ssl.SSLContext) -> tuple[bytes, str | None]:
    """The body and the Strict-Transport-Security header of *url* (one new connection)."""
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as response:
            return response.read(), response.headers.get("Strict-Transport-Security")
    except (urllib.error.URLError, OSError):
        return b"", None  # restarting


def test_a_switch_keeps_app_policy_ports_log_and_reload_on_change(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    source = project / "switchapp.py"
    source.write_text(APP.format(text="version 1"))
    store, sink = CertStore(tmp_path / "certs"), RequestSink()

    def make(workers: int) -> Inner:
        if workers > 1:
            return WorkerPool(cert_store=store, sink=sink, workers=workers, http_port=0, https_port=0)
        return RemoteServers(cert_store=store, sink=sink, http_port=0, https_port=0, start=False)

    servers = SwitchableServers(make(1), make)
    states: list[tuple[str, str]] = []
    servers.https.add_state_callback(lambda listener, state: states.append((listener.scheme, state.value)))
    try:
        target = AppTarget("switchapp:app", project)
        servers.serve_target(target, fresh=True, grace=0.0)
        servers.policy.update(hsts=600)
        assert servers.start_all() == []
        https = f"https://localhost:{servers.https.port}/"
        context = ssl.create_default_context(cafile=str(store.ca_cert_path))
        assert get(https, context) == (b"version 1", "max-age=600")
        reloaded: list[object] = []
        reloader = servers.make_reloader(
            target, on_reloaded=lambda app, errors: reloaded.append(app), on_error=print, on_change=print
        )
        reloader.start()
        (single,) = servers.pids

        assert servers.switch(2) == []
        assert servers.workers == 2 and isinstance(servers.inner, WorkerPool)
        assert len(servers.pids) == 2 and single not in servers.pids
        assert f"https://localhost:{servers.https.port}/" == https  # the same port
        assert ("https", "stopping") in states and states[-1] == ("https", "running")
        assert get(https, context) == (b"version 1", "max-age=600")  # the same app and policy
        assert reloader.running  # moved to the pool

        source.write_text(APP.format(text="version 2"))
        wait_for(lambda: reloaded, timeout=15, what="the reload")
        assert reloader.reloads == 1  # counted by the pool's watcher, through the switch
        # Reported once the old workers stopped: every request gets the new code at once.
        assert get(https, context)[0] == b"version 2"
        served_by = {record.worker for record in sink.snapshot()}  # one log: before and after
        assert 0 in served_by and served_by & {1, 2}, served_by

        # One process whose app no longer imports: nothing changes, the pool keeps serving.
        reloader.stop()
        source.write_text("raise RuntimeError('broken on purpose')\n")
        pool = servers.inner
        with pytest.raises(AppLoadError):
            servers.switch(1)
        assert servers.inner is pool and len(servers.pids) == 2
        assert get(https, context)[0] == b"version 2"
    finally:
        servers.close(2.0)
    assert servers.pids == [] and not servers.alive
