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
import sys
from pathlib import Path
from typing import Any

import click

from launcher.apptarget import AppTarget, resolve_target
from launcher.errors import AppLoadError, LauncherError
from launcher.options import ServeConfig, click_options, config_from_click


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


@click.command("launch", short_help="Serve the app on HTTP and HTTPS at once (window or --headless).")
@click.option(
    "--headless",
    is_flag=True,
    envvar="FLASK_LAUNCH_HEADLESS",
    help="Serve without a window until Ctrl+C.",
)
@click_options("launch")
@click.pass_context
def launch_command(ctx: click.Context, /, **params: Any) -> None:
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


def serve_options(target: AppTarget, params: dict[str, Any]) -> ServeConfig:
    """The ``ServeConfig`` of this command's parameters, serving *target*."""
    return config_from_click(params, app_target=target.target, chdir=target.chdir)


def run_headless(target: AppTarget, params: dict[str, Any]) -> int:
    """Load the app, then serve it with ``launcher.commands.serve.serve_headless``."""
    from launcher.apptarget import load_app
    from launcher.commands.serve import serve_headless

    try:
        options = serve_options(target, params)
        # One process serves the app loaded here; a pool's workers each import it by name.
        app = load_app(target) if options.workers == 1 else None
        click.echo(f" * Serving Flask app '{target.target}' (flask-https-launcher)", err=True)
        return int(serve_headless(options, app=app, out=sys.stdout) or 0)
    except AppLoadError as exc:
        raise LaunchError(str(exc), exc.details) from None
    except LauncherError as exc:
        raise LaunchError(str(exc)) from None
