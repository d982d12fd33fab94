"""``launcher.remote``: the window's servers in a child process, driven over a connection.

Real child processes, real listeners on free ports, real TLS handshakes against the CA the
child's certificate store made, real imports of user apps in the child.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nethelpers import refuses, wait_for

from launcher.apptarget import AppTarget
from launcher.certs import CertStore
from launcher.errors import AppLoadError, ConfigError, PortInUseError, ServerProcessError
from launcher.remote import AppInfo, RemoteServers
from launcher.remote.wire import RemoteError, decode_error, encode_error
from launcher.servers import ListenerState

USER_APP = """\
import os
from flask import Flask

app = Flask("remoteuserapp")


@app.get("/")
def index():
    return "{text}"


@app.get("/env")
def env():
    return " ".join(sorted(k for k in os.environ if k.startswith("FLASK_LAUNCHER"))) or "none"


@app.get("/fds")
def fds():
    # Descriptors a process started by the app would inherit (os.get_inheritable) that are sockets.
    import stat
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            fd = int(name)
            if stat.S_ISSOCK(os.fstat(fd).st_mode) and os.get_inheritable(fd):
                found.append(name)
        except OSError:
            pass
    return " ".join(found) or "none"
"""


@pytest.fixture
def remote(cert_store: CertStore) -> Iterator[Callable[..., RemoteServers]]:
    made: list[RemoteServers] = []

    def make(**kw) -> RemoteServers:
        kw.setdefault("http_port", 0)
        kw.setdefault("https_port", 0)
        servers = RemoteServers(cert_store=kw.pop("cert_store", cert_store), **kw)
        made.append(servers)
        return servers

    yield make
    for servers in made:
        servers.close()


def get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    with urllib.request.urlopen(url, context=context, timeout=5) as response:
        return response.status, response.read().decode()


def write_app(folder: Path, text: str) -> AppTarget:
    (folder / "remoteuserapp.py").write_text(USER_APP.format(text=text))
    return AppTarget("remoteuserapp:app", folder)


def test_serves_both_schemes_logs_here_and_stops(remote, client_context):
    servers = remote()
    assert servers.start_all() == []
    assert servers.http.running and servers.https.running
    assert servers.http.port != 0 and servers.https.port != servers.http.port
    assert get(servers.http.url)[0] == 200
    assert get(servers.https.url, client_context)[0] == 200
    wait_for(lambda: len(servers.sink.snapshot()) == 2)
    records = servers.sink.snapshot()
    assert sorted(r.listener for r in records) == ["http", "https"]
    https = next(r for r in records if r.listener == "https")
    assert https.tls_version in ("TLSv1.2", "TLSv1.3")
    assert servers.sink.total == 2
    assert servers.pid is not None and servers.pid != os.getpid()

    ports = (servers.http.port, servers.https.port)
    servers.stop_all()
    assert servers.http.state is ListenerState.STOPPED and servers.https.state is ListenerState.STOPPED
    assert all(refuses(port) for port in ports)


def test_state_callbacks_and_single_listener(remote):
    servers = remote()
    seen: list[tuple[str, str]] = []
    servers.http.add_state_callback(lambda lst, state: seen.append((lst.scheme, state.value)))
    servers.http.start()
    assert servers.http.running and not servers.https.running
    servers.http.stop()
    assert seen == [("http", "starting"), ("http", "running"), ("http", "stopping"), ("http", "stopped")]


def test_port_in_use_is_the_same_typed_error(remote):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        servers = remote(http_port=port)
        with pytest.raises(PortInUseError) as caught:
            servers.http.start()
        assert caught.value.port == port and caught.value.host == "127.0.0.1"
        assert f"Port {port} on 127.0.0.1 is already in use" in str(caught.value)
        assert servers.http.state is ListenerState.ERROR and "already in use" in (servers.http.error or "")
        # Still usable: another port works.
        servers.http.port = 0
        servers.http.start()
        assert servers.http.running
    finally:
        holder.close()


def test_bad_port_is_a_config_error(remote):
    servers = remote(https_port=70000)
    errors = servers.start_all()
    assert len(errors) == 1 and isinstance(errors[0], ConfigError)
    assert servers.http.running and servers.https.state is ListenerState.ERROR


def test_policy_changes_are_in_force_in_order(remote):
    servers = remote()
    assert servers.start_all() == []
    servers.policy.redirect_https = 307
    servers.policy.sync()
    conn = http.client.HTTPConnection("127.0.0.1", servers.http.port, timeout=5)
    conn.request("GET", "/x?y=1")
    response = conn.getresponse()
    assert response.status == 307
    assert response.getheader("Location") == f"https://127.0.0.1:{servers.https.port}/x?y=1"
    conn.close()
    servers.policy.redirect_https = None
    servers.policy.sync()
    assert get(servers.http.url)[0] == 200


def test_serve_target_and_a_broken_one(remote, tmp_path, client_context):
    servers = remote()
    assert servers.start_all() == []
    target = write_app(tmp_path, "mine")
    info, errors = servers.serve_target(target)
    assert errors == [] and info == AppInfo("remoteuserapp", "remoteuserapp") and servers.app == info
    assert get(servers.https.url, client_context) == (200, "mine")
    # Nothing of the launcher's is left in the environment for user code, and the channel to
    # the window is not handed down to processes the app starts.
    assert get(servers.http.url + "env") == (200, "none")
    assert get(servers.http.url + "fds") == (200, "none")

    (tmp_path / "brokenremote.py").write_text("import does_not_exist_anywhere\n")
    with pytest.raises(AppLoadError) as caught:
        servers.serve_target(AppTarget("brokenremote", tmp_path))
    assert "does_not_exist_anywhere" in str(caught.value)
    assert "brokenremote.py" in caught.value.details
    assert get(servers.http.url) == (200, "mine")  # nothing changed


def test_reload_on_change_runs_in_the_child(remote, tmp_path):
    servers = remote()
    assert servers.start_all() == []
    target = write_app(tmp_path, "one")
    servers.serve_target(target)
    events: list[tuple[str, object]] = []
    done = threading.Event()

    def reloaded(info, errors):
        events.append(("reloaded", (info, errors)))
        done.set()

    reloader = servers.make_reloader(
        target,
        on_reloaded=reloaded,
        on_error=lambda exc: (events.append(("failed", exc)), done.set()),
        on_change=lambda paths: events.append(("changed", paths)),
    )
    reloader.start(servers.app)
    assert tmp_path.resolve() in [p.resolve() for p in reloader.watched_roots]
    time.sleep(0.05)
    write_app(tmp_path, "two")
    assert done.wait(10)
    assert get(servers.http.url) == (200, "two")
    assert events[0][0] == "changed" and any(p.name == "remoteuserapp.py" for p in events[0][1])
    assert events[-1] == ("reloaded", (AppInfo("remoteuserapp", "remoteuserapp"), []))

    done.clear()
    (tmp_path / "remoteuserapp.py").write_text("this is not python\n")
    assert done.wait(10)
    kind, error = events[-1]
    assert kind == "failed" and isinstance(error, AppLoadError)
    assert get(servers.http.url) == (200, "two")  # the old version keeps serving
    reloader.stop()


def test_a_crashed_child_is_reported_and_replaced(remote, tmp_path):
    servers = remote()
    assert servers.start_all() == []
    servers.serve_target(write_app(tmp_path, "again"))
    old_pid = servers.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: servers.http.state is ListenerState.ERROR)
    assert "exited unexpectedly" in (servers.http.error or "")
    assert servers.https.state is ListenerState.ERROR
    servers.stop_all()  # "Stop all" after a crash: both listeners read stopped, nothing to stop
    assert servers.http.state is ListenerState.STOPPED and servers.https.state is ListenerState.STOPPED
    # The next call starts a new process, which serves the user's app again.
    assert servers.start_all() == []
    assert servers.pid != old_pid
    assert get(servers.http.url) == (200, "again")


def test_close_ends_the_child_and_frees_the_ports(remote):
    servers = remote()
    assert servers.start_all() == []
    ports = (servers.http.port, servers.https.port)
    pid = servers.pid
    servers.close()
    assert not servers.alive
    assert all(refuses(port) for port in ports)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ServerProcessError):
        servers.start_all()


def test_the_child_stops_when_the_window_process_dies(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        from launcher.certs import CertStore
        from launcher.remote import RemoteServers
        servers = RemoteServers(cert_store=CertStore({str(tmp_path / "certs")!r}), http_port=0, https_port=0)
        assert servers.start_all() == []
        print(servers.pid, servers.http.port, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid, port = (int(v) for v in parent.stdout.readline().split())
        assert not refuses(port)
        parent.kill()
        parent.wait()
        wait_for(lambda: refuses(port), timeout=10)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            try:  # a zombie whose parent died is reaped by init; treat an exited one as gone
                with open(f"/proc/{pid}/stat") as fh:
                    return fh.read().split()[2] == "Z"
            except OSError:
                return True
            return False

        wait_for(gone, timeout=10)
    finally:
        parent.kill()


def test_errors_cross_with_their_type_text_and_attributes():
    error = decode_error(encode_error(PortInUseError("127.0.0.1", 8443, "nginx (pid 7)")))
    assert type(error) is PortInUseError
    assert (error.host, error.port, error.holder) == ("127.0.0.1", 8443, "nginx (pid 7)")
    assert str(error) == str(PortInUseError("127.0.0.1", 8443, "nginx (pid 7)"))
    load = decode_error(encode_error(AppLoadError("Cannot import x", "Traceback ...")))
    assert type(load) is AppLoadError and load.details == "Traceback ..." and str(load) == "Cannot import x"
    assert type(decode_error(encode_error(ValueError("bad")))) is ValueError

    class Foreign(Exception):
        pass

    foreign = decode_error(encode_error(Foreign("boom")))
    assert isinstance(foreign, RemoteError) and str(foreign) == "Foreign: boom"
    assert "boom" in foreign.details
    # Only launcher.* and builtins are rebuilt.
    assert isinstance(decode_error(("os", "error", ("x",), {}, "x")), RemoteError)


def test_after_a_crash_reload_on_change_watches_again(remote, tmp_path):
    servers = remote()
    assert servers.start_all() == []
    target = write_app(tmp_path, "first")
    servers.serve_target(target)
    done = threading.Event()
    reloader = servers.make_reloader(
        target, on_reloaded=lambda *_: done.set(), on_error=lambda _e: None, on_change=lambda _p: None
    )
    reloader.start()
    os.kill(servers.pid, signal.SIGKILL)
    wait_for(lambda: servers.http.state is ListenerState.ERROR)
    servers.http.start()  # a new process: the app and its watcher again
    assert get(servers.http.url) == (200, "first")
    time.sleep(0.05)
    write_app(tmp_path, "second")
    assert done.wait(10)
    assert get(servers.http.url) == (200, "second")
    reloader.stop()


def test_ctrl_c_in_the_terminal_is_left_to_the_window(remote):
    """SIGINT reaches the whole process group; the window closes on it and ends the child itself."""
    servers = remote()
    servers.http.start()
    os.kill(servers.pid, signal.SIGINT)
    time.sleep(0.3)
    assert servers.alive and servers.http.running
    assert get(servers.http.url)[0] == 200


def server_children() -> list[int]:
    """Live ``_server-process`` children of this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == os.getpid() and b"_server-process" in cmdline:
            found.append(int(entry.name))
    return found


