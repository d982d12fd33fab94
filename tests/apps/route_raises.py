"""An app whose ``/boom`` route raises: the request gets a 500, the server keeps serving."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "route_raises is fine here"


@app.get("/boom")
def boom() -> str:
    return str(1 / 0)
