"""The machine's LAN addresses, for ``serve --lan`` (Qt-free).

How the interfaces are read, on Linux: ``ip -j addr`` (iproute2's JSON) when ``ip`` is installed,
because it lists every address of every interface, IPv6 included, with the interface's flags;
else ``socket.if_nameindex()`` and the ``SIOCGIFADDR`` ioctl per interface, which gives only one
IPv4 address per interface but needs nothing installed (and is what a slim container has).  On
other systems the fallback is the address the routing table would use to reach a private network
(a UDP ``connect``, which sends nothing).

An address is offered to phones when its interface is up, it is not loopback, its interface is
not a container or VM bridge (``docker0``, ``br-…``, ``virbr…``, ``podman…``, ``cni…``,
``veth…``, ``lxcbr…``, ``vboxnet…``, ``vmnet…``, ``flannel…``, ``cali…``, ``tailscale…``;
named by prefix, so a container's own ``eth0`` still counts) unless ``include_bridges``, and the
local CA may sign for it (``launcher.certs.CA_PERMITTED_NETWORKS``: private and link-local
ranges).  An IPv6 link-local address (``fe80::/10``) is left out: a URL needs its zone, which
differs on the phone.  Addresses that are up but outside the CA's ranges are returned as
``skipped`` with the reason, so the caller can say why they have no URL.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import struct
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Interface name prefixes of container and VM bridges and virtual links (see the module docstring).
BRIDGE_PREFIXES = (
    "docker",
    "br-",
    "virbr",
    "podman",
    "cni",
    "veth",
    "lxcbr",
    "lxdbr",
    "vboxnet",
    "vmnet",
    "flannel",
    "cali",
    "tailscale",
    "zt",
)
SIOCGIFADDR = 0x8915


@dataclass(frozen=True)
class LanAddress:
    """One address of one interface."""

    interface: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address

    @property
    def url_host(self) -> str:
        """The address as a URL's host (IPv6 in brackets)."""
        return f"[{self.address}]" if self.address.version == 6 else str(self.address)


@dataclass(frozen=True)
class LanScan:
    """What ``scan`` found: the addresses to offer (IPv4 first, bridges last), and the ones left
    out, with why."""

    addresses: tuple[LanAddress, ...] = ()
    skipped: tuple[tuple[LanAddress, str], ...] = field(default=())


def is_bridge(interface: str) -> bool:
    """True for a container or VM bridge or virtual link, by its name (``BRIDGE_PREFIXES``)."""
    return interface.startswith(BRIDGE_PREFIXES)


def _signable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    from launcher.certs import CA_PERMITTED_NETWORKS

    return any(address in net for net in CA_PERMITTED_NETWORKS if net.version == address.version)


def classify(found: Iterable[LanAddress], *, include_bridges: bool = False, ipv6: bool = True) -> LanScan:
    """Split interface addresses (of interfaces that are up) into offered and skipped; without
    *ipv6* (listeners bound to ``0.0.0.0``) an IPv6 address is skipped: nothing listens there."""
    offered: list[LanAddress] = []
    skipped: list[tuple[LanAddress, str]] = []
    for item in found:
        address = item.address
        if address.is_loopback:
            continue
        if address.version == 6 and address.is_link_local:
            continue
        if address.version == 6 and not ipv6:
            skipped.append((item, "IPv6, and the listeners bind 0.0.0.0 (IPv4 only; --host :: for both)"))
        elif not include_bridges and is_bridge(item.interface):
            skipped.append((item, "a container or VM bridge"))
        elif not _signable(address):
            skipped.append((item, "not a private address: the local CA may not sign for it"))
        elif item not in offered:
            offered.append(item)
    offered.sort(key=lambda a: (a.address.version, is_bridge(a.interface), a.interface))
    return LanScan(tuple(offered), tuple(skipped))


def parse_ip_json(text: str) -> list[LanAddress]:
    """The addresses in ``ip -j addr``'s output, of interfaces flagged UP."""
    found: list[LanAddress] = []
    for link in json.loads(text or "[]"):
        if "UP" not in link.get("flags", []):
            continue
        name = str(link.get("ifname", ""))
        for info in link.get("addr_info", []):
            if info.get("family") not in ("inet", "inet6") or "local" not in info:
                continue
            try:
                found.append(LanAddress(name, ipaddress.ip_address(info["local"])))
            except ValueError:
                continue
    return found


def _from_ip() -> list[LanAddress] | None:
    ip = shutil.which("ip")
    if ip is None:
        return None
    try:
        done = subprocess.run([ip, "-j", "addr"], capture_output=True, text=True, timeout=5)
        if done.returncode != 0:
            return None
        return parse_ip_json(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _from_ioctl() -> list[LanAddress]:
    import fcntl

    found: list[LanAddress] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                reply = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
            except OSError:  # no IPv4 address, or the interface is down
                continue
            found.append(LanAddress(name, ipaddress.IPv4Address(reply[20:24])))
    return found


def _from_route() -> list[LanAddress]:
    found: list[LanAddress] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.168.255.255", 9))  # UDP: nothing is sent
            found.append(LanAddress("default", ipaddress.IPv4Address(sock.getsockname()[0])))
        except OSError:
            pass
    return found


def interface_addresses() -> list[LanAddress]:
    """Every address of every interface that is up (see the module docstring for how)."""
    if sys.platform.startswith("linux"):
        found = _from_ip()
        return found if found is not None else _from_ioctl()
    return _from_route()


def scan(*, include_bridges: bool = False, ipv6: bool = True) -> LanScan:
    """The LAN addresses to offer to other devices, and the ones left out (see ``classify``)."""
    return classify(interface_addresses(), include_bridges=include_bridges, ipv6=ipv6)


def mdns_name(hostname: str | None = None) -> str | None:
    """``<hostname>.local``, the machine's multicast-DNS name (what Avahi or Bonjour answers for),
    or None when the host name is not a usable DNS label."""
    label = (hostname if hostname is not None else socket.gethostname()).split(".", 1)[0].lower()
    if not label or len(label) > 63 or label.startswith("-") or label.endswith("-"):
        return None
    if not all(c.isascii() and (c.isalnum() or c == "-") for c in label):
        return None
    return f"{label}.local"