def test_close_while_the_child_starts_leaves_nothing_running(cert_store):
    before = set(server_children())
    servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
    servers.close()  # at once: the child is still starting
    assert set(server_children()) == before

    servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
    outcome: list[object] = []

    def start() -> None:
        try:
            servers.http.start()
            outcome.append("started")
        except ServerProcessError as exc:  # closed before the child was up: said so
            outcome.append(exc)

    worker = threading.Thread(target=start)
    worker.start()
    servers.close()
    worker.join(10)
    assert set(server_children()) == before
    assert not servers.http.running
    assert len(outcome) == 1
    if outcome == ["started"]:  # it may have started before the close: then it is stopped now
        assert servers.http.state is ListenerState.STOPPED


def test_many_calls_after_a_crash_start_one_new_child(remote):
    servers = remote()
    servers.http.start()
    os.kill(servers.pid, signal.SIGKILL)
    wait_for(lambda: servers.http.state is ListenerState.ERROR)
    errors: list[BaseException] = []

    def start(listener) -> None:
        try:
            listener.start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(lst,)) for lst in servers.listeners * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(server_children()) == 1
    assert servers.http.running and servers.https.running
    servers.close()
    assert server_children() == []


def test_after_a_crash_a_broken_app_is_reported_until_it_loads_again(remote, tmp_path):
    servers = remote()
    target = write_app(tmp_path, "before")
    servers.serve_target(target)
    servers.http.start()
    (tmp_path / "remoteuserapp.py").write_text("raise RuntimeError('half-saved')\n")
    os.kill(servers.pid, signal.SIGKILL)
    wait_for(lambda: servers.http.state is ListenerState.ERROR)
    with pytest.raises(AppLoadError) as caught:
        servers.http.start()
    assert "restarted after it stopped unexpectedly" in str(caught.value) and "half-saved" in str(
        caught.value
    )
    with pytest.raises(AppLoadError):  # still owed: not silently serving the demo app instead
        servers.http.start()
    write_app(tmp_path, "after")
    servers.http.start()
    assert get(servers.http.url) == (200, "after")


