"""The tiny Flask app every server in bench/throughput.py serves (``tinyapp:app``).

GET / answers a short text; POST / reads the body first, as a JSON API would (``--post``).
"""

from __future__ import annotations

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/", methods=["GET", "POST"])
    def hello() -> str:
        if request.method == "POST":
            return f"Hello from the benchmark app: {len(request.get_data())} bytes\n"
        return "Hello from the benchmark app\n"

    return app


app = create_app()
