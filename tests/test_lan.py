"""``serve --lan`` and ``--name`` without a second host: which interface addresses are offered,
the options, and the phone set-up page served by a real HTTP listener on 127.0.0.1 (its
downloads, and that no path under its prefix gives out key material)."""

from __future__ import annotations

import http.client
import ipaddress
import json
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from launcher.errors import ConfigError
from launcher.lan import LanAddress, LanScan, classify, mdns_name, parse_ip_json
from launcher.options import ServeConfig, parse_label

IP_JSON = json.dumps(
    [
        {"ifname": "lo", "flags": ["LOOPBACK", "UP"], "addr_info": [
            {"family": "inet", "local": "127.0.0.1"}, {"family": "inet6", "local": "::1"}]},
        {"ifname": "wlan0", "flags": ["BROADCAST", "UP", "LOWER_UP"], "addr_info": [
            {"family": "inet", "local": "192.168.1.23"},
            {"family": "inet6", "local": "fe80::1"},
            {"family": "inet6", "local": "fd12::23"}]},
        {"ifname": "eth1", "flags": ["BROADCAST"], "addr_info": [{"family": "inet", "local": "10.9.9.9"}]},
        {"ifname": "docker0", "flags": ["UP"], "addr_info": [{"family": "inet", "local": "172.17.0.1"}]},
        {"ifname": "veth1a2b", "flags": ["UP"], "addr_info": [{"family": "inet", "local": "10.1.0.1"}]},
        {"ifname": "eth0", "flags": ["UP"], "addr_info": [{"family": "inet", "local": "203.0.113.5"}]},
    ]
)  # fmt: skip


def addresses(scan: LanScan) -> list[str]:
    return [str(a.address) for a in scan.addresses]


def test_only_up_private_non_bridge_addresses_are_offered():
    found = parse_ip_json(IP_JSON)
    assert "10.9.9.9" not in [str(a.address) for a in found]  # eth1 is down
    scan = classify(found, ipv6=False)
    assert addresses(scan) == ["192.168.1.23"]
    why = {str(item.address): reason for item, reason in scan.skipped}
    assert "bridge" in why["172.17.0.1"] and "bridge" in why["10.1.0.1"]
    assert "not a private address" in why["203.0.113.5"]
    assert "IPv6" in why["fd12::23"]
    assert "fe80::1" not in why and "127.0.0.1" not in why


def test_bridges_and_ipv6_when_asked():
    scan = classify(parse_ip_json(IP_JSON), include_bridges=True, ipv6=True)
    assert addresses(scan) == ["192.168.1.23", "172.17.0.1", "10.1.0.1", "fd12::23"]  # bridges after
    assert LanAddress("wlan0", ipaddress.ip_address("fd12::23")).url_host == "[fd12::23]"


def test_this_machine_offers_no_loopback_and_nothing_the_ca_cannot_sign():
    from launcher.certs import CA_PERMITTED_NETWORKS
    from launcher.lan import scan

    for item in scan(include_bridges=True).addresses:
        assert not item.address.is_loopback
        version = item.address.version
        assert any(item.address in net for net in CA_PERMITTED_NETWORKS if net.version == version)


def test_mdns_name():
    assert mdns_name("Laptop-7.example.org") == "laptop-7.local"
    assert mdns_name("bad_name") is None and mdns_name("-x") is None


def test_lan_binds_all_interfaces_and_name_is_a_label():
    assert ServeConfig().bind_host == "127.0.0.1"
    config = ServeConfig(lan=True)
    assert config.bind_host == "0.0.0.0" and config.exposed
    assert ServeConfig(lan=True, host="::").bind_host == "::"
    with pytest.raises(ConfigError, match="--lan binds all interfaces"):
        ServeConfig(lan=True, host="10.0.0.1")
    with pytest.raises(ConfigError, match="--no-http"):
        ServeConfig(lan=True, http=False)
    assert parse_label("MyApp") == "myapp" and parse_label("myapp.localhost") == "myapp"
    for bad in ("my app", "-x", "a.b", "", "é"):
        with pytest.raises(ValueError, match="invalid name"):
            parse_label(bad)


def test_serve_flags(tmp_path):
    from launcher.cli import build_parser

    args = build_parser().parse_args(["serve", "--lan", "--lan-bridges", "--name", "shop"])
    assert (args.lan, args.lan_bridges, args.name) == (True, True, "shop")


# --- the phone set-up page, served for real --------------------------------------------------------


PREFIX = "/.well-known/flask-https-launcher/"


def app_says_hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the app: " + environ["PATH_INFO"].encode("latin-1")]


