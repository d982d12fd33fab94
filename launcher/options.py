"""The serving options, declared once: ``ServeConfig`` and the table of what each field is.

Every option that decides how the listeners serve is one field of the frozen ``ServeConfig``
dataclass, and the field's ``Option`` metadata says everything else about it: its help text, its
command-line flag, how text becomes a value (and what is refused, with which message), the
window's settings key, and the environment variables ``flask launch`` reads.  From this one table
come:

- the ``argparse`` options of ``flask-launcher serve`` (``add_arguments``, ``config_from_args``)
  and the host/port options of ``flask-launcher inspect``;
- the ``click`` options of ``flask launch`` (``click_options``, ``config_from_click``);
- the window's persisted server settings (``to_settings``/``from_settings``, via
  ``launcher.gui.settings``);
- what the window sends its server process (a ``ServeConfig`` and, for changes, a dict of field
  names: ``changes``), and how ``launcher.servers.Servers`` is built (``Servers.from_config``).

So a new option is one field here, and nothing else needs to list it.  Every default and every
range lives here exactly once: the ports (``PORT_MIN``/``PORT_MAX``), the HTTPS port's 8443, the
HSTS max-age of one year (``HSTS_MAX_AGE``, given when ``--hsts`` has no value), the redirect
status 308.

HSTS and the redirect each have one shape everywhere: ``None`` means off, a number means on with
that max-age (seconds) or that status code.  The fields marked ``live`` may change while the
listeners run (``launcher.policy.Policy`` holds them and every request reads it).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from launcher.errors import ConfigError

PORT_MIN, PORT_MAX = 0, 65535  # 0: any free port
#: The HSTS max-age ``--hsts`` gives without a value: one year, what hstspreload.org asks for.
HSTS_MAX_AGE = 31_536_000
#: The redirect ``--redirect-https`` gives without a status: 308 keeps the method and the body
#: (301 and 302 may turn a POST into a GET).
REDIRECT_STATUS = 308
REDIRECT_STATUSES = {
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
}
#: The largest HSTS max-age the window's spin box (a 32-bit int) can hold; about 68 years.
HSTS_MAX_AGE_MAX = 2_147_483_647
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})

T = TypeVar("T")


# --- how text becomes a value ------------------------------------------------------------------


def parse_port(text: str | int) -> int:
    """A port number; ``ValueError`` with a sentence a user can act on."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"invalid port {text!r}: use a number from {PORT_MIN} to {PORT_MAX}") from None
    if not PORT_MIN <= value <= PORT_MAX:
        raise ValueError(
            f"invalid port {value}: use a number from {PORT_MIN} to {PORT_MAX} (0 = any free port)"
        )
    return value


