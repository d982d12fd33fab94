"""The listeners against hostile clients, over real sockets on 127.0.0.1: running out of file
descriptors, one address holding too many connections, and floods of notices or waitress chatter.

The names this hardening added are imported inside the tests, so that against the code before it
each test fails on what it checks (a traceback flood, a busy loop, a chatty stderr), not on an
import at the top of the file.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import ok_app, raw_request
from nethelpers import wait_for

from launcher.scheme import Scheme
from launcher.servers import Listener

resource = pytest.importorskip("resource", reason="descriptor limits are POSIX")

ROOT = Path(__file__).resolve().parent.parent
GET = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
#: The first bytes of a TLS ClientHello: a record header (handshake, TLS 1.0 record version).
CLIENT_HELLO = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32)


class Collect(logging.Handler):
    """Every record it sees, for counting."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Iterator[Collect]:
    """The records of waitress's loggers and ``launcher.wire``, each counted once."""
    handler = Collect()
    loggers = [logging.getLogger(name) for name in ("waitress", "launcher.wire")]
    levels = [lg.level for lg in loggers]
    propagate = [lg.propagate for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    yield handler
    for lg, level, prop in zip(loggers, levels, propagate, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)
        lg.propagate = prop


def http_listener(**kw: object) -> Listener:
    listener = Listener(Scheme.HTTP, lambda: (ok_app, None), host="127.0.0.1", port=0, **kw)  # type: ignore[arg-type]
    listener.start()
    return listener


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


# --- running out of descriptors ------------------------------------------------------------------


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open descriptors in /proc")
def test_out_of_descriptors_pauses_accepting_quietly_and_serves_again(collected):
    """accept() failing with EMFILE: no traceback per loop turn, no busy loop, one line for the
    episode with its count, and the client that waited meanwhile is served once descriptors free."""
    listener = http_listener()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hogs: list[int] = []
    waiting: socket.socket | None = None
    low = len(os.listdir("/proc/self/fd")) + 24
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
        try:
            while True:
                hogs.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        os.close(hogs.pop())
        # The last free descriptor is the client's: the server's accept() has none left.
        waiting = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        time.sleep(0.5)  # the episode is under way
        before, cpu = len(collected.records), cpu_seconds()
        time.sleep(2.0)
        busy = cpu_seconds() - cpu
        during = collected.records[before:]
        assert busy < 0.5, f"the loop spun: {busy:.2f} s of CPU in 2 s"
        assert len(during) <= 2, [r.getMessage() for r in during[:3]]
        assert not any(r.exc_info for r in collected.records)

        for _ in range(6):
            os.close(hogs.pop())
        waiting.sendall(GET)
        assert read_all(waiting).startswith(b"HTTP/1.1 200 ")  # served once a descriptor was free
        assert raw_request(listener.port, GET).startswith(b"HTTP/1.1 200 ")
    finally:
        for fd in hogs:
            os.close(fd)
        if waiting is not None:
            waiting.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        listener.stop()
    episodes = [r.getMessage() for r in collected.records if "could not accept" in r.getMessage()]
    assert len(episodes) == 1, episodes
    assert f"out of file descriptors (ulimit -n {low})" in episodes[0]
    assert "attempts" in episodes[0]


def test_connection_limits_follow_the_descriptor_limit():
    from launcher import fdlimits

    assert fdlimits.connection_limit(1024) == (1024 - 64) // 6 == 160
    assert fdlimits.connection_limit(100) == fdlimits.MIN_CONNECTIONS
    assert fdlimits.connection_limit(1_048_576) == fdlimits.MAX_CONNECTIONS
    # Two listeners at their limits, each connection at its worst, still fit under 1024.
    assert 2 * fdlimits.connection_limit(1024) * fdlimits.FDS_PER_CONNECTION + fdlimits.RESERVE <= 1024


def soft_and_hard(pid: int) -> tuple[str, str]:
    """The open-file limits of process *pid*, from /proc."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return soft, hard
    raise AssertionError("no open-file limit in /proc")


def lower_soft_limit() -> None:
    """preexec_fn: start with a soft open-file limit of 256, as many systems do with 1024."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc/PID/limits")
