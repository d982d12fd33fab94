"""launcher.trust: real NSS databases with real certutil, a real update-ca-certificates run in a
temporary tree, and command-builder tests for the macOS and Windows stores (the only faked stores:
no such OS runs here)."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from launcher.certs import CertStore, build_ca, generate_key
from launcher.trust import (
    DebianSystemStore,
    LocalCA,
    MacKeychainStore,
    NssStore,
    TrustError,
    WindowsUserRootStore,
    chromium_store,
    default_stores,
    firefox_profile_dirs,
)


def make_ca(directory: Path) -> LocalCA:
    store = CertStore(directory)
    store.ensure_ca()
    return LocalCA.load(store.ca_cert_path)


def nss_list(db_dir: Path) -> str:
    return subprocess.run(
        ["certutil", "-d", f"sql:{db_dir}", "-L"], capture_output=True, text=True, check=True
    ).stdout


def test_local_ca_identifiers(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    cert = x509.load_pem_x509_certificate(ca.path.read_bytes())
    assert ca.sha1 == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert ca.sha256 == cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert ca.nickname.startswith("Flask HTTPS Launcher local CA (")


# --- NSS: Chromium's ~/.pki/nssdb with real certutil ---------------------------------------------


def test_chromium_store_reads_home_at_call_time(home: Path) -> None:
    assert chromium_store().db_dir == home / ".pki" / "nssdb"


def test_nss_install_status_uninstall(home: Path, tmp_path: Path, certutil: str) -> None:
    ca = make_ca(tmp_path / "certs")
    store = chromium_store()
    assert store.available, store.reason
    assert not (home / ".pki" / "nssdb").exists()
    assert store.status(ca) is False
    commands = store.install_commands(ca)
    assert commands[-1] == [
        "certutil", "-d", f"sql:{home}/.pki/nssdb", "-A", "-t", "C,,", "-n", ca.nickname, "-i", str(ca.path),
    ]  # fmt: skip
    outcome = store.install(ca)
    assert outcome.changed and store.status(ca) is True
    assert (home / ".pki" / "nssdb" / "cert9.db").is_file()
    assert oct((home / ".pki" / "nssdb").stat().st_mode & 0o777) == "0o700"
    assert ca.nickname in nss_list(home / ".pki" / "nssdb")
    assert not store.install(ca).changed  # idempotent
    assert store.uninstall_commands(ca) == [
        ["certutil", "-d", f"sql:{home}/.pki/nssdb", "-D", "-n", ca.nickname]
    ]
    assert store.uninstall(ca).changed
    assert store.status(ca) is False
    assert ca.nickname not in nss_list(home / ".pki" / "nssdb")
    assert store.uninstall_commands(ca) == []
    assert not store.uninstall(ca).changed


def test_nss_status_false_for_untrusted_entry(home: Path, tmp_path: Path, certutil: str) -> None:
    """Present but without the SSL 'C' trust flag is not trusted."""
    ca = make_ca(tmp_path / "certs")
    store = chromium_store()
    store.install(ca)
    subprocess.run(["certutil", "-d", store.db, "-M", "-n", ca.nickname, "-t", ",,"], check=True)
    assert store.status(ca) is False
    store.install(ca)
    assert store.status(ca) is True


@pytest.mark.parametrize("remove", ["first", "second"])
def test_nss_uninstall_leaves_same_nickname_other_fingerprint(
    home: Path, tmp_path: Path, certutil: str, remove: str
) -> None:
    """Two CAs made on this machine share a subject, hence an NSS nickname; only ours goes."""
    first, second = make_ca(tmp_path / "a"), make_ca(tmp_path / "b")
    assert first.nickname == second.nickname and first.sha256 != second.sha256
    store = chromium_store()
    store.install(first)
    store.install(second)
    # the other CA carries unusual trust flags, which must survive
    other, ours = (second, first) if remove == "first" else (first, second)
    store.install(other)
    subprocess.run(
        ["certutil", "-d", store.db, "-A", "-n", other.nickname, "-t", "CT,c,", "-i", str(other.path)],
        check=True,
    )
    entries = {e.sha256: e.trust for e in store.entries(ours.nickname)}
    assert entries == {ours.sha256: "C,,", other.sha256: "CT,c,"}
    store.uninstall(ours)
    assert store.status(ours) is False
    assert store.status(other) is True
    assert {e.sha256: e.trust for e in store.entries(ours.nickname)} == {other.sha256: "CT,c,"}
    assert not store.uninstall(ours).changed


def test_nss_unavailable_without_certutil(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    store = chromium_store()
    assert not store.available
    assert store.reason == "certutil not found: apt-get install libnss3-tools"


def test_nss_missing_firefox_db_is_unavailable(home: Path) -> None:
    store = NssStore("Firefox profile x", home / "nope")
    if shutil.which("certutil"):
        assert store.reason == f"no NSS database at {home / 'nope'}"


def test_firefox_profiles_found_and_trusted(home: Path, tmp_path: Path, certutil: str) -> None:
    profile = home / ".mozilla" / "firefox" / "abcd1234.default-release"
    profile.mkdir(parents=True)
    (home / ".mozilla" / "firefox" / "no-db-profile").mkdir()
    subprocess.run(["certutil", "-d", f"sql:{profile}", "-N", "--empty-password"], check=True)
    assert firefox_profile_dirs() == [profile]
    names = [s.name for s in default_stores("linux")]
    assert names == [
        "Chromium/Chrome (NSS)",
        "Firefox profile abcd1234.default-release",
        "System (update-ca-certificates)",
    ]
    firefox = default_stores("linux")[1]
    ca = make_ca(tmp_path / "certs")
    assert firefox.install_commands(ca) == [
        ["certutil", "-d", f"sql:{profile}", "-A", "-t", "C,,", "-n", ca.nickname, "-i", str(ca.path)]
    ]
    firefox.install(ca)
    assert firefox.status(ca) and not chromium_store().status(ca)


def test_nss_failure_is_trust_error(home: Path, tmp_path: Path, certutil: str) -> None:
    """A different subject cannot take a nickname NSS already uses: a clear TrustError, not a crash."""
    ca = make_ca(tmp_path / "certs")
    store = chromium_store()
    store.install(ca)
    key = generate_key()
    intruder = build_ca(key, common_name="Someone else")
    intruder_file = tmp_path / "intruder.pem"
    intruder_file.write_bytes(intruder.public_bytes(serialization.Encoding.PEM))
    fake = LocalCA(intruder_file, ca.nickname, "00:" * 31 + "00", "0" * 40)
    with pytest.raises(TrustError, match=r"certutil -d .* failed: .*SEC_ERROR_ADDING_CERT"):
        store.install(fake)
    assert store.status(ca)


# --- Debian system store with a real update-ca-certificates in a temporary tree -----------------------


@pytest.fixture
def system_tree(tmp_path: Path) -> dict[str, Path]:
    if not shutil.which("update-ca-certificates", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
        pytest.skip("update-ca-certificates is missing: apt-get install ca-certificates")
    tree = {k: tmp_path / "sys" / k for k in ("local", "etc", "share", "hooks")}
    for path in tree.values():
        path.mkdir(parents=True)
    tree["hooks"].rmdir()  # no hooks to run
    tree["conf"] = tmp_path / "sys" / "ca-certificates.conf"
    tree["conf"].write_text("")
    return tree


def system_store(tree: dict[str, Path], *, as_root: bool) -> DebianSystemStore:
    return DebianSystemStore(
        local_dir=tree["local"],
        etc_dir=tree["etc"],
        update_args=[
            "--certsconf", str(tree["conf"]), "--certsdir", str(tree["share"]),
            "--localcertsdir", str(tree["local"]), "--etccertsdir", str(tree["etc"]),
            "--hooksdir", str(tree["hooks"]),
        ],
        as_root=as_root,
    )  # fmt: skip


def handshake_with_bundle(cert_store: CertStore, bundle: Path) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_store.cert_path, cert_store.key_path)
    client_ctx = ssl.create_default_context(cafile=str(bundle))
    a, b = socket.socketpair()

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname="localhost") as tls:
            tls.sendall(b"x")
    finally:
        b.close()
        t.join(5)
        a.close()


def test_system_store_as_root(tmp_path: Path, system_tree: dict[str, Path]) -> None:
    certs = CertStore(tmp_path / "certs")
    certs.ensure()
    ca = LocalCA.load(certs.ca_cert_path)
    neighbour = make_ca(tmp_path / "neighbour")  # somebody else's local CA in the same folder
    shutil.copy(neighbour.path, system_tree["local"] / "neighbour.crt")
    store = system_store(system_tree, as_root=True)
    assert store.available, store.reason
    assert not store.status(ca)
    assert store.install_commands(ca)[1] == ["install", "-m", "0644", str(ca.path), str(store.file_for(ca))]
    outcome = store.install(ca)
    assert outcome.changed and store.status(ca) and store.status(neighbour)
    handshake_with_bundle(certs, store.bundle)  # OpenSSL clients now trust the served certificate
    assert store.uninstall(ca).changed
    assert not store.status(ca) and not store.file_for(ca).exists()
    assert store.status(neighbour) and (system_tree["local"] / "neighbour.crt").exists()
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake_with_bundle(certs, store.bundle)


def test_system_store_without_root_returns_sudo_commands(
    tmp_path: Path, system_tree: dict[str, Path]
) -> None:
    ca = make_ca(tmp_path / "certs")
    store = system_store(system_tree, as_root=False)
    outcome = store.install(ca)
    assert not outcome.changed and store.manual_only
    assert all(argv[0] == "sudo" for argv in outcome.manual)
    assert outcome.manual[1] == ("sudo", "install", "-m", "0644", str(ca.path), str(store.file_for(ca)))
    assert "sudo install -m 0644" in outcome.message and "&& sudo " in outcome.message
    assert list(system_tree["local"].iterdir()) == []  # nothing was run
    assert not store.uninstall(ca).changed


def test_system_store_uninstall_needs_our_fingerprint(tmp_path: Path, system_tree: dict[str, Path]) -> None:
    """A file at our name holding a different certificate is not ours: it is left alone."""
    ca, other = make_ca(tmp_path / "a"), make_ca(tmp_path / "b")
    store = system_store(system_tree, as_root=True)
    shutil.copy(other.path, store.file_for(ca))
    assert store.uninstall_commands(ca) == []
    assert store.file_for(ca).exists()


# --- macOS and Windows: command builders with a recording runner ------------------------------------


class FakeRunner:
    """Records argv lists and answers from a table of (argv prefix -> (returncode, stdout))."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        self.calls.append(list(argv))
        best = max((p for p in self.answers if tuple(argv[: len(p)]) == p), key=len, default=None)
        code, out = self.answers.get(best, (0, "")) if best else (0, "")
        return subprocess.CompletedProcess(list(argv), code, out.encode(), b"error text" if code else b"")


