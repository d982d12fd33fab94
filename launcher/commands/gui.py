"""``flask-launcher gui``: the desktop window (also what ``flask-launcher`` alone opens)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("gui", help="open the desktop window (the default)")
    parser.add_argument("--cert-dir", type=Path, help="folder of the CA and certificates")
    parser.add_argument(
        "--app", dest="app_target", help="your Flask app: module:app, package, path/to/app.py"
    )
    parser.add_argument("--chdir", type=Path, help="working directory for --app (prepended to sys.path)")
    parser.add_argument("--reset-settings", action="store_true", help="forget the saved settings")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from launcher.gui import run_gui

    kwargs = {"cert_dir": args.cert_dir, "reset_settings": args.reset_settings}
    if args.app_target or args.chdir:
        from launcher.apptarget import AppTarget

        kwargs["app_target"] = AppTarget(target=args.app_target, chdir=args.chdir)
    return run_gui(**kwargs)
