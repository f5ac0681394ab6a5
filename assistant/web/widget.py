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

#: Questions offered as buttons before the first question.
EXAMPLE_QUESTIONS = (
    "Can I post photos from the school play online?",
    "Can my child bring a mobile phone to school?",
    "Can I use my phone when I'm in school?",
)


def widget_page(school: str, school_name: str, audience: str = "parent") -> str:
    """The widget's HTML page for one school.

    Args:
        school: the school id the questions go to; school_name: shown in the header;
        audience: the asker's role sent with every question.
    """
    esc = html.escape
    examples = "".join(f'<li><button type="button" class="pa-example">{esc(q)}</button></li>' for q in EXAMPLE_QUESTIONS)
    labels = esc(json.dumps(VERDICT_LABELS, ensure_ascii=False))
    bands = esc(json.dumps(BAND_NOTES, ensure_ascii=False))
    return f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ask {esc(school_name)} about its policies</title>
<link rel="stylesheet" href="/pa-static/answer.css">
<link rel="stylesheet" href="/pa-static/widget.css">
<script src="/pa-static/widget-app.js" defer></script>
</head>
<body class="pa-widget">
<main id="pa-widget" data-school="{esc(school)}" data-school-name="{esc(school_name)}" data-audience="{esc(audience)}" data-labels="{labels}" data-bands="{bands}">
<header class="pa-widget-header">
<h1>{esc(school_name)}</h1>
<p>Ask about our policies</p>
</header>
<section id="pa-log" class="pa-log" role="log" aria-live="polite" aria-label="Questions and answers">
<p class="pa-hint">Ask a question about the school's policies — photos, phones, social media and more. Every answer quotes the policy it comes from.</p>
<ul class="pa-examples" aria-label="Example questions">{examples}</ul>
</section>
<form id="pa-form" class="pa-form" novalidate>
<label for="pa-question">Your question</label>
<div class="pa-row">
<textarea id="pa-question" name="question" rows="2" maxlength="1000" autocomplete="off" placeholder="e.g. Can I post sports day videos?"></textarea>
<button type="submit" id="pa-send">Ask</button>
</div>
<p id="pa-status" class="pa-status" role="status"></p>
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