@pytest.fixture
def lan_servers(tmp_path):
    """Servers on 127.0.0.1 with the set-up page in front of HTTP, a leaf for ``shop.localhost``."""
    from launcher.certs import CertStore
    from launcher.onboarding import onboarding_front
    from launcher.servers import Servers

    store = CertStore(tmp_path / "certs")
    config = ServeConfig(http_port=0, https_port=0, name="shop", redirect_https=308)
    servers = Servers.from_config(app_says_hello, config, cert_store=store, hosts=["127.0.0.1"])
    scan = LanScan((LanAddress("lo", ipaddress.ip_address("127.0.0.1")),))
    servers.http_front = onboarding_front(store, servers, scan, ["box.local"])
    assert not servers.start_all()
    yield servers, store
    servers.stop_all()


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_the_page_and_each_download(lan_servers):
    servers, store = lan_servers
    port = servers.http.port
    ca = x509.load_pem_x509_certificate(Path(store.ca_cert_path).read_bytes())
    fingerprint = ca.fingerprint(hashes.SHA256()).hex(":").upper()

    status, headers, body = get(port, PREFIX)
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode()
    assert fingerprint in page and "Certificate Trust Settings" in page and "network security config" in page
    assert f"https://127.0.0.1:{servers.https.port}/" in page and 'src="qr.png"' in page

    status, headers, body = get(port, PREFIX + "ca.pem")
    assert status == 200 and headers["content-type"] == "application/x-pem-file"
    assert x509.load_pem_x509_certificate(body) == ca
    status, headers, body = get(port, PREFIX + "ca.crt")
    assert headers["content-type"] == "application/x-x509-ca-cert"
    assert x509.load_der_x509_certificate(body) == ca
    status, headers, body = get(port, PREFIX + "ca.mobileconfig")
    assert headers["content-type"] == "application/x-apple-aspen-config"
    profile = plistlib.loads(body)
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert x509.load_der_x509_certificate(payload["PayloadContent"]) == ca
    status, headers, body = get(port, PREFIX + "qr.png")
    assert headers["content-type"] == "image/png" and body.startswith(b"\x89PNG")
    if shutil.which("zbarimg"):
        decoded = subprocess.run(["zbarimg", "-q", "--raw", "-"], input=body, capture_output=True, timeout=20)
        assert decoded.stdout.decode().strip() == f"http://127.0.0.1:{port}{PREFIX}"

    # Not on HTTPS, not behind the redirect, and the app still has every other path.
    assert get(port, "/.well-known/flask-https-launcher")[0] == 308
    assert get(port, "/elsewhere")[0] == 308  # the app's paths redirect to HTTPS (--redirect-https)
    assert get(port, PREFIX + "ca.pem", "HEAD")[2] == b""
    assert get(port, PREFIX + "ca.pem", "POST")[0] == 405


def test_no_path_under_the_prefix_gives_out_key_material(lan_servers):
    servers, store = lan_servers
    keys = [Path(store.ca_key_path), Path(store.key_path)]
    secrets = []
    for key_path in keys:
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        numbers = key.private_numbers()  # type: ignore[union-attr]
        scalar = getattr(numbers, "private_value", None) or numbers.d  # EC, else RSA
        secrets += [key_path.read_bytes().strip(), der, scalar.to_bytes((scalar.bit_length() + 7) // 8)]
    names = ["", "index.html", "ca.pem", "ca.crt", "ca.mobileconfig", "qr.png", "ca.pem?../ca-key.pem"]
    hostile = [
        "ca-key.pem", "key.pem", "cert.pem", "../ca-key.pem", "../../ca-key.pem", "..%2fca-key.pem",
        "%2e%2e/%2e%2e/ca-key.pem", "ca.pem/../ca-key.pem", "./ca-key.pem", "ca.pem%00", "ca.pem/",
        "/ca-key.pem", "//etc/passwd", str(keys[0]), "CA-KEY.PEM", "ca-key.pem.crt",
    ]  # fmt: skip
    for name in names + hostile:
        for port in (servers.http.port,):
            status, _headers, body = get(port, PREFIX + name)
            assert b"PRIVATE KEY" not in body, name
            assert not any(secret in body for secret in secrets), name
            if name in hostile:
                assert status in (404, 400, 308), (name, status)
    # The HTTPS listener has no set-up page: the app answers there.
    import ssl

    context = ssl.create_default_context(cafile=str(store.ca_cert_path))
    conn = http.client.HTTPSConnection("127.0.0.1", servers.https.port, timeout=5, context=context)
    conn.request("GET", PREFIX + "ca.pem")
    assert conn.getresponse().read() == f"the app: {PREFIX}ca.pem".encode()
    conn.close()


def test_name_is_in_the_leaf_and_served(lan_servers):
    import socket
    import ssl

    servers, store = lan_servers
    context = ssl.create_default_context(cafile=str(store.ca_cert_path))
    with (
        socket.create_connection(("127.0.0.1", servers.https.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="shop.localhost") as tls,
    ):
        names = [v for k, v in tls.getpeercert()["subjectAltName"] if k == "DNS"]
    assert "shop.localhost" in names


def test_terminal_qr_is_compact_half_blocks():
    from launcher.onboarding import qr_text

    text = qr_text("http://192.168.1.23:8080" + PREFIX)
    lines = text.splitlines()
    assert set("".join(lines)) <= {"\u2588", "\u2584", "\u2580", " "}
    assert len(lines) <= 22 and all(len(line) == len(lines[0]) <= 45 for line in lines)
