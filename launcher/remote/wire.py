"""What the window and its server process say to each other, over which channel, and how errors cross.

The channel is one end of a ``socket.socketpair()`` that the window made before starting the
child: the child inherits its end (``_server-process --fd N``, POSIX) and nothing else in the
system can connect to it — there is no address, no listener and no key to steal or race for.  On
Windows, where a socket cannot be inherited that way, the window hands the child its end with
``socket.share`` over the child's stdin (``_server-process --share-stdin``).

A ``Channel`` frames each message as a 4-byte big-endian length and a pickle.  Messages are the
frozen dataclasses below:

- child → window, in this order at start: ``Hello(protocol, pid)`` (a ``protocol`` other than
  ``PROTOCOL`` is refused with an error naming both), then, after the window's ``Init``,
  ``Ready(app, startup_error, probe_token)``; afterwards ``Reply``, ``StateChanged``, ``RecordBatch``
  (or ``AccessLines``) and ``ReloadEvent`` in any order.
- window → child: ``Init(config)`` once, then ``Call(call_id, op, args, kwargs)`` (``call_id`` 0:
  no reply wanted) and finally ``Shutdown(call_id, timeout)``.

Every operation is a member of ``Op``, declared once with how it runs (``OpSpec``): ``inline``
(quick, on the child's reading thread, in order) or in a pool, and whether a respawned child must
serve the user's app again before it (``restore_first``).  The child binds one handler to each
``Op`` (``launcher.remote.child.HANDLERS``); the window only ever sends ``Op`` members.

Errors are sent as ``(module, qualname, args, attributes, text)`` and rebuilt without calling
``__init__`` (``PortInUseError(host, port, holder)`` has no one-argument constructor), so the
window gets the same typed error, with the same ``str()``, that the in-process core would raise.
Only classes from ``launcher.*`` and the builtins are rebuilt; anything else arrives as a
``RemoteError`` carrying the original type name and text.
"""

from __future__ import annotations

import builtins
import enum
import importlib
import pickle
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from launcher.options import ServeConfig
from launcher.scheme import Scheme

#: Bumped whenever a message or an operation changes shape; both sides must agree.
PROTOCOL = 8  # 3: RecordBatch.events; 4: Ready.probe_token; 5: Init.listen_fds, worker, probe_token;
# 6: Init.access_lines, AccessLines; 7: Init.share_fd; 8: no Init.record_headers
#: The hidden command line word that makes ``launcher.cli`` run the server process.
CHILD_COMMAND = "_server-process"
#: ``_server-process --fd N``: the inherited descriptor of the child's end of the channel (POSIX).
FD_OPTION = "--fd"
#: ``_server-process --share-stdin``: the child's end arrives through stdin (Windows).
SHARE_OPTION = "--share-stdin"

EncodedError = tuple[str, str, tuple[Any, ...], dict[str, Any], str]


# --- operations ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpSpec:
    """How one operation runs: the one place that says so, read by both sides."""

    name: str
    #: Run on the child's reading thread, before the next message is read (quick changes whose
    #: order matters); otherwise in the child's pool, replying when done.
    inline: bool = False
    #: After a respawn, serve the user's app (and its watcher) again before this runs.  False for
    #: what needs no app (stops, quick changes) and for ``SERVE_TARGET``, which serves one itself.
    restore_first: bool = True


class Op(enum.Enum):
    """Every operation the window can ask of the server process; see ``OpSpec``."""

    CONFIGURE = OpSpec("configure", inline=True, restore_first=False)
    POLICY = OpSpec("policy", inline=True, restore_first=False)
    SYNC = OpSpec("sync", inline=True)
    START = OpSpec("start")
    STOP = OpSpec("stop", restore_first=False)
    START_ALL = OpSpec("start_all")
    STOP_ALL = OpSpec("stop_all", restore_first=False)
    RESTART = OpSpec("restart")
    RELOAD_TLS = OpSpec("reload_tls")
    SERVE_TARGET = OpSpec("serve_target", restore_first=False)
    WATCH = OpSpec("watch")
    UNWATCH = OpSpec("unwatch", restore_first=False)
    RELOAD_NOW = OpSpec("reload_now")
    DIAGNOSTICS = OpSpec("diagnostics", inline=True, restore_first=False)

    @property
    def inline(self) -> bool:
        return self.value.inline

    @property
    def restore_first(self) -> bool:
        return self.value.restore_first

    def __reduce_ex__(self, protocol: Any) -> Any:
        # By name, not by the OpSpec value: a changed flag must not make a call unreadable.
        return (_op_by_name, (self.name,))


def _op_by_name(name: str) -> Op | str:
    """The ``Op`` called *name*; the bare name when there is none (the receiver reports it)."""
    return Op.__members__.get(name, name)


# --- messages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """child → window, first: which protocol the child speaks, and its pid."""

    protocol: int
    pid: int


