"""A module that calls ``app.run()`` without the ``__main__`` guard (a common mistake)."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "runs_at_import says hello"


app.run(port=1)  # would block (or fail to bind) if it were not ignored
