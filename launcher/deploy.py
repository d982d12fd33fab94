"""Going to production: reverse-proxy configurations for nginx and Caddy, the app side that
matches them, and a local trial that runs the real proxy (``ProxyRun``).

The generators are pure functions of a ``DeploySpec`` returning text:

- ``nginx_config``: a complete ``nginx.conf`` whose every path (pid, logs, every ``*_temp_path``)
  is relative to nginx's prefix, so ``nginx -p DIR -c FILE -e stderr -g 'daemon off;'`` runs it
  as any user with everything under DIR.
- ``caddy_config``: a complete Caddyfile with ``admin off`` (no admin endpoint on localhost:2019),
  ``persist_config off`` and its storage under ``DeploySpec.state_dir``, and ``auto_https off``:
  we bring our own certificate, and write the HTTP→HTTPS redirect ourselves.
- ``app_side``: what the app behind it needs: waitress trusting the proxy (waitress deletes
  ``X-Forwarded-*`` from peers it does not trust, so ProxyFix alone fixes nothing), the ProxyFix
  line with counts matching ``proxies``, ``SESSION_COOKIE_SECURE`` and ``PREFERRED_URL_SCHEME``.
- ``render``: the configuration followed by the app side as comments, so the whole text is still
  a valid configuration for that server.

Both configurations terminate TLS, forward ``X-Forwarded-For``/``-Proto``/``-Host`` (Caddy sets
them itself; nginx is told to), keep the client's ``Host`` (with its port), and carry the chosen
redirect and HSTS.  ``ProxyRun`` writes one into a private temporary folder, checks it with the
server's own validator, starts the server as a child process and stops it.  Nothing here imports Qt.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from launcher.errors import LauncherError
from launcher.options import HSTS_MAX_AGE, REDIRECT_STATUS

#: How long a proxy may take to validate, to start listening, and to stop.
VALIDATE_TIMEOUT = 20.0
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


class ProxyKind(enum.StrEnum):
    """The reverse proxies the launcher writes configurations for (and can run for a trial)."""

    NGINX = "nginx"
    CADDY = "caddy"

    @property
    def binary(self) -> str:
        """The program's name on PATH."""
        return self.value

    @property
    def package(self) -> str:
        """The Debian package that installs it."""
        return self.value


class ProxyNotInstalledError(LauncherError):
    """The proxy program for a trial is not on PATH."""


class ProxyStartError(LauncherError):
    """The proxy refused its configuration, or did not come up in time."""


@dataclass(frozen=True)
class DeploySpec:
    """What a reverse-proxy configuration says.

    ``server_names``: the names the site answers to (the first is the canonical one).
    ``upstream``: ``(host, port)`` of the app's plain-HTTP server (waitress).  ``listen``: the
    HTTPS port; ``listen_host`` the address to bind (None: every address).  ``http_listen``: a
    plain-HTTP port too (None: none); with ``redirect_https`` it answers with a redirect to HTTPS,
    without it forwards to the app like the HTTPS port does.  ``hsts``: HSTS max-age in seconds
    or None.  ``proxies``: how many proxies in a row set ``X-Forwarded-*`` before the app (this one
    included), for the app side's counts.  ``state_dir``: where Caddy keeps its storage (nginx
    keeps its state under its ``-p`` prefix).
    """

    proxy: ProxyKind
    server_names: tuple[str, ...] = ("example.com",)
    upstream: tuple[str, int] = ("127.0.0.1", 8080)
    listen: int = 443
    listen_host: str | None = None
    http_listen: int | None = None
    cert: str = "/etc/ssl/example.com/fullchain.pem"
    key: str = "/etc/ssl/example.com/privkey.pem"
    hsts: int | None = None
    redirect_https: bool = False
    redirect_status: int = REDIRECT_STATUS
    proxies: int = 1
    state_dir: str = "/var/lib/caddy"
    #: The command line that made it, for the header comment (None: not shown).
    command: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def server_name(self) -> str:
        return self.server_names[0]