@dataclass(frozen=True)
class Init:
    """window → child, once after ``Hello``: what to build.

    ``config`` holds the serving options (``launcher.options.ServeConfig``, with ``cert_dir``
    set); ``extra_hosts`` are names the leaf must cover besides the defaults; ``sys_path`` is the
    window's import path, so the user's app imports there as it would here.

    A worker of a pool (``launcher.workers``) also gets ``listen_fds``: for each scheme, the
    descriptor of a listening socket the pool bound and the child inherited (its listener serves
    that socket instead of binding); ``worker``, its number (1…N = ``workers``, stamped on its
    request records; 0 outside a pool); and ``probe_token``, the inspector token all workers share.
    ``share_fd``: the inherited descriptor of the pool's ``launcher.acceptshare.AcceptShare``
    (-1: none), where the workers see each other's connections and take turns accepting.
    ``access_lines`` True: note each request in an access log (``launcher.accesslog``) and send
    its line (``AccessLines``) instead of a record; for a pool whose supervisor only prints them
    (``serve --workers``).
    Made by ``RemoteServers._init_config``.
    """

    config: ServeConfig
    extra_hosts: tuple[str, ...] = ()
    sys_path: tuple[str, ...] = ()
    listen_fds: tuple[tuple[Scheme, int], ...] = ()
    worker: int = 0
    workers: int = 0
    probe_token: str = ""
    access_lines: bool = False
    share_fd: int = -1


@dataclass(frozen=True)
class AppInfo:
    """Stands in the window for the app object that lives in the server process.

    ``import_name`` is Flask's, so labels read the same as for an app in this process.
    """

    import_name: str
    name: str = ""


@dataclass(frozen=True)
class Ready:
    """child → window, once after ``Init``: the servers are built and serve ``app``.

    ``startup_error``: why the bundled demo app could not be loaded (it answers 503 then).
    ``probe_token``: the servers' inspector token (``launcher.appview``), for the window's inspector.
    """

    app: AppInfo
    startup_error: EncodedError | None = None
    probe_token: str = ""


@dataclass(frozen=True)
class Call:
    """window → child: run *op*; ``call_id`` 0 means no reply is wanted."""

    call_id: int
    op: Op
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """child → window: the result of call ``call_id``, or (``ok`` False) its encoded error."""

    call_id: int
    ok: bool
    value: Any


@dataclass(frozen=True)
class StateChanged:
    """child → window: a listener changed state (``state`` is a ``ListenerState`` value)."""

    scheme: Scheme
    state: str
    error: str | None
    port: int | None


@dataclass(frozen=True)
class RecordBatch:
    """child → window: request records (``RequestRecord``) and wire events
    (``launcher.wireevents.WireEvent``: connections that failed before a request) since the
    last batch."""

    records: list[Any]
    events: list[Any] = field(default_factory=list)


#: How often a pool's worker sends its ``AccessLines`` under load (``serve --workers``), and so
#: how often the supervisor writes them (``workers.RecordMerger``).  Each batch wakes the worker's
#: sender and two of the supervisor's threads, whatever its size, and under load those wake-ups
#: showed: flat out, the log cost +4.8% CPU per request with a batch every 100 ms and +2.8% every
#: 200 ms (four runs of each, alternated in one session; docs/benchmarks.md).  The first entry
#: after a quiet spell goes at once; the supervisor holds every line ``workers.LINES_MERGE_DELAY``
#: (0.35 s) to merge them in order, so a line comes out 0.35–0.55 s after its request.
LINES_BATCH_SECONDS = 0.2


@dataclass(frozen=True)
class AccessLines:
    """child → window, instead of ``RecordBatch`` when ``Init.access_lines``: each request as
    ``(finished, line)``, when it finished (epoch seconds) and its access line
    (``AccessEntry.access_line()``), made in the worker; and the wire events, as in ``RecordBatch``."""

    lines: list[tuple[float, str]]
    events: list[Any] = field(default_factory=list)


ReloadKind = Literal["changed", "reloaded", "failed"]


@dataclass(frozen=True)
class ReloadEvent:
    """child → window, from the watcher: ``changed`` (paths), ``reloaded`` ((AppInfo, encoded
    errors)) or ``failed`` (an encoded error)."""

    kind: ReloadKind
    payload: Any


@dataclass(frozen=True)
class Shutdown:
    """window → child, last: stop everything within ``timeout`` s, reply to ``call_id``, exit."""

    call_id: int
    timeout: float


# --- the channel --------------------------------------------------------------------------------------

_HEADER = struct.Struct("!I")


class MessageError(Exception):
    """A frame arrived whole but its pickle could not be read; the channel is still in step."""


