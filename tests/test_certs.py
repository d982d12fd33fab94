"""launcher.certs with real generated certificates, real files and real TLS handshakes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from launcher import certs
from launcher.certs import (
    DEFAULT_HOSTS,
    LEAF_VALIDITY,
    CertStore,
    KeyType,
    build_ca,
    build_leaf,
    describe,
    generate_key,
    parse_name,
    validate_pair,
)
from launcher.errors import (
    CertDirError,
    CertExpiredError,
    CertFileError,
    CertNotYetValidError,
    ChainError,
    HostNotCoveredError,
    InvalidNameError,
    KeyMismatchError,
)

UTC = dt.UTC


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def ext(cert: x509.Certificate, cls: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(cls)


def key_pem(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def store(tmp_path: Path) -> CertStore:
    s = CertStore(tmp_path / "certs")
    s.ensure()
    return s


@pytest.fixture(scope="module")
def other_ca() -> tuple[x509.Certificate, object]:
    key = generate_key()
    return build_ca(key, common_name="Some other CA"), key


# --- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost", x509.DNSName("localhost")),
        ("DNS:Example.TEST", x509.DNSName("example.test")),
        ("*.example.test", x509.DNSName("*.example.test")),
        ("127.0.0.1", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        ("IP:::1", x509.IPAddress(ipaddress.ip_address("::1"))),
        ("[::1]", x509.IPAddress(ipaddress.ip_address("::1"))),
        ("bücher.test", x509.DNSName("xn--bcher-kva.test")),
    ],
)
def test_parse_name_types_ips_and_dns(text: str, expected: x509.GeneralName) -> None:
    assert parse_name(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "  ", "bad name", "-a.test", "a..test", "IP:999.1.1.1", "DNS:127.0.0.1", "a.*.test", "*", "x" * 64],
)
def test_parse_name_rejects_bad_names(text: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_name(text)
    assert "\n" not in str(info.value) and str(info.value).endswith(".")


# --- generation ---------------------------------------------------------------------------------


def test_ca_extensions(store: CertStore) -> None:
    ca = load(store.ca_cert_path)
    bc = ext(ca, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext(ca, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
    ski = ext(ca, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    cn = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn.startswith("Flask HTTPS Launcher local CA (") and "@" in cn
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert ca.issuer == ca.subject
    life = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert dt.timedelta(days=3649) < life < dt.timedelta(days=3652)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)


def test_leaf_extensions(store: CertStore) -> None:
    ca, leaf = load(store.ca_cert_path), load(store.cert_path)
    now = dt.datetime.now(UTC)
    # backdated ~1 hour for clock skew, at most 397 days (+ the backdate) long
    assert now - dt.timedelta(hours=2) < leaf.not_valid_before_utc < now - dt.timedelta(minutes=50)
    assert leaf.not_valid_after_utc - now <= LEAF_VALIDITY
    assert dt.timedelta(days=397) >= LEAF_VALIDITY
    ku = ext(leaf, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_encipherment
    assert not ku.value.key_cert_sign
    assert list(ext(leaf, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not ext(leaf, x509.BasicConstraints).value.ca
    aki = ext(leaf, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(ca, x509.SubjectKeyIdentifier).value.digest
    with pytest.raises(x509.ExtensionNotFound):
        ext(leaf, x509.SubjectKeyIdentifier)
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)


def test_sans_are_typed(store: CertStore) -> None:
    san = ext(load(store.cert_path), x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert describe(store.cert_path).sans == ("DNS:localhost", "IP:127.0.0.1", "IP:::1")


def test_generated_chain_passes_web_pki_verifier(store: CertStore) -> None:
    """cryptography's CA/Browser-Forum-profile verifier accepts the generated CA and leaf."""
    ca, leaf = load(store.ca_cert_path), load(store.cert_path)
    for subject in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        chain = PolicyBuilder().store(Store([ca])).build_server_verifier(subject).verify(leaf, [])
        assert chain[-1] == ca
    with pytest.raises(Exception, match=r"(?i)name|san|subject"):
        PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName("example.com")).verify(leaf, [])