def parse_redirect_status(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if value not in REDIRECT_STATUSES:
        *others, last = (str(c) for c in sorted(REDIRECT_STATUSES))
        raise ValueError(f"invalid redirect status {text!r}: use {', '.join(others)} or {last}")
    return value


def parse_max_age(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= HSTS_MAX_AGE_MAX:
        raise ValueError(f"HSTS max-age {text!r} is not a number of seconds from 0 to {HSTS_MAX_AGE_MAX}")
    return value


def parse_threads(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 1024:
        raise ValueError(f"threads {text!r} must be a whole number from 1 to 1024")
    return value


#: The most worker processes ``--workers`` takes.
MAX_WORKERS = 64


def usable_cores() -> int:
    """The CPUs this process may use, at least 1: its affinity mask (a container's
    ``--cpuset-cpus``), and no more than its CPU quota allows (a container's ``--cpus``, a
    Kubernetes CPU limit: cgroup ``cpu.max``, rounded up)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def cgroup_cpu_limit(
    root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup")
) -> float | None:
    """The CPUs this process's cgroups allow (quota / period, the tightest along its path), or
    None when none is set (or this is not Linux)."""
    limits: list[float] = []
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)  # hierarchy id : controllers : path
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if line.startswith("0::"):  # cgroup v2: cpu.max in each folder from ours up to the root
            folder = root / path.lstrip("/")
            while True:
                limits += _quota(folder / "cpu.max")
                if folder == root or root not in folder.parents:
                    break
                folder = folder.parent
        elif "cpu" in controllers.split(","):  # cgroup v1
            for base in (root / "cpu" / path.lstrip("/"), root / "cpu"):
                limits += _quota_v1(base)
    return min(limits) if limits else None


def _quota(path: Path) -> list[float]:
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return []
    if quota == "max" or not quota.isdigit() or not period.isdigit() or int(period) == 0:
        return []
    return [int(quota) / int(period)]


def _quota_v1(folder: Path) -> list[float]:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return []
    return [quota / period] if quota > 0 and period > 0 else []


def parse_workers(text: str | int) -> int:
    """A number of worker processes: 1–``MAX_WORKERS``, or ``auto`` for the usable cores."""
    if isinstance(text, str) and text.strip().lower() == "auto":
        return min(MAX_WORKERS, usable_cores())
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MAX_WORKERS:
        raise ValueError(f"workers {text!r} must be a whole number from 1 to {MAX_WORKERS}, or auto")
    return value


def parse_header_timeout(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 3600:
        raise ValueError(f"header timeout {text!r} must be a whole number of seconds from 1 to 3600")
    return value


def parse_client_connections(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 100_000:
        raise ValueError(f"connections per client {text!r} must be a whole number from 1 to 100000")
    return value


#: The largest ``--body-limit`` (bytes of one body) and ``--log-body-budget`` (MiB of all bodies).
BODY_LIMIT_MAX = 16 * 1024 * 1024
BODY_BUDGET_MAX = 65_536
MIB = 1024 * 1024


def parse_body_limit(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= BODY_LIMIT_MAX:
        raise ValueError(
            f"body limit {text!r} must be a number of bytes from 0 (bodies not recorded) to {BODY_LIMIT_MAX}"
        )
    return value


def parse_body_budget(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= BODY_BUDGET_MAX:
        raise ValueError(f"body budget {text!r} must be a whole number of MiB from 1 to {BODY_BUDGET_MAX}")
    return value


def parse_host(text: str) -> str:
    value = str(text).strip()
    if not value or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"host {text!r} is not an address: use 127.0.0.1, ::1 or 0.0.0.0")
    return value


#: The reverse proxies ``--behind`` can run for a trial (``launcher.deploy.ProxyKind``'s values).
BEHIND_PROXIES = ("nginx", "caddy")


def parse_behind(text: str) -> str:
    word = str(text).strip().lower()
    if word not in BEHIND_PROXIES:
        raise ValueError(f"invalid proxy {text!r}: use {' or '.join(BEHIND_PROXIES)}")
    return word


def parse_label(text: str) -> str:
    """A DNS label for ``--name`` (``myapp`` is served as ``myapp.localhost``)."""
    word = str(text).strip().lower().removesuffix(".localhost")
    ok = 0 < len(word) <= 63 and not word.startswith("-") and not word.endswith("-")
    if not ok or not all(c.isascii() and (c.isalnum() or c == "-") for c in word):
        raise ValueError(
            f"invalid name {text!r}: use letters, digits and hyphens (myapp is served as myapp.localhost)"
        )
    return word


def parse_text(text: str) -> str:
    return str(text)


def parse_path(text: str | os.PathLike[str]) -> Path:
    return Path(text)


def parse_bool(text: str | bool | int) -> bool:
    if isinstance(text, bool):
        return text
    word = str(text).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{text!r} is not yes or no")


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """What one ``ServeConfig`` field is, beyond its name, type and default.

    ``parse`` turns text (a flag's argument, an environment variable, a saved setting) into the
    value and raises ``ValueError`` with a readable reason.  ``const`` is the value of a flag given
    without its optional argument (``--hsts`` alone).  ``negative`` is the flag that turns a
    default-on option off (``--no-http``).  ``commands`` lists the commands that have the flag.
    """

    help: str
    parse: Callable[[Any], Any] = parse_text
    flag: str | None = None
    short: str | None = None
    metavar: str | None = None
    const: Any = None
    negative: str | None = None
    negatable: bool = False  # a bool with both --x and --no-x (``--reload/--no-reload``)
    setting: str | None = None
    env: tuple[str, ...] = ()
    live: bool = False
    commands: frozenset[str] = frozenset({"serve", "launch"})


def option(default: Any, **meta: Any) -> Any:
    """A ``dataclasses.field`` with ``default`` and the ``Option`` built from *meta*."""
    return field(default=default, metadata={"option": Option(**meta)})


@dataclass(frozen=True)
class ServeConfig:
    """How the listeners serve: one value per option; see the module docstring.

    Build it with keyword arguments (checked by ``validate``), from parsed flags
    (``config_from_args``, ``config_from_click``) or from saved settings (``from_settings``).
    """

    host: str = option(
        "127.0.0.1",
        help="address to bind (0.0.0.0 for all interfaces: other machines can connect)",
        parse=parse_host,
        flag="--host",
        short="-h",
        metavar="HOST",
        setting="servers/host",
        env=("FLASK_RUN_HOST",),
    )
    http_port: int = option(
        8080,
        help="HTTP port (0 = any free port)",
        parse=parse_port,
        flag="--http-port",
        short="-p",
        metavar="PORT",
        setting="servers/http_port",
        env=("FLASK_RUN_PORT",),
    )
    https_port: int = option(
        8443,
        help="HTTPS port (0 = any free port)",
        parse=parse_port,
        flag="--https-port",
        metavar="PORT",
        setting="servers/https_port",
    )
    http: bool = option(True, help="do not serve plain HTTP", parse=parse_bool, negative="--no-http")
    https: bool = option(True, help="do not serve HTTPS", parse=parse_bool, negative="--no-https")
    cert_dir: Path | None = option(
        None,
        help="folder of the local CA and certificates (default: the user data folder)",
        parse=parse_path,
        flag="--cert-dir",
        metavar="DIR",
    )
    cert: Path | None = option(
        None,
        help="serve your own certificate (PEM) instead of one from the local CA; needs --key",
        parse=parse_path,
        flag="--cert",
        metavar="FILE",
        env=("FLASK_RUN_CERT",),
    )
    key: Path | None = option(
        None,
        help="the private key (PEM) of --cert",
        parse=parse_path,
        flag="--key",
        metavar="FILE",
        env=("FLASK_RUN_KEY",),
    )
    redirect_https: int | None = option(
        None,
        help=f"redirect HTTP to HTTPS with STATUS (301, 302, 307 or 308; {REDIRECT_STATUS} when not given)",
        parse=parse_redirect_status,
        flag="--redirect-https",
        metavar="STATUS",
        const=REDIRECT_STATUS,
        setting="policy/redirect_https",
        live=True,
    )
    hsts: int | None = option(
        None,
        help=f"send Strict-Transport-Security on HTTPS with max-age MAX_AGE seconds "
        f"({HSTS_MAX_AGE}, one year, when not given)",
        parse=parse_max_age,
        flag="--hsts",
        metavar="MAX_AGE",
        const=HSTS_MAX_AGE,
        setting="policy/hsts",
        live=True,
    )
    trusted_proxy: bool = option(
        False,
        help="honour X-Forwarded-Proto/-For/-Host from a proxy on 127.0.0.1 (off: they are removed)",
        parse=parse_bool,
        flag="--trusted-proxy",
        live=True,
    )
    threads: int = option(
        8,
        help="worker threads per listener",
        parse=parse_threads,
        flag="--threads",
        metavar="N",
        setting="servers/threads",
    )
    workers: int = option(
        1,
        help="worker processes, each serving both listeners on shared ports (auto = one per usable "
        "core); more than 1 uses every core",
        parse=parse_workers,
        flag="--workers",
        metavar="N|auto",
        setting="servers/workers",
    )
    header_timeout: int = option(
        15,
        help="seconds a client gets from the first byte of a request to the end of its headers; "
        "slower clients are disconnected (slow-header attacks)",
        parse=parse_header_timeout,
        flag="--header-timeout",
        metavar="SECONDS",
        setting="servers/header_timeout",
    )
    client_connections: int = option(
        64,
        help="connections one client address may hold open at once, per listener (loopback "
        "clients are not limited)",
        parse=parse_client_connections,
        flag="--max-client-connections",
        metavar="N",
        setting="servers/client_connections",
    )
    body_limit: int = option(
        65_536,
        help="bytes of each request and response body the window's request log keeps, for its "
        "detail pane and the HAR and JSON Lines exports (0: no bodies are recorded; headless "
        "serving prints access lines only and records none)",
        parse=parse_body_limit,
        flag="--body-limit",
        metavar="BYTES",
        setting="log/body_limit",
        commands=frozenset({"launch"}),
    )
    log_body_budget: int = option(
        64,
        help="MiB all recorded bodies in the request log may use together; over it the oldest "
        "bodies are dropped first (their requests stay in the log)",
        parse=parse_body_budget,
        flag="--log-body-budget",
        metavar="MIB",
        setting="log/body_budget",
        commands=frozenset({"launch"}),
    )
    app_target: str | None = option(
        None,
        help="your Flask app: module:app, module:create_app(), package, path/to/app.py",
        flag="--app",
        metavar="APP",
        commands=frozenset({"serve"}),  # flask launch takes flask's own --app
    )
    chdir: Path | None = option(
        None,
        help="working directory for --app (prepended to sys.path)",
        parse=parse_path,
        flag="--chdir",
        metavar="DIR",
        commands=frozenset({"serve"}),
    )
    reload: bool = option(
        False,
        help="re-import the app and restart both listeners when its source files change",
        parse=parse_bool,
        flag="--reload",
        negatable=True,
        env=("FLASK_RUN_RELOAD",),
    )

    behind: str | None = option(
        None,
        help="a trial behind a real reverse proxy (nginx or caddy, installed): it runs with the "
        "tool's certificate on the HTTP and HTTPS ports and forwards to the app on a private "
        "loopback port, which trusts it (--trusted-proxy); the redirect and HSTS are the proxy's",
        parse=parse_behind,
        flag="--behind",
        metavar="PROXY",
        commands=frozenset({"serve"}),
    )

    lan: bool = option(
        False,
        help="share on the local network: bind all interfaces (0.0.0.0), add the machine's LAN "
        "addresses and <hostname>.local to the certificate, and serve a phone set-up page (the CA "
        "to install, with a QR code) over HTTP",
        parse=parse_bool,
        flag="--lan",
    )
    lan_bridges: bool = option(
        False,
        help="with --lan, offer the addresses of container and VM bridges too (docker0, virbr0…)",
        parse=parse_bool,
        flag="--lan-bridges",
    )
    name: str | None = option(
        None,
        help="serve under NAME.localhost too (added to the certificate; browsers resolve "
        "*.localhost to this machine)",
        parse=parse_label,
        flag="--name",
        metavar="NAME",
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ConfigError`` for a value no flag would have accepted, or a contradiction."""
        for f, meta in option_fields():
            value = getattr(self, f.name)
            if value is None or isinstance(value, bool) or meta.parse in (parse_text, parse_path, parse_bool):
                continue
            try:
                meta.parse(value)
            except ValueError as exc:
                raise ConfigError(f"{meta.flag or f.name}: {exc}.") from None
        if not (self.http or self.https):
            raise ConfigError("Nothing to serve: --no-http and --no-https were both given.")
        if self.behind is not None and not self.https:
            raise ConfigError("--behind runs a proxy on the HTTPS port: it cannot go with --no-https.")
        if self.lan and self.host not in (*WILDCARD_HOSTS, "127.0.0.1"):
            raise ConfigError(f"--lan binds all interfaces: it cannot go with --host {self.host}.")
        if self.lan and not self.http:
            raise ConfigError("--lan serves the phone set-up page over HTTP: it cannot go with --no-http.")
        if self.lan and self.behind is not None:
            raise ConfigError("--lan cannot go with --behind.")
        if (self.cert is None) != (self.key is None) and not _is_adhoc(self.cert, self.key):
            raise ConfigError(
                "--cert and --key go together: give both (or FLASK_RUN_CERT and FLASK_RUN_KEY)."
            )

    def replace(self, **changes: Any) -> ServeConfig:
        """A copy with *changes* (field names), checked."""
        unknown = set(changes) - set(FIELD_NAMES)
        if unknown:
            raise ConfigError(f"Unknown option(s): {', '.join(sorted(unknown))}.")
        return dataclasses.replace(self, **changes)

    def changes(self, other: ServeConfig) -> dict[str, Any]:
        """The fields whose values differ in *other*: what to send for a change."""
        return {
            name: getattr(other, name) for name in FIELD_NAMES if getattr(other, name) != getattr(self, name)
        }

    @property
    def exposed(self) -> bool:
        """Bound to every interface: other machines can connect."""
        return self.host in WILDCARD_HOSTS or self.lan

    @property
    def bind_host(self) -> str:
        """The address the listeners bind: ``0.0.0.0`` for ``--lan`` with the default host."""
        return "0.0.0.0" if self.lan and self.host not in WILDCARD_HOSTS else self.host

    @property
    def body_budget_bytes(self) -> int:
        """``log_body_budget`` in bytes, what ``RequestSink(body_budget=...)`` takes."""
        return self.log_body_budget * MIB

    def live_values(self) -> dict[str, Any]:
        """The options a running server may change (``launcher.policy.Policy``'s fields)."""
        return {name: getattr(self, name) for name in LIVE_FIELDS}


def _is_adhoc(cert: Path | None, key: Path | None) -> bool:
    """``FLASK_RUN_CERT=adhoc`` (flask run's "make me a certificate") is the default here."""
    return key is None and cert is not None and str(cert).lower() == "adhoc"


def option_fields() -> Iterator[tuple[dataclasses.Field[Any], Option]]:
    """Every ``ServeConfig`` field with its ``Option``, in declaration order."""
    for f in dataclasses.fields(ServeConfig):
        yield f, f.metadata["option"]


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ServeConfig))
LIVE_FIELDS: tuple[str, ...] = tuple(f.name for f, meta in option_fields() if meta.live)
DEFAULTS = ServeConfig()


# --- argparse ------------------------------------------------------------------------------------


def _argparse_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


def _default_text(value: Any) -> str:
    return "" if value is None or isinstance(value, bool) else f" (default {value})"


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    command: str = "serve",
    names: Iterable[str] | None = None,
    helps: Mapping[str, str] | None = None,
) -> None:
    """Add the options of *command* (only *names*, when given) to *parser*; ``dest`` = field name.

    *helps* replaces the help text of some (another command's options mean something else:
    ``inspect --host`` is where the listeners are, not what to bind).
    """
    wanted = set(names) if names is not None else None
    for f, meta in option_fields():
        if (wanted is not None and f.name not in wanted) or command not in meta.commands:
            continue
        if helps and f.name in helps:
            meta = dataclasses.replace(meta, help=helps[f.name])
        if meta.negative is not None:
            parser.add_argument(meta.negative, dest=f.name, action="store_false", help=meta.help)
            continue
        assert meta.flag is not None, f.name
        if f.type == "bool":
            action = argparse.BooleanOptionalAction if meta.negatable else "store_true"
            parser.add_argument(meta.flag, dest=f.name, action=action, default=f.default, help=meta.help)
        elif meta.const is not None:
            parser.add_argument(
                meta.flag,
                dest=f.name,
                nargs="?",
                type=_argparse_type(meta.parse),
                const=meta.const,
                default=f.default,
                metavar=meta.metavar,
                help=meta.help,
            )
        else:
            parser.add_argument(
                meta.flag,
                dest=f.name,
                type=_argparse_type(meta.parse),
                default=f.default,
                metavar=meta.metavar,
                help=meta.help + _default_text(f.default),
            )


def config_from_args(args: argparse.Namespace, base: ServeConfig = DEFAULTS) -> ServeConfig:
    """The ``ServeConfig`` of parsed flags; options the parser did not have keep *base*'s value."""
    return base.replace(**{name: getattr(args, name) for name in FIELD_NAMES if hasattr(args, name)})


# --- click (flask launch) ------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def click_options(command: str = "launch") -> Callable[[F], F]:
    """A decorator adding the options of *command* as ``click`` options (parameter = field name).

    Each reads ``FLASK_LAUNCH_<NAME>`` from the environment, then the ``FLASK_RUN_*`` variable
    Flask has for it, if any.
    """
    import click

    class Parsed(click.ParamType):  # type: ignore[type-arg]
        def __init__(self, parse: Callable[[Any], Any]) -> None:
            self.parse = parse
            self.name = parse.__name__.removeprefix("parse_")

        def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
            try:
                return self.parse(value)
            except ValueError as exc:
                self.fail(str(exc), param, ctx)

    def decorate(fn: F) -> F:
        for f, meta in reversed(list(option_fields())):
            if command not in meta.commands:
                continue
            envvar = [f"FLASK_LAUNCH_{f.name.upper()}", *meta.env]
            decls: list[str]
            kw: dict[str, Any] = {"help": meta.help[:1].upper() + meta.help[1:] + "."}
            if meta.negative is not None:
                decls = [meta.negative, f.name]
                kw.update(is_flag=True, flag_value=False, default=True)
            elif f.type == "bool":
                assert meta.flag is not None
                if meta.negatable:
                    decls = [f"{meta.flag}/--no-{meta.flag[2:]}", f.name]
                    kw.update(default=None, envvar=envvar)
                else:
                    decls = [meta.flag, f.name]
                    kw.update(is_flag=True, default=False, envvar=envvar)
            else:
                assert meta.flag is not None
                decls = [meta.flag, *([meta.short] if meta.short else []), f.name]
                kw.update(type=Parsed(meta.parse), default=f.default, envvar=envvar, metavar=meta.metavar)
                if meta.const is not None:
                    kw.update(is_flag=False, flag_value=meta.const)
                elif f.default is not None:
                    kw.update(show_default=True)
            fn = click.option(*decls, **kw)(fn)
        return fn

    return decorate


def config_from_click(params: Mapping[str, Any], **overrides: Any) -> ServeConfig:
    """The ``ServeConfig`` of ``click_options``' parameters (``None`` for a tri-state keeps the default)."""
    values = {name: params[name] for name in FIELD_NAMES if name in params and params[name] is not None}
    values.update(overrides)
    return DEFAULTS.replace(**values)


# --- the window's settings ----------------------------------------------------------------------


def setting_keys() -> dict[str, str]:
    """Field name -> settings key, for the options the window keeps."""
    return {f.name: meta.setting for f, meta in option_fields() if meta.setting}


def to_settings(config: ServeConfig) -> dict[str, Any]:
    """Settings key -> stored value (``None`` is stored as an empty string: "off")."""
    return {
        key: "" if getattr(config, name) is None else getattr(config, name)
        for name, key in setting_keys().items()
    }


def from_settings(read: Callable[[str], Any], base: ServeConfig = DEFAULTS) -> ServeConfig:
    """A ``ServeConfig`` from stored values (``read(key)`` gives the raw value, or None when the key
    is not stored).  A value that does not parse keeps *base*'s: a hand-edited or old settings file
    never stops the window from opening."""
    values: dict[str, Any] = {}
    for f, meta in option_fields():
        if not meta.setting:
            continue
        raw = read(meta.setting)
        if raw is None:
            continue
        if raw == "" and f.default is None:
            values[f.name] = None
            continue
        try:
            values[f.name] = meta.parse(raw)
        except (TypeError, ValueError):
            continue
    return base.replace(**values)
