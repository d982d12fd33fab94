"""What the inspector's client sends and how far it goes.

Limits: GET only, a new connection per hop, HTTP/1.1 only (ALPN offers ``http/1.1``), no cookie jar
(cookies set by one hop are not sent to the next), bodies read up to ``MAX_BODY`` (1 MiB), at most
``MAX_REDIRECTS`` redirects, ``DEFAULT_TIMEOUT`` seconds per connection unless told otherwise.
"""

from __future__ import annotations

from launcher import __version__

USER_AGENT = f"flask-launcher-inspector/{__version__}"
DEFAULT_TIMEOUT = 5.0
MAX_REDIRECTS = 10
MAX_BODY = 1024 * 1024
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
