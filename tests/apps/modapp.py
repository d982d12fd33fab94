"""A module app: ``flask --app modapp``."""

from __future__ import annotations

from flask import Flask, request

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "modapp says hello"


@app.get("/scheme")
def scheme() -> str:
    return request.scheme
