"""A local CA that cannot be abused: name constraints, leaf refusal, rotate-ca (with trust moved in a
real NSS database by real certutil), --days and ``cert check``.  Real files, real OpenSSL, real
TLS handshakes through Python's ``ssl``."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from launcher.certs import (
    CA_PERMITTED_DNS,
    CertStore,
    build_ca,
    build_leaf,
    ca_constraints,
    generate_key,
    parse_name,
    permits,
)
from launcher.errors import NameNotPermittedError

UTC = dt.UTC

EXPECTED_DNS = ["localhost", "test", "example", "invalid", "local", "internal", "home.arpa"]
EXPECTED_NETS = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
]


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from launcher.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def write_key(path: Path, key: object) -> Path:
    path.write_bytes(
        key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def thief_leaf(
    ca: x509.Certificate, ca_key: object, names: list[x509.GeneralName]
) -> tuple[x509.Certificate, object]:
    """What someone holding ca-key.pem can make with ``cryptography`` alone, bypassing the tool."""
    key = generate_key()
    now = dt.datetime.now(UTC)
    first = next((n for n in names if isinstance(n, x509.DNSName)), None)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(first.value))] if first else [])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert, key


def openssl_verify(ca: Path, leaf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(leaf)], capture_output=True, text=True, timeout=30
    )


def handshake(ca: Path, cert: Path, key: Path, server_hostname: str) -> None:
    """A TLS handshake over loopback: a server with ``cert``, a client that trusts only ``ca`` and
    checks ``server_hostname``.  Raises the client's ``ssl.SSLError`` when it refuses."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(10)
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                client_ctx.wrap_socket(raw, server_hostname=server_hostname),
            ):
                pass
        finally:
            thread.join(10)


# --- the extension --------------------------------------------------------------------------------


