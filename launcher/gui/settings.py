"""The window's persistent settings (QSettings), with typed getters and defaults.

Kept: the serving options that have a settings key in ``launcher.options`` (host, both ports,
threads, workers, the redirect and HSTS options: ``load_config``/``save_config`` read and write them as a
``ServeConfig``, never from the widgets), window geometry and splitter state, the last tab,
the log's auto-scroll toggle and hidden columns, the certificate form (hosts, key type) and the app
selector (demo or custom, target, folder, the last ten targets as JSON, reload on change).
``open_settings(None)`` uses the per-user native store (organisation "flask-https-launcher",
application "Flask HTTPS Launcher"); a path opens an ini file (what tests use).
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from launcher.options import ServeConfig, from_settings, to_settings

#: Settings written by versions before one ``ServeConfig``: a switch and its number in two keys.
#: Read once (when the new shape is not stored yet) so an upgrade keeps what the user chose.
LEGACY_NUMBERS = {"policy/redirect_https": "policy/redirect_status", "policy/hsts": "policy/hsts_max_age"}

ORGANISATION = "flask-https-launcher"
APPLICATION = "Flask HTTPS Launcher"

#: The window's own state (the serving options are ``launcher.options.ServeConfig``'s).
DEFAULTS: dict[str, Any] = {
    "window/last_tab": 0,
    "log/autoscroll": True,
    "log/show_probes": True,  # the inspector's own requests in the log
    "log/hidden_columns": "",  # the request log's hidden columns, lower-case names, comma-separated
    "certs/hosts": "localhost, 127.0.0.1, ::1",
    "certs/ca_domains": "",  # extra domains a new (rotated) CA may sign for, comma-separated
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

    def load_config(self) -> ServeConfig:
        """The serving options as last saved (values that do not parse keep their defaults)."""
        return from_settings(self._read_option)

    def _read_option(self, key: str) -> Any:
        if not self.q.contains(key):
            return None
        raw = self.q.value(key)
        number_key = LEGACY_NUMBERS.get(key)
        if number_key is not None and self.q.contains(number_key):  # the old switch-and-number shape
            on = raw is True or str(raw).strip().lower() in ("1", "true", "yes", "on")
            return self.q.value(number_key) if on else ""
        return raw

    def save_config(self, config: ServeConfig) -> None:
        for key, value in to_settings(config).items():
            self.q.setValue(key, value)
        for key in LEGACY_NUMBERS.values():
            self.q.remove(key)

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
