"""``flask-launcher serve``: both listeners headless, for containers and CI.

Once listening it prints one line per listener, each starting with its URL, then
``CA certificate: <path>``, then one access-log line per request.  With ``--name`` a
``Named host:`` line follows the CA's; with ``--lan`` one ``LAN:`` line per address, a ``note:``
per address left out, ``Phone set-up: <url>`` and the QR code of that URL.  Ctrl+C and SIGTERM stop it
cleanly with exit code 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from launcher.appview import remove_token_file, write_token_anywhere
from launcher.errors import ConfigError
from launcher.fdlimits import raise_open_file_limit
from launcher.notices import install as install_notices
from launcher.notices import uninstall as uninstall_notices
from launcher.options import ServeConfig, add_arguments, config_from_args

if TYPE_CHECKING:
    from launcher.accesslog import AccessEntry, AccessLog
    from launcher.apptarget import AppTarget
    from launcher.deploy import ProxyRun


#: Seconds ``serve --workers`` gives its workers to stop at Ctrl+C or SIGTERM (keep-alive clients
#: are disconnected; a worker that has not ended by then is killed).
STOP_SECONDS = 0.8


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="serve HTTP and HTTPS headless (containers, CI)")
    add_arguments(parser, command="serve")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return serve_headless(config_from_args(args))


def resolve_app_target(target: str | None, chdir: Path | None) -> AppTarget:
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
    options: ServeConfig,
    *,
    app: Any = None,
    out: TextIO | None = None,
    stop_event: threading.Event | None = None,
    install_signals: bool = True,
) -> int:
    """Serve until SIGINT/SIGTERM (or *stop_event*); return the exit code.

    *app* overrides ``options.app_target``.  Raises ``LauncherError`` when it cannot start.
    ``options.cert``/``options.key`` serve that pair instead of a leaf from the local CA: it is
    imported into ``options.cert_dir``, or without one into a private temporary folder (removed
    at the end), so the user's usual folder keeps its own leaf.
    """
    from launcher.apptarget import load_app

    out = out or sys.stdout
    raise_open_file_limit()  # see launcher.fdlimits: connections are sized from the soft limit
    target: AppTarget | None = None
    pooled = options.workers > 1
    if pooled and app is not None:
        raise ConfigError("--workers above 1 serves an app by name (--app), not an app object.")
    if app is None or options.reload:
        target = resolve_app_target(options.app_target, options.chdir)
        if app is None and not pooled:  # a pool's workers import it (the first one reports why not)
            app = load_app(target)
    temporary = _import_certificate(options)
    try:
        return _serve(options, app, target, out, stop_event, install_signals, temporary)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _import_certificate(options: ServeConfig) -> Path | None:
    """Import ``--cert``/``--key`` (see ``serve_headless``); the temporary folder made, if any."""
    cert, key = options.cert, options.key
    if cert is None or key is None:
        return None  # neither, or FLASK_RUN_CERT=adhoc: a leaf from the local CA, the default
    from launcher.certs import CertStore

    temporary: Path | None = None
    cert_dir = options.cert_dir
    if cert_dir is None:
        cert_dir = temporary = Path(tempfile.mkdtemp(prefix="flask-launch-cert-"))  # 0700
    try:
        CertStore(cert_dir).import_pair(cert, key, host=None if options.exposed else options.host)
    except BaseException:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    return temporary


def _serve(
    options: ServeConfig,
    app: Any,
    target: Any,
    out: TextIO,
    stop_event: threading.Event | None,
    install_signals: bool,
    cert_dir: Path | None,
) -> int:
    from launcher.accesslog import AccessLog
    from launcher.certs import CertStore, default_cert_dir
    from launcher.recordformat import escape_control
    from launcher.requestlog import RequestSink
    from launcher.servers import Servers

    def warn(message: str) -> None:  # a folder made private, a leaf served until it expires...
        print(f"warning: {escape_control(message)}", file=sys.stderr, flush=True)

    store = CertStore(cert_dir or options.cert_dir or default_cert_dir(), on_warning=warn)
    # serve prints an access line per request and keeps nothing else: the listeners note each
    # request in an access log (``launcher.accesslog``), and the sink, of capacity 0, only sees
    # the wire events (which the notices print).
    sink = RequestSink(capacity=0, body_budget=options.body_budget_bytes)
    stop = stop_event or threading.Event()
    public = options
    if options.behind is not None:
        from launcher.deploy import ProxyKind, find_proxy

        find_proxy(ProxyKind(options.behind))  # not installed: one line, before anything starts
        options = behind_upstream_config(options)
    # ``--lan`` and ``--name``: ``Servers.share`` (the LAN scan, the leaf's names, the set-up page).
    servers: Any
    if options.workers > 1:
        from launcher.workers import WorkerPool

        def notice(text: str) -> None:  # the supervisor's lines: a worker died, serves again...
            print(f"notice: {escape_control(text)}", file=sys.stderr, flush=True)

        servers = WorkerPool.from_config(
            options, cert_store=store, sink=sink, target=target, on_notice=notice
        )
        # Each worker keeps its own access log and formats its lines; the supervisor merges them
        # in time order and writes them.
        servers.print_access_lines(lambda text: _write_lines(out, text))
        printer = None
    else:
        servers = Servers.from_config(app, options, cert_store=store, sink=sink)
        servers.access_log = access_log = AccessLog()
        printer = threading.Thread(
            target=_print_requests, args=(access_log, out, stop), name="launcher-access-log"
        )
    scan, extra_hosts = servers.lan_scan, list(servers.lan_hosts)
    # Client-caused notices, one line per reason per interval; waitress's own chatter ("Task
    # queue depth is N" hundreds of times a second under load) is not the user's problem.
    notices = install_notices("launcher.wire", _LineHandler(sys.stderr))
    wire = logging.getLogger("launcher.wire")
    wire_level = wire.level
    wire.setLevel(logging.INFO)
    waitress_log = logging.getLogger("waitress")
    waitress_level = waitress_log.level
    waitress_log.setLevel(logging.ERROR)
    signalled: list[int] = []  # the signal handler only appends here (see _install_signal_handlers)
    restore = _install_signal_handlers(signalled) if install_signals else (lambda: None)
    reloader = None
    token_file: Path | None = None
    proxy: ProxyRun | None = None
    try:
        listeners = [
            lst for lst, wanted in ((servers.https, options.https), (servers.http, options.http)) if wanted
        ]
        if options.workers > 1:
            servers.start_listeners([lst.scheme for lst in listeners])  # one set of workers for both
        else:
            for listener in listeners:
                listener.start()
        if public.behind is not None:
            proxy = start_proxy(public, store, servers.http.port)
            ports = [servers.http.port, *proxy.ports()]
            token_file = _write_token(store, servers, ports, warn, host=public.host)
            print_proxy_banner(proxy, public, servers.http.url, out)
        else:
            token_file = _write_token(store, servers, [lst.port for lst in listeners], warn)
            for listener in sorted(listeners, key=lambda lst: lst.scheme):
                print(f"{listener.url}  {listener.scheme.upper()} listening", file=out, flush=True)
        if store.is_imported:
            print(f"CA certificate: none (serving your imported {Path(store.cert_path).resolve()})", file=out)
        else:
            print(f"CA certificate: {Path(store.ca_cert_path).resolve()}", file=out, flush=True)
            warning = store.ca_expiry_warning()
            if warning:
                print(f"warning: {warning}", file=out, flush=True)
        if options.name and options.https:
            print(f"Named host: https://{options.name}.localhost:{servers.https.port}/", file=out, flush=True)
        if options.lan:
            print_lan_banner(servers, scan, extra_hosts, store.is_imported, out)
        if public.exposed:
            print("warning: listening on all interfaces: other machines can reach these servers.", file=out)
        if printer is not None:
            printer.start()
        if options.reload and target is not None:
            reloader = _start_reloader(target, app, servers, out)
        while not stop.wait(0.1) and not signalled:
            if proxy is not None and not proxy.running:
                print(
                    f"error: {public.behind} stopped: {escape_control(proxy.log_tail())}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
    finally:
        # Signals stay caught until everything stopped: a second Ctrl+C or SIGTERM must not end
        # this process half-way (and leave workers to stop on their own).
        if proxy is not None:
            proxy.cleanup()
        if reloader is not None:
            reloader.stop()
        if options.workers > 1:
            servers.close(STOP_SECONDS)  # every worker at once, keep-alive clients included
        else:
            servers.stop_all()
        if token_file is not None:
            remove_token_file(token_file, servers.probe_token)
        stop.set()
        if printer is not None and printer.is_alive():
            printer.join(2)
        uninstall_notices("launcher.wire", notices)
        wire.setLevel(wire_level)
        waitress_log.setLevel(waitress_level)
        restore()
    return 0


def print_lan_banner(servers: Any, scan: Any, extra_hosts: list[str], imported: bool, out: TextIO) -> None:
    """``--lan``'s lines: one per LAN address (its URLs), the addresses left out and why, the
    ``Phone set-up:`` URL and its QR code."""
    from launcher.onboarding import onboarding_url, qr_text

    schemes = [lst for lst in (servers.http, servers.https) if lst.running]
    for item in scan.addresses:
        urls = "  ".join(f"{lst.scheme}://{item.url_host}:{lst.port}/" for lst in schemes)
        print(f"LAN: {urls}  ({item.interface})", file=out, flush=True)
    for host in extra_hosts:
        if host.endswith(".local"):
            urls = "  ".join(f"{lst.scheme}://{host}:{lst.port}/" for lst in schemes)
            print(f"LAN: {urls}  (mDNS name: needs Avahi or Bonjour)", file=out, flush=True)
    for item, why in scan.skipped:
        print(f"note: {item.address} ({item.interface}) left out: {why}", file=out, flush=True)
    url = onboarding_url(servers, scan, extra_hosts)
    if imported:
        print("note: no phone set-up page: you serve an imported certificate, not the local CA", file=out)
    elif url is None:
        print("warning: no LAN address found: connect to a network (or try --lan-bridges)", file=out)
    else:
        print(f"Phone set-up: {url}", file=out, flush=True)
        print(qr_text(url), file=out, flush=True)


def behind_upstream_config(options: ServeConfig) -> ServeConfig:
    """How waitress serves behind ``--behind``'s proxy: plain HTTP on a free loopback port, trusting
    the proxy there (``--trusted-proxy``); the redirect and HSTS are the proxy's (waitress's own
    redirect would loop: the proxy talks HTTP to it)."""
    return options.replace(
        host="127.0.0.1",
        http_port=0,
        http=True,
        https=False,
        trusted_proxy=True,
        redirect_https=None,
        hsts=None,
        behind=None,
    )


def start_proxy(options: ServeConfig, store: Any, upstream_port: int) -> ProxyRun:
    """Run ``options.behind`` on the public ports in front of waitress at *upstream_port*, with the
    tool's leaf (see ``launcher.deploy.ProxyRun``); raises ``LauncherError`` when it cannot."""
    from launcher.deploy import ProxyKind, ProxyRun, free_port, trial_spec
    from launcher.options import WILDCARD_HOSTS
    from launcher.servers import cert_hosts_for

    assert options.behind is not None

    store.ensure(hosts=cert_hosts_for(options.host))
    bind = None if options.host in WILDCARD_HOSTS else options.host
    probe_host = "127.0.0.1" if bind is None else bind
    https_port = options.https_port or free_port(probe_host)
    http_port = (options.http_port or free_port(probe_host)) if options.http else None
    names = cert_hosts_for(options.host)
    spec = trial_spec(
        ProxyKind(options.behind),
        upstream=("127.0.0.1", upstream_port),
        listen=https_port,
        http_listen=http_port,
        cert=Path(store.cert_path),
        key=Path(store.key_path),
        listen_host=bind,
        hsts=options.hsts,
        redirect_https=options.redirect_https,
        names=names,
    )
    proxy = ProxyRun(spec)
    try:
        proxy.start()
    except BaseException:
        proxy.cleanup()
        raise
    return proxy


