"""``flask launch``: the launcher as a ``flask`` subcommand (``flask.commands`` entry point).

``flask --app myproject launch`` opens the desktop window serving *myproject*;
``flask --app myproject launch --headless`` serves it on HTTP and HTTPS at once without a window
(what ``flask-launcher serve --app myproject`` does), and so does a plain ``launch`` on a machine
with no display, after saying so.

The app is the one ``flask`` itself would load: ``--app``, ``FLASK_APP``, ``.flaskenv``/``.env``
(Flask has loaded them before this command runs), else ``wsgi.py`` or ``app.py`` in the current
directory.  It is resolved with ``launcher.apptarget`` so that it can be re-imported on reload.
Settings meant for ``flask run`` apply where they make sense:

===================== =========================================================
``FLASK_RUN_HOST``     ``--host`` (bind address)
``FLASK_RUN_PORT``     ``--http-port`` (``flask run`` serves HTTP on it)
``FLASK_RUN_CERT``     ``--cert``: serve this certificate instead of a generated one
``FLASK_RUN_KEY``      ``--key``: its private key
``FLASK_DEBUG``        (``flask --debug``) turns ``--reload`` on unless ``--no-reload``
===================== =========================================================

Each option also reads ``FLASK_LAUNCH_<OPTION>`` (e.g. ``FLASK_LAUNCH_HTTPS_PORT``), which wins
over the ``FLASK_RUN_*`` one.  ``FLASK_RUN_CERT=adhoc`` means the default (a certificate from
the local CA).  Never the Werkzeug debugger: ``--debug`` only affects Flask's own debug flag.

Limits: host, ports, certificate and policy options apply to ``--headless``; the window keeps
its own saved settings for those.  A custom ``FlaskGroup(create_app=...)`` script without
``--app`` is not supported (the app must be importable to be reloaded).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from launcher.apptarget import AppTarget, resolve_target
from launcher.errors import AppLoadError, LauncherError

DEFAULT_HTTP_PORT = 8080
DEFAULT_HTTPS_PORT = 8443


class LaunchError(click.ClickException):
    """A user error, printed as one line (after the user's traceback, for an app that fails)."""

    exit_code = 2

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details

    def show(self, file: Any = None) -> None:
        if self.details:
            click.echo(self.details.rstrip("\n"), err=True)
        super().show(file)


def app_target_from(info: Any, cwd: Path | None = None) -> AppTarget:
    """The ``AppTarget`` for the app the ``flask`` command was given (``ScriptInfo``)."""
    workdir = Path(cwd if cwd is not None else os.getcwd())
    if info is not None and getattr(info, "app_import_path", None):
        return AppTarget(info.app_import_path, workdir)
    if info is not None and getattr(info, "create_app", None) is not None:
        raise AppLoadError(
            "This flask script builds its app with create_app=...; give the app with --app for launch."
        )
    return resolve_target(None, workdir)


def _envvars(option: str, *flask_run: str) -> list[str]:
    return [f"FLASK_LAUNCH_{option}", *flask_run]


def _validate_port(_ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and not 0 <= value <= 65535:
        raise click.BadParameter(f"{value} is not a port: use 1–65535, or 0 for any free port.", param=param)
    return value


@click.command("launch", short_help="Serve the app on HTTP and HTTPS at once (window or --headless).")
@click.option(
    "--headless",
    is_flag=True,
    envvar=_envvars("HEADLESS"),
    help="Serve without a window until Ctrl+C.",
)
@click.option(
    "--host",
    "-h",
    default="127.0.0.1",
    show_default=True,
    envvar=_envvars("HOST", "FLASK_RUN_HOST"),
    help="Address to bind; 0.0.0.0 exposes the servers to other machines.",
)
@click.option(
    "--http-port",
    "-p",
    type=int,
    default=DEFAULT_HTTP_PORT,
    show_default=True,
    callback=_validate_port,
    envvar=_envvars("HTTP_PORT", "FLASK_RUN_PORT"),
    help="HTTP port (0 = any free port).",
)
@click.option(
    "--https-port",
    type=int,
    default=DEFAULT_HTTPS_PORT,
    show_default=True,
    callback=_validate_port,
    envvar=_envvars("HTTPS_PORT"),
    help="HTTPS port (0 = any free port).",
)
@click.option("--no-http", is_flag=True, help="Do not serve plain HTTP.")
@click.option("--no-https", is_flag=True, help="Do not serve HTTPS.")
@click.option(
    "--cert-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=_envvars("CERT_DIR"),
    help="Folder of the local CA and certificates (default: the user data folder).",
)
@click.option(
    "--cert",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_envvars("CERT", "FLASK_RUN_CERT"),
    help="Serve your own certificate (PEM) instead of one from the local CA; needs --key.",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_envvars("KEY", "FLASK_RUN_KEY"),
    help="The private key (PEM) of --cert.",
)
@click.option(
    "--redirect-https",
    type=click.Choice(["301", "302", "307", "308"]),
    is_flag=False,
    flag_value="308",
    default=None,
    help="Redirect HTTP to HTTPS (status 301, 302, 307 or 308; 308 if no status is given).",
)
@click.option(
    "--hsts",
    type=click.IntRange(min=0),
    is_flag=False,
    flag_value=31_536_000,
    default=None,
    help="Send Strict-Transport-Security on HTTPS (max-age in seconds; one year if not given).",
)
@click.option(
    "--trusted-proxy", is_flag=True, help="Honour X-Forwarded-Proto/-For/-Host from a proxy on 127.0.0.1."
)
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True, help="Worker threads.")
@click.option(
    "--reload/--no-reload",
    default=None,
    envvar=_envvars("RELOAD", "FLASK_RUN_RELOAD"),
    help="Re-import the app and restart both listeners when its files change (default: on with --debug).",
)
@click.pass_context
def launch_command(ctx: click.Context, **params: Any) -> None:
    """Serve the Flask app on HTTP and HTTPS at once, with a certificate from a local CA.

    Opens the Flask HTTPS Launcher window with your app; with --headless (or when there is no
    display) serves it in this terminal and prints one line per listener, the CA certificate's
    path, then one line per request.
    """
    from flask.cli import ScriptInfo
    from flask.helpers import get_debug_flag

    info = ctx.find_object(ScriptInfo)
    try:
        target = app_target_from(info)
    except AppLoadError as exc:
        raise LaunchError(str(exc), exc.details) from None
    if params["reload"] is None:
        params["reload"] = get_debug_flag()

    headless = params["headless"]
    if not headless:
        from launcher.cli import has_display

        if not has_display():
            click.echo(
                "flask launch: no display found (DISPLAY is not set): serving headless instead.", err=True
            )
            headless = True
    if headless:
        ctx.exit(run_headless(target, params))
    ctx.exit(open_gui(target, params))


def open_gui(target: AppTarget, params: dict[str, Any]) -> int:
    """The one place the window is opened from ``flask launch``."""
    from launcher.gui import run_gui

    return int(run_gui(app_target=target, cert_dir=params.get("cert_dir")) or 0)


def serve_options(target: AppTarget, params: dict[str, Any]) -> Any:
    """``launcher.commands.serve.ServeOptions`` from this command's parameters."""
    from launcher.commands.serve import ServeOptions

    redirect = params.get("redirect_https")
    return ServeOptions(
        host=params["host"],
        http_port=params["http_port"],
        https_port=params["https_port"],
        http=not params["no_http"],
        https=not params["no_https"],
        cert_dir=params.get("cert_dir"),
        redirect_status=int(redirect) if redirect is not None else None,
        hsts_max_age=params.get("hsts"),
        trusted_proxy=params["trusted_proxy"],
        threads=params["threads"],
        app_target=target.target,
        chdir=target.chdir,
        reload=bool(params["reload"]),
    )


def _import_certificate(options: Any, cert: Path | None, key: Path | None) -> Path | None:
    """Import ``--cert``/``--key`` into the cert folder; without ``--cert-dir`` into a private
    temporary one (returned, to be removed), so the user's usual folder keeps its own leaf."""
    if cert is not None and str(cert).lower() == "adhoc" and key is None:
        return None  # flask run's "make me a certificate": that is the default here
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise LaunchError("--cert and --key go together: give both (or FLASK_RUN_CERT and FLASK_RUN_KEY).")
    from launcher.certs import CertStore

    temporary: Path | None = None
    if options.cert_dir is None:
        temporary = Path(tempfile.mkdtemp(prefix="flask-launch-cert-"))  # 0700
        options.cert_dir = temporary
    host = options.host if options.host not in ("0.0.0.0", "::") else None
    try:
        CertStore(options.cert_dir).import_pair(cert, key, host=host)
    except BaseException:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    return temporary


def run_headless(target: AppTarget, params: dict[str, Any]) -> int:
    """Load the app, then serve it with ``launcher.commands.serve.serve_headless``."""
    from launcher.apptarget import load_app
    from launcher.commands.serve import serve_headless

    options = serve_options(target, params)
    temporary: Path | None = None
    try:
        options.validate()
        app = load_app(target)
        temporary = _import_certificate(options, params.get("cert"), params.get("key"))
        click.echo(f" * Serving Flask app '{target.target}' (flask-https-launcher)", err=True)
        return int(serve_headless(options, app=app, out=sys.stdout) or 0)
    except AppLoadError as exc:
        raise LaunchError(str(exc), exc.details) from None
    except LauncherError as exc:
        raise LaunchError(str(exc)) from None
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
