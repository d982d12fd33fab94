"""``flask-launcher cert create|show|import``: manage the certificate folder.

``create`` makes the local CA when there is none (an existing CA is always kept, so trust survives)
and a new leaf for ``--host`` names (default: localhost, 127.0.0.1, ::1).  ``show`` describes the CA
and the served certificate.  ``import`` validates a certificate and key of your own and serves them
from then on.  The CA certificate is always ``DIR/ca.pem``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from launcher.errors import LauncherError


def _cert_dir_argument(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a value given before the subcommand (``flask-launcher --cert-dir D cert show``) is kept.
    parser.add_argument(
        "--cert-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="folder of the CA and certificates (default: the user data dir)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from launcher.certs import KeyType

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
    create.set_defaults(func=run)

    show = actions.add_parser("show", help="describe the CA and the served certificate")
    _cert_dir_argument(show)
    show.set_defaults(func=run)

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
        leaf = store.create_leaf(hosts, KeyType(args.key_type))
        verb = "Reused" if had_ca else "Created"
        names = escape_control(", ".join(leaf.sans))
        print(f"{verb} the local CA; created a certificate for {names}.", file=out)
        _show(store, out)
    elif action == "show":
        _show(store, out)
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
        raise LauncherError("Give an action: cert create, cert show or cert import.")
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
    if leaf is not None:
        title = "Served certificate (imported)" if store.is_imported else "Served certificate"
        _print_info(title, store.cert_path, leaf, out)
        if leaf.expired:
            fix = "import a renewed one" if store.is_imported else "it is renewed when the servers start"
            print(f"  Warning: it has expired; {fix}.", file=out)
        elif leaf.expiring_soon() and not store.is_imported:
            print("  It is renewed automatically when the servers next start.", file=out)
