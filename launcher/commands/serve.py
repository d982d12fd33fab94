"""``flask-launcher serve``: both listeners headless, for containers and CI.

Once listening it prints one line per listener, each starting with its URL, then
``CA certificate: <path>``, then one access-log line per request.  Ctrl+C and SIGTERM stop it
cleanly with exit code 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from launcher.errors import ConfigError, LauncherError
from launcher.policy import DEFAULT_HSTS_MAX_AGE, DEFAULT_REDIRECT_STATUS, REDIRECT_STATUSES


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    http_port: int = 8080
    https_port: int = 8443
    http: bool = True
    https: bool = True
    cert_dir: Path | None = None
    redirect_status: int | None = None  # None: no HTTP→HTTPS redirect
    hsts_max_age: int | None = None  # None: no HSTS header
    trusted_proxy: bool = False
    threads: int = 8
    app_target: str | None = None  # None: the bundled demo app
    chdir: Path | None = None
    reload: bool = False

    def validate(self) -> None:
        if not (self.http or self.https):
            raise ConfigError("Nothing to serve: --no-http and --no-https were both given.")
        for name, port in (("--http-port", self.http_port), ("--https-port", self.https_port)):
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} {port} is out of range: use 1–65535, or 0 for any free port.")
        if self.redirect_status is not None and self.redirect_status not in REDIRECT_STATUSES:
            raise ConfigError(f"Redirect status {self.redirect_status} is not one of 301, 302, 307, 308.")
        if self.threads < 1:
            raise ConfigError("--threads must be at least 1.")


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use a number from 0 to 65535") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid port {value}: use a number from 0 to 65535 (0 = any free port)"
        )
    return value


def redirect_status(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value not in REDIRECT_STATUSES:
        raise argparse.ArgumentTypeError(f"invalid redirect status {text!r}: use 301, 302, 307 or 308")
    return value


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="serve HTTP and HTTPS headless (containers, CI)")
    add_serve_arguments(parser)
    parser.set_defaults(func=run)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 = all)"
    )
    parser.add_argument(
        "--http-port", type=port_number, default=8080, help="HTTP port (default 8080, 0 = any)"
    )
    parser.add_argument(
        "--https-port", type=port_number, default=8443, help="HTTPS port (default 8443, 0 = any)"
    )
    parser.add_argument("--no-http", dest="http", action="store_false", help="do not serve plain HTTP")
    parser.add_argument("--no-https", dest="https", action="store_false", help="do not serve HTTPS")
    parser.add_argument(
        "--cert-dir", type=Path, help="folder of the CA and certificates (default: user data dir)"
    )
    parser.add_argument(
        "--redirect-https",
        nargs="?",
        type=redirect_status,
        const=DEFAULT_REDIRECT_STATUS,
        default=None,
        metavar="STATUS",
        help=f"redirect HTTP to HTTPS (status 301, 302, 307 or 308; default {DEFAULT_REDIRECT_STATUS})",
    )
    parser.add_argument(
        "--hsts",
        nargs="?",
        type=non_negative,
        const=DEFAULT_HSTS_MAX_AGE,
        default=None,
        metavar="MAX_AGE",
        help=f"send Strict-Transport-Security on HTTPS (max-age seconds, default {DEFAULT_HSTS_MAX_AGE})",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="store_true",
        help="honour X-Forwarded-Proto/-For/-Host from a proxy on 127.0.0.1 (off: they are removed)",
    )
    parser.add_argument("--threads", type=int, default=8, help="worker threads per listener (default 8)")
    parser.add_argument(
        "--app", dest="app_target", help="your Flask app: module:app, package, path/to/app.py"
    )
    parser.add_argument("--chdir", type=Path, help="working directory for --app (prepended to sys.path)")
    parser.add_argument("--reload", action="store_true", help="restart when the app's source files change")


def options_from_args(args: argparse.Namespace) -> ServeOptions:
    return ServeOptions(
        host=args.host,
        http_port=args.http_port,
        https_port=args.https_port,
        http=args.http,
        https=args.https,
        cert_dir=args.cert_dir,
        redirect_status=args.redirect_https,
        hsts_max_age=args.hsts,
        trusted_proxy=args.trusted_proxy,
        threads=args.threads,
        app_target=args.app_target,
        chdir=args.chdir,
        reload=args.reload,
    )


def run(args: argparse.Namespace) -> int:
    return serve_headless(options_from_args(args))


def resolve_app_target(target: str | None, chdir: Path | None) -> Any:
    """The ``AppTarget`` to serve: the user's when named (``--app``, ``--chdir``, ``FLASK_APP`` in
    the environment or a ``.flaskenv``/``.env``), else the bundled demo app."""
    from launcher.apptarget import AppTarget, read_dotenv, resolve_target

    named = target is not None or chdir is not None or "FLASK_APP" in os.environ
    if not named and "FLASK_APP" not in read_dotenv(Path.cwd()):
        return AppTarget(target=None)
    return resolve_target(target, chdir)


class _LineHandler(logging.Handler):
    """Prints the launcher's notices (wrong protocol on a port, TLS errors) as plain lines."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(logging.INFO)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        """One ``notice:`` line; control characters in the message are escaped, so text from a
        peer in it cannot drive the terminal or start a line of its own."""
        from launcher.recordformat import escape_control

        try:
            print(f"notice: {escape_control(record.getMessage())}", file=self.out, flush=True)
        except Exception:
            self.handleError(record)


def serve_headless(
    options: ServeOptions,
    *,
    app: Any = None,
    out: TextIO | None = None,
    stop_event: threading.Event | None = None,
    install_signals: bool = True,
) -> int:
    """Serve until SIGINT/SIGTERM (or *stop_event*); return the exit code.

    *app* overrides ``options.app_target``.  Raises ``LauncherError`` when it cannot start.
    """
    from launcher.certs import CertStore, default_cert_dir
    from launcher.policy import Policy
    from launcher.servers import Servers

    out = out or sys.stdout
    options.validate()
    target = None
    if app is None or options.reload:
        target = resolve_app_target(options.app_target, options.chdir)
    if app is None:
        from launcher.apptarget import load_app

        app = load_app(target)
    policy = Policy(
        redirect_https=options.redirect_status is not None,
        redirect_status=options.redirect_status or DEFAULT_REDIRECT_STATUS,
        hsts=options.hsts_max_age is not None,
        hsts_max_age=options.hsts_max_age if options.hsts_max_age is not None else DEFAULT_HSTS_MAX_AGE,
        trusted_proxy=options.trusted_proxy,
    )
    cert_dir = options.cert_dir or default_cert_dir()
    store = CertStore(cert_dir)
    servers = Servers(
        app,
        cert_store=store,
        policy=policy,
        host=options.host,
        http_port=options.http_port,
        https_port=options.https_port,
        threads=options.threads,
    )
    stop = stop_event or threading.Event()
    notices = _LineHandler(sys.stderr)
    wire = logging.getLogger("launcher.wire")
    wire.addHandler(notices)
    wire.setLevel(logging.INFO)
    wire.propagate = False
    subscription = servers.sink.subscribe()
    printer = threading.Thread(
        target=_print_requests, args=(subscription, out, stop), name="launcher-access-log"
    )
    restore = _install_signal_handlers(stop) if install_signals else (lambda: None)
    reloader = None
    try:
        listeners = [
            lst for lst, wanted in ((servers.https, options.https), (servers.http, options.http)) if wanted
        ]
        for listener in listeners:
            listener.start()
        for listener in sorted(listeners, key=lambda lst: lst.scheme):
            print(f"{listener.url}  {listener.scheme.upper()} listening", file=out, flush=True)
        if store.is_imported:
            print(f"CA certificate: none (serving your imported {Path(store.cert_path).resolve()})", file=out)
        else:
            print(f"CA certificate: {Path(store.ca_cert_path).resolve()}", file=out, flush=True)
            warning = store.ca_expiry_warning()
            if warning:
                print(f"warning: {warning}", file=out, flush=True)
        if options.host in ("0.0.0.0", "::"):
            print("warning: listening on all interfaces: other machines can reach these servers.", file=out)
        printer.start()
        if options.reload and target is not None:
            reloader = _start_reloader(target, app, servers, out)
        while not stop.wait(0.5):
            pass
    finally:
        restore()
        if reloader is not None:
            reloader.stop()
        servers.stop_all()
        stop.set()
        if printer.is_alive():
            printer.join(2)
        subscription.close()
        wire.removeHandler(notices)
    return 0


def _print_requests(subscription: Any, out: TextIO, stop: threading.Event) -> None:
    while not stop.is_set():
        subscription.wait(0.2)
        for record in subscription.drain():
            print(record.access_line(), file=out, flush=True)
    for record in subscription.drain():  # what arrived while stopping
        print(record.access_line(), file=out, flush=True)


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _start_reloader(target: Any, app: Any, servers: Any, out: TextIO) -> Any:
    from launcher.reload import Reloader

    def swap(new_app: Any) -> list[Exception]:
        errors = servers.set_app(new_app)
        if not errors:
            print("reloaded: the app changed and was imported afresh", file=out, flush=True)
        return errors

    def on_error(error: LauncherError) -> None:
        print(f"error: reload failed, still serving the previous version: {error}", file=out, flush=True)

    reloader = Reloader(target, swap=swap, on_error=on_error)
    reloader.start(app)
    return reloader