def test_a_reply_that_cannot_be_pickled_becomes_an_error_reply():
    """The child always answers a call the window waits for (real socket pair, the child's class)."""
    from launcher.remote.child import ServerProcess
    from launcher.remote.wire import Channel, Reply

    window_sock, child_sock = socket.socketpair()
    window_end = Channel(window_sock)
    process = ServerProcess(Channel(child_sock))
    process.answer(7, lambda: lambda: None)  # a value pickle refuses
    reply = window_end.recv(timeout=5)
    assert isinstance(reply, Reply) and (reply.call_id, reply.ok) == (7, False)
    error = decode_error(reply.value)
    assert isinstance(error, Exception) and "pickle" in str(error).lower()
    window_end.close()
    process.channel.close()


def test_decoding_never_raises_and_keeps_os_errors_intact():
    error = decode_error(encode_error(OSError(98, "Address already in use")))
    assert type(error) is OSError and error.errno == 98 and str(error) == "[Errno 98] Address already in use"
    group = decode_error(encode_error(ExceptionGroup("two", [ValueError(1), KeyError(2)])))
    assert isinstance(group, RemoteError) and "two" in str(group)
    assert isinstance(decode_error(("builtins", "ValueError")), RemoteError)  # malformed
    assert isinstance(decode_error(("launcher.no_such_module", "X", (), {}, "x")), RemoteError)


