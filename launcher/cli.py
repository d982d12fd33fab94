"""``flask-launcher``: the GUI by default, or a headless subcommand.

Subcommands live in ``launcher.commands.<name>`` with ``register(subparsers)``; heavy imports
happen inside their ``run`` so that ``--help`` and the GUI start fast.  User errors
(``LauncherError``) print one line and exit 2; argparse's errors are made one line too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from launcher import __version__
from launcher.errors import LauncherError
from launcher.remote.wire import CHILD_COMMAND

PROG = "flask-launcher"
COMMANDS = ("serve", "cert", "trust", "inspect", "deploy-config", "gui")


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, with a pointer to --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Serve a Flask app on HTTP and HTTPS at once, with a local CA your browser trusts.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--cert-dir", help="folder of the CA and certificates (GUI)")
    parser.add_argument("--reset-settings", action="store_true", help="forget the GUI's saved settings")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"launcher.commands.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name != f"launcher.commands.{name.replace('-', '_')}":
                raise
            continue
        module.register(sub)
    return parser


def has_display() -> bool:
    """Whether a GUI can open: a display server, or a Qt platform chosen explicitly."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == [CHILD_COMMAND]:  # the window's server process (launcher.remote)
        from launcher.remote.child import main as child_main

        return child_main(words[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            if not has_display():
                print(
                    f"{PROG}: no display found (DISPLAY is not set): running `{PROG} serve` instead.",
                    file=sys.stderr,
                )
                args = parser.parse_args(["serve", *(["--cert-dir", args.cert_dir] if args.cert_dir else [])])
            else:
                args = parser.parse_args(["gui", *sys.argv[1:]] if argv is None else ["gui", *argv])
        return int(args.func(args) or 0)
    except LauncherError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
