"""``flask-launcher cert create|show|import|rotate-ca|check``: manage the certificate folder.

``create`` makes the local CA when there is none (an existing CA is always kept, so trust survives)
and a new leaf for ``--host`` names (default: localhost, 127.0.0.1, ::1), living ``--days`` (at most
397).  A new CA is name-constrained: it may sign only local names (localhost, .test, .internal, …),
private IPs and the ``--ca-domain`` domains, so a stolen ``ca-key.pem`` cannot impersonate a public
site; ``--unconstrained-ca`` is the opt-out.  ``show`` describes the CA and the served certificate
and flags a CA without name constraints.  ``import`` validates a certificate and key of your own
and serves them from then on.  ``rotate-ca`` replaces the CA with a new constrained one, keeps the
old files in ``DIR/backup-YYYYmmdd-HHMMSS/``, re-signs the leaf, and moves trust: every store that
trusted the old CA trusts the new one and no longer the old (each command is printed before it
runs, as ``trust install`` does; ``--dry-run`` prints them only).  ``check`` exits 0 when the
certificate is fine, 1 when it expires within ``--within`` days, 2 when it expired, does not chain
to the CA or is missing.  The CA certificate is always ``DIR/ca.pem``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from launcher.errors import LauncherError

#: What ``--unconstrained-ca`` risks, printed whenever it is used.
UNCONSTRAINED_WARNING = (
    "Warning: --unconstrained-ca makes a CA that may sign for ANY name: anyone who copies its key"
    " (ca-key.pem) can impersonate every web site (your bank, your mail) to each browser and"
    " system that trusts this CA. Prefer --ca-domain NAME for the domains you need."
)


def _cert_dir_argument(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a value given before the subcommand (``flask-launcher --cert-dir D cert show``) is kept.
    parser.add_argument(
        "--cert-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="folder of the CA and certificates (default: the user data dir)",
    )


def _days(text: str) -> int:
    from launcher.certs import MAX_LEAF_DAYS

    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= MAX_LEAF_DAYS:
        raise argparse.ArgumentTypeError(f"{days} is not between 1 and {MAX_LEAF_DAYS} days")
    return days


def _within(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 0:
        raise argparse.ArgumentTypeError(f"{days} is negative: give 0 or more days")
    return days


def _ca_domain_argument(parser: argparse.ArgumentParser, whose: str) -> None:
    parser.add_argument(
        "--ca-domain",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a domain (and its subdomains) or IP network {whose} may also sign for, beyond local names"
        " and private IPs; repeatable",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from launcher.certs import MAX_LEAF_DAYS, KeyType

    parser = sub.add_parser(
        "cert",
        help="create, show or import certificates",
        description="Manage the local CA and the certificate served on HTTPS.",
    )
    actions = parser.add_subparsers(dest="cert_action", metavar="ACTION", parser_class=type(parser))
    actions.required = True

    create = actions.add_parser(
        "create",
        help="create the CA if missing, and a new certificate",
        description="Create the local CA when there is none (an existing CA is kept) and a new certificate "
        "for the given names, replacing the current one (also an imported one).",
    )
    _cert_dir_argument(create)
    create.add_argument(
        "--host",
        action="append",
        metavar="NAME",
        help="a DNS name or IP the certificate covers (DNS:x / IP:x / bare; repeat it;"
        " default: localhost 127.0.0.1 ::1)",
    )
    create.add_argument(
        "--key-type",
        choices=[k.value for k in KeyType],
        default=KeyType.ECDSA_P256.value,
        help="key algorithm (default: ecdsa-p256, the fastest handshake)",
    )
    create.add_argument(
        "--days",
        type=_days,
        default=MAX_LEAF_DAYS,
        metavar="N",
        help=f"the certificate's lifetime in days (1 to {MAX_LEAF_DAYS}, the default)",
    )
    _ca_domain_argument(create, "a CA made now (an existing CA is kept)")
    create.add_argument(
        "--unconstrained-ca",
        action="store_true",
        help="make a new CA without name constraints, able to sign for any name (risky: see the warning)",
    )
    create.set_defaults(func=run)

    show = actions.add_parser("show", help="describe the CA and the served certificate")
    _cert_dir_argument(show)
    show.set_defaults(func=run)

    rotate = actions.add_parser(
        "rotate-ca",
        help="replace the CA with a new name-constrained one; move trust to it",
        description="Make a new name-constrained CA (local names, private IPs and --ca-domain), keep the "
        "old files in DIR/backup-YYYYmmdd-HHMMSS/, re-sign the served certificate with the new CA, and "
        "move trust: every store that trusted the old CA trusts the new one, and the old one is removed "
        "from it. Each command is printed before it runs; --dry-run prints them only.",
    )
    _cert_dir_argument(rotate)
    _ca_domain_argument(rotate, "the new CA")
    rotate.add_argument(
        "--store",
        action="append",
        metavar="TEXT",
        help="move trust only in stores whose name contains TEXT (chromium, firefox, system, ...);"
        " repeatable",
    )
    rotate.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    rotate.set_defaults(func=run)

    check = actions.add_parser(
        "check",
        help="exit 0 if the certificate is fine, 1 if it expires soon, 2 if unusable",
        description="Check the served certificate, for CI and containers: one line, and exit status 0 when "
        "it is fine, 1 when it expires within --within days, 2 when it has expired, is not yet valid, "
        "does not chain to the CA, or there is none.",
    )
    _cert_dir_argument(check)
    check.add_argument(
        "--within",
        type=_within,
        default=30,
        metavar="DAYS",
        help="exit 1 when the certificate expires within DAYS days (default: 30)",
    )
    check.set_defaults(func=run)

    imp = actions.add_parser(
        "import",
        help="serve your own certificate and key",
        description="Validate CERT and KEY (key matches, within validity, covers --host, chains to --ca) "
        "and copy them into the folder as cert.pem/key.pem. They are then served as they are: never "
        "replaced by a generated certificate until you run `cert create`.",
    )
    _cert_dir_argument(imp)
    imp.add_argument("cert", type=Path, metavar="CERT", help="PEM certificate (a chain may follow it)")
    imp.add_argument("key", type=Path, metavar="KEY", help="its unencrypted PEM private key")
    imp.add_argument("--ca", type=Path, metavar="FILE", help="check that CERT chains to this CA")
    imp.add_argument("--host", metavar="NAME", help="check that CERT covers this host name or IP")
    imp.set_defaults(func=run)
    parser.set_defaults(func=run)


def _print_info(title: str, path: Path, info: object, out: TextIO) -> None:
    from launcher.recordformat import escape_control

    print(f"{title}: {escape_control(str(path))}", file=out)
    for line in info.lines():  # type: ignore[attr-defined]
        print(f"  {line}", file=out)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from launcher.certs import DEFAULT_HOSTS, CertStore, KeyType, default_cert_dir
    from launcher.recordformat import escape_control

    out = out or sys.stdout

    def warn(message: str) -> None:
        """The store's warnings (a folder or key made private, a signature not checked), one line each."""
        print(f"Warning: {message}", file=out)

    store = CertStore(getattr(args, "cert_dir", None) or default_cert_dir(), on_warning=warn)
    action = getattr(args, "cert_action", None)
    if action == "create":
        hosts = tuple(args.host) if args.host else DEFAULT_HOSTS
        had_ca = store.ca_cert_path.exists()
        if args.unconstrained_ca:
            print(UNCONSTRAINED_WARNING, file=out)
        leaf = store.create_leaf(
            hosts,
            KeyType(args.key_type),
            days=args.days,
            ca_domains=tuple(args.ca_domain),
            constrained=not args.unconstrained_ca,
        )
        verb = "Reused" if had_ca else "Created"
        names = escape_control(", ".join(leaf.sans))
        print(f"{verb} the local CA; created a certificate for {names}.", file=out)
        _show(store, out)
    elif action == "show":
        _show(store, out)
    elif action == "rotate-ca":
        return _rotate(store, args, out)
    elif action == "check":
        result = store.check(args.within)
        print(result.message, file=out)
        return int(result.status)
    elif action == "import":
        info = store.import_pair(args.cert, args.key, host=args.host, ca_file=args.ca)
        print(
            f"Imported {escape_control(str(args.cert))}"
            f" ({escape_control(', '.join(info.sans)) or 'no names'}, {info.days_left} days left):"
            f" it is served from {escape_control(str(store.cert_path))}.",
            file=out,
        )
        if info.expiring_soon():
            print(f"Warning: it expires in {info.days_left} days; import a renewed one in time.", file=out)
    else:  # pragma: no cover - argparse requires an action
        raise LauncherError("Give an action: cert create, show, import, rotate-ca or check.")
    return 0