# --- the operations, the messages and the channel ------------------------------------------------


def test_every_op_has_exactly_one_handler_in_the_child():
    """The window sends ``Op`` members only; the child must have a handler for each, and no other."""
    from launcher.remote.child import HANDLERS, ServerProcess
    from launcher.remote.wire import Op

    assert set(HANDLERS) == set(Op)
    for op, handler in HANDLERS.items():
        assert getattr(ServerProcess, handler.__name__) is handler, op
    assert len({op.value.name for op in Op}) == len(Op)  # one wire name each


def test_the_threads_setting_reaches_the_childs_listeners(remote):
    servers = remote(threads=3)
    assert servers.start_all() == []
    facts = servers.diagnostics()
    assert facts["pid"] == servers.pid
    assert facts["threads"] == {"http": 3, "https": 3}
    for scheme in ("http", "https"):
        workers = [n for n in facts["thread_names"] if n.startswith(f"launcher-{scheme}-worker-")]
        assert len(workers) == 3, facts["thread_names"]


def test_an_unknown_operation_or_message_is_an_error_not_a_crash(remote):
    """A newer window's operation gets a clear error reply; a message the child does not know
    is logged and skipped; the child keeps serving either way."""
    from launcher.remote.wire import Call

    servers = remote()
    servers.http.start()
    session = servers._wait_ready()
    with pytest.raises(ValueError, match="no operation 'no_such_op'"):
        servers._call(session, "no_such_op", (), {}, 5.0)  # what an unknown Op name unpickles as
    session.conn.send(("not", "a", "message"))
    session.conn.send(Call(0, "no_such_op_either"))
    assert servers.diagnostics()["pid"] == servers.pid
    assert get(servers.http.url)[0] == 200


