"""The name-constrained local CA in a real browser (Debian chromium, headless, temporary HOME).

With the tool's CA trusted in a temporary NSS database (through ``flask-launcher trust install
--store chromium``), a leaf the tool made for ``myapp.localhost`` loads (Chromium resolves
``*.localhost`` to loopback itself).  A leaf for ``www.example.com`` that a thief signed directly
with ``ca-key.pem`` (built with ``cryptography``, bypassing the tool's refusal) is refused: empty
DOM, the page text absent.  The name is mapped to 127.0.0.1 with ``--host-resolver-rules``; the
control, the same kind of leaf signed by an *unconstrained* CA trusted in the same database and
reached the same way, loads, so the refusal comes from the name constraints and nothing else.
OpenSSL refuses the thief's leaf too ("permitted subtree violation"); a leaf for a public IP,
which the resolver rules cannot map, is covered with OpenSSL and Python's ``ssl`` in
``tests/test_ca_constraints.py``.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from test_browser_trust import HTTPS_TEXT, open_page, trust

pytestmark = pytest.mark.browser

THIEF_TEXT = "A page served with a stolen CA key"


def leaf_for(ca: x509.Certificate, ca_key: object, name: str, tmp: Path, tag: str) -> tuple[Path, Path]:
    """A server leaf for ``name`` signed with ``ca_key`` directly (no check of any constraint)."""
    from launcher.certs import generate_key

    key = generate_key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_file, key_file = tmp / f"{tag}.pem", tmp / f"{tag}-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<html><body><p>{THIEF_TEXT}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def https_page(cert: Path, key: Path) -> Iterator[int]:
    """A tiny HTTPS server on 127.0.0.1 serving ``THIEF_TEXT`` with ``cert``; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.timeout(900)  # the first run in CI may install chromium
def test_chromium_enforces_the_local_cas_name_constraints(
    chromium: str,
    chromium_flags: list[str],
    home: Path,
    tmp_path: Path,
    make_servers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flaskapp import create_app
    from launcher.certs import CertStore, build_ca, ca_constraints, generate_key
    from launcher.trust import LocalCA, chromium_store

    cert_dir = tmp_path / "certs"
    store = CertStore(cert_dir)
    store.create_leaf(["myapp.localhost"])
    assert ca_constraints(x509.load_pem_x509_certificate(store.ca_cert_path.read_bytes())) is not None
    out = trust("install", cert_dir, capsys)
    assert "now trusts" in out, out

    # 1. The tool's leaf for myapp.localhost, served by the launcher: loads.
    servers = make_servers(create_app(), cert_store=store)
    url = f"https://myapp.localhost:{servers.https.port}/"
    dom, err = open_page(chromium, chromium_flags, url, home)
    assert HTTPS_TEXT in dom, (dom[-2000:], err[-2000:])

    # 2. The thief: a leaf for www.example.com signed with ca-key.pem directly.  Refused.
    ca = x509.load_pem_x509_certificate(store.ca_cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(store.ca_key_path.read_bytes(), None)
    thief_cert, thief_key = leaf_for(ca, ca_key, "www.example.com", tmp_path, "thief")
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", str(store.ca_cert_path), str(thief_cert)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0 and "permitted subtree violation" in proc.stdout + proc.stderr
    mapped = [*chromium_flags, "--host-resolver-rules=MAP www.example.com 127.0.0.1"]
    with https_page(thief_cert, thief_key) as port:
        dom, err = open_page(chromium, mapped, f"https://www.example.com:{port}/", home)
    assert THIEF_TEXT not in dom and dom.strip() == "", dom[-2000:]
    assert "ERR_CERT" in err, err[-2000:]

    # 3. The control: an unconstrained CA, trusted in the same database, signs the same kind of
    #    leaf, reached the same way: it loads.  So it is the constraints that refused step 2.
    control_key = generate_key()
    control = build_ca(control_key, common_name="Unconstrained control CA", constrained=False)
    control_file = tmp_path / "control-ca.pem"
    control_file.write_bytes(control.public_bytes(serialization.Encoding.PEM))
    assert "now trusts" in chromium_store().install(LocalCA.load(control_file)).message
    control_cert, control_leaf_key = leaf_for(control, control_key, "www.example.com", tmp_path, "control")
    with https_page(control_cert, control_leaf_key) as port:
        dom, err = open_page(chromium, mapped, f"https://www.example.com:{port}/", home)
    assert THIEF_TEXT in dom, (dom[-2000:], err[-2000:])