def test_key_and_folder_permissions(tmp_path: Path) -> None:
    s = CertStore(tmp_path / "a" / "certs")
    s.ensure()
    assert stat.S_IMODE(os.stat(s.directory).st_mode) == 0o700
    for path in (s.key_path, s.ca_key_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # no temporary files left behind
    assert sorted(p.name for p in s.directory.iterdir()) == ["ca-key.pem", "ca.pem", "cert.pem", "key.pem"]


def test_key_is_0600_even_with_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        s = CertStore(tmp_path / "certs")
        s.ensure()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(s.key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(s.directory).st_mode) == 0o700


def test_ca_is_reused_and_leaf_kept(tmp_path: Path) -> None:
    first = CertStore(tmp_path)
    leaf1 = first.ensure()
    ca1 = first.ca_info()
    second = CertStore(tmp_path)  # a later run
    leaf2 = second.ensure()
    assert second.ca_info() == ca1
    assert leaf2.fingerprint_sha256 == leaf1.fingerprint_sha256
    # an explicit new leaf is signed by the same CA
    leaf3 = second.create_leaf(["localhost"])
    assert leaf3.fingerprint_sha256 != leaf1.fingerprint_sha256
    assert second.ca_info() == ca1
    load(second.cert_path).verify_directly_issued_by(load(second.ca_cert_path))


def test_concurrent_ensure_makes_one_ca(tmp_path: Path) -> None:
    """The GUI's worker and the HTTPS start may call ensure() at once: one CA, a matching leaf."""
    s = CertStore(tmp_path / "certs")
    barrier = threading.Barrier(8)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(CertStore(s.directory).ensure().issuer)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 8 and len(set(results)) == 1
    validate_pair(s.cert_path.read_bytes(), s.key_path.read_bytes(), ca_pem=s.ca_cert_path.read_bytes())


def test_ensure_adds_missing_hosts_and_keeps_old_names(store: CertStore) -> None:
    before = store.leaf_info()
    info = store.ensure(hosts=("localhost", "myapp.test", "192.168.1.5"))
    assert info.fingerprint_sha256 != before.fingerprint_sha256
    assert info.sans == ("DNS:localhost", "IP:127.0.0.1", "IP:::1", "DNS:myapp.test", "IP:192.168.1.5")
    assert store.ensure(hosts=("myapp.test",)).fingerprint_sha256 == info.fingerprint_sha256


def test_ensure_renews_leaf_near_expiry_keeping_ca(tmp_path: Path) -> None:
    s = CertStore(tmp_path)
    past = dt.datetime.now(UTC) - LEAF_VALIDITY + dt.timedelta(days=10)  # 10 days left
    old = s.ensure(now=past)
    ca = s.ca_info()
    assert old.expiring_soon(30)
    new = s.ensure()
    assert new.fingerprint_sha256 != old.fingerprint_sha256
    assert new.days_left >= 396
    assert s.ca_info() == ca


def test_ensure_repairs_corrupt_and_mismatched_leaf(store: CertStore) -> None:
    store.key_path.write_bytes(key_pem(generate_key()))
    info = store.ensure()
    validate_pair(
        store.cert_path.read_bytes(), store.key_path.read_bytes(), ca_pem=store.ca_cert_path.read_bytes()
    )
    store.cert_path.write_text("garbage")
    assert store.ensure().fingerprint_sha256 != info.fingerprint_sha256


def test_ensure_keeps_rsa_choice_unless_asked(tmp_path: Path) -> None:
    s = CertStore(tmp_path)
    s.create_leaf(DEFAULT_HOSTS, KeyType.RSA_2048)
    assert s.ensure().key_type == "RSA 2048"  # servers call ensure() without a key type
    assert s.ensure(key_type=KeyType.ECDSA_P256).key_type == "ECDSA P-256"


def test_rsa_leaf_has_key_encipherment(tmp_path: Path) -> None:
    s = CertStore(tmp_path)
    info = s.create_leaf(["localhost"], KeyType.RSA_3072)
    assert info.key_type == "RSA 3072"
    leaf = load(s.cert_path)
    assert isinstance(leaf.public_key(), rsa.RSAPublicKey)
    assert ext(leaf, x509.KeyUsage).value.key_encipherment
    handshake(s, "localhost")


def test_ca_missing_key_is_a_clear_error(store: CertStore) -> None:
    store.ca_key_path.unlink()
    store.cert_path.unlink()
    with pytest.raises(CertFileError, match=r"CA key .* is missing"):
        store.ensure()


def test_expired_ca_is_replaced(tmp_path: Path) -> None:
    s = CertStore(tmp_path)
    s.ensure(now=dt.datetime.now(UTC) - dt.timedelta(days=3660))
    old_ca = s.ca_info()
    assert old_ca.expired
    assert "expired" in s.ca_expiry_warning()
    s.ensure()
    assert not s.ca_info().expired and s.ca_info().fingerprint_sha256 != old_ca.fingerprint_sha256
    validate_pair(s.cert_path.read_bytes(), s.key_path.read_bytes(), ca_pem=s.ca_cert_path.read_bytes())


def test_ca_expiry_warning_one_year_ahead(tmp_path: Path) -> None:
    s = CertStore(tmp_path)
    s.ensure()
    assert s.ca_expiry_warning() is None
    s2 = CertStore(tmp_path / "old")
    s2.ensure_ca(now=dt.datetime.now(UTC) - dt.timedelta(days=3650 - 200))
    warning = s2.ca_expiry_warning()
    assert warning and "days left" in warning and "trust install" in warning


def test_unwritable_dir_is_cert_dir_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CertDirError, match=r"Cannot write to the certificate folder|not a folder"):
        CertStore(blocker / "certs").ensure()


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux sysfs")
def test_dir_even_root_cannot_write_is_cert_dir_error() -> None:
    with pytest.raises(
        CertDirError, match=r"Cannot write to the certificate folder /sys/launcher-certs: .*--cert-dir"
    ):
        CertStore("/sys/launcher-certs").ensure()


