"""bench/throughput.py's ``ours-w2-nolog``: ``flask-launcher serve`` without its access log.

``serve`` has no option to turn the access log off.  Python imports ``sitecustomize`` at start-up
from ``sys.path``; bench/throughput.py puts this folder on ``PYTHONPATH`` (with the code under test
after it) and sets ``BENCH_NO_ACCESS_LOG=1`` for that one server only, so the server and every
Python process it starts (its workers, forked or spawned) serve without a request log: the
listeners' tasks note no request (``launcher.accesslog``, how ``serve`` logs), and a request path
built with ``RequestLogMiddleware`` (the window's log) gets the app instead.  No entry or record is
made, none reaches a printer, no line is printed.  The bench counts the access lines the server
printed and warns when a worker escaped this (then the "logging cost" it prints is not one).

``BENCH_ACCESS_LOG_SWITCH=PATH`` instead (``--logging-cost --same-processes``) keeps the log and
lets the bench turn it off and on while the server runs: while the file PATH exists, the
listeners' tasks note nothing (their ``service`` swapped for waitress's; the printer and the
sender stay, with nothing to do), and once it is gone they note again.  A thread in every process
looks for the file every 50 ms (a ``stat``, the same in both states), so logged and unlogged
bursts can alternate in the very same processes.  (Not signals: Python runs their handlers in the
main thread, which in a worker may sit in a blocking read for as long as nothing comes.)
"""

from __future__ import annotations

import os

_switch = os.environ.get("BENCH_ACCESS_LOG_SWITCH")
if _switch:
    import threading
    import time

    from waitress.task import WSGITask

    import launcher.tls

    _logged_service = launcher.tls._Task.service

    def _follow(path: str) -> None:
        while True:
            off = os.path.exists(path)
            service = WSGITask.service if off else _logged_service
            if launcher.tls._Task.service is not service:
                launcher.tls._Task.service = service  # type: ignore[method-assign]
            time.sleep(0.05)

    def _start_following() -> None:
        threading.Thread(target=_follow, args=(_switch,), name="bench-log-switch", daemon=True).start()

    _start_following()
    os.register_at_fork(after_in_child=_start_following)  # a forked child has no copy of the thread

if os.environ.get("BENCH_NO_ACCESS_LOG") == "1":
    from waitress.task import WSGITask

    import launcher.servers
    import launcher.tls

    def _no_request_log(app, *_args, **_kwargs):  # type: ignore[no-untyped-def]
        return app

    launcher.servers.RequestLogMiddleware = _no_request_log  # type: ignore[assignment,misc]
    launcher.tls._Task.service = WSGITask.service  # type: ignore[method-assign]
