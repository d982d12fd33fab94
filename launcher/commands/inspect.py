"""``flask-launcher inspect PATH|URL``: did it come over HTTP or HTTPS, and does Flask know which?

With a PATH (starting with ``/``) it fetches ``http://HOST:HTTP_PORT/PATH`` and
``https://HOST:HTTPS_PORT/PATH`` of a running launcher (default 127.0.0.1 and the default ports of `serve`).
With a URL it fetches that URL and its other-scheme twin on the same host and path: when the URL's
port is one of ``--http-port``/``--https-port`` the twin gets the other one, else the twin uses the
standard port (80 for http, 443 for https).

HTTPS is verified against ``--cacert`` (default ``<cert-dir>/ca.pem``) plus the system trust store.
What the app saw comes from ``flask-launcher serve``'s own capture: its probe token is read from
``<cert-dir>/probe-token`` (written by ``serve`` with that folder, or in a private spare folder when
that one is read-only: ``launcher.appview``) and sent to its listeners only.
``--proxy-lens`` adds the behind-a-proxy request, under the server's *current* trusted-proxy
setting (start the server with and without ``serve --trusted-proxy`` to compare; the GUI shows
both at once).  Exit 0 whenever a report was made, even if a listener was unreachable (the
report says so); 2 for user errors (a bad URL or CA file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from launcher.options import add_arguments

if TYPE_CHECKING:
    from launcher.inspector import ProbeMark


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"invalid timeout {text!r}: use seconds between 0 and 300")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "inspect",
        help="fetch a page over HTTP and HTTPS and explain what the client and Flask saw",
        description="Fetch PATH on the running launcher (or URL and its other-scheme twin) over http:// "
        "and https://, follow redirects, and report the chain, what Flask saw, TLS, HSTS, "
        "cookies and plain-language verdicts.",
    )
    parser.add_argument("target", metavar="PATH|URL", help="a path such as /login, or an http(s):// URL")
    parser.add_argument(
        "--cacert", type=Path, help="CA file to verify HTTPS with (default <cert-dir>/ca.pem)"
    )
    parser.add_argument(
        "--cert-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="folder of the launcher's CA (default: the user data dir)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--proxy-lens",
        action="store_true",
        help="also send X-Forwarded-Proto: https over HTTP and show what Flask makes of it",
    )
    parser.add_argument(
        "--behind",
        nargs="?",
        const="any",
        default=None,
        metavar="PROXY",
        help="the URL is served through a TLS-terminating proxy (nginx, caddy, ...): always add the "
        "behind-a-proxy section (without it, it appears when a proxy is detected)",
    )
    parser.add_argument(
        "--direct",
        default=None,
        metavar="URL",
        help="the app's own http:// address behind the proxy: send it forged X-Forwarded-* headers "
        "to see whether the app trusts whoever reaches it directly",
    )
    add_arguments(
        parser,
        names=("host", "http_port", "https_port"),
        helps={
            "host": "host of the listeners for a PATH",
            "http_port": "HTTP port of the listeners",
            "https_port": "HTTPS port of the listeners",
        },
    )
    parser.add_argument("--timeout", type=_timeout, default=5.0, help="seconds per connection (default 5)")
    parser.set_defaults(func=run)


def _probe_mark(cert_dir: Path, host: str) -> tuple[ProbeMark | None, str | None]:
    """The token ``flask-launcher serve`` left in *cert_dir* (``launcher.appview``), and where it
    may be sent; else None and why, in words for the report."""
    from launcher.appview import TOKEN_FILE, find_token_file
    from launcher.inspector import ProbeMark

    found = find_token_file(cert_dir)
    if found is None:
        return None, (
            f"no probe token in {cert_dir / TOKEN_FILE}: only a flask-launcher serve using that "
            "certificate folder (--cert-dir) tells what the app saw"
        )
    token, served_host, ports = found
    return ProbeMark(token, ports, frozenset({served_host, host})), None


def _direct_url(text: str | None) -> str | None:
    """``--direct``: an http:// URL (``HOST:PORT`` alone is taken as http://HOST:PORT/)."""
    from launcher.inspector import InvalidTargetError

    if text is None:
        return None
    url = text if "://" in text else f"http://{text}/"
    if not url.lower().startswith("http://"):
        raise InvalidTargetError(f"--direct {text!r}: give the app's plain-HTTP address, http://HOST:PORT/.")
    return url


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from launcher.certs import default_cert_dir
    from launcher.inspector import InvalidTargetError, inspect_target, resolve_target

    out = out or sys.stdout
    target = resolve_target(args.target, host=args.host, http_port=args.http_port, https_port=args.https_port)
    notes: list[str] = []
    cert_dir = getattr(args, "cert_dir", None)
    cert_dir = Path(cert_dir) if cert_dir else default_cert_dir()
    mark, no_probe = _probe_mark(cert_dir, args.host)
    cafile: Path | None = args.cacert
    if cafile is not None:
        if not cafile.is_file():
            raise InvalidTargetError(f"The CA file {cafile} does not exist: check --cacert.")
    else:
        cafile = cert_dir / "ca.pem"
        if not cafile.is_file():
            notes.append(
                f"Note: no CA at {cafile}: HTTPS is verified against the system trust store only "
                "(give --cacert or --cert-dir)."
            )
            cafile = None
    report = inspect_target(
        target,
        cafile=cafile,
        timeout=args.timeout,
        proxy_lens=args.proxy_lens,
        notes=notes,
        probe_mark=mark,
        no_probe=no_probe,
        behind=args.behind,
        direct_url=_direct_url(args.direct),
    )
    if args.json:
        print(report.to_json(), file=out)
    else:
        print(report.to_text(), end="", file=out)
    return 0
