"""Set-Cookie headers: parsed into ``Cookie`` (flags only) and judged in plain words.

Cookie values are never reported, only their length.
"""

from __future__ import annotations

from launcher.inspector.report import Cookie, Verdict, VerdictLevel, worst_level
from launcher.inspector.urls import is_loopback_host
from launcher.scheme import Scheme

#: Cookie names treated as a session cookie in the wording (Flask's default is "session").
SESSION_COOKIE_HINTS = ("session", "sess", "sid", "auth", "token", "remember")


def parse_set_cookie(header: str, *, over: str = "https", url: str = "") -> Cookie | None:
    """One Set-Cookie header value → ``Cookie`` (RFC 6265 attribute parsing); None when empty."""
    pieces = header.split(";")
    pair = pieces[0].strip()
    if not pair:
        return None
    name, eq, value = pair.partition("=")
    if not eq:  # a nameless cookie (RFC 6265bis): the whole pair is the value
        name, value = "", pair
    attrs: dict[str, str | None] = {}
    for piece in pieces[1:]:
        key, eq, val = piece.partition("=")
        key = key.strip().lower()
        if key:
            attrs[key] = val.strip() if eq else None
    samesite = attrs.get("samesite")
    if samesite is not None:
        samesite = {"lax": "Lax", "strict": "Strict", "none": "None"}.get(samesite.lower(), samesite)
    return Cookie(
        name=name.strip(),
        value_length=len(value.strip().strip('"')),
        secure="secure" in attrs,
        httponly="httponly" in attrs,
        samesite=samesite if "samesite" in attrs else None,
        path=attrs.get("path"),
        domain=attrs.get("domain"),
        max_age=attrs.get("max-age"),
        expires=attrs.get("expires"),
        partitioned="partitioned" in attrs,
        over=over,
        url=url,
    )


def _looks_like_session(name: str) -> bool:
    lowered = name.lower()
    return any(hint in lowered for hint in SESSION_COOKIE_HINTS)


def cookie_verdict(cookie: Cookie, host: str) -> Verdict:
    """One verdict on *cookie*'s Secure, HttpOnly, SameSite and prefix, as set by *host*."""
    session = _looks_like_session(cookie.name)
    what = f"the session cookie {cookie.name!r}" if session else f"the cookie {cookie.name!r}"
    flags = (
        f"Secure={'yes' if cookie.secure else 'no'}, HttpOnly={'yes' if cookie.httponly else 'no'}, "
        f"SameSite={cookie.samesite or 'not set'}"
    )
    level = VerdictLevel.OK
    parts: list[str] = []
    if cookie.over == Scheme.HTTP:
        if cookie.secure:
            level = VerdictLevel.WARN
            if is_loopback_host(host):
                parts.append(
                    f"Set over plain HTTP, {what} is Secure: most browsers drop a Secure cookie that "
                    f"arrives over HTTP, but Chrome, Edge and Firefox accept it for loopback hosts like "
                    f"{host}; either way it is only sent back over HTTPS"
                )
            else:
                parts.append(
                    f"Set over plain HTTP, {what} is Secure: browsers drop a Secure cookie that arrives over "
                    "HTTP, so it will not come back"
                )
        else:
            level = VerdictLevel.BAD if session else VerdictLevel.WARN
            parts.append(
                f"Served over HTTP; {what} has no Secure flag, so a browser would send it in the clear"
            )
    else:
        if cookie.secure:
            parts.append(f"{what[0].upper()}{what[1:]} is Secure: sent back over HTTPS only")
        else:
            level = VerdictLevel.BAD if session else VerdictLevel.WARN
            parts.append(
                f"Set over HTTPS, {what} has no Secure flag, so a browser also sends it over plain "
                f"http:// to {host} (cookies are not separated by port or scheme)"
            )
    if not cookie.httponly:
        level = _max(level, VerdictLevel.WARN if session else VerdictLevel.OK)
        parts.append(
            "not HttpOnly: page scripts can read it" + (" (a stolen session via XSS)" if session else "")
        )
    if cookie.samesite is None:
        level = _max(level, VerdictLevel.WARN)
        parts.append(
            "no SameSite: Chrome treats it as Lax, other browsers may send it on cross-site requests"
        )
    elif cookie.samesite == "None" and not cookie.secure:
        level = VerdictLevel.BAD
        parts.append("SameSite=None without Secure: browsers reject the cookie")
    elif cookie.samesite not in ("Lax", "Strict", "None"):
        level = _max(level, VerdictLevel.WARN)
        parts.append(f"SameSite={cookie.samesite} is not a known value: browsers treat it as not set")
    if cookie.name.startswith("__Host-") and (not cookie.secure or cookie.domain or cookie.path != "/"):
        level = VerdictLevel.BAD
        parts.append("a __Host- cookie needs Secure, Path=/ and no Domain: browsers reject this one")
    elif cookie.name.startswith("__Secure-") and not cookie.secure:
        level = VerdictLevel.BAD
        parts.append("a __Secure- cookie needs Secure: browsers reject this one")
    return Verdict(level, "; ".join(parts) + f". ({flags})")


def _max(a: VerdictLevel, b: VerdictLevel) -> VerdictLevel:
    return worst_level([Verdict(a, ""), Verdict(b, "")])
