"""``flask-launcher deploy-config``: the generated nginx and Caddy configurations pass the real
servers' own checks (``nginx -t``, ``caddy validate``), as printed and as written by ``--output``,
and carry what was asked (redirect, HSTS, forwarded headers, the app side's counts).

Debian's ``nginx`` and ``caddy`` packages are installed by ``scripts/bootstrap.sh test``; a test
skips, saying so, only when the program is missing.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from launcher.cli import build_parser
from launcher.commands import deploy_config
from launcher.deploy import (
    ProxyKind,
    ProxyNotInstalledError,
    ProxyRun,
    ProxyStartError,
    app_side,
    find_proxy,
    parse_upstream,
    trial_spec,
)

KINDS = [ProxyKind.NGINX, ProxyKind.CADDY]


def program(kind: ProxyKind) -> str:
    """The proxy's path, or skip the test with the reason."""
    try:
        return find_proxy(kind)
    except ProxyNotInstalledError as exc:
        pytest.skip(f"{exc} (scripts/bootstrap.sh test installs it)")


def generate(argv: list[str]) -> str:
    """What ``flask-launcher deploy-config ARGV`` prints."""
    args = build_parser().parse_args(["deploy-config", *argv])
    out = io.StringIO()
    assert deploy_config.run(args, out=out) == 0
    return out.getvalue()


def check(kind: ProxyKind, config: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    """The real server's own check of *config*, exactly as the printed comment says."""
    exe = program(kind)
    if kind == ProxyKind.NGINX:
        cmd = [exe, "-t", "-p", f"{prefix}/", "-c", str(config), "-e", "stderr"]
    else:
        cmd = [exe, "validate", "--config", str(config), "--adapter", "caddyfile"]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(prefix),
        "XDG_DATA_HOME": str(prefix),
        "XDG_CONFIG_HOME": str(prefix),
    }
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=prefix, env=env, check=False)


@pytest.mark.parametrize("kind", KINDS)
def test_printed_config_passes_the_servers_own_check(kind: ProxyKind, cert_store, tmp_path: Path) -> None:
    program(kind)
    text = generate(
        [
            kind.value,
            "--server-name", "localhost,127.0.0.1",
            "--upstream", "127.0.0.1:18080",
            "--listen", "18443",
            "--http-listen", "18081",
            "--cert", str(cert_store.cert_path),
            "--key", str(cert_store.key_path),
            "--hsts", "600",
            "--redirect-https",
            "--proxies", "2",
            "--state-dir", str(tmp_path / "state"),
        ]
    )  # fmt: skip
    config = tmp_path / "proxy.conf"
    config.write_text(text)  # the whole output, app side included (as comments)
    done = check(kind, config, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # What was asked is in it, and the app side matches --proxies.
    assert "Strict-Transport-Security" in text and "max-age=600" in text
    assert "308" in text and "https://" in text
    assert "app.wsgi_app = ProxyFix(app.wsgi_app, x_for=2, x_proto=2, x_host=2)" in text
    assert "trusted_proxy_count=2" in text and 'trusted_proxy="127.0.0.1"' in text
    assert 'SESSION_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https"' in text
    assert "--trusted-proxy" in text
    if kind == ProxyKind.NGINX:
        for line in (
            "X-Forwarded-For $proxy_add_x_forwarded_for",
            "X-Forwarded-Proto $scheme",
            "X-Forwarded-Host",
        ):
            assert line in text
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            assert f"{temp}_temp_path {temp}_temp;" in text  # relative: under the -p folder
        assert (tmp_path / "proxy_temp").is_dir()  # nginx -t made its scratch folders there
    else:
        assert "admin off" in text and f"storage file_system {tmp_path / 'state'}" in text
        assert "auto_https off" in text


@pytest.mark.parametrize("kind", KINDS)
def test_output_file_is_the_config_and_stdout_the_app_side(
    kind: ProxyKind, cert_store, tmp_path: Path
) -> None:
    program(kind)
    target = tmp_path / "site.conf"
    text = generate(
        [kind.value, "--cert", str(cert_store.cert_path), "--key", str(cert_store.key_path),
         "--listen", "18443", "--state-dir", str(tmp_path), "--output", str(target)]
    )  # fmt: skip
    assert f"Wrote the {kind} configuration to {target}" in text
    assert "ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)" in text
    assert "ProxyFix(app" not in target.read_text()
    done = check(kind, target, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_config_is_refused_by_the_real_check(kind: ProxyKind, tmp_path: Path) -> None:
    """The check can fail: a certificate that does not exist is refused, in one line."""
    program(kind)
    spec = trial_spec(
        kind, upstream=("127.0.0.1", 1), listen=18443, http_listen=None,
        cert=tmp_path / "missing.pem", key=tmp_path / "missing-key.pem",
    )  # fmt: skip
    run = ProxyRun(spec, folder=tmp_path / "run")
    with pytest.raises(ProxyStartError, match=f"{kind} refused the configuration"):
        run.validate()
    assert not run.running


def test_missing_proxy_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(ProxyNotInstalledError) as caught:
        find_proxy(ProxyKind.CADDY, path=str(tmp_path))
    assert str(caught.value) == (
        "caddy is not installed: install the Debian package caddy (apt-get install caddy)."
    )


def test_serve_behind_without_the_proxy_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """With nginx absent from PATH and the sbin folders (a fake root), serve says so and exits 2."""
    import os
    import sys

    code = (
        "import launcher.deploy as d, sys; d.SBIN_DIRS = (); "
        "from launcher.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code, "serve", "--behind", "nginx", "--cert-dir", str(tmp_path / "c"),
         "--http-port", "0", "--https-port", "0"],
        capture_output=True, text=True, timeout=60, env=env, cwd=Path(__file__).parent.parent, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "flask-launcher: error: nginx is not installed: "
        "install the Debian package nginx (apt-get install nginx)."
    ]


def test_app_side_for_a_remote_proxy_does_not_offer_the_loopback_flag() -> None:
    from launcher.deploy import DeploySpec

    text = app_side(DeploySpec(ProxyKind.NGINX, upstream=("10.0.0.5", 8000), proxies=1))
    assert "--trusted-proxy" not in text
    assert "<the proxy's address as the app sees it>" in text
    assert "firewall" in text


@pytest.mark.parametrize(
    ("text", "value"),
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:9000", ("::1", 9000)), ("app:80", ("app", 80))],
)
def test_upstream_parsing(text: str, value: tuple[str, int]) -> None:
    assert parse_upstream(text) == value


@pytest.mark.parametrize("text", ["8080", "host:", ":80", "host:99999", "host:x"])
def test_bad_upstream_is_a_one_line_usage_error(text: str, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["deploy-config", "nginx", "--upstream", text])
    assert caught.value.code == 2
    assert "is not HOST:PORT" in capsys.readouterr().err


def test_a_refused_trial_leaves_no_folder(tmp_path: Path) -> None:
    program(ProxyKind.CADDY)
    spec = trial_spec(
        ProxyKind.CADDY, upstream=("127.0.0.1", 1), listen=18443, http_listen=None,
        cert=tmp_path / "missing.pem", key=tmp_path / "missing-key.pem",
    )  # fmt: skip
    run = ProxyRun(spec)
    assert run.folder.is_dir()
    with pytest.raises(ProxyStartError), run:
        pass
    assert not run.folder.exists()