def test_serve_raises_the_soft_descriptor_limit_to_the_hard_one(tmp_path):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit ({hard}) leaves nothing to raise")
    proc = serve(tmp_path, preexec_fn=lower_soft_limit)
    try:
        banner(proc)
        soft_now, hard_now = soft_and_hard(proc.pid)
        assert soft_now == hard_now, (soft_now, hard_now)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert proc.stderr is not None and proc.stderr.read() == ""  # silent when it works


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc/PID/limits")
def test_the_windows_server_process_raises_it_too(cert_store):
    from launcher.remote import RemoteServers

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit ({hard}) leaves nothing to raise")
    servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # what the child inherits
        try:
            assert servers.start_all() == []
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert servers.pid is not None
        soft_now, hard_now = soft_and_hard(servers.pid)
        assert soft_now == hard_now, (soft_now, hard_now)
    finally:
        servers.close()


# --- connections per client address ---------------------------------------------------------------


def test_loopback_is_exempt_and_other_addresses_are_not():
    from launcher.servers import LOOPBACK_NETWORKS, client_key, is_exempt

    for host in ("127.0.0.1", "127.3.2.1", "::1", client_key("::ffff:127.0.0.1")):
        assert is_exempt(host, LOOPBACK_NETWORKS), host
    for host in ("10.0.0.1", "192.168.1.20", "2001:db8::1", "::ffff:10.0.0.1", "fe80::1%eth0", "name"):
        assert not is_exempt(client_key(host), LOOPBACK_NETWORKS), host
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert is_exempt("10.1.2.3", ("10.0.0.0/8",)) and not is_exempt("127.0.0.1", ())


def keep_alive_get(port: int) -> http.client.HTTPConnection:
    """A connection that has been served once and stays open."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"ok"
    return conn


def admitted(port: int, held: list[http.client.HTTPConnection]) -> bool:
    """Try to be served once more; on success the connection joins *held*."""
    try:
        held.append(keep_alive_get(port))
    except (ConnectionError, http.client.RemoteDisconnected):
        return False
    return True


def closed_at_once(port: int) -> bool:
    """True when the server closes a new connection without reading a request from it."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        try:
            return sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


def test_one_address_over_its_cap_is_closed_at_once_and_admitted_again_later(collected):
    from launcher.servers import Limits

    # Loopback is exempt by design; this listener exempts nothing, so 127.0.0.1 is capped.
    listener = http_listener(limits=Limits(client_connections=3, exempt_networks=()))
    held: list[http.client.HTTPConnection] = []
    try:
        held = [keep_alive_get(listener.port) for _ in range(3)]
        for _ in range(5):
            assert closed_at_once(listener.port)
        for conn in held:  # the three it holds are still served
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"ok"
        held.pop().close()
        wait_for(lambda: admitted(listener.port, held), timeout=5, what="a free place for the client")
        assert len(held) == 3 and closed_at_once(listener.port)
    finally:
        for conn in held:
            conn.close()
        listener.stop()
    refused = [r for r in collected.records if r.getMessage().startswith("Refused a connection")]
    assert refused and "127.0.0.1" in refused[0].getMessage()