def test_read_only_dir_is_cert_dir_error(tmp_path: Path) -> None:
    """An empty folder that cannot be written: the error says the CA had to be created there.

    0500 stops a normal user; ``chattr +i`` stops root too (this suite runs as root)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    immutable = os.access(ro, os.W_OK) and subprocess.run(["chattr", "+i", str(ro)]).returncode == 0
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root where chattr +i is not available: nothing refuses root's writes")
        with pytest.raises(
            CertDirError,
            match=r"Cannot write to the certificate folder .*: (Permission denied|Operation not permitted)\."
            r" There is no local CA yet, so one must be created: .*--cert-dir",
        ):
            CertStore(ro).ensure()
        assert list(ro.iterdir()) == []
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(ro)], check=False)
        ro.chmod(0o700)


def test_failed_write_leaves_old_key_and_no_temp(store: CertStore, monkeypatch: pytest.MonkeyPatch) -> None:
    old_key = store.key_path.read_bytes()

    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(certs.os, "fsync", boom)
    with pytest.raises(CertDirError, match=r"No space left"):
        store.create_leaf(["localhost"])
    monkeypatch.undo()
    assert store.key_path.read_bytes() == old_key
    assert not [p for p in store.directory.iterdir() if p.name.endswith(".tmp")]


# --- describe ---------------------------------------------------------------------------------------


def test_describe_fields(store: CertStore) -> None:
    leaf, ca = describe(store.cert_path.read_bytes()), describe(str(store.ca_cert_path))
    assert leaf.subject.startswith("CN=localhost")
    assert leaf.issuer == ca.subject and ca.is_ca and not leaf.is_ca
    fp = leaf.fingerprint_sha256
    assert len(fp) == 95 and fp == fp.upper() and fp.count(":") == 31
    assert fp.replace(":", "").lower() == load(store.cert_path).fingerprint(certs.hashes.SHA256()).hex()
    assert leaf.key_type == "ECDSA P-256"
    assert leaf.not_before.tzinfo is not None and leaf.not_after.utcoffset() == dt.timedelta(0)
    assert 395 <= leaf.days_left <= 397
    assert not leaf.expired and not leaf.expiring_soon() and leaf.expiring_soon(400)
    assert int(leaf.serial, 16) == load(store.cert_path).serial_number
    assert ca.common_name.startswith("Flask HTTPS Launcher local CA")
    text = "\n".join(leaf.lines())
    assert "DNS:localhost, IP:127.0.0.1, IP:::1" in text and "days left" in text


def test_describe_missing_and_corrupt_file(tmp_path: Path) -> None:
    with pytest.raises(CertFileError, match=r"nope.pem does not exist"):
        describe(tmp_path / "nope.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(CertFileError, match=r"bad.pem is not a PEM certificate"):
        describe(bad)


# --- validation ---------------------------------------------------------------------------------


def pair(store: CertStore) -> tuple[bytes, bytes, bytes]:
    return store.cert_path.read_bytes(), store.key_path.read_bytes(), store.ca_cert_path.read_bytes()


def test_validate_ok_for_each_default_host(store: CertStore) -> None:
    cert, key, ca = pair(store)
    for host in ("localhost", "127.0.0.1", "::1", "[::1]", "LOCALHOST"):
        assert validate_pair(cert, key, host=host, ca_pem=ca).sans[0] == "DNS:localhost"


def test_validate_key_mismatch(store: CertStore) -> None:
    cert, _, _ = pair(store)
    with pytest.raises(KeyMismatchError, match=r"does not belong to the certificate"):
        validate_pair(cert, key_pem(generate_key()))


def test_validate_expired_says_when(store: CertStore) -> None:
    ca, ca_key = store.ensure_ca()
    key = generate_key()
    when = dt.datetime(2020, 1, 1, tzinfo=UTC)
    leaf = build_leaf(ca, ca_key, key, ["localhost"], now=when)
    with pytest.raises(CertExpiredError) as info:
        validate_pair(pem(leaf), key_pem(key), cert_source="The certificate old.pem")
    message = str(info.value)
    assert "old.pem expired on 2021-02-01" in message and "days ago" in message and "cert create" in message


def test_validate_not_yet_valid(store: CertStore) -> None:
    ca, ca_key = store.ensure_ca()
    key = generate_key()
    leaf = build_leaf(ca, ca_key, key, ["localhost"], now=dt.datetime.now(UTC) + dt.timedelta(days=2))
    with pytest.raises(CertNotYetValidError, match=r"not valid until .*clock"):
        validate_pair(pem(leaf), key_pem(key))
    # the same certificate is fine when "now" is inside its window
    validate_pair(pem(leaf), key_pem(key), now=dt.datetime.now(UTC) + dt.timedelta(days=3))


def test_validate_host_not_covered(store: CertStore) -> None:
    cert, key, _ = pair(store)
    with pytest.raises(HostNotCoveredError, match=r"does not cover example\.com; it names DNS:localhost"):
        validate_pair(cert, key, host="example.com")
    with pytest.raises(HostNotCoveredError):
        validate_pair(cert, key, host="10.0.0.1")


def test_validate_wildcard_one_label_deep(store: CertStore) -> None:
    ca, ca_key = store.ensure_ca()
    key = generate_key()
    leaf = pem(build_leaf(ca, ca_key, key, ["*.example.test"]))
    validate_pair(leaf, key_pem(key), host="a.example.test")
    for host in ("example.test", "a.b.example.test", "aexample.test"):
        with pytest.raises(HostNotCoveredError):
            validate_pair(leaf, key_pem(key), host=host)


def test_validate_ip_in_dns_name_is_explained(store: CertStore) -> None:
    """A werkzeug-style certificate with the IP in a DNS SAN: clients reject it, and we say why.
    (Made by an unconstrained CA: a constrained one refuses to sign that name at all.)"""
    ca_key = generate_key()
    ca = build_ca(ca_key, constrained=False)
    key = generate_key()
    bad = build_leaf(ca, ca_key, key, [x509.DNSName("127.0.0.1")])
    with pytest.raises(HostNotCoveredError, match=r"lists 127.0.0.1 as a DNS name"):
        validate_pair(pem(bad), key_pem(key), host="127.0.0.1")


def test_validate_chain_against_other_ca_fails(store: CertStore, other_ca) -> None:
    cert, key, _ = pair(store)
    with pytest.raises(ChainError, match=r"was not issued by the CA other.pem"):
        validate_pair(cert, key, ca_pem=pem(other_ca[0]), ca_source="other.pem")


def test_validate_chain_through_intermediate_in_file(tmp_path: Path) -> None:
    root_key = generate_key()
    root = build_ca(root_key, common_name="Root")
    # an intermediate CA signed by the root
    inter_key = generate_key()
    inter = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intermediate")]))
        .issuer_name(root.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(UTC) - dt.timedelta(hours=1))
        .not_valid_after(dt.datetime.now(UTC) + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()), critical=False)
        .sign(root_key, certs.hashes.SHA256())
    )
    key = generate_key()
    leaf = build_leaf(inter, inter_key, key, ["localhost"])
    validate_pair(pem(leaf) + pem(inter), key_pem(key), ca_pem=pem(root))
    with pytest.raises(ChainError):
        validate_pair(pem(leaf), key_pem(key), ca_pem=pem(root))  # intermediate missing


def test_validate_expired_ca(store: CertStore) -> None:
    ca_key = generate_key()
    old_ca = build_ca(ca_key, now=dt.datetime.now(UTC) - dt.timedelta(days=3660))
    key = generate_key()
    leaf = build_leaf(old_ca, ca_key, key, ["localhost"], now=dt.datetime.now(UTC) - dt.timedelta(days=3660))
    # the leaf's validity is capped by the CA's, so the leaf is already expired too
    with pytest.raises(CertExpiredError):
        validate_pair(pem(leaf), key_pem(key), ca_pem=pem(old_ca))


@pytest.mark.parametrize(
    ("cert", "key", "error", "match"),
    [
        (b"not pem", None, CertFileError, "not a PEM certificate"),
        (None, b"not pem", CertFileError, "not a PEM private key"),
        (None, "cert-as-key", CertFileError, "not a PEM private key"),
    ],
)
def test_validate_corrupt_inputs(store: CertStore, cert, key, error, match) -> None:
    good_cert, good_key, _ = pair(store)
    key = good_cert if key == "cert-as-key" else key
    with pytest.raises(error, match=match):
        validate_pair(cert or good_cert, key or good_key)


def test_validate_encrypted_key(store: CertStore) -> None:
    cert, key, _ = pair(store)
    loaded = serialization.load_pem_private_key(key, None)
    encrypted = loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(CertFileError, match=r"encrypted with a passphrase.*openssl pkey"):
        validate_pair(cert, encrypted)


# --- import ----------------------------------------------------------------------------------------


def make_user_pair(
    tmp_path: Path, *, now: dt.datetime | None = None, hosts=("myapp.test",), validity=LEAF_VALIDITY
):
    """A user's own CA + certificate + key in files outside the store."""
    ca_key = generate_key()
    ca = build_ca(ca_key, common_name="User CA", now=now)
    key = generate_key(KeyType.RSA_2048)
    leaf = build_leaf(ca, ca_key, key, list(hosts), now=now, validity=validity)
    d = tmp_path / "user"
    d.mkdir(exist_ok=True)
    (d / "cert.pem").write_bytes(pem(leaf))
    (d / "key.pem").write_bytes(key_pem(key))
    (d / "ca.pem").write_bytes(pem(ca))
    return d / "cert.pem", d / "key.pem", d / "ca.pem"