def print_proxy_banner(proxy: ProxyRun, options: ServeConfig, upstream_url: str, out: TextIO) -> None:
    """The listening lines of a trial behind a proxy: the proxy's ports first, then waitress's."""
    from launcher.servers import url_host

    host = url_host(options.host)
    spec = proxy.spec
    name = spec.proxy
    extra = f", HSTS max-age={spec.hsts}" if spec.hsts is not None else ""
    if spec.http_listen is not None:
        what = "redirects to HTTPS" if spec.redirect_https else "forwards to the app"
        print(f"http://{host}:{spec.http_listen}/  HTTP listening ({name}: {what})", file=out, flush=True)
    print(
        f"https://{host}:{spec.listen}/  HTTPS listening ({name}: TLS ends here{extra})", file=out, flush=True
    )
    print(
        f"{upstream_url}  upstream: waitress, plain HTTP, trusting X-Forwarded-* from {name} on 127.0.0.1",
        file=out,
        flush=True,
    )
    print(f"{name} configuration: {proxy.config_path}", file=out, flush=True)


def _write_token(
    store: Any, servers: Any, ports: list[int], warn: Callable[[str], None], *, host: str | None = None
) -> Path | None:
    """Leave the servers' probe token where ``flask-launcher inspect`` finds it: the certificate
    folder, or a private spare folder when that one is read-only (``launcher.appview``); where
    neither can be written, that costs only this, with a warning."""
    try:
        return write_token_anywhere(store.directory, servers.probe_token, host or servers.host, ports)
    except OSError as exc:
        warn(
            f"cannot write the inspector's token in {store.directory} ({exc.strerror or exc}) "
            "or a private temporary folder: flask-launcher inspect will not show what the app saw"
        )
        return None