#: Run inside the network namespace: three served keep-alive connections from 10.0.0.2, then
#: what happens to two more from that address and to one from 10.0.0.1; JSON on stdout.
NAMESPACE_CLIENT = """
import http.client, json, socket, sys
port = int(sys.argv[1])

def served(source):
    conn = http.client.HTTPConnection("10.0.0.1", port, timeout=5, source_address=(source, 0))
    conn.request("GET", "/")
    return conn, conn.getresponse().read()

def closed_at_once(source):
    with socket.create_connection(("10.0.0.1", port), timeout=3, source_address=(source, 0)) as sock:
        try:
            return sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

held = [served("10.0.0.2") for _ in range(3)]
result = {
    "held": [body.decode() for _conn, body in held],
    "over_the_cap_closed": [closed_at_once("10.0.0.2") for _ in range(2)],
    "other_address": served("10.0.0.1")[1].decode(),
}
print(json.dumps(result))
"""


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("ip") is None,
    reason="a non-loopback client needs a network namespace: root and iproute2's ip",
)
def test_the_cap_applies_to_a_real_non_loopback_client(tmp_path):
    """``serve --max-client-connections 3`` in a network namespace this test makes, its client at
    another address there (10.0.0.2): not loopback, so capped, with nothing exempted by hand."""
    ns = f"launcher-test-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        pytest.skip("cannot make a network namespace here")
    proc: subprocess.Popen[str] | None = None
    try:
        for command in (
            ["link", "set", "lo", "up"],
            ["addr", "add", "10.0.0.1/32", "dev", "lo"],
            ["addr", "add", "10.0.0.2/32", "dev", "lo"],
        ):
            subprocess.run(["ip", "-n", ns, *command], check=True, capture_output=True)
        proc = serve(tmp_path, "--host", "10.0.0.1", "--max-client-connections", "3", netns=ns)
        port = banner(proc)["http"]
        client = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", NAMESPACE_CLIENT, str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert client.returncode == 0, client.stderr
        result = json.loads(client.stdout)
        assert len(result["held"]) == 3 and result["over_the_cap_closed"] == [True, True]
        assert result["other_address"]  # another address has its own count
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert "notice: Refused a connection" in stderr and "from 10.0.0.2" in stderr, stderr
    assert "Traceback" not in stderr


def test_loopback_clients_are_not_capped():
    from launcher.servers import Limits

    listener = http_listener(limits=Limits(client_connections=2))
    try:
        held = [keep_alive_get(listener.port) for _ in range(6)]
        for conn in held:
            conn.close()
    finally:
        listener.stop()


# --- noise -----------------------------------------------------------------------------------------


def serve(tmp_path: Path, *args: str, netns: str | None = None, **kw: object) -> subprocess.Popen[str]:
    """``flask-launcher serve`` on free ports with *args*, in network namespace *netns* if given."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [*prefix, sys.executable, "-m", "launcher", "serve", "--http-port", "0", "--https-port", "0",
         "--cert-dir", str(tmp_path / "certs"), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )  # fmt: skip


def banner(proc: subprocess.Popen[str]) -> dict[str, int]:
    """The listeners' ports by scheme, once ``serve`` printed its banner."""
    assert proc.stdout is not None
    ports: dict[str, int] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, "serve ended early"
        if line.startswith("CA certificate: "):
            return ports
        url = line.split()[0]
        ports[url.split(":")[0]] = int(url.rsplit(":", 1)[1].rstrip("/"))
    raise AssertionError("no banner")


def drain(stream: object) -> threading.Thread:
    """Read *stream* to its end in a thread (the access log must not fill the pipe)."""
    thread = threading.Thread(target=lambda: stream.read(), daemon=True)  # type: ignore[attr-defined]
    thread.start()
    return thread


def test_serve_under_load_prints_no_waitress_chatter(tmp_path):
    proc = serve(tmp_path)
    try:
        port = banner(proc)["http"]
        drain(proc.stdout)
        failures: list[BaseException] = []

        def client() -> None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                for _ in range(10):
                    conn.request("GET", "/")
                    conn.getresponse().read()
                conn.close()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=client) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not failures, failures[:3]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert "Task queue depth" not in stderr, stderr[:300]


def test_a_burst_of_identical_notices_prints_a_few_lines_and_the_count(tmp_path):
    proc = serve(tmp_path)
    try:
        port = banner(proc)["http"]
        for _ in range(200):  # TLS on the HTTP port: named, then closed by the server
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(CLIENT_HELLO)
                read_all(sock)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert proc.stderr is not None
    lines = proc.stderr.read().splitlines()
    assert 2 <= len(lines) <= 5, lines[:8]
    shown = [line for line in lines if line.startswith("notice: TLS handshake on the HTTP port")]
    counts = [int(line.split()[1]) for line in lines if " more like this in the last " in line]
    assert shown and counts
    assert len(shown) + sum(counts) == 200, lines
