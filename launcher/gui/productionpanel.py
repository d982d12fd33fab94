"""The Production tab: the nginx or Caddy configuration for going live, and the app side that matches.

A thin view over ``launcher.deploy`` (what ``flask-launcher deploy-config`` prints): the choices on
top (proxy, server name, the app's upstream address, certificate and key paths, redirect, HSTS,
how many proxies in a row), the configuration and the app side below, each with a Copy button.
Every change regenerates both texts at once (pure functions, well under a millisecond), so what is
shown always matches the choices.  The redirect and HSTS start from the serving options.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from launcher.deploy import DeploySpec, ProxyKind, app_side, config_text, parse_upstream
from launcher.messages import MessageLevel
from launcher.options import HSTS_MAX_AGE, ServeConfig
from launcher.recordformat import escape_control


class ProductionPanel(QWidget):
    """See the module docstring.  ``message`` reports copies and bad input to the window."""

    message = Signal(str, object)

    def __init__(self, config: ServeConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("productionPanel")
        self.setAccessibleName("Production")
        self.proxy_combo = QComboBox(self)
        self.proxy_combo.setObjectName("productionProxyCombo")
        self.proxy_combo.setAccessibleName("Reverse proxy")
        for kind in ProxyKind:
            self.proxy_combo.addItem(kind.value, kind)
        defaults = DeploySpec(ProxyKind.NGINX)
        self.name_edit = QLineEdit(defaults.server_name, self)
        self.name_edit.setObjectName("productionNameEdit")
        self.name_edit.setAccessibleName("Server name")
        self.upstream_edit = QLineEdit(f"127.0.0.1:{config.http_port or 8080}", self)
        self.upstream_edit.setObjectName("productionUpstreamEdit")
        self.upstream_edit.setAccessibleName("The app's address behind the proxy (host:port)")
        self.cert_edit = QLineEdit(defaults.cert, self)
        self.cert_edit.setObjectName("productionCertEdit")
        self.cert_edit.setAccessibleName("Certificate file on the server")
        self.key_edit = QLineEdit(defaults.key, self)
        self.key_edit.setObjectName("productionKeyEdit")
        self.key_edit.setAccessibleName("Key file on the server")
        self.redirect_check = QCheckBox("Redirect HTTP to HTTPS (at the proxy)", self)
        self.redirect_check.setObjectName("productionRedirectCheck")
        self.redirect_check.setChecked(config.redirect_https is not None)
        self.hsts_check = QCheckBox("Send HSTS (at the proxy)", self)
        self.hsts_check.setObjectName("productionHstsCheck")
        self.hsts_check.setChecked(config.hsts is not None)
        self._hsts_age = config.hsts if config.hsts is not None else HSTS_MAX_AGE
        self.proxies_spin = QSpinBox(self)
        self.proxies_spin.setObjectName("productionProxiesSpin")
        self.proxies_spin.setAccessibleName("Proxies in a row before the app")
        self.proxies_spin.setRange(1, 5)

        form = QFormLayout()
        form.addRow("Proxy", self.proxy_combo)
        form.addRow("Server name", self.name_edit)
        form.addRow("App at", self.upstream_edit)
        form.addRow("Certificate", self.cert_edit)
        form.addRow("Key", self.key_edit)
        form.addRow("Proxies in a row", self.proxies_spin)
        form.addRow(self.redirect_check)
        form.addRow(self.hsts_check)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.config_view = self._text_view("productionConfigView", "The proxy's configuration", mono)
        self.app_view = self._text_view("productionAppView", "What the app needs behind it", mono)
        self.copy_config_button = QPushButton("Copy configuration", self)
        self.copy_config_button.setObjectName("productionCopyConfigButton")
        self.copy_config_button.clicked.connect(lambda: self._copy(self.config_view, "configuration"))
        self.copy_app_button = QPushButton("Copy app side", self)
        self.copy_app_button.setObjectName("productionCopyAppButton")
        self.copy_app_button.clicked.connect(lambda: self._copy(self.app_view, "app side"))
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("productionProblemLabel")
        self.problem_label.setWordWrap(True)
        self.problem_label.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_config_button)
        buttons.addWidget(self.copy_app_button)
        buttons.addStretch(1)
        hint = QLabel(
            "Try it here: <code>flask-launcher serve --behind nginx</code> (or caddy), then the "
            "Inspector's “Behind a proxy” section names what is wrong.",
            self,
        )
        hint.setWordWrap(True)
        texts = QSplitter(Qt.Orientation.Vertical, self)
        texts.addWidget(self.config_view)
        texts.addWidget(self.app_view)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem_label)
        layout.addLayout(buttons)
        layout.addWidget(texts, 1)
        layout.addWidget(hint)

        for edit in (self.name_edit, self.upstream_edit, self.cert_edit, self.key_edit):
            edit.textChanged.connect(self.refresh)
        self.proxy_combo.currentIndexChanged.connect(self.refresh)
        self.proxies_spin.valueChanged.connect(self.refresh)
        self.redirect_check.toggled.connect(self.refresh)
        self.hsts_check.toggled.connect(self.refresh)
        self.refresh()

    def _text_view(self, name: str, accessible: str, font: QFont) -> QPlainTextEdit:
        view = QPlainTextEdit(self)
        view.setObjectName(name)
        view.setAccessibleName(accessible)
        view.setReadOnly(True)
        view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        view.setFont(font)
        return view

    def spec(self) -> DeploySpec:
        """The choices as a ``DeploySpec``; ``ValueError`` for an upstream that is not host:port."""
        names = tuple(n for n in self.name_edit.text().replace(",", " ").split() if n) or ("example.com",)
        return DeploySpec(
            self.proxy_combo.currentData(),
            server_names=names,
            upstream=parse_upstream(self.upstream_edit.text().strip()),
            listen=443,
            http_listen=80,
            cert=self.cert_edit.text().strip() or DeploySpec(ProxyKind.NGINX).cert,
            key=self.key_edit.text().strip() or DeploySpec(ProxyKind.NGINX).key,
            hsts=self._hsts_age if self.hsts_check.isChecked() else None,
            redirect_https=self.redirect_check.isChecked(),
            proxies=self.proxies_spin.value(),
        )

    def refresh(self, *_args: object) -> None:
        """Regenerate both texts from the choices (a bad upstream keeps the last good texts)."""
        try:
            spec = self.spec()
        except ValueError as exc:
            self.problem_label.setText(escape_control(f"App at: {exc}"))
            self.problem_label.show()
            return
        self.problem_label.hide()
        self.config_view.setPlainText(config_text(spec))
        self.app_view.setPlainText(app_side(spec))

    def _copy(self, view: QPlainTextEdit, what: str) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(view.toPlainText())
        self.message.emit(f"Copied the {what}", MessageLevel.INFO)