def test_new_ca_carries_critical_name_constraints_with_the_exact_subtrees(tmp_path: Path) -> None:
    store = CertStore(tmp_path / "c")
    store.ensure()
    ext = load(store.ca_cert_path).extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical
    assert ext.value.excluded_subtrees is None
    permitted = list(ext.value.permitted_subtrees or [])
    assert permitted == [x509.DNSName(n) for n in EXPECTED_DNS] + [
        x509.IPAddress(ipaddress.ip_network(n)) for n in EXPECTED_NETS
    ]
    assert list(CA_PERMITTED_DNS) == EXPECTED_DNS


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("localhost", True),
        ("myapp.localhost", True),
        ("*.shop.test", True),
        ("shop.test", True),
        ("a.b.internal", True),
        ("printer.local", True),
        ("nas.home.arpa", True),
        ("www.example", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("172.31.255.255", True),
        ("192.168.1.10", True),
        ("169.254.0.1", True),
        ("fd00::1", True),
        ("fe80::1", True),
        ("www.google.com", False),
        ("www.example.com", False),
        ("notlocalhost", False),
        ("localhost.com", False),
        ("test.com", False),
        ("arpa", False),
        ("8.8.8.8", False),
        ("93.184.216.34", False),
        ("172.32.0.1", False),
        ("2001:db8::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_permits_follows_rfc5280_subtrees(name: str, allowed: bool) -> None:
    constraints = ca_constraints(build_ca(generate_key()))
    assert permits(constraints, parse_name(name)) is allowed


def test_openssl_and_python_ssl_refuse_a_thief_leaf_and_accept_the_tools(tmp_path: Path) -> None:
    """The thief signs with ca-key.pem directly; OpenSSL and Python's ssl refuse the result."""
    store = CertStore(tmp_path / "c")
    store.create_leaf(["myapp.localhost", "127.0.0.1"])
    ca_key = serialization.load_pem_private_key(store.ca_key_path.read_bytes(), None)
    ca = load(store.ca_cert_path)
    assert openssl_verify(store.ca_cert_path, store.cert_path).returncode == 0
    handshake(store.ca_cert_path, store.cert_path, store.key_path, "myapp.localhost")

    for name, names in (
        ("dns", [x509.DNSName("www.example.com")]),
        ("ip", [x509.IPAddress(ipaddress.ip_address("93.184.216.34"))]),
    ):
        cert, key = thief_leaf(ca, ca_key, names)
        cert_file, key_file = (
            write_pem(tmp_path / f"{name}.pem", cert),
            write_key(tmp_path / f"{name}-key.pem", key),
        )
        proc = openssl_verify(store.ca_cert_path, cert_file)
        assert proc.returncode != 0 and "permitted subtree violation" in proc.stdout + proc.stderr
        with pytest.raises(ssl.SSLCertVerificationError, match="permitted subtree violation"):
            handshake(store.ca_cert_path, cert_file, key_file, str(names[0].value))


def test_an_ip_only_leaf_verifies_under_openssl(tmp_path: Path) -> None:
    """No common name on a leaf without DNS names: OpenSSL would check a CN of "127.0.0.1" against
    the DNS subtrees and refuse it."""
    store = CertStore(tmp_path / "c")
    store.create_leaf(["127.0.0.1", "::1"])
    assert not load(store.cert_path).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    proc = openssl_verify(store.ca_cert_path, store.cert_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- refusal when the leaf is made ------------------------------------------------------------------


def test_build_leaf_refuses_a_name_outside_the_constraints() -> None:
    ca_key = generate_key()
    ca = build_ca(ca_key)
    for host in ("www.google.com", "8.8.8.8"):
        with pytest.raises(NameNotPermittedError, match="rotate-ca --ca-domain") as info:
            build_leaf(ca, ca_key, generate_key(), ["localhost", host])
        assert host in str(info.value) and "\n" not in str(info.value)


def test_cli_refuses_a_public_name_with_one_line_naming_it_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "c"
    # No CA yet: nothing is written, and the fix is --ca-domain on the same command.
    code, _, err = cli(capsys, "cert", "create", "--cert-dir", str(d), "--host", "www.google.com")
    assert code == 2 and err.count("\n") == 1
    assert "DNS:www.google.com" in err and "--ca-domain www.google.com" in err and "cert create" in err
    assert not (d / "ca.pem").exists()
    # With a CA: the leaf is refused, the served one kept; the fix is a new CA.
    assert cli(capsys, "cert", "create", "--cert-dir", str(d))[0] == 0
    before = (d / "cert.pem").read_bytes()
    code, _, err = cli(capsys, "cert", "create", "--cert-dir", str(d), "--host", "app.example.com")
    assert code == 2 and err.count("\n") == 1
    assert "DNS:app.example.com" in err and "cert rotate-ca --ca-domain app.example.com" in err
    assert (d / "cert.pem").read_bytes() == before


def test_cli_ca_domain_permits_it_and_its_subdomains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "c"
    code, out, _ = cli(
        capsys, "cert", "create", "--cert-dir", str(d),
        "--ca-domain", "example.dev", "--ca-domain", "203.0.113.0/24",
        "--host", "example.dev", "--host", "api.example.dev", "--host", "203.0.113.7",
    )  # fmt: skip
    assert code == 0, out
    permitted = list(ca_constraints(load(d / "ca.pem")).permitted_subtrees or [])  # type: ignore[union-attr]
    assert x509.DNSName("example.dev") in permitted
    assert x509.IPAddress(ipaddress.ip_network("203.0.113.0/24")) in permitted
    assert "May sign:" in out and "example.dev" in out
    assert openssl_verify(d / "ca.pem", d / "cert.pem").returncode == 0
    # The domain exists in this CA now; a domain it lacks is refused with the rotate-ca fix.
    code, _, err = cli(capsys, "cert", "create", "--cert-dir", str(d), "--ca-domain", "other.dev")
    assert code == 2 and "rotate-ca --ca-domain other.dev" in err


def test_cli_unconstrained_ca_warns_what_it_risks_and_show_flags_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "c"
    code, out, _ = cli(
        capsys, "cert", "create", "--cert-dir", str(d), "--unconstrained-ca", "--host", "www.example.com"
    )
    assert code == 0
    assert (
        "Warning: --unconstrained-ca" in out
        and "ANY name" in out
        and "impersonate" in out
        and "ca-key.pem" in out
    )
    assert ca_constraints(load(d / "ca.pem")) is None
    code, out, _ = cli(capsys, "cert", "show", "--cert-dir", str(d))
    assert "any name (no name constraints)" in out and "cert rotate-ca" in out
    constrained = tmp_path / "k"
    assert cli(capsys, "cert", "create", "--cert-dir", str(constrained))[0] == 0
    code, out, _ = cli(capsys, "cert", "show", "--cert-dir", str(constrained))
    assert "no name constraints" not in out and "May sign:    localhost, .test" in out


# --- --days -------------------------------------------------------------------------------------------


def test_cli_days_sets_the_leaf_lifetime_and_caps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "c"
    assert cli(capsys, "cert", "create", "--cert-dir", str(d), "--days", "7")[0] == 0
    leaf = load(d / "cert.pem")
    life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert dt.timedelta(days=7) <= life <= dt.timedelta(days=7, hours=2)
    # ensure() (what serving runs) keeps a 7-day leaf rather than replacing it with a 397-day one.
    fingerprint = leaf.fingerprint(hashes.SHA256())
    CertStore(d).ensure()
    assert load(d / "cert.pem").fingerprint(hashes.SHA256()) == fingerprint
    assert cli(capsys, "cert", "create", "--cert-dir", str(d))[0] == 0
    leaf = load(d / "cert.pem")
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(days=397, hours=1)
    for bad in ("398", "0", "x"):
        with pytest.raises(SystemExit) as info:
            cli(capsys, "cert", "create", "--cert-dir", str(d), "--days", bad)
        assert info.value.code == 2
        assert "--days" in capsys.readouterr().err


# --- cert check -----------------------------------------------------------------------------------------


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "c"
    code, out, _ = cli(capsys, "cert", "check", "--cert-dir", str(d))
    assert code == 2 and out.count("\n") == 1 and "No certificate" in out

    assert cli(capsys, "cert", "create", "--cert-dir", str(d), "--days", "60")[0] == 0
    code, out, _ = cli(capsys, "cert", "check", "--cert-dir", str(d))
    assert code == 0 and out.count("\n") == 1 and "chains to the local CA" in out
    code, out, _ = cli(capsys, "cert", "check", "--cert-dir", str(d), "--within", "90")
    assert code == 1 and out.count("\n") == 1 and "within 90 days" in out

    # Expired: made 10 days ago for 2 days.
    store = CertStore(d)
    store.create_leaf(["localhost"], now=dt.datetime.now(UTC) - dt.timedelta(days=10), days=2)
    code, out, _ = cli(capsys, "cert", "check", "--cert-dir", str(d))
    assert code == 2 and out.count("\n") == 1 and "expired on" in out

    # Valid, but signed by another CA than the folder's.
    other_key = generate_key()
    other = build_ca(other_key, common_name="Another CA")
    key = generate_key()
    write_pem(d / "cert.pem", build_leaf(other, other_key, key, ["localhost"]))
    write_key(d / "key.pem", key)
    os.chmod(d / "key.pem", 0o600)
    code, out, _ = cli(capsys, "cert", "check", "--cert-dir", str(d))
    assert code == 2 and out.count("\n") == 1 and "was not issued by the local CA" in out


# --- rotate-ca -----------------------------------------------------------------------------------------


def nss_nicknames(home: Path) -> dict[str, str]:
    out = subprocess.run(
        ["certutil", "-d", f"sql:{home / '.pki' / 'nssdb'}", "-L"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    rows = {}
    for line in out.splitlines()[4:]:
        if line.strip():
            nickname, _, trust = line.rstrip().rpartition(" ")
            rows[nickname.strip()] = trust
    return rows


def test_rotate_ca_makes_a_constrained_ca_re_signs_backs_up_and_moves_trust(
    home: Path, tmp_path: Path, certutil: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "c"
    assert (
        cli(
            capsys,
            "cert",
            "create",
            "--cert-dir",
            str(d),
            "--unconstrained-ca",
            "--host",
            "myapp.dev",
            "--host",
            "localhost",
        )[0]
        == 0
    )
    code, out, _ = cli(capsys, "trust", "install", "--cert-dir", str(d), "--store", "chromium")
    assert code == 0 and "now trusts" in out
    old_files = {name: (d / name).read_bytes() for name in ("ca.pem", "ca-key.pem", "cert.pem", "key.pem")}
    old_cn = load(d / "ca.pem").subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert nss_nicknames(home) == {old_cn: "C,,"}

    # The leaf names myapp.dev, which the new CA permits only when asked: refused, nothing changed.
    code, _, err = cli(capsys, "cert", "rotate-ca", "--cert-dir", str(d), "--store", "chromium")
    assert code == 2 and err.count("\n") == 1 and "--ca-domain myapp.dev" in err
    code, out, _ = cli(
        capsys,
        "cert",
        "rotate-ca",
        "--cert-dir",
        str(d),
        "--store",
        "chromium",
        "--ca-domain",
        "myapp.dev",
        "--dry-run",
    )
    assert code == 0 and "would run: certutil" in out and "-D -n" in out and "Dry run" in out
    assert not list(d.glob("backup-*")) and (d / "ca.pem").read_bytes() == old_files["ca.pem"]
    assert nss_nicknames(home) == {old_cn: "C,,"}

    code, out, err = cli(
        capsys, "cert", "rotate-ca", "--cert-dir", str(d), "--store", "chromium", "--ca-domain", "myapp.dev"
    )
    assert code == 0, err
    # The new CA: constrained (with the domain), a new key and a name of its own.
    ca = load(d / "ca.pem")
    constraints = ca_constraints(ca)
    assert constraints is not None
    assert x509.DNSName("myapp.dev") in (constraints.permitted_subtrees or [])
    new_cn = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert new_cn != old_cn and (d / "ca-key.pem").read_bytes() != old_files["ca-key.pem"]
    # The leaf: re-signed by it, same names, and it verifies.
    leaf = load(d / "cert.pem")
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["myapp.dev", "localhost"]
    proc = openssl_verify(d / "ca.pem", d / "cert.pem")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    handshake(d / "ca.pem", d / "cert.pem", d / "key.pem", "myapp.dev")
    # The backup: the old files as they were, private.
    (backup,) = d.glob("backup-*")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    for name, data in old_files.items():
        assert (backup / name).read_bytes() == data
    assert stat.S_IMODE((backup / "ca-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((backup / "key.pem").stat().st_mode) == 0o600
    # Trust moved: the NSS database trusts the new CA, and the old one is gone from it.
    assert nss_nicknames(home) == {new_cn: "C,,"}
    assert "now trusts" in out and "removed" in out
    code, out, _ = cli(capsys, "trust", "status", "--cert-dir", str(d), "--store", "chromium")
    assert code == 0 and "  trusted" in out
    code, out, _ = cli(capsys, "cert", "check", "--cert-dir", str(d))
    assert code == 0


def test_rotate_ca_without_a_ca_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "cert", "rotate-ca", "--cert-dir", str(tmp_path / "c"), "--dry-run")
    assert code == 2 and err.count("\n") == 1 and "cert create" in err
