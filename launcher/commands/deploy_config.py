"""``flask-launcher deploy-config nginx|caddy``: a reverse-proxy configuration and the app side.

It prints a complete configuration the real server runs as it is (see ``launcher.deploy``),
followed by the app side (waitress trusting the proxy, the ProxyFix line, the Flask settings) as
comments, so the whole output can be saved as the configuration file.  ``--output FILE`` writes
the configuration there and prints the app side as plain text.  These options belong to this
command only (they describe the proxy, not how the launcher serves).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from launcher.options import HSTS_MAX_AGE, parse_max_age, parse_port

NAME = "deploy-config"


def _type(parse: Callable[[str], object]) -> Callable[[str], object]:
    def convert(text: str) -> object:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value").removeprefix("parse_")
    return convert


def _upstream(text: str) -> tuple[str, int]:
    from launcher.deploy import parse_upstream

    return parse_upstream(text)


def _proxies(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10:
        raise ValueError(f"proxies {text!r} must be a whole number from 1 to 10")
    return int(text)


def _listen(text: str) -> int:
    port = parse_port(text)
    if port == 0:
        raise ValueError("a proxy needs a fixed port, not 0")
    return port


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        NAME,
        help="print an nginx or Caddy configuration that terminates TLS in front of the app",
        description="Print a complete nginx or Caddy configuration that terminates TLS and forwards "
        "X-Forwarded-For/-Proto/-Host to the app, then (as comments) what the app needs to trust it.",
    )
    parser.add_argument("proxy", choices=("nginx", "caddy"), help="the reverse proxy")
    parser.add_argument(
        "--server-name",
        default="example.com",
        metavar="NAME",
        help="the site's name(s), comma-separated (default example.com)",
    )
    parser.add_argument(
        "--upstream",
        type=_type(_upstream),
        default=("127.0.0.1", 8080),
        metavar="HOST:PORT",
        help="the app's plain-HTTP server (default 127.0.0.1:8080)",
    )
    parser.add_argument(
        "--listen", type=_type(_listen), default=443, metavar="PORT", help="HTTPS port (default 443)"
    )
    parser.add_argument(
        "--http-listen",
        type=_type(_listen),
        default=None,
        metavar="PORT",
        help="plain-HTTP port (default 80 with --redirect-https, else none)",
    )
    parser.add_argument("--listen-host", default=None, metavar="ADDR", help="address to bind (default: all)")
    parser.add_argument("--cert", default=None, metavar="FILE", help="certificate chain (PEM, leaf first)")
    parser.add_argument("--key", default=None, metavar="FILE", help="its private key (PEM)")
    parser.add_argument(
        "--hsts",
        type=_type(parse_max_age),
        nargs="?",
        const=HSTS_MAX_AGE,
        default=None,
        metavar="MAX_AGE",
        help=f"send Strict-Transport-Security with MAX_AGE seconds ({HSTS_MAX_AGE} when not given)",
    )
    parser.add_argument("--redirect-https", action="store_true", help="answer plain HTTP with a 308 to HTTPS")
    parser.add_argument(
        "--proxies",
        type=_type(_proxies),
        default=1,
        metavar="N",
        help="proxies in a row that set X-Forwarded-* before the app, this one included (default 1)",
    )
    parser.add_argument(
        "--state-dir", default=None, metavar="DIR", help="Caddy's storage folder (default /var/lib/caddy)"
    )
    parser.add_argument(
        "--output", "-o", type=Path, default=None, metavar="FILE", help="write the configuration to FILE"
    )
    parser.set_defaults(func=run)


def spec_from_args(args: argparse.Namespace, argv: list[str] | None = None) -> object:
    """The ``DeploySpec`` the parsed flags describe."""
    from launcher.deploy import DeploySpec, ProxyKind
    from launcher.errors import ConfigError

    kind = ProxyKind(args.proxy)
    if (args.cert is None) != (args.key is None):
        raise ConfigError("--cert and --key go together: give both (or neither, for placeholders).")
    names = tuple(n.strip() for n in args.server_name.replace(" ", ",").split(",") if n.strip())
    if not names:
        raise ConfigError("--server-name is empty: give the site's name, e.g. example.com.")
    http_listen = args.http_listen if args.http_listen is not None else (80 if args.redirect_https else None)
    if http_listen == args.listen:
        raise ConfigError(f"--http-listen and --listen are both {args.listen}: give two ports.")
    base = names[0]
    extra: dict[str, object] = {}
    if args.state_dir:
        extra["state_dir"] = args.state_dir
    command = "flask-launcher deploy-config " + shlex.join(argv) if argv is not None else None
    return DeploySpec(
        proxy=kind,
        server_names=names,
        upstream=args.upstream,
        listen=args.listen,
        listen_host=args.listen_host,
        http_listen=http_listen,
        cert=args.cert or f"/etc/ssl/{base}/fullchain.pem",
        key=args.key or f"/etc/ssl/{base}/privkey.pem",
        hsts=args.hsts,
        redirect_https=args.redirect_https,
        proxies=args.proxies,
        command=command,
        **extra,  # type: ignore[arg-type]
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from launcher.deploy import DeploySpec, app_side, config_text, render

    out = out or sys.stdout
    argv = sys.argv[sys.argv.index(NAME) + 1 :] if NAME in sys.argv else None
    spec = spec_from_args(args, argv)
    assert isinstance(spec, DeploySpec)
    if args.output is not None:
        args.output.write_text(config_text(spec), encoding="utf-8")
        print(f"Wrote the {spec.proxy} configuration to {args.output}.\n", file=out)
        print(app_side(spec), end="", file=out)
    else:
        print(render(spec), end="", file=out)
    return 0