def _show(store: object, out: TextIO) -> None:
    from launcher.certs import CertStore
    from launcher.recordformat import escape_control

    assert isinstance(store, CertStore)
    ca = store.ca_info()
    leaf = store.leaf_info()
    print(f"Certificate folder: {escape_control(str(store.directory))}", file=out)
    if ca is None and leaf is None:
        print(
            "No certificates yet: run `flask-launcher cert create`, or start serving to create them.",
            file=out,
        )
        return
    if ca is not None:
        _print_info("CA certificate", store.ca_cert_path, ca, out)
        warning = store.ca_expiry_warning()
        if warning:
            print(f"  Warning: {warning}", file=out)
        if not ca.constrained:
            print(f"  Warning: {UNCONSTRAINED_CA_TEXT}", file=out)
    if leaf is not None:
        title = "Served certificate (imported)" if store.is_imported else "Served certificate"
        _print_info(title, store.cert_path, leaf, out)
        if leaf.expired:
            fix = "import a renewed one" if store.is_imported else "it is renewed when the servers start"
            print(f"  Warning: it has expired; {fix}.", file=out)
        elif leaf.expiring_soon() and not store.is_imported:
            print("  It is renewed automatically when the servers next start.", file=out)


#: What ``cert show`` says about a CA without name constraints (the window says the same).
UNCONSTRAINED_CA_TEXT = (
    "this CA has no name constraints: anyone who copies ca-key.pem can impersonate any web site to"
    " the browsers that trust it. Run `flask-launcher cert rotate-ca` to replace it with a"
    " name-constrained CA (trust moves with it)."
)