def test_import_pair_copies_and_is_kept(store: CertStore, tmp_path: Path) -> None:
    cert, key, ca = make_user_pair(tmp_path)
    our_ca = store.ca_info()
    info = store.import_pair(cert, key, host="myapp.test", ca_file=ca)
    assert info.sans == ("DNS:myapp.test",) and info.key_type == "RSA 2048"
    assert store.cert_path.read_bytes() == cert.read_bytes()
    assert store.key_path.read_bytes() == key.read_bytes()
    assert stat.S_IMODE(os.stat(store.key_path).st_mode) == 0o600
    assert store.is_imported and json.loads(store.marker_path.read_text())["cert"] == str(cert.resolve())
    assert store.ca_info() == our_ca  # our CA is untouched
    # ensure() (as the servers call it) does not replace the user's certificate, even for other hosts
    assert store.ensure(hosts=DEFAULT_HOSTS).fingerprint_sha256 == info.fingerprint_sha256
    # create_leaf is the explicit way back to generated certificates
    store.create_leaf(DEFAULT_HOSTS)
    assert not store.is_imported and store.leaf_info().sans == ("DNS:localhost", "IP:127.0.0.1", "IP:::1")


def test_import_rejects_and_writes_nothing(store: CertStore, tmp_path: Path, other_ca) -> None:
    cert, key, _ = make_user_pair(tmp_path)
    before = store.cert_path.read_bytes(), store.key_path.read_bytes()
    with pytest.raises(HostNotCoveredError):
        store.import_pair(cert, key, host="localhost")
    with pytest.raises(KeyMismatchError, match=str(key.parent)):
        store.import_pair(cert, store.key_path)
    (tmp_path / "other.pem").write_bytes(pem(other_ca[0]))
    with pytest.raises(ChainError, match=r"other.pem"):
        store.import_pair(cert, key, ca_file=tmp_path / "other.pem")
    with pytest.raises(CertFileError, match=r"certificate file .*missing\.pem does not exist"):
        store.import_pair(tmp_path / "missing.pem", key)
    (tmp_path / "corrupt.pem").write_text("-----BEGIN PRIVATE KEY-----\nzz\n-----END PRIVATE KEY-----\n")
    with pytest.raises(CertFileError, match=r"corrupt.pem is not a PEM private key"):
        store.import_pair(cert, tmp_path / "corrupt.pem")
    assert (store.cert_path.read_bytes(), store.key_path.read_bytes()) == before
    assert not store.is_imported


