"""Small facts about URLs and hosts: a URL's origin and host, whether a host is an IP or loopback."""

from __future__ import annotations

import ipaddress
import urllib.parse

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 address (brackets allowed), False for a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback_host(host: str) -> bool:
    """True for localhost, *.localhost and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    return (
        host in LOOPBACK_NAMES
        or host.endswith(".localhost")
        or (is_ip(host) and ipaddress.ip_address(host).is_loopback)
    )


def origin(url: str) -> str:
    """``scheme://host:port`` of *url*."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def host_of(url: str | None) -> str:
    """The host name of *url* ("" for None or no host)."""
    return (urllib.parse.urlsplit(url).hostname or "") if url else ""
