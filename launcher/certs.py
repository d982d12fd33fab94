"""The local CA, the leaf certificates it signs, and validation of a user's own certificate.

Files in a certificate folder (``CertStore``)::

    ca.pem        the launcher's local CA certificate (this is what gets trusted; never replaced by an import)
    ca-key.pem    the CA's private key, 0600
    cert.pem      the leaf certificate served on HTTPS (generated, or a user's imported certificate + chain)
    key.pem       the leaf's private key, 0600
    imported.json present when cert.pem/key.pem were imported by the user (see ``CertStore.import_pair``)

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so a crash
leaves either the old file or the new one, never half a key.  Key files are created with mode 0600 from
the start (``os.open(..., 0o600)``); a folder the store creates is 0700.

The store writes only when something must be written (no CA yet, a leaf to renew, an explicit
``create_leaf`` or ``import_pair``), so a folder mounted read-only (a container volume, a Kubernetes
secret) that holds a usable CA and leaf is served as it is; when a write is needed there, the error
says what had to be written and why.

Before it reads a key to serve or writes anything, the store checks that no one else can change the
folder (``CertStore.check_folder``): see the rules there.  What it fixes itself (a folder or key of
ours that others could read) it reports through ``on_warning``.

Limits: keys are stored unencrypted (like mkcert's): the folder permissions are the protection.  Imported
keys must be unencrypted PEM.  Only the first certificate of a PEM file is the leaf; any following ones are
taken as its chain, in order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import errno
import functools
import getpass
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from launcher.errors import (
    CertDirError,
    CertError,
    CertExpiredError,
    CertFileError,
    CertNotYetValidError,
    ChainError,
    ConfigError,
    HostNotCoveredError,
    InvalidNameError,
    KeyMismatchError,
    NameNotPermittedError,
    UnsafeCertDirError,
)
from launcher.recordformat import escape_control

__all__ = [
    "BACKDATE",
    "CA_PERMITTED_DNS",
    "CA_PERMITTED_NETWORKS",
    "CA_VALIDITY",
    "CA_WARN_BEFORE",
    "DEFAULT_HOSTS",
    "LEAF_RENEW_BEFORE",
    "LEAF_VALIDITY",
    "MAX_LEAF_DAYS",
    "CertInfo",
    "CertStore",
    "CheckResult",
    "CheckStatus",
    "KeyType",
    "Rotation",
    "RotationPlan",
    "build_ca",
    "build_leaf",
    "ca_constraints",
    "ca_name_constraints",
    "check_permitted",
    "constraint_texts",
    "default_cert_dir",
    "describe",
    "generate_key",
    "host_covered",
    "leaf_validity",
    "name_text",
    "parse_ca_domain",
    "parse_name",
    "permits",
    "validate_pair",
]

# --- policy constants (each with its reason) ------------------------------------------------------

#: 10 years, like mkcert: the user trusts the CA once per browser/OS; a short CA life would mean re-trusting.
CA_VALIDITY = dt.timedelta(days=3650)
#: Browsers cap *publicly trusted* leaves at 398 days; local CAs are exempt, but staying under the cap
#: avoids any client that applies it anyway, and ``ensure()`` renews for free.
LEAF_VALIDITY = dt.timedelta(days=397)
#: not_valid_before is set this far in the past, so a client whose clock is a little behind (VMs,
#: containers, a phone on the LAN) does not reject a certificate made a moment ago.
BACKDATE = dt.timedelta(hours=1)
#: A leaf this close to expiry is renewed by ``ensure()`` (the CA is kept, so trust survives).
LEAF_RENEW_BEFORE = dt.timedelta(days=30)
#: The CA's own expiry is announced this far ahead (re-trusting a new CA is a manual step).
CA_WARN_BEFORE = dt.timedelta(days=365)

#: The longest leaf ``cert create --days`` makes (the browsers' cap for public leaves, see above).
MAX_LEAF_DAYS = 397

#: DNS subtrees a new local CA may sign for (RFC 5280: a subtree covers the name and every name
#: below it, so ``localhost`` covers ``*.localhost`` too): names that no public CA can issue for
#: (RFC 6761 special-use names, ``.internal``, mDNS ``.local``, ``home.arpa``), so a stolen
#: ``ca-key.pem`` cannot impersonate a public web site to a browser that trusts the CA.
CA_PERMITTED_DNS = ("localhost", "test", "example", "invalid", "local", "internal", "home.arpa")
#: IP subtrees of a new local CA: loopback, private (RFC 1918, RFC 4193) and link-local ranges.
CA_PERMITTED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)

#: What a generated leaf covers by default.
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")

ORGANIZATION = "Flask HTTPS Launcher"
#: The store's warnings go here unless a ``CertStore`` is given ``on_warning``.
log = logging.getLogger("launcher.certs")
IMPORT_MARKER = "imported.json"

_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class KeyType(enum.StrEnum):
    """Key algorithm for new keys.  ECDSA P-256 is the default: a TLS handshake costs about half of RSA's."""

    ECDSA_P256 = "ecdsa-p256"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _shown(value: object) -> str:
    """``value`` as printable text: a path, or a name read from a certificate, may hold ESC or a line
    break, which must neither drive the terminal nor split a one-line message."""
    return escape_control(str(value))


