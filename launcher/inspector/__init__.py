"""The scheme inspector: fetch a page over http:// and https:// with a real client, and explain it.

For one path on the launcher's listeners, or any URL and its other-scheme twin, ``inspect_target``
returns an ``InspectReport`` with, side by side for the two schemes (``SchemeReport``):

* the redirect chain, one GET per hop (each status and Location), and the final status;
* what the app saw (Flask's ``request.scheme``, ``url_for``, the settings that decide them, a
  ``ProxyFix``; or, for a plain WSGI callable, its environ), captured inside the app by the launcher
  for probes that carry the servers' token and returned in the answer's header
  (``launcher.appview``): any app, no route, no extra request; for a server without a token the
  report says why and leaves that part out;
* the client-side TLS facts: version, cipher, ALPN, the server certificate's subject, names and
  expiry, and whether it verified against the tool's CA (and if not, why: the facts then come from a
  second, unverified connection);
* the Strict-Transport-Security header and every Set-Cookie with its Secure, HttpOnly and SameSite;
* verdicts in plain words, each a ``Verdict(level, text)`` with a ``VerdictLevel``: OK, WARN, BAD
  or INFO (a neutral note, e.g. "what the app saw is not available").

With ``proxy_lens=True`` it adds the behind-a-proxy lens (``ProxyLens``): what Flask sees when a
TLS-terminating proxy forwards an HTTPS request over HTTP.  ``InspectReport.to_dict()`` is the JSON
form, ``to_text()`` the text the CLI prints and the GUI copies.  No Qt here.

The modules, and where each part's limits are stated:

* ``targets``: a path or URL → the two URLs to fetch (``Target``); bad input raises ``InvalidTargetError``;
* ``client``: the ``http.client``/``ssl`` client, redirects one hop at a time, TLS facts;
* ``limits``: its User-Agent, timeout and caps (GET only, HTTP/1.1 only, no cookie jar, 1 MiB bodies);
* ``flaskview``: the answer's ``X-Flask-Launcher-View`` header → ``FlaskView``;
* ``cookies`` and ``hsts``: those two headers parsed and judged (cookie values are never reported);
* ``verdicts``: the plain-language verdicts of one column;
* ``proxylens``: the behind-a-proxy lens (it flips the servers' ``Policy`` for a few milliseconds);
* ``probing``: ``probe``, ``inspect_target``, ``inspect_servers``;
* ``report``: the dataclasses and ``to_dict``/``to_json``; ``text``: ``to_text``;
* ``urls``: small URL and host facts.
"""

from __future__ import annotations

from launcher.errors import InvalidTargetError
from launcher.inspector.client import Client, client_context
from launcher.inspector.cookies import SESSION_COOKIE_HINTS, parse_set_cookie
from launcher.inspector.hsts import HSTS, parse_hsts
from launcher.inspector.limits import DEFAULT_TIMEOUT, MAX_BODY, MAX_REDIRECTS, REDIRECT_CODES, USER_AGENT
from launcher.inspector.probing import inspect_servers, inspect_target, probe
from launcher.inspector.proxylens import (
    FIX_CODE,
    FORWARDED_HEADERS,
    HOW_TO_FIX,
    WHY_HTTP_BEHIND_PROXY,
    ProxyCase,
    ProxyLens,
    proxy_verdicts,
    run_proxy_lens,
)
from launcher.inspector.report import (
    LEVELS,
    Cookie,
    FlaskView,
    Hop,
    InspectReport,
    SchemeReport,
    TLSFacts,
    Verdict,
    VerdictLevel,
    worst_level,
)
from launcher.inspector.targets import (
    ProbeMark,
    Target,
    normalize_path,
    resolve_target,
    target_for_path,
    target_for_servers,
    target_for_url,
)
from launcher.inspector.text import MARK, flask_rows, proxy_lens_text, render_text, tls_rows
from launcher.inspector.urls import LOOPBACK_NAMES, is_ip, is_loopback_host
from launcher.inspector.verdicts import scheme_verdicts

__all__ = [
    "DEFAULT_TIMEOUT",
    "FIX_CODE",
    "FORWARDED_HEADERS",
    "HOW_TO_FIX",
    "HSTS",
    "LEVELS",
    "LOOPBACK_NAMES",
    "MARK",
    "MAX_BODY",
    "MAX_REDIRECTS",
    "REDIRECT_CODES",
    "SESSION_COOKIE_HINTS",
    "USER_AGENT",
    "WHY_HTTP_BEHIND_PROXY",
    "Client",
    "Cookie",
    "FlaskView",
    "Hop",
    "InspectReport",
    "InvalidTargetError",
    "ProbeMark",
    "ProxyCase",
    "ProxyLens",
    "SchemeReport",
    "TLSFacts",
    "Target",
    "Verdict",
    "VerdictLevel",
    "client_context",
    "flask_rows",
    "inspect_servers",
    "inspect_target",
    "is_ip",
    "is_loopback_host",
    "normalize_path",
    "parse_hsts",
    "parse_set_cookie",
    "probe",
    "proxy_lens_text",
    "proxy_verdicts",
    "render_text",
    "resolve_target",
    "run_proxy_lens",
    "scheme_verdicts",
    "target_for_path",
    "target_for_servers",
    "target_for_url",
    "tls_rows",
    "worst_level",
]
