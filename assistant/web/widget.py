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

import html
import json
from pathlib import Path

from .render import BAND_NOTES, VERDICT_LABELS

STATIC_DIR = Path(__file__).parent / "static"
#: The embed script served at ``/widget.js``.
WIDGET_JS = STATIC_DIR / "widget.js"


def widget_page(school: str, school_name: str, audience: str = "parent", examples: tuple[str, ...] = (), office: dict | None = None) -> str:
    """The widget's HTML page for one school.

    Args:
        school: the school id the questions go to; school_name: shown in the header;
        audience: the asker's role sent with every question; examples: the questions the
            school offers as buttons before the first question (its ``school.toml``
            ``[[examples]]`` for the widget, `assistant.examples`), none when it lists none;
        office: the school office's contact (`assistant.contacts.Contact.to_dict`), offered when the
            assistant cannot be reached (issue 18), or None.
    """
    esc = html.escape
    buttons = "".join(f'<li><button type="button" class="pa-example">{esc(q)}</button></li>' for q in examples)
    examples_list = f'<ul class="pa-examples" aria-label="Example questions">{buttons}</ul>' if examples else ""
    labels = esc(json.dumps(VERDICT_LABELS, ensure_ascii=False))
    bands = esc(json.dumps(BAND_NOTES, ensure_ascii=False))
    office_json = esc(json.dumps(office or {}, ensure_ascii=False))
    return f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ask {esc(school_name)} about its policies</title>
<link rel="stylesheet" href="/pa-static/answer.css">
<link rel="stylesheet" href="/pa-static/widget.css">
<script src="/pa-static/widget-feedback.js" defer></script>
<script src="/pa-static/widget-app.js" defer></script>
</head>
<body class="pa-widget">
<main id="pa-widget" data-school="{esc(school)}" data-school-name="{esc(school_name)}" data-audience="{esc(audience)}" data-labels="{labels}" data-bands="{bands}" data-office="{office_json}">
<header class="pa-widget-header">
<h1>{esc(school_name)}</h1>
<p>Ask about our policies</p>
</header>
<section id="pa-log" class="pa-log" role="log" aria-live="polite" aria-label="Questions and answers">
<p class="pa-hint">Ask a question about the school's policies — photos, phones, social media and more. Every answer quotes the policy it comes from.</p>
{examples_list}
</section>
<form id="pa-form" class="pa-form" novalidate>
<label for="pa-question">Your question</label>
<div class="pa-row">
<textarea id="pa-question" name="question" rows="2" maxlength="1000" autocomplete="off" placeholder="e.g. Can I post sports day videos?"></textarea>
<button type="submit" id="pa-send">Ask</button>
</div>
<div class="pa-tools">
<p id="pa-status" class="pa-status" role="status"></p>
<button type="button" id="pa-new" class="pa-new">New conversation</button>
</div>
</form>
</main>
</body>
</html>
"""


def not_found_page(message: str) -> str:
    """A small HTML page for an unknown school or document (``message`` is escaped)."""
    return f"""<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Not found</title>
<link rel="stylesheet" href="/pa-static/answer.css"></head>
<body class="pa-plain"><main><h1>Not found</h1><p>{html.escape(message)}</p></main></body>
</html>
"""


def too_many_requests_page(seconds: int) -> str:
    """A small HTML page for a 429 on a page (the widget in a school's iframe, the policy viewer):
    what happened and when to try again, instead of raw JSON."""
    wait = f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"""<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Please wait a moment</title>
<link rel="stylesheet" href="/pa-static/answer.css"></head>
<body class="pa-plain"><main><h1>Please wait a moment</h1>
<p>Lots of questions have come from your connection in the last few minutes. Please try again in {wait}.</p></main></body>
</html>
"""
