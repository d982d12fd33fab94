"""A factory: ``flask --app factory_app`` or ``flask --app 'factory_app:create_app("hey")'``."""

from __future__ import annotations

from flask import Flask


def create_app(greeting: str = "hi") -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return f"factory_app says {greeting}"

    return app