def _write_lines(out: TextIO, text: str) -> None:
    """Write a batch of access lines at once (one write, one flush); an output that is gone (a
    closed pipe) is not an error worth stopping the servers for."""
    try:
        out.write(text)
        out.flush()
    except (OSError, ValueError):
        pass


#: How long the access log gathers lines before it writes them: a batch per interval under load
#: (one write, one flush), not one wake-up of this thread, and one ``write``, per request.
PRINT_BATCH_SECONDS = 0.05


def _print_requests(access_log: AccessLog, out: TextIO, stop: threading.Event) -> None:
    """The access log: the requests of each ``PRINT_BATCH_SECONDS`` written at once.

    Waking for each request as it comes costs more than the request itself under load: the
    entry's ``Event.set`` wakes this thread, which takes the GIL from the server's threads to
    write one line.  So after an entry arrives this waits out the interval, then drains."""

    def write(entries: list[AccessEntry]) -> None:
        if entries:
            _write_lines(out, "".join(entry.access_line() + "\n" for entry in entries))

    while not stop.is_set():
        if access_log.wait(0.2):
            stop.wait(PRINT_BATCH_SECONDS)
        write(access_log.drain())
    write(access_log.drain())  # what arrived while stopping


def _install_signal_handlers(signalled: list[int]) -> Callable[[], None]:
    """SIGINT and SIGTERM append to *signalled*, which the main loop watches.

    The handler takes no lock: Python runs it in the main thread between two bytecodes, maybe
    inside ``Event.wait``/``Event.set`` holding the event's lock, and ``Event.set`` there would
    wait for itself (two signals close together — ``timeout`` or systemd signalling the whole
    process group, then a second one — hung serve for good)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: Any) -> None:
        signalled.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _start_reloader(target: Any, app: Any, servers: Any, out: TextIO) -> Any:
    """Reload on change through the servers' own reloader: one process swaps the app in, a pool
    starts new workers (``WorkerPool.make_reloader``)."""

    def reloaded(_app: Any, errors: list[Exception]) -> None:
        if not errors:  # a listener that did not start again is reported through failed()
            print("reloaded: the app changed and was imported afresh", file=out, flush=True)

    def failed(error: Exception) -> None:
        print(f"error: reload failed, still serving the previous version: {error}", file=out, flush=True)

    reloader = servers.make_reloader(
        target, on_reloaded=reloaded, on_error=failed, on_change=lambda _paths: None
    )
    reloader.start(app)
    return reloader
