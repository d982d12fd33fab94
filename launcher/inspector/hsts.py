"""Strict-Transport-Security: the header parsed, and what it means for the host it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from launcher.inspector.report import Verdict, VerdictLevel
from launcher.inspector.urls import host_of, is_ip, is_loopback_host
from launcher.scheme import Scheme

if TYPE_CHECKING:
    from launcher.inspector.report import SchemeReport


@dataclass(frozen=True)
class HSTS:
    max_age: int | None
    include_subdomains: bool
    preload: bool

    @property
    def valid(self) -> bool:
        return self.max_age is not None


def parse_hsts(value: str) -> HSTS:
    max_age: int | None = None
    sub = preload = False
    for directive in value.split(";"):
        key, _, val = directive.strip().partition("=")
        key = key.strip().lower()
        if key == "max-age":
            val = val.strip().strip('"')
            max_age = int(val) if val.isdigit() else None
        elif key == "includesubdomains":
            sub = True
        elif key == "preload":
            preload = True
    return HSTS(max_age, sub, preload)


def _duration(seconds: int) -> str:
    if seconds >= 86400:
        days = seconds / 86400
        return f"{days:g} days" if days != 1 else "1 day"
    return f"{seconds} seconds"


def hsts_verdicts(report: SchemeReport) -> list[Verdict]:
    """HSTS over HTTP (ignored), its absence, its max-age, and what it does for this host."""
    out: list[Verdict] = []
    for hop in report.hops:
        if hop.scheme == Scheme.HTTP and hop.hsts:
            out.append(
                Verdict(
                    VerdictLevel.WARN,
                    f"The HTTP response from {hop.url} carries Strict-Transport-Security ({hop.hsts}): "
                    "browsers ignore it over plain HTTP (RFC 6797 §8.1); only an HTTPS response can turn "
                    "HSTS on.",
                )
            )
    if report.final_scheme != Scheme.HTTPS or report.final_status is None:
        return out
    host = host_of(report.final_url)
    if not report.hsts:
        out.append(
            Verdict(
                VerdictLevel.WARN,
                "No HSTS header (Strict-Transport-Security): a browser still tries http:// first when "
                "the user types the address. Fine while developing; turn it on in production.",
            )
        )
        return out
    hsts = parse_hsts(report.hsts)
    if not hsts.valid:
        out.append(
            Verdict(
                VerdictLevel.BAD, f"HSTS header {report.hsts!r} has no valid max-age: browsers ignore it."
            )
        )
        return out
    assert hsts.max_age is not None
    extra = "".join(
        [
            "; includeSubDomains: every subdomain too" if hsts.include_subdomains else "",
            "; preload requested" if hsts.preload else "",
        ]
    )
    if hsts.max_age == 0:
        out.append(
            Verdict(
                VerdictLevel.OK,
                f"HSTS is off by request: max-age=0 tells browsers to forget HSTS for {host}.",
            )
        )
        return out
    text = f"HSTS is on: max-age={hsts.max_age} ({_duration(hsts.max_age)}){extra}"
    if is_ip(host):
        out.append(
            Verdict(
                VerdictLevel.WARN,
                f"{text}; but browsers ignore HSTS for IP-address hosts like {host} (RFC 6797 §8.1.1): "
                "open it by a name such as localhost to see it take effect.",
            )
        )
    elif is_loopback_host(host):
        out.append(
            Verdict(
                VerdictLevel.WARN,
                f"{text}; for {host}, a browser that saw it turns every http://{host}:PORT URL into "
                "https:// on the same port (only port 80 becomes 443), so the HTTP listener stops working "
                f"in that browser until max-age passes or the entry is deleted (chrome://net-internals/#hsts).",
            )
        )
    else:
        out.append(
            Verdict(
                VerdictLevel.OK, f"{text}: a browser that saw it uses only https:// for {host} from then on."
            )
        )
    return out
