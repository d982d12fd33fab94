"""The certificate folder's safety rules and read-only folders, over the real CLI and real mounts.

The suite runs as root, where mode bits do not stop writes: other users are played by chown to
uid 65534, and read-only folders are real read-only mounts (a bind mount remounted ``ro`` inside a
private mount namespace, ``unshare -m``) or the immutable attribute (``chattr +i``), both of which
refuse writes to root too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from launcher.certs import LEAF_VALIDITY, CertStore
from launcher.cli import main
from launcher.errors import CertDirError, CertFileError

ROOT = Path(__file__).resolve().parent.parent
OTHER_UID = 65534  # "nobody": a user that is neither us nor root
OTHERS_FILE = f"The file {{path}} in the certificate folder belongs to another user (uid {OTHER_UID}"

#: Run "$@" with the folder "$0" bind-mounted onto itself read-only, in a private mount namespace
#: (the mount disappears with the process; nothing outside sees it).
READ_ONLY_SCRIPT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def _read_only_mounts_unavailable() -> str | None:
    """Why a read-only bind mount cannot be made here, or None when it can (and refuses root)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare/mount (util-linux) are not installed"
    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run(
            ["unshare", "-m", "sh", "-c", READ_ONLY_SCRIPT, folder, "sh", "-c", 'touch "$0/x" 2>&1', folder],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if "Read-only file system" in probe.stdout:
            return None
        return f"cannot make a read-only bind mount in a private mount namespace: {probe.stderr.strip()!r}"


READ_ONLY_REASON = _read_only_mounts_unavailable() if sys.platform == "linux" else "Linux mounts only"
needs_read_only_mount = pytest.mark.skipif(READ_ONLY_REASON is not None, reason=str(READ_ONLY_REASON))
needs_posix_owners = pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="chown to another user needs root"
)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, _, err = cli(capsys, *argv)
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, float]]:
    """Every file's bytes, mode and mtime: proves that nothing was written."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- a folder others could change is refused; one of ours others could read is made private ------------


@needs_posix_owners
def test_world_writable_folder_is_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "certs"
    folder.mkdir()
    folder.chmod(0o777)
    err = one_line_error(capsys, "cert", "create", "--cert-dir", str(folder))
    assert f"The certificate folder {folder} can be changed by other users (mode 0777)" in err
    assert f"chmod 700 {folder}" in err and "--cert-dir" in err
    assert list(folder.iterdir()) == [] and mode(folder) == 0o777


@needs_posix_owners
def test_group_writable_folder_is_refused_by_serve(tmp_path: Path) -> None:
    folder = tmp_path / "certs"
    folder.mkdir()
    folder.chmod(0o770)
    serve = [sys.executable, "-m", "launcher", "serve", "--no-http", "--https-port", "0"]
    proc = subprocess.run(
        [*serve, "--cert-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "can be changed by other users (mode 0770)" in proc.stderr
    assert list(folder.iterdir()) == []


@needs_posix_owners
def test_folder_owned_by_another_user_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "certs"
    folder.mkdir(mode=0o700)
    os.chown(folder, OTHER_UID, OTHER_UID)
    err = one_line_error(capsys, "cert", "create", "--cert-dir", str(folder))
    assert f"The certificate folder {folder} belongs to another user (uid {OTHER_UID}" in err
    assert "choose a folder of your own with --cert-dir" in err
    assert list(folder.iterdir()) == []


@needs_posix_owners
def test_symlink_to_an_unsafe_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "shared"
    target.mkdir()
    target.chmod(0o777)
    link = tmp_path / "certs"
    link.symlink_to(target)
    err = one_line_error(capsys, "cert", "create", "--cert-dir", str(link))
    assert f"{link} (a symlink to {target}) can be changed by other users (mode 0777)" in err
    assert list(target.iterdir()) == []
    # a symlink that belongs to someone else could be pointed elsewhere by them
    target.chmod(0o700)
    os.lchown(link, OTHER_UID, OTHER_UID)
    err = one_line_error(capsys, "cert", "create", "--cert-dir", str(link))
    assert f"The symlink {link} to the certificate folder belongs to another user (uid {OTHER_UID}" in err
    assert list(target.iterdir()) == []


@needs_posix_owners
def test_world_writable_parent_without_sticky_bit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "shared"
    parent.mkdir()
    parent.chmod(0o777)
    err = one_line_error(capsys, "cert", "create", "--cert-dir", str(parent / "certs"))
    assert f"The folder {parent} above the certificate folder can be changed by other users" in err
    assert "(mode 0777, no sticky bit)" in err and f"chmod go-w {parent}" in err
    assert list(parent.iterdir()) == []
    parent.chmod(0o1777)  # like /tmp: others cannot rename or remove what is ours
    code, _, err = cli(capsys, "cert", "create", "--cert-dir", str(parent / "certs"))
    assert (code, err) == (0, "") and mode(parent / "certs") == 0o700


@needs_posix_owners
def test_our_0755_folder_and_0644_keys_are_made_private_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an older version (or a user's chmod) left readable is tightened, and the CLI says so."""
    folder = tmp_path / "certs"
    CertStore(folder).ensure()
    folder.chmod(0o755)
    (folder / "ca-key.pem").chmod(0o644)
    (folder / "key.pem").chmod(0o640)
    code, out, err = cli(capsys, "cert", "create", "--cert-dir", str(folder))
    assert (code, err) == (0, "")
    warnings = [line for line in out.splitlines() if line.startswith("Warning: ")]
    assert warnings == [
        f"Warning: The certificate folder {folder} could be read by other users (mode 0755):"
        " it is now 0700, so only you can read its keys.",
        f"Warning: The key {folder / 'ca-key.pem'} could be read by other users (mode 0644): it is now 0600.",
        f"Warning: The key {folder / 'key.pem'} could be read by other users (mode 0640): it is now 0600.",
    ]
    assert out.splitlines()[3].startswith("Reused the local CA")
    assert mode(folder) == 0o700
    assert mode(folder / "ca-key.pem") == mode(folder / "key.pem") == 0o600
    # as the servers call it: the same checks, reported through on_warning
    folder.chmod(0o750)
    seen: list[str] = []
    CertStore(folder, on_warning=seen.append).ensure()
    assert seen == [
        f"The certificate folder {folder} could be read by other users (mode 0750):"
        " it is now 0700, so only you can read its keys."
    ]
    assert mode(folder) == 0o700


