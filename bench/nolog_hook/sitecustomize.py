"""bench/throughput.py's ``ours-w2-nolog``: ``flask-launcher serve`` without its access log.

``serve`` has no option to turn the access log off.  Python imports ``sitecustomize`` at start-up
from ``sys.path``; bench/throughput.py puts this folder on ``PYTHONPATH`` (with the code under test
after it) and sets ``BENCH_NO_ACCESS_LOG=1`` for that one server only, so the server and every
Python process it starts (its workers, forked or spawned) build their request path without
``RequestLogMiddleware``: no record is made, none reaches the printer, no line is printed.
The bench counts the access lines the server printed and warns when a worker escaped this
(then the "logging cost" it prints is not one).
"""

from __future__ import annotations

import os

if os.environ.get("BENCH_NO_ACCESS_LOG") == "1":
    import launcher.servers

    def _no_request_log(app, *_args, **_kwargs):  # type: ignore[no-untyped-def]
        return app

    launcher.servers.RequestLogMiddleware = _no_request_log  # type: ignore[assignment,misc]
