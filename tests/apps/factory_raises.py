"""A factory that raises, as one does when its configuration is missing."""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    raise RuntimeError("DATABASE_URL is not set")