#: A stand-in server process that does the start right, then sends what the window does not
#: expect: an unknown object, a frame that is no pickle, then a real state change.
_ODD_CHILD = """
import os, socket, struct, sys, time
from launcher.remote.wire import PROTOCOL, AppInfo, Channel, Hello, Init, Ready, StateChanged
channel = Channel(socket.socket(fileno=int(sys.argv[sys.argv.index("--fd") + 1])))
channel.send(Hello(PROTOCOL, os.getpid()))
assert isinstance(channel.recv(timeout=10), Init)
channel.send(Ready(AppInfo("oddchild")))
channel.send(("junk",))
channel.send_bytes(b"this is no pickle")
channel.send(StateChanged("http", "running", None, 4321))
time.sleep(60)
"""


def test_the_window_skips_messages_it_cannot_read(cert_store, monkeypatch):
    from launcher.remote import client

    monkeypatch.setattr(client, "child_command", lambda: [sys.executable, "-c", _ODD_CHILD])
    servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
    try:
        servers._wait_ready()
        assert servers.app == AppInfo("oddchild")
        wait_for(lambda: servers.http.state is ListenerState.RUNNING, timeout=5)
        assert servers.http.port == 4321 and servers.alive
    finally:
        started = time.monotonic()
        servers.close()
        assert time.monotonic() - started < 2.0
    assert not servers.alive


#: A stand-in server process that takes the channel it is given and never says a word: an
#: inherited descriptor stays open; an address on its command line is connected to.
_MUTE_CHILD = """
import socket, sys, time
held = []
for arg in sys.argv[1:]:
    host, _, port = arg.rpartition(":")
    if host and port.isdigit():
        held.append(socket.create_connection((host, int(port))))
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_child_that_never_says_hello_fails_the_start_in_time(cert_store, monkeypatch):
    from launcher.remote import client

    monkeypatch.setattr(client, "child_command", lambda: [sys.executable, "-c", _MUTE_CHILD])
    monkeypatch.setattr(client, "START_TIMEOUT", 2.0)
    servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
    try:
        started = time.monotonic()
        with pytest.raises(ServerProcessError, match="did not start within 2 s"):
            servers.http.start()
        assert time.monotonic() - started < 4.0
        pid = servers.pid
        assert pid is not None and _gone(pid)  # killed and reaped
    finally:
        started = time.monotonic()
        servers.close()
        assert time.monotonic() - started < 2.0


def test_close_while_a_mute_child_starts_returns_at_once(cert_store, monkeypatch):
    from launcher.remote import client

    monkeypatch.setattr(client, "child_command", lambda: [sys.executable, "-c", _MUTE_CHILD])
    servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
    outcome: list[BaseException] = []

    def start() -> None:
        try:
            servers.http.start()
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=start)
    worker.start()
    time.sleep(1.0)  # the child runs (and holds its channel) by now
    pid = servers.pid
    started = time.monotonic()
    servers.close()
    assert time.monotonic() - started < 2.0
    worker.join(2)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ServerProcessError)
    assert pid is not None and _gone(pid)


#: A stand-in server process from another installation: it speaks the next protocol version.
_NEWER_CHILD = """
import os, socket, sys, time
from launcher.remote.wire import PROTOCOL, Channel, Hello
channel = Channel(socket.socket(fileno=int(sys.argv[sys.argv.index("--fd") + 1])))
channel.send(Hello(PROTOCOL + 1, os.getpid()))
time.sleep(60)
"""


def test_a_protocol_mismatch_is_a_clear_error(cert_store, monkeypatch):
    from launcher.remote import client
    from launcher.remote.wire import PROTOCOL

    monkeypatch.setattr(client, "child_command", lambda: [sys.executable, "-c", _NEWER_CHILD])
    servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
    try:
        started = time.monotonic()
        with pytest.raises(ServerProcessError) as caught:
            servers.start_all()
        assert time.monotonic() - started < 10.0
        text = str(caught.value)
        assert f"protocol version {PROTOCOL + 1}" in text and f"version {PROTOCOL}:" in text
        assert servers.pid is not None and _gone(servers.pid)
    finally:
        servers.close()


#: Plays a hostile local process (same user): it connects first to every TCP port the process
#: under test (argv[1]) listens on and then says nothing, and tries to open every socket its
#: ``_server-process`` children hold through /proc.  Prints what it got into.
_HOSTILE = r"""
import os, socket, sys, time
target, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
held, tried = [], set()

