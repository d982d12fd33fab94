"""The phone set-up page that ``serve --lan`` serves over plain HTTP (Qt-free).

It lives under ``PREFIX`` (``/.well-known/flask-https-launcher/``), in front of the app on the HTTP
listener only (``OnboardingMiddleware``): RFC 8615 reserves ``/.well-known/`` for site-wide
metadata, so no app route is there, and the page is reachable at the HTTP URL the user already
sees, with no extra port to open in a firewall.  It sits outside the redirect to HTTPS, because a
phone that does not trust the CA yet must be able to fetch it over HTTP.

What it serves is a fixed table of names, each made from the CA *certificate* alone (parsed, then
serialised again): the page, ``ca.pem``, ``ca.crt`` (DER), ``ca.mobileconfig`` (an iOS profile)
and ``qr.png``.  Any other path under the prefix is a 404; no file is ever read by a name taken
from the request, so no private key can come out of it.
"""

from __future__ import annotations

import html
import io
import plistlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

if TYPE_CHECKING:
    from launcher.lan import LanScan

PREFIX = "/.well-known/flask-https-launcher/"
PEM_TYPE = "application/x-pem-file"
DER_TYPE = "application/x-x509-ca-cert"
MOBILECONFIG_TYPE = "application/x-apple-aspen-config"
#: A fixed namespace, so that a profile's UUIDs follow from the CA's fingerprint alone.
_NAMESPACE = uuid.UUID("6f6a3a52-3c8e-4b0e-9a7e-2f1f5d9c7b41")

WSGIApp = Callable[..., Iterable[bytes]]


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, as ``AB:CD:…`` (what phones and browsers show)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def mobileconfig(cert: x509.Certificate, name: str = "Flask HTTPS Launcher local CA") -> bytes:
    """An iOS/macOS configuration profile holding *cert* as a trusted root
    (``com.apple.security.root``); unsigned, so iOS shows it as "Not Verified" before installing."""
    der = cert.public_bytes(serialization.Encoding.DER)
    digest = cert.fingerprint(hashes.SHA256()).hex()
    payload = {
        "PayloadCertificateFileName": "flask-https-launcher-ca.crt",
        "PayloadContent": der,
        "PayloadDescription": "Adds the local CA of Flask HTTPS Launcher as a trusted root.",
        "PayloadDisplayName": name,
        "PayloadIdentifier": f"dev.flask-https-launcher.ca.{digest[:16]}.cert",
        "PayloadType": "com.apple.security.root",
        "PayloadUUID": str(uuid.uuid5(_NAMESPACE, digest + ":cert")).upper(),
        "PayloadVersion": 1,
    }
    profile = {
        "PayloadContent": [payload],
        "PayloadDescription": "Trust the local development CA (it may sign only local and private names).",
        "PayloadDisplayName": name,
        "PayloadIdentifier": f"dev.flask-https-launcher.ca.{digest[:16]}",
        "PayloadRemovalDisallowed": False,
        "PayloadType": "Configuration",
        "PayloadUUID": str(uuid.uuid5(_NAMESPACE, digest)).upper(),
        "PayloadVersion": 1,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML)


