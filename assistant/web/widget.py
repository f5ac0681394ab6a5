"""The parent widget: ``/widget?school=<id>`` (the page in the iframe) and ``/widget.js`` (the embed).

A school pastes one tag into its site::

    <script src="https://<host>/widget.js" data-school="<school id>" defer></script>

``widget.js`` adds a floating "Ask about our policies" button that opens
``/widget?school=<id>`` in an iframe. The page asks ``/api/ask`` as a parent, keeps the
conversation's questions for follow-ups, and shows each answer like the staff chat does
(``static/widget-app.js`` builds it with DOM text nodes, so nothing typed or quoted is
ever parsed as markup). No build step and no third-party resources.
"""

from __future__ import annotations

import json
from pathlib import Path

from .pages import render_page
from .render import BAND_NOTES, VERDICT_LABELS

STATIC_DIR = Path(__file__).parent / "static"
#: The embed script served at ``/widget.js``.
WIDGET_JS = STATIC_DIR / "widget.js"


def widget_page(school: str, school_name: str, audience: str = "parent", examples: tuple[str, ...] = (), office: dict | None = None) -> str:
    """The widget's HTML page for one school.

    Args:
        school: the school id the questions go to.
        school_name: shown in the title and header.
        audience: the asker's role sent with every question.
        examples: the questions the school offers as buttons before the first question (its
            ``school.toml`` ``[[examples]]`` for the widget, `assistant.examples`), none when it lists none.
        office: the school office's contact (`assistant.contacts.Contact.to_dict`), offered when the
            assistant cannot be reached (issue 18), or None.

    Returns:
        The page's HTML (``templates/widget.html``), every value escaped.
    """
    return render_page(
        "widget.html",
        school=school,
        school_name=school_name,
        audience=audience,
        examples=examples,
        # JSON in data-* attributes: autoescaping makes each quote an entity, the browser gives the JSON back.
        labels_json=json.dumps(VERDICT_LABELS, ensure_ascii=False),
        bands_json=json.dumps(BAND_NOTES, ensure_ascii=False),
        office_json=json.dumps(office or {}, ensure_ascii=False),
    )


def not_found_page(message: str) -> str:
    """A small HTML page for an unknown school or document.

    Args:
        message: what was not found (escaped).

    Returns:
        The page's HTML (``templates/not_found.html``).
    """
    return render_page("not_found.html", message=message)


def too_many_requests_page(seconds: int) -> str:
    """A small HTML page for a 429 on a page (the widget in a school's iframe, the policy viewer).

    It says what happened and when to try again, instead of raw JSON.

    Args:
        seconds: how long to wait (at least 1).

    Returns:
        The page's HTML (``templates/too_many_requests.html``).
    """
    return render_page("too_many_requests.html", seconds=seconds)