def _aware(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return _utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(dt.UTC)


# --- names ----------------------------------------------------------------------------------------


def _dns_name(text: str, original: str) -> str:
    """Return ``text`` as a lower-case ASCII DNS name (IDN encoded), or raise InvalidNameError."""
    name = text.strip().rstrip(".").lower()
    wildcard = name.startswith("*.")
    body = name[2:] if wildcard else name
    try:
        body = body.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidNameError(
            f"{original!r} is not a valid host name: use letters, digits, hyphens and dots, or an IP address."
        ) from None
    labels = body.split(".")
    if (
        not body
        or len(body) > 253
        or not all(_LABEL_RE.match(label) for label in labels)
        or (wildcard and len(labels) < 2)
    ):
        hint = " A wildcard must be the whole left-most label, like *.example.test." if "*" in body else ""
        raise InvalidNameError(
            f"{original!r} is not a valid host name: use letters, digits, hyphens and dots"
            f" (each label 1-63 characters), or an IP address.{hint}"
        )
    return ("*." if wildcard else "") + body


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def parse_name(text: str) -> x509.GeneralName:
    """Parse ``"DNS:name"``, ``"IP:addr"`` or a bare name/IP into a typed SAN.

    A bare value that parses as an IP address becomes ``x509.IPAddress`` (never a DNS name: clients
    reject IPs in DNS SANs).  Unicode names are IDNA-encoded.  Raises InvalidNameError.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidNameError("An empty host name was given: give a host name such as localhost or an IP.")
    raw = text.strip()
    prefix, sep, rest = raw.partition(":")
    kind = prefix.upper() if sep else ""
    if kind == "IP":
        ip = _ip(rest)
        if ip is None:
            raise InvalidNameError(f"{rest!r} is not a valid IP address (from {raw!r}).")
        return x509.IPAddress(ip)
    if kind == "DNS":
        if _ip(rest) is not None:
            raise InvalidNameError(
                f"{rest!r} is an IP address: write it as IP:{rest}"
                " (clients reject IP addresses in DNS names)."
            )
        return x509.DNSName(_dns_name(rest, raw))
    ip = _ip(raw)
    if ip is not None:
        return x509.IPAddress(ip)
    return x509.DNSName(_dns_name(raw, raw))


def name_text(name: x509.GeneralName) -> str:
    """``x509.DNSName('a')`` -> ``"DNS:a"``, ``x509.IPAddress(...)`` -> ``"IP:127.0.0.1"``."""
    if isinstance(name, x509.DNSName):
        return f"DNS:{name.value}"
    if isinstance(name, x509.IPAddress):
        return f"IP:{name.value}"
    return f"{type(name).__name__}:{name.value}"


def _san_names(cert: x509.Certificate) -> list[x509.GeneralName]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(ext.value)


def _dns_matches(pattern: str, host: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        first, dot, rest = host.partition(".")
        # One label deep only: *.example.test covers a.example.test, not example.test or a.b.example.test.
        return bool(first) and bool(dot) and first != "*" and rest == pattern[2:]
    return pattern == host


def host_covered(cert: x509.Certificate, host: str) -> bool:
    """Whether the certificate's SANs cover ``host`` the way browsers check it (the CN is ignored)."""
    target = parse_name(host)
    for san in _san_names(cert):
        if isinstance(target, x509.IPAddress) and isinstance(san, x509.IPAddress):
            if san.value == target.value:
                return True
        elif (
            isinstance(target, x509.DNSName)
            and isinstance(san, x509.DNSName)
            and _dns_matches(san.value, target.value)
        ):
            return True
    return False


# --- name constraints -----------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ca_domain(text: str) -> x509.GeneralName:
    """A ``--ca-domain`` value as a permitted subtree: a DNS name (``example.dev`` permits it and
    every name below it; a leading ``.`` or ``*.`` is dropped) or an IP address or network
    (``203.0.113.5``, ``203.0.113.0/24``).  Raises InvalidNameError."""
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise InvalidNameError("An empty --ca-domain was given: give a domain such as example.dev.")
    try:
        return x509.IPAddress(ipaddress.ip_network(raw.strip("[]"), strict=False))
    except ValueError:
        pass
    name = raw.lower()
    for prefix in ("*.", "."):
        name = name.removeprefix(prefix)
    if "*" in name or "/" in name:
        raise InvalidNameError(
            f"{raw!r} is not a domain or IP network: give a domain such as example.dev (it covers its"
            " subdomains too) or a network such as 203.0.113.0/24."
        )
    return x509.DNSName(_dns_name(name, raw))


def ca_name_constraints(ca_domains: Sequence[str | x509.GeneralName] = ()) -> x509.NameConstraints:
    """The NameConstraints of a new local CA: ``CA_PERMITTED_DNS`` and ``CA_PERMITTED_NETWORKS``,
    plus the user's ``ca_domains`` (see ``parse_ca_domain``), without duplicates."""
    subtrees: list[x509.GeneralName] = [x509.DNSName(name) for name in CA_PERMITTED_DNS]
    subtrees += [x509.IPAddress(net) for net in CA_PERMITTED_NETWORKS]
    for domain in ca_domains:
        subtree = parse_ca_domain(domain) if isinstance(domain, str) else domain
        if subtree not in subtrees:
            subtrees.append(subtree)
    return x509.NameConstraints(permitted_subtrees=subtrees, excluded_subtrees=None)


def ca_constraints(ca: x509.Certificate) -> x509.NameConstraints | None:
    """The CA's NameConstraints, or None when it has none (it may sign for any name)."""
    try:
        return ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None


def _dns_in_subtree(name: str, base: str) -> bool:
    """RFC 5280 4.2.1.10: ``base`` covers itself and any name made by adding labels on its left
    (a wildcard label counts as a label, as OpenSSL and Chromium count it)."""
    name, base = name.lower().rstrip("."), base.lower().strip(".")
    return not base or name == base or name.endswith("." + base)


def permits(constraints: x509.NameConstraints | None, name: x509.GeneralName) -> bool:
    """Whether a CA with ``constraints`` (None: unconstrained) may sign a leaf naming ``name``.

    A type with no permitted subtree is not constrained (RFC 5280); an excluded subtree wins.
    """
    if constraints is None:
        return True

    def matches(subtree: x509.GeneralName) -> bool | None:
        if isinstance(name, x509.DNSName) and isinstance(subtree, x509.DNSName):
            return _dns_in_subtree(name.value, subtree.value)
        if isinstance(name, x509.IPAddress) and isinstance(subtree, x509.IPAddress):
            net = subtree.value
            addr = name.value
            return isinstance(net, Network) and addr.version == net.version and addr in net
        return None  # another type: this subtree says nothing about the name

    if any(matches(sub) for sub in constraints.excluded_subtrees or ()):
        return False
    permitted = [matches(sub) for sub in constraints.permitted_subtrees or ()]
    same_type = [verdict for verdict in permitted if verdict is not None]
    return not same_type or any(same_type)


def _fix_domain(name: x509.GeneralName) -> str:
    if isinstance(name, x509.IPAddress):
        return str(name.value)
    return str(name.value).removeprefix("*.")


def check_permitted(
    ca: x509.Certificate | x509.NameConstraints | None,
    names: Sequence[x509.GeneralName],
    *,
    ca_exists: bool = True,
) -> None:
    """Refuse (NameNotPermittedError) the first of ``names`` that ``ca`` (a CA certificate, or the
    constraints of one about to be made; None: unconstrained) may not sign for.

    ``ca_exists`` False: the CA is about to be made (``cert create``), so the fix is a
    ``--ca-domain`` there rather than a new CA.
    """
    constraints = ca_constraints(ca) if isinstance(ca, x509.Certificate) else ca
    for name in names:
        if permits(constraints, name):
            continue
        shown, fix = _shown(name_text(name)), _shown(_fix_domain(name))
        how = (
            f"add `--ca-domain {fix}` to `flask-launcher cert create`"
            if not ca_exists
            else f"make a new CA that permits it with `flask-launcher cert rotate-ca --ca-domain {fix}`"
            " (trust moves to it)"
        )
        raise NameNotPermittedError(
            f"The local CA may not sign for {shown}: its name constraints permit only local names"
            f" (localhost, .test, .internal, private IPs…) and the domains it was made with; {how}.",
            name_text(name),
        )


def constraint_texts(constraints: x509.NameConstraints | None) -> tuple[str, ...] | None:
    """The permitted subtrees as short words (``localhost``, ``.test``, ``10.0.0.0/8``); None when
    unconstrained.  The special-use subtrees are shown as suffixes (``.test``); ``localhost`` and a
    user's domain (``example.dev``, which covers its subdomains too) as names."""
    if constraints is None:
        return None
    out: list[str] = []
    for sub in constraints.permitted_subtrees or ():
        if isinstance(sub, x509.DNSName):
            special = sub.value in CA_PERMITTED_DNS and sub.value != "localhost"
            out.append(f".{sub.value}" if special else sub.value)
        elif isinstance(sub, x509.IPAddress):
            out.append(str(sub.value))
        else:
            out.append(name_text(sub))
    return tuple(out)


# --- keys and builders ----------------------------------------------------------------------------


def generate_key(key_type: KeyType | str = KeyType.ECDSA_P256) -> PrivateKey:
    """A new private key of ``key_type``."""
    key_type = KeyType(key_type)
    if key_type is KeyType.ECDSA_P256:
        return ec.generate_private_key(ec.SECP256R1())
    bits = 2048 if key_type is KeyType.RSA_2048 else 3072
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _key_type_of(key: object) -> KeyType | None:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return KeyType.ECDSA_P256
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return {2048: KeyType.RSA_2048, 3072: KeyType.RSA_3072}.get(key.key_size)
    return None


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _spki(key: object) -> bytes:
    der: bytes = key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _default_ca_cn() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "user"
    host = socket.gethostname() or "localhost"
    cn = f"{ORGANIZATION} local CA ({user}@{host})"
    return cn[:64]  # ub-common-name


def build_ca(
    key: PrivateKey,
    *,
    common_name: str | None = None,
    now: dt.datetime | None = None,
    validity: dt.timedelta = CA_VALIDITY,
    ca_domains: Sequence[str | x509.GeneralName] = (),
    constrained: bool = True,
) -> x509.Certificate:
    """A self-signed CA certificate for ``key`` that may sign leaves only (path_length=0).

    By default it carries a critical NameConstraints extension (``ca_name_constraints``: local
    names, private IPs and ``ca_domains``), so its key cannot sign for a public site that browsers
    and OpenSSL would accept; ``constrained=False`` leaves it out (any name: the old behaviour).
    ``now`` is the creation time (tests pass one in the past to make an expired CA).
    """
    now = _aware(now)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or _default_ca_cn()),
        ]
    )
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if constrained:
        builder = builder.add_extension(ca_name_constraints(ca_domains), critical=True)
    return builder.sign(key, hashes.SHA256())


def build_leaf(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    key: PrivateKey,
    hosts: Sequence[str | x509.GeneralName] = DEFAULT_HOSTS,
    *,
    now: dt.datetime | None = None,
    validity: dt.timedelta = LEAF_VALIDITY,
) -> x509.Certificate:
    """A server certificate for ``hosts`` (names or IPs, see ``parse_name``) signed by the CA.

    A name the CA's NameConstraints do not permit is refused (NameNotPermittedError) before
    anything is signed.  No SubjectKeyIdentifier on leaves: identical SKIs break Windows SChannel
    (mitmproxy's finding).
    """
    now = _aware(now)
    sans: list[x509.GeneralName] = []
    for host in hosts:
        san = parse_name(host) if isinstance(host, str) else host
        if san not in sans:
            sans.append(san)
    if not sans:
        raise InvalidNameError("A certificate needs at least one host name or IP address.")
    check_permitted(ca_cert, sans)
    first = next((s for s in sans if isinstance(s, x509.DNSName)), None)
    # No DNS name: no common name either.  OpenSSL checks a CN that looks like a host name
    # ("127.0.0.1") against a constrained CA's DNS subtrees when the leaf has no DNS SAN.
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)]
    if first is not None:
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, str(first.value)[:64]))
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                # RSA key exchange (TLS 1.2 without ECDHE) needs it; we only offer ECDHE, but clients check.
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )


