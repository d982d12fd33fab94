"""An app named by ``envproj/.flaskenv`` (``FLASK_APP``)."""

from __future__ import annotations

import os

from flask import Flask


def create_app(greeting: str = "hi") -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return f"envapp says {greeting}; env {os.environ.get('LAUNCHER_TEST_FROM_FLASKENV')}"

    return app
