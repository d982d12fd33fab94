"""Servers in a child process for the window: ``RemoteServers`` (this side) and the child's loop.

See ``launcher.remote.client`` for why and how, ``launcher.remote.wire`` for the messages.
"""

from __future__ import annotations

from launcher.remote.client import RemoteServers
from launcher.remote.wire import AppInfo

__all__ = ["AppInfo", "RemoteServers"]