def qr_png(url: str, scale: int = 6) -> bytes:
    """A QR code of *url* as a PNG image."""
    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_text(url: str) -> str:
    """A QR code of *url* for a terminal: UTF-8 half blocks, two modules per character row, dark
    on light (with its quiet zone), so it scans from a dark or a light terminal."""
    import segno

    qr = segno.make(url, error="l")
    rows = [[bool(bit) for bit in row] for row in qr.matrix_iter(scale=1, border=2)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    chars = {(False, False): "\u2588", (True, False): "\u2584", (False, True): "\u2580", (True, True): " "}
    return "\n".join(
        "".join(chars[(top, bottom)] for top, bottom in zip(rows[i], rows[i + 1], strict=True))
        for i in range(0, len(rows), 2)
    )


@dataclass(frozen=True)
class PageLinks:
    """The URLs the page points at: itself (for the QR code) and the HTTPS app to check with."""

    page_url: str
    https_urls: tuple[str, ...]


STEPS = (
    (
        "iPhone and iPad",
        "Tap “iOS profile” below and allow the download; open Settings › Profile Downloaded and "
        "install it. Then turn on full trust for it under Settings › General › About › "
        "Certificate Trust Settings (iOS does not trust an installed root until you do).",
    ),
    (
        "Android",
        "Tap “Android certificate”, then open Settings › Security › Encryption & credentials › "
        "Install a certificate › CA certificate and pick the downloaded file. Chrome trusts it; "
        "apps ignore user CAs unless their network security config allows them.",
    ),
    (
        "macOS",
        "Download the PEM file, open it (Keychain Access adds it to the login keychain), double-"
        "click the certificate and set “When using this certificate” to Always Trust. Or open the "
        "profile in System Settings › Privacy & Security › Profiles.",
    ),
    (
        "Windows",
        "Download the certificate (.crt), open it, Install Certificate… › Current User › Place "
        "all certificates in the following store › Trusted Root Certification Authorities.",
    ),
    (
        "Linux",
        "Copy the PEM file to /usr/local/share/ca-certificates/flask-https-launcher.crt and run "
        "sudo update-ca-certificates (Fedora: /etc/pki/ca-trust/source/anchors/ and "
        "update-ca-trust). Chrome on Linux reads the NSS database: certutil -d sql:$HOME/.pki/nssdb "
        "-A -t C,, -n flask-https-launcher -i ca.pem.",
    ),
    (
        "Firefox (any system)",
        "Settings › Privacy & Security › Certificates › View Certificates › Authorities › "
        "Import…, pick the PEM file and tick “Trust this CA to identify websites”.",
    ),
)


def page(cert: x509.Certificate, links: PageLinks) -> bytes:
    """The HTML page: the downloads, the fingerprint, the steps per system, the check link and
    the QR code of the page's own URL."""
    esc = html.escape
    fp = fingerprint(cert)
    steps = "\n".join(f"<h3>{esc(title)}</h3>\n<p>{esc(text)}</p>" for title, text in STEPS)
    checks = "\n".join(f'<li><a href="{esc(url)}">{esc(url)}</a></li>' for url in links.https_urls)
    text = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trust the local CA — Flask HTTPS Launcher</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:1em auto;padding:0 1em;line-height:1.4}}
