"""A module that imports something that is not installed."""

from __future__ import annotations

import launcher_no_such_module  # noqa: F401
from flask import Flask

app = Flask(__name__)
