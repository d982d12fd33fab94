"""A package whose views module does not parse."""

from __future__ import annotations

from flask import Flask

from syntaxpkg import views  # noqa: F401  (views.py line 4 is a syntax error)

app = Flask(__name__)
