"""A file path target: ``flask --app scripts/file_app.py``; the app is called ``application``."""

from __future__ import annotations

from flask import Flask

application = Flask(__name__)


@application.get("/")
def index() -> str:
    return "file_app says hello"