def _rotate(store: object, args: argparse.Namespace, out: TextIO) -> int:
    """``cert rotate-ca``: plan, print every command, then rotate and move trust (unless --dry-run)."""
    import dataclasses
    import shlex

    from launcher.certs import CertStore, name_text
    from launcher.recordformat import escape_control
    from launcher.trust import LocalCA, default_stores
    from launcher.trustmove import local_ca, plan_move, run_move

    assert isinstance(store, CertStore)
    plan = store.plan_rotation(tuple(args.ca_domain))
    old = dataclasses.replace(
        LocalCA.load(store.ca_cert_path), path=(plan.backup_dir / store.ca_cert_path.name).resolve()
    )
    new = local_ca(plan.new_ca, store.ca_cert_path)
    patterns = [p.lower() for p in args.store or ()]
    stores = [s for s in default_stores() if not patterns or any(p in s.name.lower() for p in patterns)]
    if not stores:
        raise LauncherError(f"No trust store matches --store {' '.join(args.store)}: see `trust status`.")
    moves = plan_move(stores, old, new)
    new_info = plan.new_info
    print(f"Old CA: {escape_control(old.nickname)}\n  SHA-256 {old.sha256}", file=out)
    print(f"New CA: {escape_control(new.nickname)}\n  SHA-256 {new.sha256}", file=out)
    print(f"  May sign: {escape_control(', '.join(new_info.permitted or ()))}", file=out)
    print(f"Backup of the old files: {escape_control(str(plan.backup_dir))}/", file=out)
    if plan.leaf_hosts:
        names = escape_control(", ".join(name_text(n) for n in plan.leaf_hosts))
        print(f"Served certificate: re-signed by the new CA for {names}", file=out)
    else:
        print("Served certificate: imported, left as it is (the new CA does not sign it).", file=out)
    for name, why in moves.left_alone:
        print(f"{name}: left alone ({why}).", file=out)
    verb = "would run" if args.dry_run else "will run"
    for step in moves.steps:
        who = "you must run (needs root)" if step.manual else verb
        for argv in step.commands():
            print(f"{step.name}: {who}: {shlex.join(argv)}", file=out)
    if args.dry_run:
        print("Dry run: nothing was changed.", file=out)
        return 0
    rotation = store.rotate_ca(plan)
    old = dataclasses.replace(old, path=rotation.old_ca_path.resolve())
    print(
        f"Replaced the local CA; the old files are in {escape_control(str(rotation.backup_dir))}/.", file=out
    )
    if rotation.leaf is not None:
        print(f"Re-signed the served certificate ({rotation.leaf.days_left} days left).", file=out)
    result = run_move(moves.steps, old, new)
    for outcome in result.outcomes:
        print(outcome.message, file=out)
    for name, exc in result.failures:
        print(f"flask-launcher: error: {name}: {exc}", file=sys.stderr)
    if not moves.steps:
        print(
            "No trust store trusted the old CA: trust the new one with `flask-launcher trust install`.",
            file=out,
        )
    return 1 if result.failures else 0
