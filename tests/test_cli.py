"""`flask-launcher serve` end to end in a real process, and one-line errors for bad input."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from launcher.cli import main

ROOT = Path(__file__).resolve().parent.parent


def launch(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "launcher", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_banner(proc: subprocess.Popen) -> tuple[list[str], Path]:
    """The URL lines and the CA path printed once the listeners are up."""
    urls: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"serve ended early: {proc.stderr.read()}")
        if line.startswith("CA certificate: "):
            return urls, Path(line.removeprefix("CA certificate: ").strip())
        urls.append(line.split()[0])
    raise AssertionError("no banner")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_urls_logs_requests_and_stops_cleanly(tmp_path, sig):
    proc = launch("serve", "--http-port", "0", "--https-port", "0", "--cert-dir", str(tmp_path / "certs"))
    try:
        urls, ca = read_banner(proc)
        assert [u.split(":")[0] for u in urls] == ["http", "https"]
        assert ca == (tmp_path / "certs" / "ca.pem").resolve() and ca.is_file()
        ctx = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(urls[1] + "inspect", context=ctx, timeout=5) as resp:
            assert b'"scheme":"https"' in resp.read().replace(b" ", b"")
        with urllib.request.urlopen(urls[0], timeout=5) as resp:
            assert resp.status == 200
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert ' https "GET /inspect HTTP/1.1" 200 ' in lines[0] and "TLSv1." in lines[0]
        assert ' http "GET / HTTP/1.1" 200 ' in lines[1]
    finally:
        proc.send_signal(sig)
        assert proc.wait(10) == 0
    assert "Traceback" not in proc.stderr.read()


def test_serve_reuses_the_ca_on_the_next_run(tmp_path):
    first = launch("serve", "--http-port", "0", "--https-port", "0", "--cert-dir", str(tmp_path))
    _, ca = read_banner(first)
    pem = ca.read_bytes()
    first.terminate()
    assert first.wait(10) == 0
    second = launch("serve", "--no-http", "--https-port", "0", "--cert-dir", str(tmp_path))
    urls, _ = read_banner(second)
    second.terminate()
    assert second.wait(10) == 0
    assert [u.split(":")[0] for u in urls] == ["https"]
    assert ca.read_bytes() == pem


def test_no_display_falls_back_to_serve(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = launch("--cert-dir", str(tmp_path), env=env)
    try:
        assert "no display found" in proc.stderr.readline()
        first = proc.stdout.readline()  # a URL line once serving, or "" when it exited
        if first:
            assert first.startswith("http://127.0.0.1:8080/")
        else:  # the default ports were taken on this machine: it said so in one line
            assert "already in use" in proc.stderr.read()
    finally:
        proc.terminate()
        proc.wait(10)


def one_line_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        code = main(argv)
        raise SystemExit(code)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_invalid_port_is_one_line(capsys):
    line = one_line_error(capsys, ["serve", "--http-port", "99999"])
    assert "invalid port 99999" in line


def test_invalid_redirect_status_is_one_line(capsys):
    line = one_line_error(capsys, ["serve", "--redirect-https", "303"])
    assert "301, 302, 307 or 308" in line


def test_nothing_to_serve_is_one_line(capsys, tmp_path):
    line = one_line_error(capsys, ["serve", "--no-http", "--no-https", "--cert-dir", str(tmp_path)])
    assert "Nothing to serve" in line


def test_unwritable_cert_dir_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    line = one_line_error(
        capsys, ["serve", "--http-port", "0", "--https-port", "0", "--cert-dir", str(blocker / "x")]
    )
    assert str(blocker) in line


def test_corrupt_pem_is_one_line(capsys, tmp_path, cert_store):
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    (tmp_path / "ca-key.pem").write_bytes(Path(cert_store.ca_key_path).read_bytes())
    (tmp_path / "ca-key.pem").chmod(0o600)  # a key others can read is made private, with a warning
    line = one_line_error(
        capsys, ["serve", "--http-port", "0", "--https-port", "0", "--cert-dir", str(tmp_path)]
    )
    assert "ca.pem" in line


def test_port_in_use_is_one_line(capsys, tmp_path):
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        line = one_line_error(
            capsys, ["serve", "--http-port", str(port), "--https-port", "0", "--cert-dir", str(tmp_path)]
        )
    finally:
        blocker.close()
    assert f"Port {port}" in line and "in use" in line


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("flask-launcher ")


def test_python_dash_m_launcher_runs_the_same_cli():
    out = subprocess.run(
        [sys.executable, "-m", "launcher", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0
    for command in ("serve", "cert"):
        assert command in out.stdout


def test_serve_the_users_app_with_app_and_chdir(tmp_path):
    proc = launch(
        "serve",
        *("--http-port", "0", "--https-port", "0", "--cert-dir", str(tmp_path)),
        *("--app", "modapp", "--chdir", str(ROOT / "tests" / "apps")),
    )
    try:
        urls, ca = read_banner(proc)
        ctx = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(urls[1], context=ctx, timeout=5) as resp:
            assert resp.read() == b"modapp says hello"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_an_app_that_fails_to_import_is_one_line(capsys, tmp_path):
    line = one_line_error(
        capsys,
        [
            "serve",
            "--app",
            "import_error_app",
            "--chdir",
            str(ROOT / "tests" / "apps"),
            "--cert-dir",
            str(tmp_path),
        ],
    )
    assert "import_error_app" in line


def test_serve_warns_a_year_before_the_ca_expires(tmp_path):
    import datetime as dt

    from launcher.certs import CertStore

    CertStore(tmp_path).ensure_ca(now=dt.datetime.now(dt.UTC) - dt.timedelta(days=3650 - 200))
    proc = launch("serve", "--http-port", "0", "--https-port", "0", "--cert-dir", str(tmp_path))
    try:
        read_banner(proc)
        warning = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert warning.startswith("warning: The local CA expires on") and "trust install" in warning


def test_serve_cert_and_key_serve_the_users_pair(tmp_path):
    """``serve --cert --key`` (the options flask launch has, from the same table) serves that pair,
    from a private copy that is removed at the end."""
    from launcher.certs import CertStore

    own = CertStore(tmp_path / "own")
    own.ensure()
    proc = launch(
        "serve", "--no-http", "--https-port", "0", "--cert", str(own.cert_path), "--key", str(own.key_path)
    )
    try:
        urls, banner = read_banner(proc)
        copy = Path(str(banner).split("serving your imported ", 1)[1].rstrip(")"))
        assert copy.parent.name.startswith("flask-launch-cert-") and copy.parent != own.directory
        ctx = ssl.create_default_context(cafile=str(own.ca_cert_path))
        with urllib.request.urlopen(urls[0], context=ctx, timeout=5) as resp:
            assert resp.status == 200
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert not copy.parent.exists()
