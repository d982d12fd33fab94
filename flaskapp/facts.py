"""What this request came over, and what Flask believes it came over.

Two different questions, answered from the WSGI environ:

* **transport**: what the socket that served this request spoke. Under the launcher the environ key
  ``launcher.listener`` says which listener accepted the connection ("http" or "https"); elsewhere
  (``flask run``, another WSGI server) the presence of the TLS keys decides, and failing that the
  server's own ``wsgi.url_scheme``.
* **Flask's view**: ``request.scheme`` is ``environ["wsgi.url_scheme"]``, set by the server per
  listener and changed only by a trusted-proxy setting (waitress ``trusted_proxy`` or ProxyFix)
  honouring ``X-Forwarded-Proto``. ``request.is_secure`` is just ``scheme in ("https", "wss")``.

Limits: the app cannot see its own certificate or the response headers added after it by the
launcher's middleware (HSTS, redirects); the launcher passes what the app needs to know about those
as environ keys (``launcher.hsts``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Request, url_for

LISTENER_KEY = "launcher.listener"
#: Set by the launcher to the Strict-Transport-Security header value when its HSTS option is on
#: (absent when off). The launcher adds the header to HTTPS responses only, after the app has run.
HSTS_KEY = "launcher.hsts"

HEADLINE = {
    "https": "This page came to you over HTTPS.",
    "http": "This page came to you over plain HTTP.",
}


def transport(environ: dict[str, Any]) -> str:
    """Return "https" or "http": what the connection that carried this request spoke."""
    listener = environ.get(LISTENER_KEY)
    if listener in ("http", "https"):
        return str(listener)
    if environ.get("SSL_PROTOCOL") or environ.get("HTTPS", "").lower() == "on":
        return "https"
    return "https" if environ.get("wsgi.url_scheme") == "https" else "http"


def tls_facts(environ: dict[str, Any]) -> dict[str, Any] | None:
    """The TLS facts the server put in the environ, or None on a connection without TLS."""
    version = environ.get("SSL_PROTOCOL")
    if not version:
        return None
    bits = str(environ.get("SSL_CIPHER_USEKEYSIZE"))
    return {
        "version": version,
        "cipher": environ.get("SSL_CIPHER"),
        "sni": environ.get("SSL_TLS_SNI"),
        "alpn": environ.get("SSL_ALPN_PROTOCOL"),
        "cipher_bits": int(bits) if bits.isdigit() else None,
    }


def host_name(request: Request) -> str:
    """The Host header without its port (and without the brackets of an IPv6 literal)."""
    host = request.host
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_ip_host(request: Request) -> bool:
    """True when the browser addressed this server by an IP literal rather than a name."""
    try:
        ipaddress.ip_address(host_name(request))
    except ValueError:
        return False
    return True


def server_port(environ: dict[str, Any]) -> int | None:
    port = str(environ.get("SERVER_PORT", ""))
    return int(port) if port.isdigit() else None


def inspect_facts(request: Request) -> dict[str, Any]:
    """The /inspect document. The first eleven keys are a stable contract with the inspector."""
    environ = request.environ
    actual = transport(environ)
    return {
        "scheme": request.scheme,
        "is_secure": request.is_secure,
        "url_root": request.url_root,
        "host": request.host,
        "server_port": server_port(environ),
        "url_for_external": url_for("pages.index", _external=True),
        "wsgi_url_scheme": environ.get("wsgi.url_scheme"),
        "remote_addr": request.remote_addr,
        "listener": environ.get(LISTENER_KEY),
        "x_forwarded_proto": request.headers.get("X-Forwarded-Proto"),
        "tls": tls_facts(environ),
        # Additions (not part of the contract; free to grow):
        "transport": actual,
        "flask_agrees": request.scheme == actual,
        "summary": HEADLINE[actual],
        "http_version": environ.get("SERVER_PROTOCOL"),
        "hsts": environ.get(HSTS_KEY),
    }