def test_expired_import_raises_instead_of_being_replaced(store: CertStore, tmp_path: Path) -> None:
    now = dt.datetime.now(UTC)
    cert, key, _ = make_user_pair(tmp_path, now=now - dt.timedelta(days=100), validity=dt.timedelta(days=90))
    store.import_pair(cert, key, now=now - dt.timedelta(days=50))  # valid back then
    with pytest.raises(
        CertExpiredError, match=r"imported certificate .* expired on .*cert import.*cert create"
    ):
        store.ensure()
    assert store.cert_path.read_bytes() == cert.read_bytes()  # still the user's


# --- real TLS handshakes ----------------------------------------------------------------------------


def handshake(store: CertStore, server_hostname: str, cafile: Path | None = None) -> dict:
    """Handshake over a socketpair: server loaded with the leaf, client verifying against ``cafile``."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(store.cert_path, store.key_path)
    client_ctx = ssl.create_default_context(cafile=str(cafile or store.ca_cert_path))
    a, b = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname=server_hostname) as tls:
            peer = tls.getpeercert()
            tls.sendall(b"x")
            return peer
    finally:
        b.close()
        thread.join(5)
        a.close()


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1", "::1"])
def test_tls_handshake_verifies(store: CertStore, hostname: str) -> None:
    peer = handshake(store, hostname)
    assert ("DNS", "localhost") in peer["subjectAltName"]
    assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]


def test_tls_handshake_wrong_host_fails(store: CertStore) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=r"mismatch|doesn't match"):
        handshake(store, "example.com")


def test_tls_handshake_other_ca_fails(store: CertStore, tmp_path: Path, other_ca) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(pem(other_ca[0]))
    with pytest.raises(ssl.SSLCertVerificationError, match=r"unable to get local issuer"):
        handshake(store, "localhost", cafile=other)


# --- CLI: flask-launcher cert ... -----------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from launcher.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_cert_create_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "c")
    code, out, _ = cli(capsys, "cert", "show", "--cert-dir", d)
    assert code == 0 and "No certificates yet" in out
    code, out, _ = cli(
        capsys, "cert", "create", "--cert-dir", d, "--host", "myapp.test", "--host", "IP:10.1.2.3",
        "--key-type", "rsa-2048",
    )  # fmt: skip
    assert code == 0 and out.startswith("Created the local CA; created a certificate for DNS:myapp.test")
    assert "Key:         RSA 2048" in out and "certificate authority" in out
    ca_fp = describe(Path(d) / "ca.pem").fingerprint_sha256
    code, out, _ = cli(capsys, "--cert-dir", d, "cert", "create")  # --cert-dir before the subcommand
    assert (
        code == 0 and out.startswith("Reused the local CA") and "DNS:localhost, IP:127.0.0.1, IP:::1" in out
    )
    assert describe(Path(d) / "ca.pem").fingerprint_sha256 == ca_fp
    code, out, _ = cli(capsys, "cert", "show", "--cert-dir", d)
    assert code == 0 and f"SHA-256:     {ca_fp}" in out and "Served certificate:" in out


def test_cli_cert_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "c")
    cert, key, ca = make_user_pair(tmp_path)
    code, out, err = cli(capsys, "cert", "import", str(cert), str(key), "--ca", str(ca), "--cert-dir", d)
    assert (code, err) == (0, "") and "Imported" in out and "DNS:myapp.test" in out
    code, out, _ = cli(capsys, "cert", "show", "--cert-dir", d)
    assert "Served certificate (imported)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cert", "create", "--host", "bad name"], "'bad name' is not a valid host name"),
        (["cert", "import", "/nonexistent/c.pem", "/nonexistent/k.pem"], "c.pem does not exist"),
        (["cert", "create", "--key-type", "dsa"], "invalid choice: 'dsa'"),
        (["cert", "create", "--cert-dir", "/sys/launcher-certs"], "Cannot write to the certificate folder"),
    ],
)
def test_cli_cert_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    if "--cert-dir" not in args:
        args = [*args, "--cert-dir", str(tmp_path / "c")]
    try:
        code, _, err = cli(capsys, *args)
    except SystemExit as exc:  # argparse errors exit directly
        code, err = exc.code, capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_cert_import_mismatch_and_expired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "c")
    cert, _, _ = make_user_pair(tmp_path)
    other_key = tmp_path / "other-key.pem"
    other_key.write_bytes(key_pem(generate_key()))
    code, _, err = cli(capsys, "cert", "import", str(cert), str(other_key), "--cert-dir", d)
    assert code == 2 and "does not belong to the certificate" in err
    old = tmp_path / "old"
    old.mkdir()
    cert, key, _ = make_user_pair(old, now=dt.datetime(2020, 1, 1, tzinfo=UTC))
    code, _, err = cli(capsys, "cert", "import", str(cert), str(key), "--cert-dir", d)
    assert code == 2 and "expired on 2021-02-01" in err


# --- cert import without --ca: the signatures inside the file -------------------------------------


def user_ca() -> tuple[x509.Certificate, certs.PrivateKey]:
    ca_key = generate_key()
    return build_ca(ca_key, common_name="User CA"), ca_key


def altered_issuer(leaf: x509.Certificate) -> x509.Certificate:
    """``leaf`` with one letter of its issuer's CN changed in the DER bytes, the signature kept:
    what a corrupted (or doctored) file holds.  The issuer name occurs once in a leaf."""
    der = leaf.public_bytes(serialization.Encoding.DER)
    assert der.count(b"User CA") == 1
    return x509.load_der_x509_certificate(der.replace(b"User CA", b"User CX"))


def write_pair(tmp_path: Path, name: str, chain: list[x509.Certificate], key: object) -> tuple[Path, Path]:
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}-key.pem"
    cert_file.write_bytes(b"".join(pem(c) for c in chain))
    key_file.write_bytes(key_pem(key))
    return cert_file, key_file


def test_import_without_ca_refuses_an_altered_or_forged_signature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path / "c")
    ca, ca_key = user_ca()
    key = generate_key()
    leaf = build_leaf(ca, ca_key, key, ["myapp.test"])
    # the valid chain (leaf + its CA) passes without a warning
    cert_file, key_file = write_pair(tmp_path, "good", [leaf, ca], key)
    code, out, err = cli(capsys, "cert", "import", str(cert_file), str(key_file), "--cert-dir", d)
    assert (code, err) == (0, "") and out.startswith("Imported") and "Warning" not in out
    imported = (Path(d) / "cert.pem").read_bytes()
    # the issuer name altered in the DER bytes: its key identifier still names the CA in the file
    cert_file, key_file = write_pair(tmp_path, "altered", [altered_issuer(leaf), ca], key)
    code, _, err = cli(capsys, "cert", "import", str(cert_file), str(key_file), "--cert-dir", d)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert (
        f"The certificate {cert_file} names 'CN=User CX,O=Flask HTTPS Launcher' as its issuer, but its"
        " signature does not verify against 'CN=User CA,O=Flask HTTPS Launcher' in the same file:"
        " it was altered or forged" in err
    )
    # a certificate that claims the CA's name but was signed by another key
    forged = build_leaf(ca, generate_key(), key, ["myapp.test"])
    cert_file, key_file = write_pair(tmp_path, "forged", [forged, ca], key)
    code, _, err = cli(capsys, "cert", "import", str(cert_file), str(key_file), "--cert-dir", d)
    assert code == 2 and err.count("\n") == 1 and "signature does not verify" in err
    assert (Path(d) / "cert.pem").read_bytes() == imported  # nothing written


def test_import_without_ca_refuses_a_self_signed_certificate_whose_signature_was_altered(
    store: CertStore, tmp_path: Path
) -> None:
    key = generate_key()
    self_signed = build_ca(key, common_name="myapp.test")
    der = bytearray(self_signed.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value at the end
    broken = x509.load_der_x509_certificate(bytes(der))
    cert_file, key_file = write_pair(tmp_path, "self", [broken], key)
    with pytest.raises(ChainError, match=r"self\.pem names .* signature does not verify against itself"):
        store.import_pair(cert_file, key_file)
    assert not store.is_imported
    cert_file, key_file = write_pair(tmp_path, "self-ok", [self_signed], key)
    seen: list[str] = []
    CertStore(store.directory, on_warning=seen.append).import_pair(cert_file, key_file)
    assert seen == []  # a self-signed certificate is checked against itself


def test_import_without_ca_warns_when_the_issuer_is_not_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path / "c")
    ca, ca_key = user_ca()
    key = generate_key()
    # issuer absent: the signature cannot be checked, so the import goes ahead with a warning
    cert_file, key_file = write_pair(tmp_path, "alone", [build_leaf(ca, ca_key, key, ["myapp.test"])], key)
    code, out, err = cli(capsys, "cert", "import", str(cert_file), str(key_file), "--cert-dir", d)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        f"Warning: The certificate {cert_file} was not checked against its issuer:"
        " 'CN=User CA,O=Flask HTTPS Launcher' is not in the file; give the CA that signed it with --ca"
        " to check it."
    )
    assert out.splitlines()[1].startswith(f"Imported {cert_file}")
    # given --ca, the CA is the check, and there is nothing to warn about
    (tmp_path / "ca.pem").write_bytes(pem(ca))
    args = [str(cert_file), str(key_file), "--ca", str(tmp_path / "ca.pem"), "--cert-dir", d]
    code, out, err = cli(capsys, "cert", "import", *args)
    assert (code, err) == (0, "") and "Warning" not in out