@needs_posix_owners
@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("ca-key.pem", "chown", OTHERS_FILE),
        ("ca.pem", "chown", OTHERS_FILE),
        ("ca.pem", "chmod", "The file {path} can be changed by other users (mode 0666)"),
        ("cert.pem", "chmod", "The file {path} can be changed by other users (mode 0666)"),
    ],
)
def test_files_others_could_change_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, change: str, expected: str
) -> None:
    folder = tmp_path / "certs"
    CertStore(folder).ensure()
    path = folder / name
    if change == "chown":
        os.chown(path, OTHER_UID, OTHER_UID)
    else:
        path.chmod(0o666)
    before = snapshot(folder)
    err = one_line_error(capsys, "cert", "create", "--cert-dir", str(folder))
    assert expected.format(path=path) in err and "--cert-dir" in err
    assert snapshot(folder) == before  # refused, not tightened: the file may already have been swapped
    with pytest.raises(CertDirError, match=r"other user|changed by other users"):
        CertStore(folder).ensure()  # as serve, the window and trust install call it


@needs_posix_owners
def test_control_characters_in_the_folder_name_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "evil\x1b[2J\ncerts"
    folder.mkdir()
    folder.chmod(0o777)
    err = one_line_error(capsys, "cert", "create", "--cert-dir", str(folder))
    assert "\x1b" not in err and "evil\\x1b[2J\\ncerts" in err
    assert list(folder.iterdir()) == []


# --- read-only folders: used as they are; a needed write is refused with what and why -------------------


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Paths given ``chattr +i`` in a test (root cannot write them either); cleared afterwards."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed")
    made: list[Path] = []
    yield made
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def make_immutable(immutable: list[Path], folder: Path) -> None:
    result = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"this filesystem has no immutable attribute: {result.stderr.strip()}")
    immutable.append(folder)
    with pytest.raises(PermissionError):
        (folder / "probe").write_text("x")  # really refused, root included


