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

    def __init__(self, type_name: str, text: str, details: str = "") -> None:
        super().__init__(f"{type_name}: {text}" if text else type_name)
        self.type_name = type_name
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
        return (RemoteError.__module__, RemoteError.__qualname__, (f"{cls.__name__}: {exc}",), {
            "type_name": cls.__name__, "details": details}, str(exc))  # fmt: skip
    return (cls.__module__, cls.__qualname__, args, attrs, str(exc))


def decode_error(data: EncodedError) -> Exception:
    module_name, qualname, args, attrs, text = data
    cls: Any = None
    try:
        module = builtins if module_name == "builtins" else None
        if module is None and module_name.startswith("launcher."):
            module = importlib.import_module(module_name)
        if module is not None:
            cls = module
            for part in qualname.split("."):
                cls = getattr(cls, part)
    except (ImportError, AttributeError):
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        return RemoteError(qualname, text)
    exc = cls.__new__(cls)
    exc.args = tuple(args)
    for key, value in attrs.items():
        try:
            setattr(exc, key, value)
        except AttributeError:
            pass
    return exc
