"""``Scheme``: HTTP or HTTPS, the one distinction this whole program is about.

A ``StrEnum``, so a member is also its string (``Scheme.HTTPS == "https"``, ``f"{Scheme.HTTP}"``
is ``http``): records, JSON and wire messages carry it as the plain word, and a scheme read from a
URL compares equal to the member without a conversion.
"""

from __future__ import annotations

import enum


class Scheme(enum.StrEnum):
    HTTP = "http"
    HTTPS = "https"

    @property
    def other(self) -> Scheme:
        """The twin: HTTPS for HTTP and the other way round."""
        return Scheme.HTTPS if self is Scheme.HTTP else Scheme.HTTP

    @property
    def default_port(self) -> int:
        """The port a URL of this scheme means when it names none."""
        return 443 if self is Scheme.HTTPS else 80