def mac_listing(*sha1s: str) -> str:
    return "".join(
        f'SHA-256 hash: {"AB" * 32}\nSHA-1 hash: {h}\nkeychain: "login.keychain-db"\n' for h in sha1s
    )


def test_mac_commands(home: Path, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    keychain = str(home / "Library" / "Keychains" / "login.keychain-db")
    runner = FakeRunner({("security", "find-certificate"): (0, mac_listing("1" * 40))})
    store = MacKeychainStore(runner=runner)
    assert store.install_commands(ca) == [
        ["security", "add-trusted-cert", "-r", "trustRoot", "-p", "ssl", "-k", keychain, str(ca.path)]
    ]
    # a certificate with our name but another thumbprint is not ours: nothing to uninstall
    assert store.uninstall_commands(ca) == []
    assert runner.calls[-1] == ["security", "find-certificate", "-a", "-Z", "-c", ca.nickname, keychain]
    assert store.status(ca) is False


def test_mac_install_and_uninstall_flow(home: Path, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    keychain = str(home / "Library" / "Keychains" / "login.keychain-db")
    runner = FakeRunner({("security", "find-certificate"): (44, ""), ("security", "verify-cert"): (1, "")})
    store = MacKeychainStore(runner=runner)
    with pytest.raises(TrustError, match="still not trusted"):
        store.install(ca)  # the (fake) keychain did not take it
    assert [
        "security",
        "add-trusted-cert",
        "-r",
        "trustRoot",
        "-p",
        "ssl",
        "-k",
        keychain,
        str(ca.path),
    ] in runner.calls
    runner.answers = {("security", "find-certificate"): (0, mac_listing("1" * 40, ca.sha1))}
    assert store.status(ca) is True
    runner.calls.clear()
    assert store.uninstall(ca).changed
    assert runner.calls[1:] == [
        ["security", "remove-trusted-cert", str(ca.path)],
        ["security", "delete-certificate", "-Z", ca.sha1, keychain],
    ]


def test_mac_failure_message(home: Path, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    runner = FakeRunner(
        {
            ("security", "find-certificate"): (0, mac_listing(ca.sha1)),
            ("security", "remove-trusted-cert"): (1, ""),
        }
    )
    with pytest.raises(
        TrustError, match=r"macOS login keychain: `security remove-trusted-cert .*` failed: error text"
    ):
        MacKeychainStore(runner=runner).uninstall(ca)


def test_windows_commands(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    runner = FakeRunner(
        {("certutil", "-user", "-store"): (0, f"Subject: CN={ca.nickname}, O=Flask HTTPS Launcher\n")}
    )
    store = WindowsUserRootStore(runner=runner)
    assert store.install_commands(ca) == [["certutil", "-user", "-addstore", "Root", str(ca.path)]]
    assert store.status(ca) is True
    assert runner.calls[-1] == ["certutil", "-user", "-store", "Root", ca.sha1]
    assert store.uninstall_commands(ca) == [["certutil", "-user", "-delstore", "Root", ca.sha1]]
    runner.calls.clear()
    assert store.uninstall(ca).changed
    assert runner.calls[-1] == ["certutil", "-user", "-delstore", "Root", ca.sha1]


def test_windows_other_cert_is_left_alone(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    # our thumbprint is absent (certutil exits non-zero), or present under another subject
    for answer in ((1, ""), (0, "Subject: CN=Somebody else\n")):
        runner = FakeRunner({("certutil", "-user", "-store"): answer})
        store = WindowsUserRootStore(runner=runner)
        assert store.status(ca) is False
        assert store.uninstall_commands(ca) == []
        assert not store.uninstall(ca).changed
        assert not any("-delstore" in call for call in runner.calls)


def test_windows_install_flow(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    runner = FakeRunner({("certutil", "-user", "-store"): (1, "")})
    store = WindowsUserRootStore(runner=runner)

    def after_add(argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        if argv[:3] == ["certutil", "-user", "-addstore"]:
            runner.answers[("certutil", "-user", "-store")] = (0, f"Subject: CN={ca.nickname}\n")
        return runner(argv, stdin)

    store._runner = after_add
    assert store.install(ca).changed
    assert ["certutil", "-user", "-addstore", "Root", str(ca.path)] in runner.calls


def test_default_stores_per_platform(home: Path) -> None:
    assert [type(s) for s in default_stores("win32")] == [WindowsUserRootStore]
    assert [type(s) for s in default_stores("darwin")] == [MacKeychainStore]
    assert [type(s) for s in default_stores("linux")] == [NssStore, DebianSystemStore]
    assert MacKeychainStore().keychain == home / "Library" / "Keychains" / "login.keychain-db"


# --- CLI -------------------------------------------------------------------------------------------


def test_cli_trust_status_install_uninstall(
    home: Path, tmp_path: Path, certutil: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from launcher.cli import main

    d = str(tmp_path / "certs")
    assert main(["trust", "status", "--cert-dir", d]) == 0
    assert "No CA in" in capsys.readouterr().out
    assert main(["trust", "install", "--cert-dir", d, "--store", "chromium", "--dry-run"]) == 0
    assert "would create it first" in capsys.readouterr().out
    assert main(["trust", "install", "--cert-dir", d, "--store", "chromium"]) == 0
    out = capsys.readouterr().out
    assert "$ certutil -d sql:" in out and "now trusts" in out
    ca = LocalCA.load(Path(d) / "ca.pem")
    assert chromium_store().status(ca)
    assert main(["trust", "status", "--cert-dir", d, "--store", "chromium"]) == 0
    out = capsys.readouterr().out
    assert f"SHA-256 {ca.sha256}" in out and "Chromium/Chrome (NSS)  trusted" in out
    assert main(["trust", "uninstall", "--cert-dir", d, "--store", "chromium", "--dry-run"]) == 0
    assert "would run: certutil" in capsys.readouterr().out and chromium_store().status(ca)
    assert main(["trust", "uninstall", "--cert-dir", d, "--store", "chromium"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not chromium_store().status(ca)
    assert main(["trust", "status", "--cert-dir", d, "--store", "chromium"]) == 0
    assert "Chromium/Chrome (NSS)  not trusted" in capsys.readouterr().out


def test_cli_trust_unknown_store_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from launcher.cli import main

    d = tmp_path / "certs"
    CertStore(d).ensure_ca()
    assert main(["trust", "status", "--cert-dir", str(d), "--store", "nothing"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("flask-launcher: error: No trust store matches --store nothing")
        and err.count("\n") == 1
    )


def test_cli_trust_unavailable_store_is_reported(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from launcher.cli import main

    d = tmp_path / "certs"
    CertStore(d).ensure_ca()
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["trust", "status", "--cert-dir", str(d), "--store", "chromium"]) == 0
    assert "unavailable: certutil not found: apt-get install libnss3-tools" in capsys.readouterr().out