def parse_upstream(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) → ``(host, port)``; ``ValueError`` with a reason."""
    value = text.strip()
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"upstream {text!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _port_suffix(port: int) -> str:
    return "" if port == 443 else f":{port}"


# --- nginx ---------------------------------------------------------------------------------------


def _nginx_listen(spec: DeploySpec, port: int, ssl: bool) -> str:
    where = _netloc(spec.listen_host, port) if spec.listen_host else str(port)
    return f"{where}{' ssl' if ssl else ''}"


def _nginx_names(spec: DeploySpec) -> str:
    return " ".join(f"[{n}]" if ":" in n else n for n in spec.server_names)


def nginx_config(spec: DeploySpec) -> str:
    """A complete ``nginx.conf`` for *spec*; see the module docstring."""
    upstream = _netloc(*spec.upstream)
    lines = [
        "# nginx: TLS ends here; the app behind it gets plain HTTP plus X-Forwarded-* headers.",
        *(f"# {spec.command}" for _ in [0] if spec.command),
        "# Check it:  nginx -t -p DIR -c FILE -e stderr",
        "# Run it:    nginx -p DIR -c FILE -e stderr -g 'daemon off;'",
        "# Every relative path below is under DIR (nginx's prefix, -p). For a system nginx, copy the",
        "# server blocks into /etc/nginx/sites-available/ instead.",
        "",
        "worker_processes 1;",
        "pid nginx.pid;                      # under DIR",
        "error_log error.log notice;         # under DIR",
        "",
        "events {",
        "    worker_connections 512;",
        "}",
        "",
        "http {",
        "    access_log access.log;          # under DIR",
        "    # nginx's scratch folders, all under DIR (the compiled-in ones are system paths).",
        "    client_body_temp_path client_body_temp;",
        "    proxy_temp_path proxy_temp;",
        "    fastcgi_temp_path fastcgi_temp;",
        "    uwsgi_temp_path uwsgi_temp;",
        "    scgi_temp_path scgi_temp;",
        "    server_tokens on;                # 'Server: nginx/…' lets flask-launcher inspect name the proxy",
        "",
    ]
    if spec.http_listen is not None:
        lines += [
            "    server {",
            f"        listen {_nginx_listen(spec, spec.http_listen, False)};",
            f"        server_name {_nginx_names(spec)};",
        ]
        if spec.redirect_https:
            lines += [
                "        # Plain HTTP only redirects to HTTPS: the app never sees an http:// request,",
                "        # so nothing in it needs to redirect (an app that redirects itself loops when",
                "        # it does not trust the proxy's X-Forwarded-Proto).",
                f"        return {spec.redirect_status} https://$host{_port_suffix(spec.listen)}$request_uri;",
            ]
        else:
            lines += [
                "        # Plain HTTP is forwarded too, marked X-Forwarded-Proto: http.",
                *_nginx_location(upstream),
            ]
        lines += ["    }", ""]
    lines += [
        "    server {",
        f"        listen {_nginx_listen(spec, spec.listen, True)};",
        f"        server_name {_nginx_names(spec)};",
        f"        ssl_certificate {spec.cert};          # the certificate chain (leaf first)",
        f"        ssl_certificate_key {spec.key};",
        "        ssl_protocols TLSv1.2 TLSv1.3;",
    ]
    if spec.hsts is not None:
        lines += [
            "        # HSTS: browsers use https:// only for max-age seconds (sent on HTTPS only; 'always'",
            "        # adds it to error pages too).",
            f'        add_header Strict-Transport-Security "max-age={spec.hsts}" always;',
        ]
    lines += [*_nginx_location(upstream), "    }", "}", ""]
    return "\n".join(lines)


def _nginx_location(upstream: str) -> list[str]:
    return [
        "        location / {",
        f"            proxy_pass http://{upstream};             # the app's plain-HTTP server",
        "            proxy_http_version 1.1;",
        "            # The client's Host, port included, so url_for builds the URL the browser used.",
        "            proxy_set_header Host $http_host;",
        "            # Who the client is, which scheme it used, which host it asked for: the app",
        "            # applies these only when it trusts this proxy (waitress trusted_proxy, ProxyFix).",
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "            proxy_set_header X-Forwarded-Proto $scheme;",
        "            proxy_set_header X-Forwarded-Host $http_host;",
        "        }",
    ]


# --- Caddy ---------------------------------------------------------------------------------------


def _caddy_site(spec: DeploySpec, scheme: str, port: int) -> str:
    names = [f"[{n}]" if ":" in n else n for n in spec.server_names]
    return ", ".join(f"{scheme}://{n}:{port}" for n in names)


def caddy_config(spec: DeploySpec) -> str:
    """A complete Caddyfile for *spec*; see the module docstring."""
    upstream = _netloc(*spec.upstream)
    lines = [
        "# Caddy: TLS ends here; the app behind it gets plain HTTP plus X-Forwarded-* headers.",
        *(f"# {spec.command}" for _ in [0] if spec.command),
        "# Check it:  caddy validate --config FILE --adapter caddyfile",
        "# Run it:    caddy run --config FILE --adapter caddyfile",
        "",
        "{",
        "    admin off  # no admin endpoint on localhost:2019: two Caddys never collide",
        f"    storage file_system {spec.state_dir}   # not ~/.local/share/caddy",
        "    # We bring our own certificate (below) and write the HTTP→HTTPS redirect ourselves:",
        "    # no ACME, no automatic redirect.",
        "    auto_https off",
        "    # Clients that send no server name (an IP address) get our certificate too:",
        f"    default_sni {spec.server_name}",
        "    skip_install_trust",
        "}",
        "",
    ]
    if spec.http_listen is not None:
        lines.append(f"{_caddy_site(spec, 'http', spec.http_listen)} {{")
        if spec.listen_host:
            lines.append(f"    bind {spec.listen_host}")
        if spec.redirect_https:
            lines += [
                "    # Plain HTTP only redirects to HTTPS: the app never sees an http:// request.",
                f"    redir https://{{host}}{_port_suffix(spec.listen)}{{uri}} {spec.redirect_status}",
            ]
        else:
            lines += [
                "    # Plain HTTP is forwarded too (X-Forwarded-Proto: http).",
                f"    reverse_proxy {upstream}",
            ]
        lines += ["}", ""]
    lines.append(f"{_caddy_site(spec, 'https', spec.listen)} {{")
    if spec.listen_host:
        lines.append(f"    bind {spec.listen_host}")
    lines += [f"    tls {spec.cert} {spec.key}   # the certificate chain (leaf first) and its key"]
    if spec.hsts is not None:
        lines += [
            "    # HSTS: browsers use https:// only for max-age seconds.",
            f'    header Strict-Transport-Security "max-age={spec.hsts}"',
        ]
    lines += [
        "    # Caddy keeps the client's Host and sets X-Forwarded-For, X-Forwarded-Proto and",
        "    # X-Forwarded-Host itself; the app applies them only when it trusts this proxy.",
        f"    reverse_proxy {upstream}",
        "}",
        "",
    ]
    return "\n".join(lines)


# --- the app side --------------------------------------------------------------------------------


def proxy_fix_line(proxies: int) -> str:
    """The ProxyFix line whose counts match *proxies* proxies in a row."""
    n = proxies
    return f"app.wsgi_app = ProxyFix(app.wsgi_app, x_for={n}, x_proto={n}, x_host={n})"


def app_side(spec: DeploySpec) -> str:
    """What the app behind the proxy needs, as plain text (see the module docstring)."""
    host, port = spec.upstream
    n = spec.proxies
    peer = "127.0.0.1" if is_loopback(host) else "<the proxy's address as the app sees it>"
    lines = [
        "The app side: waitress and Flask behind this proxy",
        "",
        "1. waitress must trust the proxy: it deletes X-Forwarded-* from any peer it does not",
        "   trust, so without this Flask sees http:// and ProxyFix alone changes nothing.",
    ]
    if is_loopback(host):
        lines += [
            "   With this launcher (the proxy on this machine):",
            f"     flask-launcher serve --app APP --no-https --host {host} --http-port {port} \\",
            "       --trusted-proxy",
        ]
    lines += [
        "   Running waitress yourself:",
        f'     waitress.serve(app, host="{host}", port={port}, trusted_proxy="{peer}",',
        f"                    trusted_proxy_count={n}, clear_untrusted_proxy_headers=True,",
        "                    trusted_proxy_headers={",
        '                        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})',
        '   Trust the proxy\'s address only, never "*": whoever reaches the app directly could',
        "   then claim any scheme and client address.",
        "",
        "2. Flask (needed with any other WSGI server; harmless with waitress when the counts",
        f"   match: {n} = how many proxies in a row set these headers):",
        "     from werkzeug.middleware.proxy_fix import ProxyFix",
        f"     {proxy_fix_line(n)}",
        "",
        "3. Flask settings for an HTTPS-only site:",
        '     app.config.update(SESSION_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")',
        "",
        f"4. Keep the app's port ({port}) reachable by the proxy only: bind it to {host}"
        + (" (loopback) as above." if is_loopback(host) else " and firewall it."),
    ]
    if spec.redirect_https:
        lines += [
            "",
            "The proxy redirects HTTP to HTTPS: do not redirect in the app or with",
            "flask-launcher serve --redirect-https behind it (the proxy talks HTTP to the app,",
            "so that redirect would loop).",
        ]
    if spec.hsts is not None:
        lines += ["", "The proxy sends HSTS: leave it off in the app (--hsts) to send it once."]
    return "\n".join(lines) + "\n"


def render(spec: DeploySpec) -> str:
    """The configuration, then the app side as comments: the whole is still a valid config."""
    config = nginx_config(spec) if spec.proxy == ProxyKind.NGINX else caddy_config(spec)
    side = "".join(f"# {line}".rstrip() + "\n" for line in app_side(spec).splitlines())
    return config + "\n" + side


def config_text(spec: DeploySpec) -> str:
    """Only the configuration of *spec* (no app side)."""
    return nginx_config(spec) if spec.proxy == ProxyKind.NGINX else caddy_config(spec)


# --- running the real proxy for a trial ---------------------------------------------------------


#: Where Debian installs the proxies, searched after PATH (a user's PATH often lacks /usr/sbin).
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_proxy(kind: ProxyKind, path: str | None = None) -> str:
    """The path of *kind*'s program on *path* (default: PATH, then ``SBIN_DIRS``);
    ``ProxyNotInstalledError`` (one line, naming the Debian package) when it is not installed."""
    if path is None:
        path = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN_DIRS])
    found = shutil.which(kind.binary, path=path)
    if found is None:
        raise ProxyNotInstalledError(
            f"{kind.binary} is not installed: install the Debian package {kind.package} "
            f"(apt-get install {kind.package})."
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (another program may take it before we do)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _connect_host(host: str | None) -> str:
    if host in (None, "", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host.strip("[]")


class ProxyRun:
    """The real nginx or Caddy running *spec* from a private temporary folder, as a child process.

    ``start()`` writes the configuration there, validates it with the server's own check
    (``nginx -t`` / ``caddy validate``), starts the server and waits until its ports accept
    connections; ``stop()`` stops it (SIGTERM, then SIGKILL to its process group after
    ``STOP_TIMEOUT``) and removes the folder.  A context manager too.
    """

    def __init__(self, spec: DeploySpec, *, folder: Path | None = None) -> None:
        self.program = find_proxy(spec.proxy)
        self._own_folder = folder is None
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix=f"flask-launch-{spec.proxy}-"))  # 0700
        self.folder = Path(folder)
        if spec.proxy == ProxyKind.CADDY:
            spec = _with_state_dir(spec, str(self.folder / "caddy-data"))
        self.spec = spec
        self.config_path = self.folder / ("nginx.conf" if spec.proxy == ProxyKind.NGINX else "Caddyfile")
        self.log_path = self.folder / "proxy.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Caddy falls back to these folders for anything not configured: keep them private too.
        env["XDG_DATA_HOME"] = str(self.folder / "xdg-data")
        env["XDG_CONFIG_HOME"] = str(self.folder / "xdg-config")
        return env

    def check_command(self) -> list[str]:
        """The server's own validation of the written configuration."""
        if self.spec.proxy == ProxyKind.NGINX:
            prefix = f"{self.folder}/"
            return [self.program, "-t", "-q", "-p", prefix, "-c", str(self.config_path), "-e", "stderr"]
        return [self.program, "validate", "--config", str(self.config_path), "--adapter", "caddyfile"]

    def run_command(self) -> list[str]:
        """The command that runs the server in the foreground."""
        if self.spec.proxy == ProxyKind.NGINX:
            return [
                self.program,
                "-p",
                f"{self.folder}/",
                "-c",
                str(self.config_path),
                "-e",
                "stderr",
                "-g",
                "daemon off;",
            ]
        return [self.program, "run", "--config", str(self.config_path), "--adapter", "caddyfile"]

    def write(self) -> Path:
        """Write the configuration into the folder; its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config_text(self.spec), encoding="utf-8")
        return self.config_path

    def validate(self) -> str:
        """Run the server's check; its output.  ``ProxyStartError`` when it refuses the config."""
        self.write()
        try:
            done = subprocess.run(
                self.check_command(),
                capture_output=True,
                text=True,
                timeout=VALIDATE_TIMEOUT,
                env=self._env(),
                cwd=self.folder,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProxyStartError(
                f"{self.spec.proxy} did not check its configuration within {VALIDATE_TIMEOUT:g} s."
            ) from None
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            last = output.splitlines()[-1] if output else f"exit code {done.returncode}"
            raise ProxyStartError(f"{self.spec.proxy} refused the configuration {self.config_path}: {last}")
        return output

    def ports(self) -> list[int]:
        return [p for p in (self.spec.listen, self.spec.http_listen) if p is not None]

    def start(self) -> None:
        """Validate, start, and wait until every port accepts; ``ProxyStartError`` otherwise."""
        self.validate()
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child writes to it until stop()
        try:
            self.process = subprocess.Popen(
                self.run_command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self.folder,
                start_new_session=True,
            )
        finally:
            log.close()
        host = _connect_host(self.spec.listen_host)
        deadline = time.monotonic() + START_TIMEOUT
        while not all(_accepts(host, p) for p in self.ports()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                exited = self.process.returncode is not None
                why = "exited" if exited else f"did not listen within {START_TIMEOUT:g} s"
                raise ProxyStartError(f"{self.spec.proxy} {why}: {tail or 'no output'}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 3) -> str:
        """The last lines the server wrote (one line, for an error message)."""
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the server (bounded by ``STOP_TIMEOUT``); idempotent."""
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        if process is not None and process.poll() is not None:
            # nginx's workers leave with their master; anything left in its group goes now.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    def cleanup(self) -> None:
        """Stop, and remove the folder when it was made here."""
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ProxyRun:
        try:
            self.start()
        except BaseException:
            self.cleanup()  # a refused configuration leaves no folder behind
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _with_state_dir(spec: DeploySpec, state_dir: str) -> DeploySpec:
    from dataclasses import replace

    return replace(spec, state_dir=state_dir)


def trial_spec(
    kind: ProxyKind,
    *,
    upstream: tuple[str, int],
    listen: int,
    http_listen: int | None,
    cert: Path,
    key: Path,
    listen_host: str | None = "127.0.0.1",
    hsts: int | None = None,
    redirect_https: int | None = None,
    names: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
) -> DeploySpec:
    """The spec ``flask-launcher serve --behind`` runs: the tool's leaf, our ports."""
    return DeploySpec(
        proxy=kind,
        server_names=tuple(names),
        upstream=upstream,
        listen=listen,
        listen_host=listen_host,
        http_listen=http_listen,
        cert=str(cert),
        key=str(key),
        hsts=hsts,
        redirect_https=redirect_https is not None,
        redirect_status=redirect_status_or_default(redirect_https),
        proxies=1,
    )


def redirect_status_or_default(status: int | None) -> int:
    return REDIRECT_STATUS if status is None else status


__all__ = [
    "HSTS_MAX_AGE",
    "DeploySpec",
    "ProxyKind",
    "ProxyNotInstalledError",
    "ProxyRun",
    "ProxyStartError",
    "app_side",
    "caddy_config",
    "config_text",
    "find_proxy",
    "free_port",
    "nginx_config",
    "parse_upstream",
    "proxy_fix_line",
    "render",
    "trial_spec",
]
