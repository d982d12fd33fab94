"""What Flask saw: the app's ``/inspect`` JSON (the bundled demo app has it) read into a ``FlaskView``.

For an app without it the view is marked unavailable with a note saying so, and the rest of the
report stands on what the client saw.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from launcher.inspector.report import FlaskView

if TYPE_CHECKING:
    from launcher.inspector.client import Answer


INSPECT_PATH = "/inspect"
#: Keys of the app's /inspect JSON the inspector relies on (the contract with flaskapp.facts).
INSPECT_KEYS = (
    "scheme",
    "is_secure",
    "url_root",
    "url_for_external",
    "wsgi_url_scheme",
    "remote_addr",
    "host",
)


def read_flask_view(inspect_url: str, answers: list[Answer], chain_error: str | None) -> FlaskView:
    """What Flask saw, from the last of *answers* to GET /inspect; unavailable (with a note) when unusable."""
    last = answers[-1]
    hop = last.hop
    view = FlaskView(available=False, inspect_url=inspect_url, final_url=hop.url, status=hop.status)
    if hop.error or chain_error:
        view.note = f"What Flask saw cannot be read: GET {INSPECT_PATH} failed: {hop.error or chain_error}"
        return view
    data: Any = None
    if hop.status == 200 and "json" in (hop.content_type or ""):
        try:
            data = json.loads(last.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
    if isinstance(data, dict) and hop.status is not None and all(key in data for key in INSPECT_KEYS):
        return FlaskView.from_json(inspect_url, hop.url, hop.status, data)
    answered = f"{hop.status} {hop.reason}".strip()
    if hop.status == 404:
        why = f"GET {INSPECT_PATH} answered {answered}: this app has no {INSPECT_PATH} page"
    else:
        why = f"GET {INSPECT_PATH} answered {answered}, not the launcher's {INSPECT_PATH} JSON"
    view.note = (
        f"{why} (it is your own app, not the bundled demo app), so what Flask saw is not shown. "
        "Everything else here is what the client saw."
    )
    return view
