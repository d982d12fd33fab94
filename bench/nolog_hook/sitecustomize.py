"""bench/throughput.py's ``ours-w2-nolog``: ``flask-launcher serve`` without its access log.

``serve`` has no option to turn the access log off.  Python imports ``sitecustomize`` at start-up
from ``sys.path``; bench/throughput.py puts this folder on ``PYTHONPATH`` (with the code under test
after it) and sets ``BENCH_NO_ACCESS_LOG=1`` for that one server only, so the server and every
Python process it starts (its workers, forked or spawned) serve without a request log: the
listeners' tasks note no request (``launcher.accesslog``, how ``serve`` logs), and a request path
built with ``RequestLogMiddleware`` (the window's log) gets the app instead.  No entry or record is
made, none reaches a printer, no line is printed.  The bench counts the access lines the server
printed and warns when a worker escaped this (then the "logging cost" it prints is not one).
"""

from __future__ import annotations

import os

if os.environ.get("BENCH_NO_ACCESS_LOG") == "1":
    from waitress.task import WSGITask

    import launcher.servers
    import launcher.tls

    def _no_request_log(app, *_args, **_kwargs):  # type: ignore[no-untyped-def]
        return app

    launcher.servers.RequestLogMiddleware = _no_request_log  # type: ignore[assignment,misc]
    launcher.tls._Task.service = WSGITask.service  # type: ignore[method-assign]
