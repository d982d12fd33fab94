"""Servers in a child process for the window: ``RemoteServers`` (this side) and the child's loop.

The two talk over a private socket pair (the child inherits its end; nothing else can connect)
in typed messages, every operation declared once in ``wire.Op``.  See ``launcher.remote.client``
for why and how, ``launcher.remote.child`` for the server process, ``launcher.remote.wire`` for
the channel, the messages and the protocol version.
"""

from __future__ import annotations

from launcher.remote.client import RemoteServers
from launcher.remote.wire import AppInfo

__all__ = ["AppInfo", "RemoteServers"]