class Channel:
    """Length-prefixed pickles over a connected stream socket.

    ``send`` may be called from any thread (one message at a time); ``recv`` from one thread.
    A ``recv`` with a *timeout* raises ``TimeoutError`` when no whole message came in time (the
    channel is then out of step: only for the start, which is abandoned then).
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        self.sock = sock
        self._send_lock = threading.Lock()

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: object) -> None:
        """Send *message*; an object pickle refuses raises here and sends nothing."""
        self.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def send_bytes(self, data: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(_HEADER.pack(len(data)))
            self.sock.sendall(data)

    def try_send(self, message: object) -> bool:
        """Send *message* only if that cannot block (the peer may be hung); True when sent."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        frame = _HEADER.pack(len(data)) + data
        flags = getattr(socket, "MSG_DONTWAIT", None)
        if not self._send_lock.acquire(timeout=0.2):
            return False
        try:
            if flags is None:  # Windows: a short frame into an idle socket does not block
                self.sock.sendall(frame)
                return True
            sent = self.sock.send(frame, flags)
            return sent == len(frame)
        except OSError:
            return False
        finally:
            self._send_lock.release()

    def recv(self, timeout: float | None = None) -> Any:
        """The next message; ``EOFError`` when the peer closed, ``MessageError`` when unreadable."""
        deadline = None if timeout is None else time.monotonic() + timeout
        (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
        data = self._read(size, deadline)
        try:
            return pickle.loads(data)
        except Exception as exc:
            raise MessageError(f"unreadable message ({type(exc).__name__}: {exc})") from exc

    def poll(self, timeout: float) -> bool:
        """Whether something can be read within *timeout* s (a message, or the end)."""
        return _readable(self.sock, timeout)

    def _read(self, size: int, deadline: float | None) -> bytes:
        buf = bytearray()
        while len(buf) < size:
            if deadline is not None and not _readable(self.sock, deadline - time.monotonic()):
                raise TimeoutError("no message in time")
            chunk = self.sock.recv(min(size - len(buf), 1 << 20))
            if not chunk:
                raise EOFError("the channel was closed")
            buf += chunk
        return bytes(buf)

    def close(self) -> None:
        """Close this end; a ``recv`` blocked in another thread returns (``EOFError``/``OSError``)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _readable(sock: socket.socket, timeout: float) -> bool:
    if timeout <= 0:
        timeout = 0
    if hasattr(select, "poll"):  # no FD_SETSIZE limit (the window may hold many descriptors)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    return bool(select.select([sock], [], [], timeout)[0])


# --- errors -------------------------------------------------------------------------------------------


class RemoteError(Exception):
    """An unexpected exception in the server process (a bug there), re-raised in the window."""

    def __str__(self) -> str:
        return f"{self.type_name}: {self.text}" if self.text else self.type_name

    def __init__(self, type_name: str, text: str, details: str = "") -> None:
        super().__init__(type_name, text, details)
        self.type_name = type_name
        self.text = text
        self.details = details


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | bytes)


def encode_error(exc: BaseException) -> EncodedError:
    cls = type(exc)
    attrs = {k: v for k, v in vars(exc).items() if _plain(v)} if hasattr(exc, "__dict__") else {}
    args = tuple(a if _plain(a) else str(a) for a in exc.args)
    if not (cls.__module__.startswith("launcher.") or cls.__module__ == "builtins"):
        import traceback

        details = "".join(traceback.format_exception(exc))
        remote = RemoteError(cls.__name__, str(exc), details)
        return (RemoteError.__module__, RemoteError.__qualname__, remote.args, {}, str(remote))
    return (cls.__module__, cls.__qualname__, args, attrs, str(exc))


def decode_error(data: EncodedError) -> Exception:
    """The exception *data* describes; never raises (a ``RemoteError`` when it cannot be rebuilt)."""
    try:
        module_name, qualname, args, attrs, text = data
    except (TypeError, ValueError):
        return RemoteError("Exception", repr(data))
    try:
        return _rebuild(module_name, qualname, tuple(args), dict(attrs), text)
    except Exception:
        return RemoteError(qualname, text)


def _rebuild(
    module_name: str, qualname: str, args: tuple[Any, ...], attrs: dict[str, Any], text: str
) -> Exception:
    module: Any = None
    if module_name == "builtins":
        module = builtins
    elif module_name.startswith("launcher."):
        module = importlib.import_module(module_name)
    cls: Any = module
    for part in qualname.split(".") if module is not None else ():
        cls = getattr(cls, part)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        return RemoteError(qualname, text)
    exc: Exception | None = None
    try:  # the class's own constructor first: OSError and friends set their fields there
        exc = cls(*args)
        for key, value in attrs.items():
            setattr(exc, key, value)
    except Exception:
        exc = None
    if exc is None or str(exc) != text:
        # A constructor with another signature (``PortInUseError(host, port, holder)``): build the
        # object without it and give it the arguments and attributes it had.
        exc = cls.__new__(cls)
        exc.args = args
        for key, value in attrs.items():
            setattr(exc, key, value)
    if str(exc) != text:
        return RemoteError(qualname, text)
    return exc