def sockets(pid):
    found = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            found[link[8:-1]] = fd
    return found

def listening_ports(pid):
    inodes, ports = sockets(pid), set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.read().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A" and f[9] in inodes:
                    ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports

def server_processes(parent):
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
        except (OSError, ValueError):
            continue
        if ppid == parent and b"_server-process" in cmd:
            yield int(entry)

print("watching", flush=True)
while time.monotonic() < deadline:
    try:
        for port in listening_ports(target) - tried:
            tried.add(port)
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=1))
                print("connected", port, flush=True)
            except OSError:
                pass
        for pid in server_processes(target):
            for fd in sockets(pid).values():
                if (pid, fd) in tried:
                    continue
                tried.add((pid, fd))
                try:
                    held.append(open(f"/proc/{pid}/fd/{fd}", "r+b", buffering=0))
                    print("opened", pid, fd, flush=True)
                except OSError:
                    pass
    except OSError:
        pass
    time.sleep(0.002)
"""


def test_a_hostile_local_process_cannot_get_into_the_channel(cert_store):
    """Nothing to connect to: starting works within a bound while another process lies in wait."""
    hostile = subprocess.Popen(
        [sys.executable, "-c", _HOSTILE, str(os.getpid()), "30"], stdout=subprocess.PIPE, text=True
    )
    servers: RemoteServers | None = None
    try:
        assert hostile.stdout is not None and hostile.stdout.readline() == "watching\n"
        servers = RemoteServers(cert_store=cert_store, http_port=0, https_port=0)
        outcome: list[object] = []

        def start() -> None:
            try:
                servers.http.start()
                outcome.append("started")
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=start, daemon=True)
        worker.start()
        worker.join(15)
        assert outcome == ["started"], "the start hung or failed while a hostile process waited"
        assert get(servers.http.url)[0] == 200
    finally:
        hostile.kill()
        out, _ = hostile.communicate(timeout=5)
        if servers is not None:
            servers.close()
    assert "connected" not in out and "opened" not in out, out


def test_bodies_reach_the_window_and_its_budget_applies_there(remote):
    """The body limit goes to the server process; the window's own sink holds (and budgets) bodies.

    The demo app answers a POST without its CSRF token 400 with the reason: the case bodies are for.
    """
    from bodyapps import post

    from launcher.requestlog import BODY_OVERHEAD, RequestSink

    sink = RequestSink(body_budget=50 + BODY_OVERHEAD)  # room for one 50-byte body
    servers = remote(sink=sink, body_limit=50)
    servers.http.start()
    for letter in "ab":
        status, answer = post(servers.http.port, "/methods/echo", letter.encode() * 80, "text/plain")
        assert status == 400 and len(answer) > 50
    wait_for(lambda: len(sink.snapshot()) == 2)
    first, second = sink.snapshot()
    assert second.request_body.size == 80
    assert second.response_body.data == answer[:50] and second.response_body.size == len(answer)
    assert second.response_body.truncated
    # One body fits: the first request's was dropped here, in the window; its record stays.
    assert first.response_body.dropped and first.response_body.size == len(answer)
    servers.http.stop()

    off = remote(body_limit=0)
    off.http.start()
    assert post(off.http.port, "/methods/echo", b"x", "text/plain")[0] == 400
    wait_for(lambda: len(off.sink.snapshot()) == 1)
    [record] = off.sink.snapshot()
    assert record.request_body is None and record.response_body is None