# --- describe ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertInfo:
    """A readable summary of one certificate.  ``days_left`` is counted when the summary was made."""

    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    days_left: int
    fingerprint_sha256: str
    key_type: str
    is_ca: bool
    serial: str
    #: A CA's permitted subtrees in words (``constraint_texts``); None: no name constraints.
    permitted: tuple[str, ...] | None = None

    @property
    def constrained(self) -> bool:
        """Whether this (CA) certificate carries name constraints."""
        return self.permitted is not None

    @property
    def expired(self) -> bool:
        return _utcnow() >= self.not_after

    @property
    def not_yet_valid(self) -> bool:
        return _utcnow() < self.not_before

    def expiring_soon(self, days: int = 30) -> bool:
        """True when the certificate expires within ``days`` days from now (or already has)."""
        return self.not_after - _utcnow() <= dt.timedelta(days=days)

    @property
    def common_name(self) -> str:
        for part in re.split(r"(?<!\\),", self.subject):
            if part.startswith("CN="):
                return part[3:]
        return self.subject

    def lines(self) -> list[str]:
        """Human-readable lines, as ``flask-launcher cert show`` prints them."""
        state = (
            "EXPIRED"
            if self.expired
            else "not yet valid"
            if self.not_yet_valid
            else f"{self.days_left} days left"
        )
        out = [
            f"Subject:     {_shown(self.subject)}",
            f"Issuer:      {_shown(self.issuer)}",
            f"Valid:       {_when(self.not_before)} to {_when(self.not_after)} ({state})",
            f"Key:         {self.key_type}",
            f"SHA-256:     {self.fingerprint_sha256}",
            f"Serial:      {self.serial}",
        ]
        if self.sans:
            out.insert(2, f"Names:       {_shown(', '.join(self.sans))}")
        if self.is_ca:
            out.insert(0, "Type:        certificate authority")
            allowed = (
                ", ".join(self.permitted) if self.permitted is not None else "any name (no name constraints)"
            )
            out.insert(3, f"May sign:    {_shown(allowed)}")
        return out


