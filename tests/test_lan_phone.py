"""``flask-launcher serve --lan`` with a real second host: two network namespaces this test makes,
joined by a veth pair (the "laptop" at 192.168.77.1 on ``lan0``, the "phone" at 192.168.77.2 on
``wifi0``).  The phone fetches the set-up page through the LAN address, downloads each form of
the CA, checks its fingerprint, then opens the HTTPS app verifying against the downloaded CA; the
QR code on the page decodes (zbarimg) to the page's URL.  ``--name myapp`` is checked from the
laptop itself.  Traffic goes only to addresses inside the namespaces; they are deleted at the end.
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

ROOT = Path(__file__).resolve().parent.parent
LAPTOP, PHONE = "192.168.77.1", "192.168.77.2"
PREFIX = "/.well-known/flask-https-launcher/"

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("ip") is None,
    reason="a second host needs network namespaces and a veth pair: root and iproute2's ip",
)

#: Run in the phone's namespace: argv = the set-up page's URL, the HTTPS port, a folder for the
#: downloads.  Prints JSON of what it saw.
PHONE_CLIENT = r"""
import http.client, json, re, socket, ssl, sys, urllib.parse
page_url, https_port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
parts = urllib.parse.urlsplit(page_url)

def get(path):
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type"), body

result = {"downloads": {}}
status, ctype, body = get(parts.path)
result["page"] = [status, ctype]
result["fingerprint"] = re.search(r'<code id="fingerprint">([^<]+)</code>', body.decode()).group(1)
result["check_links"] = re.findall(r'<a href="(https://[^"]+)">', body.decode())
for name in ("ca.pem", "ca.crt", "ca.mobileconfig", "qr.png"):
    status, ctype, data = get(parts.path + name)
    open(f"{out}/{name}", "wb").write(data)
    result["downloads"][name] = [status, ctype]
result["key_paths"] = {}
for name in ("ca-key.pem", "key.pem", "../ca-key.pem", "..%2f..%2fca-key.pem", "%2e%2e/key.pem"):
    status, ctype, data = get(parts.path + name)
    result["key_paths"][name] = [status, b"PRIVATE KEY" in data]
context = ssl.create_default_context(cafile=f"{out}/ca.pem")
with socket.create_connection((parts.hostname, https_port), timeout=10) as raw:
    with context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
        result["san"] = [list(pair) for pair in tls.getpeercert()["subjectAltName"]]
        tls.sendall(b"GET / HTTP/1.1\r\nHost: " + parts.hostname.encode() + b"\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
result["https_status"] = reply.split(b"\r\n", 1)[0].decode()
print(json.dumps(result))
"""

#: Run in the laptop's namespace: ``myapp.localhost`` over HTTPS on 127.0.0.1, verified.
NAMED_CLIENT = r"""
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
context = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with context.wrap_socket(raw, server_hostname="myapp.localhost") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\nConnection: close\r\n\r\n")
        print(tls.recv(65536).split(b"\r\n", 1)[0].decode())
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespaces():
    """(laptop, phone) network namespaces joined by a veth pair; deleted at the end."""
    laptop, phone = f"lan-laptop-{os.getpid()}", f"lan-phone-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", laptop], capture_output=True).returncode != 0:
        pytest.skip("cannot make a network namespace here")
    try:
        ip("netns", "add", phone)
        ip("-n", laptop, "link", "add", "lan0", "type", "veth", "peer", "name", "wifi0", "netns", phone)
        ip("-n", laptop, "addr", "add", f"{LAPTOP}/24", "dev", "lan0")
        ip("-n", phone, "addr", "add", f"{PHONE}/24", "dev", "wifi0")
        for ns, dev in ((laptop, "lan0"), (phone, "wifi0")):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", dev, "up")
        yield laptop, phone
    finally:
        for ns in (laptop, phone):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def read_banner(proc: subprocess.Popen[str]) -> list[str]:
    """serve's lines up to and including ``Phone set-up:`` (30 s at most)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, f"serve ended early: {lines} {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line.rstrip("\n"))
        if line.startswith("Phone set-up: "):
            return lines
    raise AssertionError(f"no Phone set-up line: {lines}")


def test_a_phone_on_the_lan_sets_up_trust_and_opens_the_app(namespaces, tmp_path):
    laptop, phone = namespaces
    downloads = tmp_path / "phone"
    downloads.mkdir()
    proc = subprocess.Popen(
        ["ip", "netns", "exec", laptop, sys.executable, "-m", "launcher", "serve", "--lan", "--name", "myapp",
         "--http-port", "0", "--https-port", "0", "--cert-dir", str(tmp_path / "certs")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lines = read_banner(proc)
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        https_port = int(lines[1].split()[0].rsplit(":", 1)[1].rstrip("/"))
        assert lines[1].startswith("https://")
        page_url = lines[-1].removeprefix("Phone set-up: ")
        assert re.fullmatch(rf"http://{re.escape(LAPTOP)}:\d+{re.escape(PREFIX)}", page_url), page_url
        assert any(line.startswith(f"LAN: http://{LAPTOP}:") and "(lan0)" in line for line in lines), lines
        assert f"Named host: https://myapp.localhost:{https_port}/" in lines

        client = subprocess.run(
            ["ip", "netns", "exec", phone, sys.executable, "-c", PHONE_CLIENT, page_url, str(https_port),
             str(downloads)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert client.returncode == 0, client.stderr
        seen = json.loads(client.stdout)

        named = subprocess.run(
            ["ip", "netns", "exec", laptop, sys.executable, "-c", NAMED_CLIENT, str(https_port),
             str(downloads / "ca.pem")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert named.returncode == 0, named.stderr
        assert named.stdout.startswith("HTTP/1.1 200 "), named.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)

    ca = x509.load_pem_x509_certificate((tmp_path / "certs" / "ca.pem").read_bytes())
    fingerprint = ca.fingerprint(hashes.SHA256()).hex(":").upper()
    assert seen["page"] == [200, "text/html; charset=utf-8"]
    assert seen["fingerprint"] == fingerprint
    assert seen["downloads"] == {
        "ca.pem": [200, "application/x-pem-file"],
        "ca.crt": [200, "application/x-x509-ca-cert"],
        "ca.mobileconfig": [200, "application/x-apple-aspen-config"],
        "qr.png": [200, "image/png"],
    }
    pem = x509.load_pem_x509_certificate((downloads / "ca.pem").read_bytes())
    der = x509.load_der_x509_certificate((downloads / "ca.crt").read_bytes())
    assert pem.fingerprint(hashes.SHA256()).hex(":").upper() == fingerprint and der == pem
    (payload,) = plistlib.loads((downloads / "ca.mobileconfig").read_bytes())["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert payload["PayloadContent"] == ca.public_bytes(serialization.Encoding.DER)
    key_paths = seen["key_paths"]
    assert all(status == 404 and not leaked for status, leaked in key_paths.values()), key_paths

    assert ["IP Address", LAPTOP] in seen["san"]  # the LAN address is in the leaf, verified by the phone
    assert ["DNS", "myapp.localhost"] in seen["san"]
    assert seen["https_status"].startswith("HTTP/1.1 200 "), seen["https_status"]
    assert f"https://{LAPTOP}:{https_port}/" in seen["check_links"]

    if shutil.which("zbarimg") is None:
        pytest.skip("zbarimg (Debian zbar-tools) is not installed: the QR image was not decoded")
    decoded = subprocess.run(
        ["zbarimg", "-q", "--raw", str(downloads / "qr.png")], capture_output=True, text=True, timeout=30
    )
    assert decoded.stdout.strip() == page_url