def test_immutable_folder_is_used_without_writing(tmp_path: Path, immutable: list[Path]) -> None:
    folder = tmp_path / "certs"
    made = CertStore(folder).ensure()
    before = snapshot(folder)
    make_immutable(immutable, folder)
    assert CertStore(folder).ensure().fingerprint_sha256 == made.fingerprint_sha256
    assert snapshot(folder) == before


def test_immutable_folder_whose_leaf_must_be_renewed_says_what_and_why(
    tmp_path: Path, immutable: list[Path]
) -> None:
    folder = tmp_path / "certs"
    CertStore(folder).ensure(now=dt.datetime.now(dt.UTC) - LEAF_VALIDITY + dt.timedelta(days=12, hours=1))
    before = snapshot(folder)
    make_immutable(immutable, folder)
    with pytest.raises(CertDirError) as info:
        CertStore(folder).ensure()
    assert str(info.value) == (
        f"Cannot write to the certificate folder {folder}: Permission denied."
        f" The certificate {folder / 'cert.pem'} expires in 12 days and must be renewed:"
        " choose another folder with --cert-dir, or fix its permissions."
    )
    assert snapshot(folder) == before


def serve_read_only(folder: Path, *args: str) -> subprocess.Popen[str]:
    """``flask-launcher serve --cert-dir folder`` with the folder mounted read-only for that process."""
    argv = [sys.executable, "-m", "launcher", "serve", "--cert-dir", str(folder), *args]
    return subprocess.Popen(
        ["unshare", "-m", "sh", "-c", READ_ONLY_SCRIPT, str(folder), *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def https_url(proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise AssertionError(f"serve ended early: {proc.stderr.read()}")  # type: ignore[union-attr]
        if line.startswith("https://"):
            return line.split()[0]
    raise AssertionError("no HTTPS line")


@needs_read_only_mount
@pytest.mark.parametrize("folder_mode", [0o700, 0o1777], ids=["0700", "1777-like-a-k8s-secret"])
def test_serve_from_a_read_only_mount_uses_the_leaf_as_it_is(
    tmp_path: Path, folder_mode: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "certs"
    CertStore(folder).ensure()
    folder.chmod(folder_mode)  # nobody can change a read-only mount, whatever its mode says
    before = snapshot(folder)
    # The inspector's token goes to a private spare folder under the temporary folder (this one).
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr("tempfile.tempdir", None)
    leaf_der = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes()).public_bytes(Encoding.DER)
    proc = serve_read_only(folder, "--no-http", "--https-port", "0")
    try:
        url = https_url(proc)
        host, port = url.removeprefix("https://").rstrip("/").rsplit(":", 1)
        context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        with (
            socket.create_connection((host, int(port)), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.getpeercert(binary_form=True) == leaf_der
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 200 ")
        # flask-launcher inspect finds that token and tells what the app saw.
        capsys.readouterr()
        main(["inspect", url, "--json", "--cert-dir", str(folder)])
        flask = json.loads(capsys.readouterr().out)["https"]["flask"]
        assert flask["available"] is True and flask["scheme"] == "https", flask
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in stderr and "Cannot write" not in stderr, stderr
    assert "token" not in stderr, stderr  # no warning: the token had a place to go
    assert snapshot(folder) == before
    assert [p for p in temp.rglob("*") if p.is_file()] == []  # the token is removed at exit


@needs_read_only_mount
@pytest.mark.parametrize(
    ("made_at", "args", "why"),
    [
        (
            dt.timedelta(days=400),
            (),
            "The certificate {cert} expired on ",
        ),
        (
            dt.timedelta(0),
            ("--host", "127.0.0.2"),
            "The certificate {cert} does not cover IP:127.0.0.2, so it must be renewed to add it",
        ),
    ],
    ids=["expired", "missing-san"],
)
def test_serve_from_a_read_only_mount_that_needs_a_new_leaf_is_one_line(
    tmp_path: Path, made_at: dt.timedelta, args: tuple[str, ...], why: str
) -> None:
    folder = tmp_path / "certs"
    CertStore(folder).ensure(now=dt.datetime.now(dt.UTC) - made_at)
    before = snapshot(folder)
    proc = serve_read_only(folder, "--no-http", "--https-port", "0", *args)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert why.format(cert=folder / "cert.pem") in stderr
    assert f", but the certificate folder {folder} is read-only:" in stderr
    assert "flask-launcher cert create --cert-dir FOLDER" in stderr
    assert snapshot(folder) == before


@needs_read_only_mount
def test_serve_from_a_read_only_mount_serves_a_leaf_due_for_renewal_until_it_expires(tmp_path: Path) -> None:
    """A container's secret mounted read-only: weeks before the leaf expires it is still served,
    with a warning that says until when and how to renew it; nothing is written."""
    folder = tmp_path / "certs"
    CertStore(folder).ensure(now=dt.datetime.now(dt.UTC) - dt.timedelta(days=397 - 12, hours=-1))
    before = snapshot(folder)
    proc = serve_read_only(folder, "--no-http", "--https-port", "0")
    try:
        url = https_url(proc)
        context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 200 ")
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in stderr, stderr
    warning = f"warning: The certificate {folder / 'cert.pem'} expires in 12 days and must be renewed, but"
    assert warning in stderr and "it is served until it expires on " in stderr, stderr
    assert snapshot(folder) == before


# --- a Kubernetes secret: only what serving needs (no CA key), root's files, the image's user ------------

#: The image's user (Containerfile), also the pod's fsGroup in deploy/kubernetes.yaml.
APP_UID = 10001
#: What a secret needs to serve: the CA key only signs, and nothing new can be kept in a secret.
SERVING_FILES = ("ca.pem", "cert.pem", "key.pem")


def kubernetes_secret(folder: Path, source: Path, *, gid: int = APP_UID, file_mode: int = 0o440) -> None:
    """Lay out SERVING_FILES from the certificate folder ``source`` in ``folder`` the way the kubelet
    lays out a secret volume: the files (root's, group ``gid`` = the pod's fsGroup, ``file_mode`` =
    defaultMode plus the group read that fsGroup adds) in a timestamped folder, ``..data`` a symlink
    to it, each name a symlink through ``..data``, and the volume's own folder 1777 (a tmpfs)."""
    stamp = folder / "..2026_01_01_00_00_00.000000001"
    stamp.mkdir(parents=True)
    for name in SERVING_FILES:
        shutil.copyfile(source / name, stamp / name)
        os.chown(stamp / name, 0, gid)
        (stamp / name).chmod(file_mode)
        (folder / name).symlink_to(f"..data/{name}")
    os.chown(stamp, 0, gid)
    stamp.chmod(0o2755)
    (folder / "..data").symlink_to(stamp.name)
    os.chown(folder, 0, gid)
    folder.chmod(0o1777)


def _as_app_user_unavailable() -> str | None:
    if not hasattr(os, "getuid") or os.getuid() != 0:
        return "switching to the image's uid needs root"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    probe = subprocess.run(
        [
            "setpriv",
            f"--reuid={APP_UID}",
            f"--regid={APP_UID}",
            "--clear-groups",
            sys.executable,
            "-c",
            "import launcher",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"uid {APP_UID} cannot run this checkout's Python: {probe.stderr.strip()[-200:]!r}"
    return None


AS_APP_USER_REASON = _as_app_user_unavailable() if sys.platform == "linux" else "Linux only"


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder that uid APP_UID can reach (pytest's tmp_path is under a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="flask-launcher-secret-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def serve_read_only_as_app_user(folder: Path) -> subprocess.Popen[str]:
    """``serve --cert-dir folder`` as uid/gid APP_UID (as in the pod), the folder mounted read-only."""
    argv = ["setpriv", f"--reuid={APP_UID}", f"--regid={APP_UID}", "--clear-groups", sys.executable]
    argv += ["-m", "launcher", "serve", "--cert-dir", str(folder), "--no-http", "--https-port", "0"]
    return subprocess.Popen(
        ["unshare", "-m", "sh", "-c", READ_ONLY_SCRIPT, str(folder), *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def fetch_leaf(url: str, ca: Path) -> bytes:
    """The leaf served at the https *url*, verified against *ca* for localhost, after a 200 for /."""
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert tls.recv(100).startswith(b"HTTP/1.1 200 ")
        leaf = tls.getpeercert(binary_form=True)
    assert leaf is not None
    return leaf


@needs_read_only_mount
@pytest.mark.skipif(AS_APP_USER_REASON is not None, reason=str(AS_APP_USER_REASON))
@pytest.mark.parametrize(
    ("file_mode", "key_warning"),
    [(0o440, False), (0o444, True)],
    ids=["0440-fsGroup-no-warning", "0444-world-readable-warns"],
)
def test_serve_as_the_image_user_from_a_kubernetes_secret_without_the_ca_key(
    tmp_path: Path, shared_tmp: Path, file_mode: int, key_warning: bool
) -> None:
    """The deployment's case: uid 10001 serves from a read-only secret of root's files (group 10001),
    symlinks through ``..data``, the folder 1777, and no ca-key.pem: served as it is, nothing written;
    the key warning only when the secret's mode lets every user read it."""
    source = tmp_path / "made"
    CertStore(source).ensure()
    folder = shared_tmp / "certs"
    kubernetes_secret(folder, source, file_mode=file_mode)
    assert not (folder / "ca-key.pem").exists()
    before = snapshot(folder)
    proc = serve_read_only_as_app_user(folder)
    try:
        leaf = fetch_leaf(https_url(proc), source / "ca.pem")
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert leaf == x509.load_pem_x509_certificate((source / "cert.pem").read_bytes()).public_bytes(
        Encoding.DER
    )
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in stderr and "Cannot write" not in stderr, stderr
    assert "another user" not in stderr and "changed by other users" not in stderr, stderr
    warning = f"warning: The key {folder / 'key.pem'} can be read by every user (mode 0444)"
    assert (warning in stderr) is key_warning, stderr
    assert snapshot(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == [
        "..2026_01_01_00_00_00.000000001",
        "..data",
        *SERVING_FILES,
    ]


@needs_read_only_mount
def test_serve_from_a_read_only_mount_without_the_ca_key_uses_the_leaf_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "certs"
    CertStore(folder).ensure()
    (folder / "ca-key.pem").unlink()
    before = snapshot(folder)
    proc = serve_read_only(folder, "--no-http", "--https-port", "0")
    try:
        leaf = fetch_leaf(https_url(proc), folder / "ca.pem")
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert leaf == x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes()).public_bytes(
        Encoding.DER
    )
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in stderr and "Cannot write" not in stderr and "CA key" not in stderr, stderr
    assert snapshot(folder) == before


@needs_read_only_mount
@pytest.mark.parametrize(
    ("made_at", "args", "why"),
    [
        (
            dt.timedelta(0),
            ("--host", "127.0.0.2"),
            "The certificate {folder}/cert.pem does not cover IP:127.0.0.2, so it must be renewed to add it",
        ),
        (
            dt.timedelta(days=3660),
            (),
            "The local CA {folder}/ca.pem expired on ",
        ),
    ],
    ids=["missing-san", "expired-ca"],
)
def test_read_only_mount_without_the_ca_key_that_needs_a_write_is_one_line(
    tmp_path: Path, made_at: dt.timedelta, args: tuple[str, ...], why: str
) -> None:
    folder = tmp_path / "certs"
    CertStore(folder).ensure(now=dt.datetime.now(dt.UTC) - made_at)
    (folder / "ca-key.pem").unlink()
    before = snapshot(folder)
    proc = serve_read_only(folder, "--no-http", "--https-port", "0", *args)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert why.format(folder=folder) in stderr
    assert f", but the certificate folder {folder} is read-only:" in stderr
    assert snapshot(folder) == before


def test_writable_folder_without_the_ca_key_is_still_an_error(tmp_path: Path) -> None:
    """Only a read-only folder may lack the CA key: in a writable one the key is expected (lost?)."""
    folder = tmp_path / "certs"
    CertStore(folder).ensure()
    (folder / "ca-key.pem").unlink()
    before = snapshot(folder)
    with pytest.raises(CertFileError, match=r"The CA key .*ca-key\.pem is missing, so no new certificate"):
        CertStore(folder).ensure()
    assert snapshot(folder) == before
