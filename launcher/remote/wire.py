"""What the window and its server process say to each other, and how errors cross between them.

The connection is a ``multiprocessing.connection`` pair over 127.0.0.1 (the child connects back
to a listener the window opened), authenticated with a random key handed to the child in its
environment (``AUTHKEY_ENV``; the child removes it before any user code runs).  Messages are
pickled tuples:

- window → child: ``(call_id, method, args, kwargs)``; ``call_id`` 0 means "no reply wanted".
- child → window: ``("reply", call_id, ok, value)`` (``value`` is an encoded error when not ok),
  ``("state", scheme, state, error, port)``, ``("records", [RequestRecord, ...])``,
  ``("reload", event, payload)`` and, once, ``("ready", info)``.

Errors are sent as ``(module, qualname, args, attributes, text)`` and rebuilt without calling
``__init__`` (``PortInUseError(host, port, holder)`` has no one-argument constructor), so the
window gets the same typed error, with the same ``str()``, that the in-process core would raise.
Only classes from ``launcher.*`` and the builtins are rebuilt; anything else arrives as a
``RemoteError`` carrying the original type name and text.
"""

from __future__ import annotations

import builtins
import importlib
from dataclasses import dataclass
from typing import Any

#: The environment variable that carries the connection's key (hex) to the child.
AUTHKEY_ENV = "FLASK_LAUNCHER_SERVER_KEY"
#: The hidden command line word that makes ``launcher.cli`` run the server process.
CHILD_COMMAND = "_server-process"

EncodedError = tuple[str, str, tuple[Any, ...], dict[str, Any], str]


class RemoteError(Exception):
    """An unexpected exception in the server process (a bug there), re-raised in the window."""

    def __str__(self) -> str:
        return f"{self.type_name}: {self.text}" if self.text else self.type_name

    def __init__(self, type_name: str, text: str, details: str = "") -> None:
        super().__init__(type_name, text, details)
        self.type_name = type_name
        self.text = text
        self.details = details


class ServerProcessGone(Exception):
    """The server process exited (or never started): nothing can be served until it is restarted."""


@dataclass(frozen=True)
class AppInfo:
    """Stands in the window for the app object that lives in the server process.

    ``import_name`` is Flask's, so labels read the same as for an app in this process.
    """

    import_name: str
    name: str = ""


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