code{{word-break:break-all}}
a.button{{display:inline-block;margin:.2em 0;padding:.4em .8em;border:1px solid #888;
border-radius:.3em;text-decoration:none}}</style>
</head><body>
<h1>Trust this computer's development CA</h1>
<p>This page sets up your phone or another computer to open the app over HTTPS. The CA below
may sign only local names (localhost, .local, .test…) and private addresses, so trusting it
cannot let anyone impersonate a public web site.</p>
<h2>1. Download the CA certificate</h2>
<p><a class="button" href="ca.mobileconfig">iOS profile (.mobileconfig)</a><br>
<a class="button" href="ca.crt">Android certificate (.crt)</a><br>
<a class="button" href="ca.pem">PEM (.pem: macOS, Linux, Firefox)</a></p>
<h2>2. Compare the fingerprint</h2>
<p>The SHA-256 fingerprint your device shows must be:</p>
<p><code id="fingerprint">{esc(fp)}</code></p>
<h2>3. Install and trust it</h2>
{steps}
<h2>4. Check it worked</h2>
<p>These should open without a warning:</p>
<ul>{checks}</ul>
<h2>Open this page on another device</h2>
<p><img id="qr" src="qr.png" alt="QR code of {esc(links.page_url)}" width="240"></p>
<p><code>{esc(links.page_url)}</code></p>
</body></html>
"""
    return text.encode()


class OnboardingMiddleware:
    """Serves the set-up page under ``PREFIX``; every other request goes to *app*.

    *load_ca* returns the CA certificate (called per request, so a rotated CA is served at once);
    *links* returns the page's URLs.
    """

    def __init__(
        self,
        app: WSGIApp,
        load_ca: Callable[[], x509.Certificate],
        links: Callable[[], PageLinks],
    ) -> None:
        self.app = app
        self.load_ca = load_ca
        self.links = links

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not (path + "/").startswith(PREFIX):
            return self.app(environ, start_response)
        name = path[len(PREFIX) :] if len(path) >= len(PREFIX) else ""
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _respond(start_response, "405 Method Not Allowed", "text/plain", b"GET only\n",
                            method, [("Allow", "GET, HEAD")])  # fmt: skip
        if path + "/" == PREFIX:  # the prefix without its slash
            return _respond(start_response, "308 Permanent Redirect", "text/plain", b"", method,
                            [("Location", PREFIX)])  # fmt: skip
        cert = self.load_ca()
        made = self._make(name, cert)
        if made is None:
            return _respond(start_response, "404 Not Found", "text/plain", b"not found\n", method)
        content_type, body, disposition = made
        extra = [("Content-Disposition", f'attachment; filename="{disposition}"')] if disposition else []
        return _respond(start_response, "200 OK", content_type, body, method, extra)

    def _make(self, name: str, cert: x509.Certificate) -> tuple[str, bytes, str | None] | None:
        if name in ("", "index.html"):
            return "text/html; charset=utf-8", page(cert, self.links()), None
        if name == "ca.pem":
            return PEM_TYPE, cert.public_bytes(serialization.Encoding.PEM), "flask-https-launcher-ca.pem"
        if name == "ca.crt":
            return DER_TYPE, cert.public_bytes(serialization.Encoding.DER), "flask-https-launcher-ca.crt"
        if name == "ca.mobileconfig":
            return MOBILECONFIG_TYPE, mobileconfig(cert), "flask-https-launcher-ca.mobileconfig"
        if name == "qr.png":
            return "image/png", qr_png(self.links().page_url), None
        return None


def _respond(
    start_response: Callable[..., Any],
    status: str,
    content_type: str,
    body: bytes,
    method: str,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        *(extra or []),
    ]
    start_response(status, headers)
    return [] if method == "HEAD" else [body]


# --- shared by ``serve --lan`` and the window's "Share on my network" (``Servers.share``) -----------


def lan_hosts(*, include_bridges: bool = False, ipv6: bool = False) -> tuple[LanScan, list[str]]:
    """The ``launcher.lan.LanScan`` and the names the leaf gains for LAN sharing: the LAN
    addresses and ``<hostname>.local``.  *ipv6*: the listeners bind ``::``."""
    from launcher.lan import mdns_name, scan

    found = scan(include_bridges=include_bridges, ipv6=ipv6)
    hosts = [str(item.address) for item in found.addresses]
    local = mdns_name()
    if local is not None:
        hosts.append(local)
    return found, hosts


def lan_url_hosts(scan: LanScan, extra_hosts: Iterable[str]) -> list[str]:
    """The URL hosts other devices can use: the LAN addresses, then ``<hostname>.local``."""
    hosts: list[str] = [item.url_host for item in scan.addresses]
    return hosts + [h for h in extra_hosts if h.endswith(".local")]


def onboarding_url(servers: Any, scan: LanScan, extra_hosts: Iterable[str]) -> str | None:
    """The phone set-up page's URL (the first LAN address), or None when there is no LAN host."""
    hosts = lan_url_hosts(scan, extra_hosts)
    return f"http://{hosts[0]}:{servers.http.port}{PREFIX}" if hosts else None


def onboarding_front(
    store: Any, servers: Any, scan: LanScan, extra_hosts: Iterable[str]
) -> Callable[[WSGIApp], WSGIApp]:
    """The HTTP listener's wrapper that serves the phone set-up page (``OnboardingMiddleware``)."""
    extra = tuple(extra_hosts)

    def load_ca() -> x509.Certificate:
        return x509.load_pem_x509_certificates(Path(store.ca_cert_path).read_bytes())[0]

    def links() -> PageLinks:
        https = servers.https.port if servers.https.running else None
        checks = tuple(f"https://{h}:{https}/" for h in lan_url_hosts(scan, extra)) if https else ()
        return PageLinks(onboarding_url(servers, scan, extra) or "", checks)

    return lambda app: OnboardingMiddleware(app, load_ca, links)
