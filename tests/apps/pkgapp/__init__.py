"""A package with a factory, a blueprint in another module and a template: ``flask --app pkgapp``."""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)
    from pkgapp.views import bp

    app.register_blueprint(bp)
    return app
