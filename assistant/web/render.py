"""HTML for answers and questions, shared by the staff chat (the widget renders the same markup in JS).

Everything that comes from a user or a policy document is escaped with `html.escape`
before it is put into markup; nothing here trusts its input.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from assistant import Answer, Citation

#: Badge text for each verdict (what a reader sees).
VERDICT_LABELS: dict[str, str] = {
    "yes": "Yes",
    "no": "No",
    "conditional": "Only if…",
    "info": "Info",
    "unsure": "Not sure",
    "not_covered": "Not covered",
}

#: What a reader is told about each confidence band (issue 16), under the badge.
BAND_NOTES: dict[str, str] = {
    "answer": "Confident answer",
    "unsure": "Not certain: check these parts of the policy",
    "not_covered": "Not in the school's policies",
}


def confidence_text(band: str, confidence: float | None) -> str:
    """The band line shown with an answer, e.g. "Confident answer · 93% sure" (no figure when None)."""
    note = BAND_NOTES.get(band, band)
    return f"{note} · {round(confidence * 100)}% sure" if confidence is not None and band != "not_covered" else note


# Characters that start markdown constructs; a backslash makes each one literal.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=:^])")


def citation_url(school: str, document: str, clause_id: str) -> str:
    """The policy viewer link of a clause: ``/policies/<school>/<document>#<clause_id>``."""
    return f"/policies/{quote(school, safe='')}/{quote(document, safe='')}#{quote(clause_id, safe='')}"


def text_html(text: str) -> str:
    """``text`` escaped for HTML, line breaks kept as ``<br>`` (so no blank line ends an HTML block)."""
    lines = [html.escape(line.strip()) for line in text.strip().splitlines()]
    return "<br>".join(line for line in lines if line)


def literal_markdown(text: str) -> str:
    """``text`` as markdown that renders as exactly that text (markup and HTML shown, not applied).

    HTML specials become entities and every markdown punctuation character is
    backslash-escaped, so ``<script>``, ``**bold**`` or ``[link](x)`` display literally.
    """
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text.strip())
    lines = [html.escape(line, quote=True) for line in escaped.splitlines()]
    return "  \n".join(line if line.strip() else "&#8203;" for line in lines)


def citation_html(citation: Citation, school_name: str) -> str:
    """One cited clause as a quoted block with its provenance and an "open in policy" link."""
    where = [school_name, citation.document_title]
    if citation.section:
        where.append(citation.section)
    if citation.page:
        where.append(f"page {citation.page}")
    provenance = " · ".join(html.escape(part) for part in where)
    url = html.escape(citation_url(citation.school, citation.document, citation.clause_id))
    return (
        '<blockquote class="pa-citation">'
        f'<p class="pa-quote">{text_html(citation.text)}</p>'
        f'<p class="pa-source">{provenance} · <a class="pa-open" href="{url}" target="_blank" rel="noopener">open in policy</a></p>'
        "</blockquote>"
    )


def answer_html(answer: Answer, school_name: str) -> str:
    """An answer as one HTML block: verdict badge, short answer, notes, cited clauses.

    The block contains no blank line, so a markdown renderer (Gradio's Chatbot) passes
    it through as HTML instead of reading the escaped policy text as markdown.
    """
    label = VERDICT_LABELS.get(answer.verdict, answer.verdict)
    band = html.escape(answer.band)
    parts = [
        f'<div class="pa-answer pa-verdict-{html.escape(answer.verdict)} pa-band-{band}">',
        f'<p class="pa-head"><span class="pa-badge pa-badge-{html.escape(answer.verdict)}">{html.escape(label)}</span>'
        f'<span class="pa-confidence pa-confidence-{band}">{html.escape(confidence_text(answer.band, answer.confidence))}</span></p>',
        f'<p class="pa-text">{text_html(answer.text)}</p>',
    ]
    parts += [f'<p class="pa-note">{text_html(note)}</p>' for note in answer.notes]
    parts += [citation_html(citation, school_name) for citation in answer.citations]
    parts.append("</div>")
    return "".join(parts)


def error_html(message: str) -> str:
    """A problem with the question (empty, too long…) shown in place of an answer."""
    return f'<div class="pa-answer pa-error"><p class="pa-text">{text_html(message)}</p></div>'