def _describe_key(public: object) -> str:
    if isinstance(public, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(
            public.curve.name, public.curve.name
        )
        return f"ECDSA {curve}"
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA {public.key_size}"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(public, ed448.Ed448PublicKey):
        return "Ed448"
    return type(public).__name__


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _load_certs(data: bytes, source: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise CertFileError(
            f"{source} is not a PEM certificate (expected a '-----BEGIN CERTIFICATE-----' block):"
            " choose the certificate file, not the key or a DER/PKCS#12 file."
        )
    return certs


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CertFileError(f"The {what} file {_shown(path)} does not exist: check the path.") from None
    except IsADirectoryError:
        raise CertFileError(
            f"The {what} path {_shown(path)} is a folder, not a file: give the file."
        ) from None
    except OSError as exc:
        raise CertFileError(f"Cannot read the {what} file {_shown(path)}: {exc.strerror}.") from None


def describe(cert: x509.Certificate | bytes | str | Path, *, now: dt.datetime | None = None) -> CertInfo:
    """Summarise a certificate given as an object, PEM bytes/text, or a file path (first cert of the file)."""
    if not isinstance(cert, x509.Certificate):
        if isinstance(cert, Path) or (isinstance(cert, str) and "-----BEGIN" not in cert):
            cert = _load_certs(_read(Path(cert), "certificate"), f"The file {_shown(cert)}")[0]
        else:
            data = cert.encode() if isinstance(cert, str) else cert
            cert = _load_certs(data, "The certificate")[0]
    now = _aware(now)
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    left = cert.not_valid_after_utc - now
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=tuple(name_text(n) for n in _san_names(cert)),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        days_left=left.days,
        fingerprint_sha256=_fingerprint(cert),
        key_type=_describe_key(cert.public_key()),
        is_ca=is_ca,
        serial=f"{cert.serial_number:X}",
        permitted=constraint_texts(ca_constraints(cert)) if is_ca else None,
    )


# --- validation -----------------------------------------------------------------------------------


def _load_key(data: bytes, source: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CertFileError(
            f"{source} is encrypted with a passphrase: the launcher needs an unencrypted key"
            " (decrypt a copy with `openssl pkey -in KEY -out key-plain.pem`)."
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertFileError(
            f"{source} is not a PEM private key (expected '-----BEGIN PRIVATE KEY-----' or similar):"
            " choose the key file that belongs to the certificate."
        ) from None
    return key  # type: ignore[return-value]


def _when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _check_time(cert: x509.Certificate, now: dt.datetime, source: str, *, fix: str) -> None:
    if now < cert.not_valid_before_utc:
        raise CertNotYetValidError(
            f"{source} is not valid until {_when(cert.not_valid_before_utc)}:"
            " check this computer's clock, or wait until then."
        )
    if now >= cert.not_valid_after_utc:
        ago = (now - cert.not_valid_after_utc).days
        raise CertExpiredError(
            f"{source} expired on {_when(cert.not_valid_after_utc)} ({ago} days ago): {fix}"
        )


def _check_host(cert: x509.Certificate, host: str, source: str) -> None:
    if host_covered(cert, host):
        return
    names = [_shown(name_text(n)) for n in _san_names(cert)]
    target = parse_name(host)
    host = _shown(host)
    if not names:
        raise HostNotCoveredError(
            f"{source} has no subject alternative names, so browsers will not accept it for {host}"
            " (they ignore the common name): use a certificate with a SAN for it."
        )
    hint = ""
    if isinstance(target, x509.IPAddress) and f"DNS:{target.value}" in names:
        hint = f" (it lists {target.value} as a DNS name, which clients reject: it must be an IP SAN)"
    raise HostNotCoveredError(
        f"{source} does not cover {host}{hint}; it names {', '.join(names)}:"
        f" serve one of those names, or use a certificate whose SANs include {host}."
    )


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _claimed_issuers(cert: x509.Certificate, bundle: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of ``bundle`` (``cert`` itself included) that claim to have issued ``cert``.

    A candidate matches by subject name, or by key identifier: the authority key identifier still
    points at the real issuer when the issuer *name* was altered, and a self-signed certificate's
    points at itself.
    """
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    found: list[x509.Certificate] = []
    for other in bundle:
        if other.subject == cert.issuer:
            found.append(other)
            continue
        if aki is None:
            continue
        try:
            ski = other.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            continue
        if ski == aki:
            found.append(other)
    return found


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool | None:
    """True when ``issuer`` signed ``cert`` (names link, signature verifies), False when not, None
    when it cannot be told (a key or signature algorithm ``cryptography`` does not support)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except (ValueError, TypeError):  # names were compared above: an unsupported algorithm
        return None
    return True


def _check_signatures(certs: Sequence[x509.Certificate], source: str, warn: Callable[[str], None]) -> None:
    """Each certificate of a PEM bundle whose issuer is in the bundle (or itself) is signed by it.

    Without ``--ca`` this is all that can be checked: a certificate whose issuer name or signature
    was altered is refused (ChainError) as soon as its claimed issuer is present.  When the leaf's
    issuer is absent, ``warn`` says its signature went unchecked.  An absent issuer of a later
    certificate in the bundle (the root above an intermediate) is normal and not reported.
    """
    for index, cert in enumerate(certs):
        what = source if index == 0 else f"Certificate {index + 1} in {source[0].lower()}{source[1:]}"
        issuer_name = _shown(cert.issuer.rfc4514_string())
        candidates = _claimed_issuers(cert, certs)
        if not candidates:
            if index == 0:
                warn(
                    f"{what} was not checked against its issuer: '{issuer_name}' is not in the file;"
                    " give the CA that signed it with --ca to check it."
                )
            continue
        verdicts = [_signed_by(cert, candidate) for candidate in candidates]
        if any(verdicts):
            continue
        if None in verdicts:
            if index == 0:
                warn(f"{what} was not checked against its issuer: its signature algorithm is not supported.")
            continue
        signer = candidates[0]
        by = "itself" if signer == cert else f"'{_shown(signer.subject.rfc4514_string())}' in the same file"
        raise ChainError(
            f"{what} names '{issuer_name}' as its issuer, but its signature does not verify against {by}:"
            " it was altered or forged after it was issued; use the certificate exactly as its CA issued it."
        )


def _check_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    ca: x509.Certificate,
    source: str,
    ca_src: str,
) -> None:
    """The leaf (through the intermediates in the file, in order) is signed by ``ca``."""
    path = [leaf, *intermediates]
    # Follow the chain from the leaf as far as the file's own links go, then require the CA's signature.
    for i, cert in enumerate(path):
        if _issued_by(cert, ca):
            return
        if i + 1 < len(path) and not _issued_by(cert, path[i + 1]):
            break
    raise ChainError(
        f"{source} was not issued by the CA {ca_src} (the certificate's issuer is"
        f" '{_shown(leaf.issuer.rfc4514_string())}', the CA is '{_shown(ca.subject.rfc4514_string())}'):"
        " give the CA that signed it, or leave the CA out."
    )


def validate_pair(
    cert_pem: bytes,
    key_pem: bytes,
    *,
    host: str | None = None,
    ca_pem: bytes | None = None,
    now: dt.datetime | None = None,
    cert_source: str = "The certificate",
    key_source: str = "The private key",
    ca_source: str = "",
    warn: Callable[[str], None] | None = None,
) -> CertInfo:
    """Check that a certificate and key can be served; return the leaf's CertInfo.

    Checks, in order: both parse (CertFileError), the key matches the certificate (KeyMismatchError),
    the certificate is within its validity (CertNotYetValidError / CertExpiredError), its SANs cover
    ``host`` when given (HostNotCoveredError), and it chains to ``ca_pem`` when given (ChainError; an
    expired CA is CertExpiredError).  Without ``ca_pem``, each certificate of the file whose issuer is
    in the file too, or which is self-signed, must carry that issuer's valid signature (ChainError: an
    altered issuer name or a forged signature); when the leaf's issuer is not in the file, ``warn``
    (default: the ``launcher.certs`` logger) says the signature went unchecked.  ``*_source`` words
    name the files in messages (escape paths in them).

    Limits: no revocation, name-constraint or policy checks; the chain check verifies signatures and
    issuer names link by link (``Certificate.verify_directly_issued_by``), not a full RFC 5280 path
    validation, so an old or unusual user CA still works.
    """
    now = _aware(now)
    certs = _load_certs(cert_pem, cert_source)
    leaf, intermediates = certs[0], certs[1:]
    key = _load_key(key_pem, key_source)
    if _spki(key.public_key()) != _spki(leaf.public_key()):
        raise KeyMismatchError(
            f"{key_source} does not belong to {cert_source[0].lower() + cert_source[1:]}"
            " (their public keys differ): choose the key that was created together with this certificate."
        )
    if ca_pem is None:
        _check_signatures(certs, cert_source, warn or log.warning)
    _check_time(
        leaf,
        now,
        cert_source,
        fix="create a new one with `flask-launcher cert create`, or import a renewed certificate.",
    )
    if host:
        _check_host(leaf, host, cert_source)
    if ca_pem is not None:
        ca_src = ca_source or "you gave"
        ca = _load_certs(ca_pem, f"The CA file {ca_source}".rstrip() if ca_source else "The CA")[0]
        _check_chain(leaf, intermediates, ca, cert_source, ca_src)
        _check_time(
            ca,
            now,
            f"The CA {ca_source}" if ca_source else "The CA",
            fix="the certificates it signed are no longer trusted.",
        )
    return describe(leaf, now=now)


# --- files ----------------------------------------------------------------------------------------


def default_cert_dir() -> Path:
    """The per-user certificate folder (platformdirs' user data dir / "certs")."""
    import platformdirs

    return platformdirs.user_data_path("flask-https-launcher", appauthor=False) / "certs"


def _dir_error(directory: Path, exc: OSError, why: str) -> CertDirError:
    """The error for a write to ``directory`` that failed with ``exc``; ``why`` is the sentence that
    says what had to be written and why (e.g. "The certificate … expires in 12 days and must be
    renewed"), so a read-only folder that would do as it is never fails without saying so."""
    shown = _shown(directory)
    if exc.errno == errno.EROFS:
        return CertDirError(
            f"{why}, but the certificate folder {shown} is read-only: make it writable, or run"
            f" `flask-launcher cert create --cert-dir FOLDER` where it is writable and mount the result."
        )
    reason = exc.strerror or str(exc)
    return CertDirError(
        f"Cannot write to the certificate folder {shown}: {reason}. {why}:"
        " choose another folder with --cert-dir, or fix its permissions."
    )


def _read_only_fs(path: Path) -> bool:
    """Whether ``path`` is on a filesystem mounted read-only (nobody, root included, can change it)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def _owner_text(uid: int) -> str:
    try:
        import pwd

        return f"uid {uid}, {_shown(pwd.getpwuid(uid).pw_name)}"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _mode_text(mode: int) -> str:
    return f"mode {stat.S_IMODE(mode):04o}"


#: Bits that let the group or others create, delete or rename entries (folders) or change content (files).
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    The temporary file is created by ``os.open`` with ``mode`` (0600 for keys), so no other user can
    ever open it, and ``fchmod`` sets the exact mode whatever the umask.  The process umask is not
    changed: it is process-wide, and the GUI writes from worker threads.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        with contextlib.suppress(OSError):
            dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


def leaf_validity(days: int | None) -> dt.timedelta:
    """A leaf lifetime of ``days`` (None: ``MAX_LEAF_DAYS``); ConfigError outside 1 to 397."""
    if days is None:
        return LEAF_VALIDITY
    if not 1 <= days <= MAX_LEAF_DAYS:
        raise ConfigError(
            f"A certificate lifetime of {days} days is not possible: give 1 to {MAX_LEAF_DAYS} days"
            " (clients refuse longer-lived server certificates)."
        )
    return dt.timedelta(days=days)


def _lifetime(leaf: x509.Certificate) -> dt.timedelta:
    """How long ``leaf`` was made to live (its backdate taken off), within 1 to 397 days: a renewed
    leaf lives as long as the one it replaces (``cert create --days`` stays the choice)."""
    life = leaf.not_valid_after_utc - leaf.not_valid_before_utc - BACKDATE
    return max(
        dt.timedelta(days=1), min(LEAF_VALIDITY, dt.timedelta(days=round(life / dt.timedelta(days=1))))
    )


def _renew_before(leaf: x509.Certificate) -> dt.timedelta:
    """How long before its expiry ``ensure()`` renews ``leaf``: 30 days, or a third of a shorter
    life (a 7-day leaf made with ``--days 7`` is not replaced at once)."""
    return min(LEAF_RENEW_BEFORE, _lifetime(leaf) / 3)


@dataclass(frozen=True)
class RotationPlan:
    """What ``CertStore.rotate_ca`` will do, worked out (and checked) before anything is written.

    The new CA (and its key) exist in memory only, so its exact name and fingerprint, and with
    them the exact trust-store commands, can be shown first.  ``leaf_hosts`` is empty when the
    served certificate is the user's imported one: it is not ours to re-sign, so it stays.
    """

    old_ca: x509.Certificate
    new_ca: x509.Certificate
    new_ca_key: PrivateKey = field(repr=False)
    leaf_hosts: tuple[x509.GeneralName, ...]
    leaf_key_type: KeyType
    leaf_validity: dt.timedelta
    backup_dir: Path

    @property
    def new_ca_pem(self) -> bytes:
        return _cert_pem(self.new_ca)

    @property
    def new_info(self) -> CertInfo:
        return describe(self.new_ca)

    @property
    def old_info(self) -> CertInfo:
        return describe(self.old_ca)


@dataclass(frozen=True)
class Rotation:
    """What ``CertStore.rotate_ca`` did: where the old files went, the new CA and leaf."""

    backup_dir: Path
    old_ca_path: Path  # the old CA certificate, in the backup folder
    ca: CertInfo
    leaf: CertInfo | None  # None: an imported certificate, left as it was


class CheckStatus(enum.IntEnum):
    """``flask-launcher cert check``'s exit status."""

    OK = 0
    EXPIRING = 1
    BAD = 2  # expired, not yet valid, not issued by the CA, no certificate


@dataclass(frozen=True)
class CheckResult:
    """One verdict on the served certificate, in one line."""

    status: CheckStatus
    message: str


_P = ParamSpec("_P")
_R = TypeVar("_R")
#: One lock for every store's writes in this process: the GUI's worker threads and the HTTPS
#: listener's start may call ensure() at the same moment, and must not make two CAs.
_WRITE_LOCK = threading.RLock()


def _locked(method: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _WRITE_LOCK:
            return method(*args, **kwargs)

    wrapper.__doc__, wrapper.__name__, wrapper.__qualname__ = (
        method.__doc__,
        method.__name__,
        method.__qualname__,
    )
    return wrapper


class CertStore:
    """The certificate folder: the local CA (reused across runs) and the leaf served on HTTPS.

    Imported certificates: after ``import_pair`` the folder remembers (``imported.json``) that
    cert.pem/key.pem are the user's own.  ``ensure()`` then never replaces them with a generated
    leaf, not even to cover more hosts or to renew one that is about to expire, because silently
    serving a different certificate than the one the user chose would be a surprise.  When the
    imported certificate has expired, ``ensure()`` raises CertExpiredError saying how to fix it
    (import a renewed one, or ``cert create`` to go back to generated certificates).
    ``create_leaf()`` is the explicit way back: it replaces the import and forgets it.

    Writes happen only when something must change, so a read-only folder with a usable CA and leaf
    works (without the CA key, too: ``_ca_without_key``); when a write is needed and impossible,
    CertDirError names what and why.  Every entry
    point that reads keys or writes first runs ``check_folder`` (UnsafeCertDirError).

    ``on_warning`` receives each warning sentence (a folder or key made private, a signature that
    could not be checked); without it they go to the ``launcher.certs`` logger at WARNING level.

    Writes are serialised within a process.  Not safe against two processes writing the same folder
    at the same moment (each write is atomic, but a CA made by one and a leaf by the other may not
    match; ``ensure()`` then repairs the leaf on its next call).
    """

    def __init__(
        self, directory: str | Path | None = None, *, on_warning: Callable[[str], None] | None = None
    ) -> None:
        self.directory = Path(directory) if directory is not None else default_cert_dir()
        self.on_warning = on_warning

    def __repr__(self) -> str:
        return f"CertStore({str(self.directory)!r})"

    @property
    def ca_cert_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def cert_path(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def key_path(self) -> Path:
        return self.directory / "key.pem"

    @property
    def marker_path(self) -> Path:
        return self.directory / IMPORT_MARKER

    @property
    def is_imported(self) -> bool:
        """True when cert.pem/key.pem are the user's imported pair (not generated by the launcher)."""
        return self.marker_path.exists()

    def import_record(self) -> dict[str, str] | None:
        """What ``import_pair`` recorded (source paths and time), or None."""
        try:
            data = json.loads(self.marker_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _warn(self, message: str) -> None:
        if self.on_warning is not None:
            self.on_warning(message)
        else:
            log.warning(message)

    # -- folder safety ------------------------------------------------------------------------------

    @_locked
    def check_folder(self) -> None:
        """Refuse a folder that other users could change; make private what is ours and too open.

        The rules (OpenSSH's StrictModes, adapted): another user who can change the folder or a
        file in it could swap ``ca.pem`` before ``trust install`` (and be trusted by the browser) or
        read the CA key, so:

        - the folder, a symlink naming it, and each file of the store (a symlinked file: its target)
          belong to this user or root, else UnsafeCertDirError;
        - neither the folder nor those files may be writable by group or others, else
          UnsafeCertDirError: the files may already have been swapped, so nothing is tightened;
        - no folder above it may be writable by group or others without the sticky bit (they could
          rename the folder away and put their own in its place), else UnsafeCertDirError;
        - a folder of ours that others can read (0755, as older versions left it) becomes 0700, and a
          key of ours that others can read becomes 0600, each with a warning.  A world-readable key
          that is not ours (root's) or is on a read-only mount cannot be fixed here: a warning.

        On a filesystem mounted read-only nobody can change anything, so modes that allow writing
        are accepted there (a Kubernetes secret volume's folder is often 1777).  Nothing is checked
        where there are no POSIX owners (Windows: the folder's ACL is the protection).

        Limits: the owners of the folders above are not checked, and a check cannot stop a swap
        between it and a later read (the checks are repeated each time the store is used).
        """
        if not hasattr(os, "getuid"):
            return
        given = Path(os.path.abspath(self.directory))
        try:
            link = os.lstat(given)
        except OSError:  # missing (it will be made 0700), or unreachable (the write that follows says so)
            self._check_ancestors(given.resolve())
            return
        if stat.S_ISLNK(link.st_mode):
            self._check_owner(given, link.st_uid, f"The symlink {_shown(given)} to the certificate folder")
        real = given.resolve()
        try:
            st = os.stat(real)
        except OSError:
            return
        if not stat.S_ISDIR(st.st_mode):
            raise CertDirError(
                f"The certificate folder {_shown(given)} exists but is not a folder:"
                " choose another --cert-dir."
            )
        self._check_ancestors(real)
        read_only = _read_only_fs(real)
        shown = _shown(given) if real == given else f"{_shown(given)} (a symlink to {_shown(real)})"
        self._check_owner(real, st.st_uid, f"The certificate folder {shown}")
        if st.st_mode & _OTHERS_WRITE and not read_only:
            raise UnsafeCertDirError(
                f"The certificate folder {shown} can be changed by other users ({_mode_text(st.st_mode)}),"
                " so they could replace the CA or read its key: run `chmod 700"
                f" {_shown(real)}` if only you have used it, or choose another folder with --cert-dir."
            )
        if st.st_mode & 0o077 and st.st_uid == os.getuid() and not read_only:
            try:
                os.chmod(real, 0o700)
            except OSError as exc:
                raise _dir_error(real, exc, f"The certificate folder {shown} must be made private") from None
            self._warn(
                f"The certificate folder {shown} could be read by other users ({_mode_text(st.st_mode)}):"
                " it is now 0700, so only you can read its keys."
            )
        for path, is_key in (
            (self.ca_key_path, True),
            (self.key_path, True),
            (self.ca_cert_path, False),
            (self.cert_path, False),
            (self.marker_path, False),
        ):
            self._check_file(path, is_key=is_key)

    def _check_owner(self, path: Path, uid: int, what: str) -> None:
        if uid not in (os.getuid(), 0):
            raise UnsafeCertDirError(
                f"{what} belongs to another user ({_owner_text(uid)}), who could replace the CA or read"
                " its key: choose a folder of your own with --cert-dir."
            )

    def _check_ancestors(self, path: Path) -> None:
        for parent in path.parents:
            try:
                st = os.stat(parent)
            except OSError:
                continue  # not made yet
            if st.st_mode & _OTHERS_WRITE and not st.st_mode & stat.S_ISVTX and not _read_only_fs(parent):
                raise UnsafeCertDirError(
                    f"The folder {_shown(parent)} above the certificate folder can be changed by other"
                    f" users ({_mode_text(st.st_mode)}, no sticky bit), so they could put a folder of their"
                    f" own in its place: run `chmod go-w {_shown(parent)}`, or choose a certificate folder"
                    " elsewhere with --cert-dir."
                )

    def _check_file(self, path: Path, *, is_key: bool) -> None:
        try:
            st = os.stat(path)  # follows a symlink: the file that is read is the one that counts
        except OSError:
            return  # missing (made later) or unreadable (the read says so)
        shown = _shown(path)
        self._check_owner(path, st.st_uid, f"The file {shown} in the certificate folder")
        read_only = _read_only_fs(path)
        if st.st_mode & _OTHERS_WRITE and not read_only:
            raise UnsafeCertDirError(
                f"The file {shown} can be changed by other users ({_mode_text(st.st_mode)}), so it may no"
                f" longer be the one made here: run `chmod go-w {shown}` if you are sure it is, or choose"
                " another folder with --cert-dir."
            )
        if not is_key or not st.st_mode & 0o077:
            return
        if st.st_uid == os.getuid() and not read_only:
            try:
                os.chmod(path, 0o600)
            except OSError as exc:
                raise _dir_error(self.directory, exc, f"The key {shown} must be made private") from None
            self._warn(
                f"The key {shown} could be read by other users ({_mode_text(st.st_mode)}): it is now 0600."
            )
        elif st.st_mode & stat.S_IROTH:
            self._warn(
                f"The key {shown} can be read by every user ({_mode_text(st.st_mode)}) and cannot be"
                " changed from here: make it 0600 (or 0400) where it is made."
            )

    # -- writes -------------------------------------------------------------------------------------

    def _require_writable(self, why: str) -> None:
        """Make the folder (0700) when missing and make sure it can be written.

        ``why`` says what must be written and why; it is part of the error when the folder is
        read-only or not writable, so nothing is generated that cannot be kept.
        """
        directory = self.directory
        try:
            if not directory.is_dir():
                directory.mkdir(parents=True, mode=0o700, exist_ok=True)
                os.chmod(directory, 0o700)  # mkdir's mode is narrowed by the umask; make it exact
            if _read_only_fs(directory):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            if not os.access(directory, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        except FileExistsError:
            raise CertDirError(
                f"The certificate folder {_shown(directory)} exists but is not a folder:"
                " choose another --cert-dir."
            ) from None
        except OSError as exc:
            raise _dir_error(directory, exc, why) from None

    def _write(self, path: Path, data: bytes, mode: int, why: str) -> None:
        try:
            _write_atomic(path, data, mode)
        except OSError as exc:
            raise _dir_error(self.directory, exc, why) from None

    # -- CA -----------------------------------------------------------------------------------------

    def _load_ca(self) -> tuple[x509.Certificate, PrivateKey] | None:
        """The existing CA and its key, or None when neither file exists."""
        has_cert, has_key = self.ca_cert_path.exists(), self.ca_key_path.exists()
        if not has_cert and not has_key:
            return None
        ca_cert, ca_key = _shown(self.ca_cert_path), _shown(self.ca_key_path)
        if not has_key:
            raise CertFileError(
                f"The CA key {ca_key} is missing, so no new certificate can be signed: restore it,"
                f" or delete {ca_cert} to create a new CA (which must then be trusted again)."
            )
        if not has_cert:
            raise CertFileError(
                f"The CA certificate {ca_cert} is missing: restore it, or delete"
                f" {ca_key} to create a new CA (which must then be trusted again)."
            )
        ca = _load_certs(_read(self.ca_cert_path, "CA certificate"), f"The CA file {ca_cert}")[0]
        key = _load_key(_read(self.ca_key_path, "CA key"), f"The CA key file {ca_key}")
        if _spki(key.public_key()) != _spki(ca.public_key()):
            raise KeyMismatchError(
                f"The CA key {ca_key} does not belong to {ca_cert}: restore the matching"
                " pair, or delete both to create a new CA (which must then be trusted again)."
            )
        return ca, key

    @_locked
    def ensure_ca(
        self,
        key_type: KeyType | str = KeyType.ECDSA_P256,
        *,
        now: dt.datetime | None = None,
        ca_domains: Sequence[str] = (),
        constrained: bool = True,
    ) -> tuple[x509.Certificate, PrivateKey]:
        """Load the CA, or create it when there is none (or the old one has expired).

        A new CA is name-constrained (``build_ca``) to local names and ``ca_domains``, unless
        ``constrained`` is False.  Those two only shape a CA made now; an existing one is kept.
        """
        self.check_folder()
        return self._ensure_ca(key_type, _aware(now), ca_domains, constrained)

    def _ensure_ca(
        self,
        key_type: KeyType | str,
        now: dt.datetime,
        ca_domains: Sequence[str] = (),
        constrained: bool = True,
    ) -> tuple[x509.Certificate, PrivateKey]:
        loaded = self._load_ca()
        if loaded is not None and now < loaded[0].not_valid_after_utc:
            return loaded
        if loaded is None:
            why = "There is no local CA yet, so one must be created"
        else:
            why = (
                f"The local CA {_shown(self.ca_cert_path)} expired on {_when(loaded[0].not_valid_after_utc)},"
                " so a new one must be created (and trusted again)"
            )
        self._require_writable(why)
        key = generate_key(key_type)
        ca = build_ca(key, now=now, ca_domains=ca_domains, constrained=constrained)
        self._write(self.ca_key_path, _key_pem(key), 0o600, why)
        self._write(self.ca_cert_path, _cert_pem(ca), 0o644, why)
        return ca, key

    def _check_new_names(
        self,
        sans: Sequence[x509.GeneralName],
        now: dt.datetime,
        ca_domains: Sequence[str],
        constrained: bool,
    ) -> None:
        """Before anything is written: the CA that will sign ``sans`` permits them, and the CA
        options (``ca_domains``, ``constrained``) can be honoured (they only shape a new CA)."""
        subtrees = [parse_ca_domain(d) for d in ca_domains]
        loaded = self._load_ca()
        if loaded is None or now >= loaded[0].not_valid_after_utc:
            check_permitted(ca_name_constraints(subtrees) if constrained else None, sans, ca_exists=False)
            return
        ca = loaded[0]
        constraints = ca_constraints(ca)
        where = _shown(self.ca_cert_path)
        if not constrained and constraints is not None:
            raise CertError(
                f"The local CA {where} already exists and is name-constrained; --unconstrained-ca only"
                " shapes a new CA: leave it out (the existing CA is kept, so trust survives)."
            )
        for subtree in subtrees:
            probe = subtree
            if isinstance(subtree, x509.IPAddress) and isinstance(subtree.value, Network):
                probe = x509.IPAddress(subtree.value.network_address)
            if not permits(constraints, probe):
                fix = _shown(_fix_domain(probe) if isinstance(probe, x509.DNSName) else str(subtree.value))
                raise NameNotPermittedError(
                    f"The local CA {where} already exists and does not permit {fix}; --ca-domain only"
                    f" shapes a new CA: make one with `flask-launcher cert rotate-ca --ca-domain {fix}`"
                    " (trust moves to it).",
                    name_text(probe),
                )
        check_permitted(ca, sans)

    def ca_info(self) -> CertInfo | None:
        """The CA's summary, or None before the CA exists."""
        if not self.ca_cert_path.exists():
            return None
        return describe(self.ca_cert_path)

    def ca_expires_soon(self, within: dt.timedelta = CA_WARN_BEFORE) -> bool:
        """Whether the CA expires within ``within`` (one year by default); False before it exists."""
        info = self.ca_info()
        return info is not None and info.expiring_soon(within.days)

    def ca_expiry_warning(self, within: dt.timedelta = CA_WARN_BEFORE) -> str | None:
        """A warning sentence when the CA expires within ``within`` (one year by default), else None."""
        if not self.ca_expires_soon(within):
            return None
        info = self.ca_info()
        assert info is not None
        if info.expired:
            return (
                f"The local CA expired on {_when(info.not_after)}: the next start creates a new one,"
                " which must be trusted again (flask-launcher trust install)."
            )
        return (
            f"The local CA expires on {_when(info.not_after)} ({info.days_left} days left):"
            " after that a new CA is created and must be trusted again (flask-launcher trust install)."
        )

    # -- leaf ---------------------------------------------------------------------------------------

    def leaf_info(self) -> CertInfo | None:
        """The served certificate's summary, or None before there is one."""
        if not self.cert_path.exists():
            return None
        return describe(self.cert_path)

    @_locked
    def create_leaf(
        self,
        hosts: tuple[str, ...] | list[str] = DEFAULT_HOSTS,
        key_type: KeyType | str = KeyType.ECDSA_P256,
        *,
        now: dt.datetime | None = None,
        days: int | None = None,
        ca_domains: Sequence[str] = (),
        constrained: bool = True,
    ) -> CertInfo:
        """Generate a new leaf for exactly ``hosts`` (replacing any imported pair); return its CertInfo.

        ``days``: the leaf's lifetime (1 to ``MAX_LEAF_DAYS``, the default).  ``ca_domains`` and
        ``constrained`` shape the CA when one is made now (see ``ensure_ca``); with an existing CA,
        a domain it does not permit, or ``constrained=False`` for a constrained one, is refused.
        Every name is checked against the CA's constraints (NameNotPermittedError) before anything
        is written.
        """
        validity = leaf_validity(days)
        sans = [parse_name(h) for h in hosts]  # validate before touching any file
        now = _aware(now)
        self.check_folder()
        self._check_new_names(sans, now, ca_domains, constrained)
        self._ensure_ca(KeyType.ECDSA_P256, now, ca_domains, constrained)
        return self._make_leaf(sans, key_type, now, "A new certificate was asked for", validity)

    def _make_leaf(
        self,
        sans: list[x509.GeneralName],
        key_type: KeyType | str,
        now: dt.datetime,
        why: str,
        validity: dt.timedelta = LEAF_VALIDITY,
    ) -> CertInfo:
        ca, ca_key = self._ensure_ca(KeyType.ECDSA_P256, now)
        self._require_writable(why)
        key = generate_key(key_type)
        leaf = build_leaf(ca, ca_key, key, sans, now=now, validity=validity)
        # Key first: a crash between the two writes leaves a mismatched pair that ensure() repairs,
        # never a certificate whose key is gone.
        self._write(self.key_path, _key_pem(key), 0o600, why)
        self._write(self.cert_path, _cert_pem(leaf), 0o644, why)
        with contextlib.suppress(FileNotFoundError):
            self.marker_path.unlink()
        return describe(leaf, now=now)

    def _current_leaf(self, ca: x509.Certificate) -> tuple[x509.Certificate, PrivateKey] | str:
        """The existing generated leaf when it is usable as is, else why a new one must be made."""
        cert, key_file = _shown(self.cert_path), _shown(self.key_path)
        if not (self.cert_path.exists() and self.key_path.exists()):
            return "There is no certificate yet, so one must be made"
        try:
            leaf = _load_certs(_read(self.cert_path, "certificate"), "cert")[0]
            key = _load_key(_read(self.key_path, "key"), "key")
        except CertFileError:
            return f"The certificate {cert} or its key {key_file} cannot be read, so a new one must be made"
        if _spki(key.public_key()) != _spki(leaf.public_key()):
            return f"The key {key_file} does not belong to {cert}, so a new certificate must be made"
        if not _issued_by(leaf, ca):
            return (
                f"The certificate {cert} was not signed by the local CA {_shown(self.ca_cert_path)},"
                " so a new one must be made"
            )
        return leaf, key

    @_locked
    def ensure(
        self,
        hosts: tuple[str, ...] | list[str] = DEFAULT_HOSTS,
        key_type: KeyType | str | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> CertInfo:
        """Make sure a usable leaf is in the folder; return its CertInfo.

        Creates the CA and/or leaf when missing.  A generated leaf is replaced when it is corrupt, its
        key does not match, it is not signed by the current CA, it expires within 30 days, it does not
        cover every name in ``hosts`` (the new one covers its old names plus ``hosts``), or its key
        type differs from an explicit ``key_type``.  ``key_type=None`` keeps the existing leaf's type
        (ECDSA P-256 for a new one).  An imported pair is never replaced (see the class docstring).
        Nothing is written when the CA and leaf can be used as they are.  A read-only folder may
        hold the CA certificate without its key (see ``_ca_without_key``).
        """
        now = _aware(now)
        wanted = [parse_name(h) for h in hosts]
        self.check_folder()
        if self.is_imported:
            return self._check_imported(now)
        keyless_ca = self._ca_without_key(now)
        ca = keyless_ca if keyless_ca is not None else self._ensure_ca(KeyType.ECDSA_P256, now)[0]
        current = self._current_leaf(ca)
        if isinstance(current, str):
            if keyless_ca is not None:
                raise self._read_only_error(current)
            return self._make_leaf(wanted, key_type or KeyType.ECDSA_P256, now, current)
        leaf, key = current
        have = _san_names(leaf)
        missing = [n for n in wanted if n not in have]
        current_type = _key_type_of(key)
        new_type = KeyType(key_type) if key_type else (current_type or KeyType.ECDSA_P256)
        why = self._renewal_reason(leaf, now, missing, current_type, new_type)
        if why is None:
            return describe(leaf, now=now)
        if self._may_serve_until_expiry(leaf, now, missing, current_type, new_type):
            self._warn(
                f"{why}, but the certificate folder {_shown(self.directory)} is read-only: it is served"
                f" until it expires on {_when(leaf.not_valid_after_utc)}. Renew it where the folder is"
                " writable (`flask-launcher cert create --cert-dir FOLDER`) and mount the result."
            )
            return describe(leaf, now=now)
        if keyless_ca is not None:
            raise self._read_only_error(why)
        return self._make_leaf([*have, *missing], new_type, now, why, _lifetime(leaf))

    def _ca_without_key(self, now: dt.datetime) -> x509.Certificate | None:
        """The CA certificate, when the folder is mounted read-only and holds it without its key;
        else None (the CA key is then loaded, and made when missing, as usual).

        The CA key only signs new leaves, and nothing new can be kept in a read-only folder, so a
        Kubernetes secret need not carry it: ``ca.pem``, ``cert.pem`` and ``key.pem`` are enough to
        serve.  The leaf is still checked against this certificate (signature, names, dates), and
        a leaf that must be replaced is the usual read-only error.  A writable folder without the
        CA key stays an error (``_load_ca``): there the key is expected, and may have been lost.
        """
        if self.ca_key_path.exists() or not self.ca_cert_path.exists() or not _read_only_fs(self.directory):
            return None
        source = f"The CA file {_shown(self.ca_cert_path)}"
        ca = _load_certs(_read(self.ca_cert_path, "CA certificate"), source)[0]
        if now >= ca.not_valid_after_utc:
            raise self._read_only_error(
                f"The local CA {_shown(self.ca_cert_path)} expired on {_when(ca.not_valid_after_utc)},"
                " so a new one must be created (and trusted again)"
            )
        return ca

    def _read_only_error(self, why: str) -> CertDirError:
        """The error for a write that ``why`` calls for in a folder mounted read-only."""
        return _dir_error(self.directory, OSError(errno.EROFS, os.strerror(errno.EROFS)), why)

    def _may_serve_until_expiry(
        self,
        leaf: x509.Certificate,
        now: dt.datetime,
        missing: list[x509.GeneralName],
        current_type: KeyType | None,
        new_type: KeyType,
    ) -> bool:
        """A leaf due for renewal only because it expires soon, in a folder mounted read-only (a
        container's secret): serving it until it really expires keeps the deployment up, with a
        warning, where failing now would take it down weeks early."""
        return (
            leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc
            and not missing
            and new_type is current_type
            and _read_only_fs(self.directory)
        )

    def _renewal_reason(
        self,
        leaf: x509.Certificate,
        now: dt.datetime,
        missing: list[x509.GeneralName],
        current_type: KeyType | None,
        new_type: KeyType,
    ) -> str | None:
        """Why the generated ``leaf`` must be replaced (one sentence), or None to keep it."""
        cert = f"The certificate {_shown(self.cert_path)}"
        not_after = leaf.not_valid_after_utc
        if now >= not_after:
            return f"{cert} expired on {_when(not_after)} and must be renewed"
        if now + _renew_before(leaf) >= not_after:
            return f"{cert} expires in {(not_after - now).days} days and must be renewed"
        if now < leaf.not_valid_before_utc:
            return f"{cert} is not valid until {_when(leaf.not_valid_before_utc)}, so a new one must be made"
        if missing:
            names = _shown(", ".join(name_text(n) for n in missing))
            return f"{cert} does not cover {names}, so it must be renewed to add it"
        if new_type is not current_type:
            had = current_type.value if current_type else "another"
            return f"{cert} has a {had} key but {new_type.value} was asked for, so a new one must be made"
        return None

    def _check_imported(self, now: dt.datetime) -> CertInfo:
        source = f"Your imported certificate {_shown(self.cert_path)}"
        cert = _load_certs(_read(self.cert_path, "imported certificate"), source)[0]
        _load_key(_read(self.key_path, "imported key"), f"The imported key {_shown(self.key_path)}")
        _check_time(
            cert,
            now,
            source,
            fix="import a renewed one with `flask-launcher cert import CERT KEY`, or run"
            " `flask-launcher cert create` to go back to a generated certificate.",
        )
        return describe(cert, now=now)

    @_locked
    def import_pair(
        self,
        cert_file: str | Path,
        key_file: str | Path,
        *,
        host: str | None = None,
        ca_file: str | Path | None = None,
        now: dt.datetime | None = None,
    ) -> CertInfo:
        """Validate the user's certificate and key (see ``validate_pair``), then copy them in.

        They become cert.pem (with any chain that follows it in the file) and key.pem (0600); the
        folder's own CA (ca.pem) is left as it is.  Nothing is written when validation fails.
        Without ``ca_file`` the signatures inside the file are checked, and a leaf whose issuer is
        not in the file is imported with a warning (``on_warning``).
        """
        cert_file, key_file = Path(cert_file), Path(key_file)
        cert_pem = _read(cert_file, "certificate")
        key_pem = _read(key_file, "key")
        ca_pem = _read(Path(ca_file), "CA certificate") if ca_file is not None else None
        info = validate_pair(
            cert_pem,
            key_pem,
            host=host,
            ca_pem=ca_pem,
            now=now,
            cert_source=f"The certificate {_shown(cert_file)}",
            key_source=f"The key {_shown(key_file)}",
            ca_source=_shown(ca_file) if ca_file is not None else "",
            warn=self._warn,
        )
        self.check_folder()
        why = f"Importing {_shown(cert_file)} copies it into the folder"
        self._require_writable(why)
        record = {
            "cert": str(cert_file.resolve()),
            "key": str(key_file.resolve()),
            "ca": str(Path(ca_file).resolve()) if ca_file is not None else "",
            "fingerprint_sha256": info.fingerprint_sha256,
            "imported_at": _aware(now).isoformat(timespec="seconds"),
        }
        self._write(self.key_path, key_pem, 0o600, why)
        self._write(self.cert_path, cert_pem, 0o644, why)
        self._write(self.marker_path, (json.dumps(record, indent=2) + "\n").encode(), 0o644, why)
        return info

    # -- CA rotation --------------------------------------------------------------------------------

    def _rotation_ca_cn(self, old: x509.Certificate, now: dt.datetime) -> str:
        """A common name for the new CA that differs from the old one's: it is the nickname in NSS
        databases, where certificates of one name share a nickname and would be hard to tell apart."""
        base = _default_ca_cn()
        old_cn = old.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not old_cn or old_cn[0].value != base:
            return base
        stamped = base.replace(" local CA ", f" local CA {now:%Y%m%d-%H%M%S} ", 1)
        return stamped[:64]

    @_locked
    def plan_rotation(
        self, ca_domains: Sequence[str] = (), *, now: dt.datetime | None = None
    ) -> RotationPlan:
        """Work out a rotation to a new name-constrained CA (``ca_domains`` added); write nothing.

        The served leaf's names (a generated leaf; the defaults when it is unreadable) must be
        permitted by the new CA, else NameNotPermittedError names the one to add with ``--ca-domain``.
        CertError when there is no CA to rotate.
        """
        now = _aware(now)
        subtrees = [parse_ca_domain(d) for d in ca_domains]
        self.check_folder()
        loaded = self._load_ca()
        if loaded is None:
            raise CertError(
                f"There is no local CA in {_shown(self.directory)} to replace:"
                " `flask-launcher cert create` makes a name-constrained one."
            )
        old_ca = loaded[0]
        hosts: tuple[x509.GeneralName, ...] = ()
        key_type, validity = KeyType.ECDSA_P256, LEAF_VALIDITY
        if not self.is_imported:
            current = self._current_leaf(old_ca) if self.cert_path.exists() else "none"
            if isinstance(current, str):
                hosts = tuple(parse_name(h) for h in DEFAULT_HOSTS)
            else:
                leaf, key = current
                hosts = tuple(_san_names(leaf)) or tuple(parse_name(h) for h in DEFAULT_HOSTS)
                key_type = _key_type_of(key) or KeyType.ECDSA_P256
                validity = _lifetime(leaf)
        constraints = ca_name_constraints(subtrees)
        for name in hosts:
            if not permits(constraints, name):
                fix = _shown(_fix_domain(name))
                raise NameNotPermittedError(
                    f"The served certificate names {_shown(name_text(name))}, which a name-constrained CA"
                    f" permits only when asked: add `--ca-domain {fix}` to `flask-launcher cert rotate-ca`.",
                    name_text(name),
                )
        key = generate_key(KeyType.ECDSA_P256)
        new_ca = build_ca(key, common_name=self._rotation_ca_cn(old_ca, now), now=now, ca_domains=subtrees)
        backup = self.directory / f"backup-{now:%Y%m%d-%H%M%S}"
        return RotationPlan(old_ca, new_ca, key, hosts, key_type, validity, backup)

    @_locked
    def rotate_ca(self, plan: RotationPlan, *, now: dt.datetime | None = None) -> Rotation:
        """Carry out ``plan``: copy the folder's files into ``plan.backup_dir`` (0700; keys 0600),
        write the new CA, and re-sign the generated leaf with it (same names, key type, lifetime).

        Refuses (CertError) when the CA changed since the plan was made.  Trust is not touched here:
        ``launcher.trustmove`` moves it from the old CA to the new one.
        """
        now = _aware(now)
        self.check_folder()
        loaded = self._load_ca()
        if loaded is None or _fingerprint(loaded[0]) != _fingerprint(plan.old_ca):
            raise CertError(
                f"The local CA {_shown(self.ca_cert_path)} changed while the rotation was being prepared:"
                " run `flask-launcher cert rotate-ca` again."
            )
        why = "Replacing the local CA writes a backup of the old files and the new CA"
        self._require_writable(why)
        backup = plan.backup_dir
        for n in range(2, 100):
            try:
                backup.mkdir(mode=0o700)
                break
            except FileExistsError:
                backup = plan.backup_dir.with_name(f"{plan.backup_dir.name}-{n}")
            except OSError as exc:
                raise _dir_error(self.directory, exc, why) from None
        os.chmod(backup, 0o700)
        for path, mode in (
            (self.ca_cert_path, 0o644),
            (self.ca_key_path, 0o600),
            (self.cert_path, 0o644),
            (self.key_path, 0o600),
            (self.marker_path, 0o644),
        ):
            if path.exists():
                self._write(backup / path.name, _read(path, "file to back up"), mode, why)
        self._write(self.ca_key_path, _key_pem(plan.new_ca_key), 0o600, why)
        self._write(self.ca_cert_path, plan.new_ca_pem, 0o644, why)
        leaf = None
        if plan.leaf_hosts:
            leaf = self._make_leaf(list(plan.leaf_hosts), plan.leaf_key_type, now, why, plan.leaf_validity)
        return Rotation(backup, backup / self.ca_cert_path.name, describe(plan.new_ca, now=now), leaf)

    # -- check ----------------------------------------------------------------------------------------

    def check(self, within_days: int = 30, *, now: dt.datetime | None = None) -> CheckResult:
        """A verdict on the served certificate for CI and containers (reads only, writes nothing).

        BAD: no certificate, unreadable, its key does not match, not yet valid or expired, or (a
        generated one) not issued by the folder's CA, a name the CA does not permit, or the CA
        expired.  EXPIRING: it expires within ``within_days``.  OK otherwise.  An imported
        certificate is checked against the local CA only when that CA issued it.
        """
        now = _aware(now)
        cert_path = _shown(self.cert_path)
        if not self.cert_path.exists():
            return CheckResult(
                CheckStatus.BAD,
                f"No certificate in {_shown(self.directory)}: run `flask-launcher cert create`.",
            )
        try:
            leaf = _load_certs(_read(self.cert_path, "certificate"), f"The certificate {cert_path}")[0]
            key = _load_key(_read(self.key_path, "key"), f"The key {_shown(self.key_path)}")
            if _spki(key.public_key()) != _spki(leaf.public_key()):
                return CheckResult(
                    CheckStatus.BAD, f"The key {_shown(self.key_path)} does not belong to {cert_path}."
                )
            ca = None
            if self.ca_cert_path.exists():
                ca = _load_certs(
                    _read(self.ca_cert_path, "CA certificate"), f"The CA {_shown(self.ca_cert_path)}"
                )[0]
        except CertError as exc:
            return CheckResult(CheckStatus.BAD, str(exc))
        names = _shown(", ".join(name_text(n) for n in _san_names(leaf))) or "no names"
        what = f"{cert_path} ({names})"
        if now < leaf.not_valid_before_utc:
            return CheckResult(
                CheckStatus.BAD, f"{what} is not valid until {_when(leaf.not_valid_before_utc)}."
            )
        if now >= leaf.not_valid_after_utc:
            return CheckResult(CheckStatus.BAD, f"{what} expired on {_when(leaf.not_valid_after_utc)}.")
        imported = self.is_imported
        chained = ""
        if ca is not None and (not imported or _issued_by(leaf, ca)):
            if not _issued_by(leaf, ca):
                return CheckResult(
                    CheckStatus.BAD, f"{what} was not issued by the local CA {_shown(self.ca_cert_path)}."
                )
            refused = [n for n in _san_names(leaf) if not permits(ca_constraints(ca), n)]
            if refused:
                return CheckResult(
                    CheckStatus.BAD,
                    f"{what} names {_shown(name_text(refused[0]))}, which the local CA's name constraints"
                    " do not permit: clients refuse it.",
                )
            if now >= ca.not_valid_after_utc:
                return CheckResult(
                    CheckStatus.BAD,
                    f"The local CA that issued {what} expired on {_when(ca.not_valid_after_utc)}.",
                )
            chained = " and chains to the local CA"
        elif ca is None and not imported:
            return CheckResult(
                CheckStatus.BAD, f"{what} cannot be checked: the CA {_shown(self.ca_cert_path)} is missing."
            )
        elif imported:
            chained = " (imported; its issuer is not the local CA, so the chain is not checked)"
        left = leaf.not_valid_after_utc - now
        until = f"{_when(leaf.not_valid_after_utc)} ({left.days} days left)"
        if left <= dt.timedelta(days=within_days):
            return CheckResult(
                CheckStatus.EXPIRING, f"{what} expires on {until}, within {within_days} days{chained}."
            )
        return CheckResult(CheckStatus.OK, f"{what} is valid until {until}{chained}.")
