"""``flask-launcher trust install|uninstall|status|doctor``: trust the local CA in browsers and the OS.

``doctor`` lists every place a client might look for trust (browsers, system stores, WSL's Windows
host, runtimes, which running browsers need a restart), each trusted / not trusted / absent with
the one command that fixes it (``launcher.trustdoctor``); ``--json`` for scripts.  It changes
nothing; its exit status is 0 when every browser store found trusts the CA, else 1.

``install`` and ``uninstall`` print each command before running it; ``--dry-run`` prints them only.
``--store`` limits the action to stores whose name contains the text (e.g. ``chromium``, ``firefox``,
``system``).  Stores that cannot be used here are listed with the reason and skipped.  The system
store is changed only when running as root; otherwise the exact sudo commands are printed.

Exit status: 0 when every selected usable store did what was asked (or printed its sudo commands),
1 when a store command failed (the others are still done), 2 for a user error.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from launcher.trust import TrustStore


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "trust",
        help="trust the local CA in browsers and the OS (or undo it)",
        description="Trust the local CA (DIR/ca.pem) in Chromium/Chrome's and Firefox's NSS databases, the "
        "system store, the macOS login keychain or the Windows user Root store; or remove it again.",
    )
    actions = parser.add_subparsers(dest="trust_action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    for name, text in (
        ("install", "trust the CA in every usable store (creates the CA if missing)"),
        ("uninstall", "remove this CA (matched by name and fingerprint) from every store"),
        ("status", "say for each store whether it trusts the CA"),
    ):
        action = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        action.add_argument(
            "--cert-dir",
            type=Path,
            default=argparse.SUPPRESS,
            help="folder of the CA and certificates (default: the user data dir)",
        )
        action.add_argument(
            "--store",
            action="append",
            metavar="TEXT",
            help="only stores whose name contains TEXT (chromium, firefox, system, ...); repeatable",
        )
        if name != "status":
            action.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
        action.set_defaults(func=run)
    doctor = actions.add_parser(
        "doctor",
        help="check every place a client looks for trust, with the fix for each",
        description="Check every place a client might look for trust (browsers, system stores, WSL's "
        "Windows host, Python, Node, curl, wget, Java, containers) and which running browsers need a "
        "restart; print the one command that fixes each.  Changes nothing.  Exit status: 0 when every "
        "browser store found trusts the CA, 1 otherwise.",
    )
    doctor.add_argument(
        "--cert-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="folder of the CA and certificates (default: the user data dir)",
    )
    doctor.add_argument("--json", action="store_true", help="print the rows as JSON")
    doctor.set_defaults(func=run_doctor)
    parser.set_defaults(func=run)


def run_doctor(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``trust doctor``: print the report (text or JSON); 0 when every browser found trusts the CA."""
    import json

    from launcher.certs import CertStore, default_cert_dir
    from launcher.trust import LocalCA
    from launcher.trustdoctor import diagnose

    out = out or sys.stdout
    store = CertStore(getattr(args, "cert_dir", None) or default_cert_dir())
    if not store.ca_cert_path.exists():
        text = f"No CA in {store.directory} yet: nothing can be trusted. Run `flask-launcher trust install`."
        if args.json:
            print(
                json.dumps({"ca": None, "ok": False, "exit_code": 1, "rows": [], "message": text}), file=out
            )
        else:
            print(text, file=out)
        return 1
    report = diagnose(LocalCA.load(store.ca_cert_path))
    print(report.to_json() if args.json else report.to_text(), file=out)
    return report.exit_code


def _select(stores: list[TrustStore], patterns: list[str] | None) -> list[TrustStore]:
    if not patterns:
        return stores
    return [s for s in stores if any(p.lower() in s.name.lower() for p in patterns)]


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from launcher.certs import CertStore, default_cert_dir
    from launcher.errors import LauncherError
    from launcher.trust import LocalCA, TrustError, TrustState, default_stores
    from launcher.trustplan import TrustAction, store_commands

    out = out or sys.stdout
    store = CertStore(getattr(args, "cert_dir", None) or default_cert_dir())
    action = args.trust_action
    if action == "install":
        if not args.dry_run:
            store.ensure()
        elif not store.ca_cert_path.exists():
            print(f"No CA yet in {store.directory}: `trust install` would create it first.", file=out)
            return 0
    elif not store.ca_cert_path.exists():
        print(f"No CA in {store.directory} yet: nothing is trusted, nothing to remove.", file=out)
        return 0
    ca = LocalCA.load(store.ca_cert_path)
    stores = _select(default_stores(), getattr(args, "store", None))
    if not stores:
        raise LauncherError(f"No trust store matches --store {' '.join(args.store)}: see `trust status`.")
    print(f"CA: {ca.path}\n  {ca.nickname}\n  SHA-256 {ca.sha256}", file=out)
    warning = store.ca_expiry_warning()
    if warning:
        print(f"  Warning: {warning}", file=out)
    width = max(len(s.name) for s in stores)
    failed = 0
    for trust_store in stores:
        reason = trust_store.unavailable_reason()
        if reason:
            print(f"{trust_store.name:<{width}}  unavailable: {reason}", file=out)
            continue
        try:
            if action == "status":
                state = TrustState.TRUSTED if trust_store.status(ca) else TrustState.NOT_TRUSTED
                print(f"{trust_store.name:<{width}}  {state}", file=out)
                continue
            commands = store_commands(trust_store, TrustAction(action), ca)
            if args.dry_run:
                if not commands:
                    done = "already trusted" if action == "install" else "not installed"
                    print(f"{trust_store.name}: nothing to do ({done}).", file=out)
                for argv in commands:
                    print(f"{trust_store.name}: would run: {shlex.join(argv)}", file=out)
                continue
            if not trust_store.manual_only:
                for argv in commands:
                    print(f"{trust_store.name}: $ {shlex.join(argv)}", file=out)
            outcome = trust_store.install(ca) if action == "install" else trust_store.uninstall(ca)
            print(outcome.message, file=out)
        except TrustError as exc:
            failed += 1
            print(f"flask-launcher: error: {exc}", file=sys.stderr)
    return 1 if failed else 0
