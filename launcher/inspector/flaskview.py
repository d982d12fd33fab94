"""What the app saw: the ``X-Flask-Launcher-View`` header of the probed URL's own answer → ``FlaskView``.

The launcher captures it inside the app for probes that carry its token (``launcher.appview``), so
it works for any app, with no route; the inspector sends no extra request.  When the final answer
carries no view (someone else's server, no token, a hop the app never ran for), the view is marked
unavailable with a one-line note saying why, and the rest of the report stands on what the client
saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from launcher.appview import VIEW_HEADER, decode_view
from launcher.inspector.report import FlaskView
from launcher.inspector.urls import origin

if TYPE_CHECKING:
    from launcher.inspector.client import Answer, Client

#: Shown when no token is known for the server inspected.
NO_TOKEN = (
    "no probe token for this server: only servers this launcher runs (the window, or flask-launcher "
    "serve with the same certificate folder) tell what the app saw"
)


def _unavailable(client: Client, answer: Answer) -> str:
    """Why *answer* carries no view, in one line."""
    url = answer.hop.url
    if not answer.marked:
        if client.probe is None:
            return client.no_probe or NO_TOKEN
        return (
            f"{origin(url)} is not one of the listeners the probe token belongs to, so it was not sent there"
        )
    answered = f"{answer.hop.status} {answer.hop.reason}".strip()
    return (
        f"the answer from {url} ({answered}) carried no {VIEW_HEADER}: the app did not run with this "
        "launcher's token (another server on that port, or one restarted with a new token)"
    )


def read_flask_view(client: Client, answers: list[Answer], chain_error: str | None) -> FlaskView:
    """What the app saw, from the last of *answers*; unavailable (with a note) when it carries none."""
    first, last = answers[0].hop, answers[-1]
    hop = last.hop
    view = FlaskView(available=False, inspect_url=first.url, final_url=hop.url, status=hop.status)
    if hop.error or chain_error:
        view.note = "What the app saw is not available: the request got no final answer (see above)."
        return view
    if last.view is None:
        view.note = f"What the app saw is not available: {_unavailable(client, last)}."
        return view
    data = decode_view(last.view)
    if data is None or data.get("kind") not in ("flask", "wsgi"):
        view.note = f"What the app saw is not available: the {VIEW_HEADER} from {hop.url} is unreadable."
        return view
    return FlaskView.from_json(first.url, hop.url, hop.status or 0, data)
