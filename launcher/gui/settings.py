"""The window's persistent settings (QSettings), with typed getters and defaults.

Kept: host, both ports, the redirect and HSTS options, window geometry and splitter state, the
last tab, the log's auto-scroll toggle, the certificate form (hosts, key type) and the app
selector (demo or custom, target, folder, the last ten targets as JSON, reload on change).
``open_settings(None)`` uses the per-user native store (organisation "flask-https-launcher",
application "Flask HTTPS Launcher"); a path opens an ini file (what tests use).
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "flask-https-launcher"
APPLICATION = "Flask HTTPS Launcher"

DEFAULTS: dict[str, Any] = {
    "servers/host": "127.0.0.1",
    "servers/http_port": 8080,
    "servers/https_port": 8443,
    "policy/redirect_https": False,
    "policy/redirect_status": 308,
    "policy/hsts": False,
    "policy/hsts_max_age": 31_536_000,
    "window/last_tab": 0,
    "log/autoscroll": True,
    "certs/hosts": "localhost, 127.0.0.1, ::1",
    "certs/key_type": "ecdsa-p256",
    "app/mode": "demo",  # "demo" or "custom"
    "app/target": "",
    "app/chdir": "",
    "app/recent": "[]",  # JSON list of [target, folder] pairs, newest first
    "app/reload": False,
}


def open_settings(settings: QSettings | str | os.PathLike[str] | None) -> QSettings:
    if isinstance(settings, QSettings):
        return settings
    if settings is None:
        return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)
    return QSettings(os.fspath(settings), QSettings.Format.IniFormat)


class Settings:
    """Typed access to the QSettings keys in ``DEFAULTS`` plus the window's byte blobs."""

    def __init__(self, qsettings: QSettings) -> None:
        self.q = qsettings

    def get(self, key: str) -> Any:
        default = DEFAULTS[key]
        raw: Any = self.q.value(key, default)  # QSettings returns what the ini file holds
        try:
            if isinstance(default, bool):
                if isinstance(raw, str):
                    return raw.strip().lower() in ("1", "true", "yes", "on")
                return bool(raw)
            if isinstance(default, int):
                return int(raw)
            return str(raw)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(key)
        self.q.setValue(key, value)

    def get_bytes(self, key: str) -> QByteArray | None:
        raw = self.q.value(key)
        if isinstance(raw, QByteArray) and not raw.isEmpty():
            return raw
        if isinstance(raw, bytes | bytearray) and raw:
            return QByteArray(bytes(raw))
        return None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self.q.setValue(key, value)

    def clear(self) -> None:
        self.q.clear()
        self.q.sync()

    def sync(self) -> None:
        self.q.sync()
