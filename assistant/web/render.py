"""HTML for answers and questions, shared by the staff chat (the widget renders the same markup in JS).

Everything that comes from a user or a policy document is escaped with `html.escape`
before it is put into markup; nothing here trusts its input.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from assistant import Answer, Citation
from assistant.types import VERDICT_LABELS, Handover  # VERDICT_LABELS: imported from here by widget.py and tests

#: What a reader is told about each confidence band (issue 16), under the badge.
BAND_NOTES: dict[str, str] = {
    "answer": "Answered from the policy",
    "unsure": "Not certain: check these parts of the policy",
    "not_covered": "Not in the school's policies",
    # A safeguarding message no clause of the policy answers (`assistant.answering.with_handover`).
    "safeguarding": "Safeguarding: please contact the school now",
}


def band_key(answer: Answer) -> str:
    """Which `BAND_NOTES` line an answer gets.

    Its band, or "safeguarding" for a safeguarding message that cites no clause (it is not an
    answer from the policy).
    """
    return "safeguarding" if answer.safeguarding and not answer.citations else answer.band


def confidence_text(band: str, confidence: float | None) -> str:
    """The band line shown with an answer, e.g. "Answered from the policy · confidence 93%" (no figure when None).

    The figure is the probability that the answer is right (the cited clause answers the
    question and the verdict is the policy's), calibrated on schools the model never saw
    (`assistant.rerank`): an estimate, so it is worded as a confidence rather than "sure". The
    answer band starts well below 50 % (see README), except for a "yes", which needs 50 %.
    """
    note = BAND_NOTES.get(band, band)
    return f"{note} · confidence {round(confidence * 100)}%" if confidence is not None and band != "not_covered" else note


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


def one_line_html(text: str) -> str:
    """``text`` escaped for HTML on one line: every run of whitespace (line breaks included) is one space.

    For names and titles from ``school.toml`` or file names: a blank line in one would end the
    answer's HTML block in the staff chat, and whatever followed would be read as markdown
    (``![x](https://…)`` would load a remote image in staff browsers).
    """
    return html.escape(" ".join(text.split()))


def citation_html(citation: Citation, school_name: str) -> str:
    """One cited clause as a quoted block with its provenance and an "open in policy" link."""
    where = [school_name, citation.document_title]
    if citation.section:
        where.append(citation.section)
    if citation.page:
        where.append(f"page {citation.page}")
    provenance = " · ".join(one_line_html(part) for part in where)
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
        f'<span class="pa-confidence pa-confidence-{band}">{html.escape(confidence_text(band_key(answer), answer.confidence))}</span></p>',
    ]
    shown = answer_text(answer)
    if shown:
        parts.append(f'<p class="pa-text">{text_html(shown)}</p>')
    handover = answer.handover
    if handover is not None and handover.reason == "safeguarding":
        parts.insert(1, safeguarding_html(handover))  # first, before the verdict (issue 18)
    parts += [f'<p class="pa-note">{text_html(note)}</p>' for note in answer.notes]
    parts += [citation_html(citation, school_name) for citation in answer.citations]
    if handover is not None and handover.reason != "safeguarding":
        parts.append(handover_html(handover))
    elif handover is not None and handover.contact_details:
        parts.append(contact_warning_html())
    parts.append("</div>")
    return "".join(parts)


# --- handover (issue 18) ----------------------------------------------------------------

#: Told to someone who typed an email address or phone number into their question.
CONTACT_WARNING = (
    "You included contact details. Nobody reads or replies to questions asked here, "
    "so no one will contact you: please get in touch with the school yourself."
)


def answer_text(answer: Answer) -> str:
    """The answer's text as shown under the verdict.

    A safeguarding answer's fixed message is shown in its own box (`safeguarding_html`), so it is left out here.
    """
    handover = answer.handover
    if handover is not None and handover.reason == "safeguarding" and answer.text.startswith(handover.message):
        return answer.text[len(handover.message) :].strip()
    return answer.text


def contact_links_html(contact: dict | None) -> str:
    """A contact's ``mailto:``, ``tel:`` and web links, then its hours ("" when it has none)."""
    if not contact:
        return ""
    links = []
    if contact.get("phone"):
        tel = "tel:" + re.sub(r"[^0-9+]", "", contact["phone"])
        links.append(f'<a class="pa-contact-tel" href="{html.escape(tel)}">Call {one_line_html(contact["phone"])}</a>')
    if contact.get("email"):
        links.append(
            f'<a class="pa-contact-email" href="mailto:{html.escape(contact["email"])}">Email {one_line_html(contact["email"])}</a>'
        )
    if contact.get("url"):
        links.append(f'<a class="pa-contact-url" href="{html.escape(contact["url"])}" target="_blank" rel="noopener">Contact form</a>')
    if not links:
        return ""
    hours = f' <span class="pa-contact-hours">({one_line_html(contact["hours"])})</span>' if contact.get("hours") else ""
    return '<span class="pa-contact-links">' + " · ".join(links) + hours + "</span>"


def handover_html(handover: Handover) -> str:
    """The office contact that ends a not-covered or unsure answer (or "Please ask the school office.")."""
    links = contact_links_html(handover.office)
    body = f"To talk to someone, contact the school office: {links}" if links else html.escape(handover.message)
    warning = contact_warning_html() if handover.contact_details else ""
    return f'<p class="pa-handover">{body}</p>{warning}'


def contact_warning_html() -> str:
    """The notice for a question holding contact details: nobody replies through the assistant."""
    return f'<p class="pa-contact-warning">{html.escape(CONTACT_WARNING)}</p>'


def safeguarding_html(handover: Handover) -> str:
    """The box that starts a safeguarding answer.

    It names the Designated Safeguarding Lead, how to reach them now (``tel:``/``mailto:`` links),
    and the emergency number.
    """
    dsl = handover.dsl or {}
    role = one_line_html(dsl.get("role") or "Designated Safeguarding Lead")
    links = contact_links_html(dsl)
    if links:
        reach = f"Contact them now: {links}"
    else:
        office = contact_links_html(handover.office)
        reach = f"Contact the school office now and ask for them: {office}" if office else "Contact the school office now and ask for them."
    emergency = html.escape(handover.emergency or "999")
    return (
        '<div class="pa-safeguarding" role="note" aria-label="Safeguarding">'
        '<p class="pa-safeguarding-head">This may be a safeguarding concern: please don\'t wait.</p>'
        f"<p>Tell the school's {role}, who is responsible for keeping children safe. {reach}</p>"
        f'<p class="pa-emergency">If anyone is in immediate danger, call <a class="pa-contact-tel" href="tel:{emergency}">{emergency}</a>.</p>'
        "</div>"
    )


def error_html(message: str) -> str:
    """A problem with the question (empty, too long…) shown in place of an answer."""
    return f'<div class="pa-answer pa-error"><p class="pa-text">{text_html(message)}</p></div>'
