"""The answer stage's entry point: an `Answer` in the band retrieval and the trained stage decided.

`compose_answer` turns an `assistant.retrieval.Evidence` into the `Answer` the `Assistant`
returns: the "not covered" or "unsure" text with the office handover, or a verdict
(`assistant.answering.verdict`) phrased as one sentence (`assistant.answering.phrasing`)
citing the clause, with a note when the policy is past its review date; then whom to
contact (`with_handover`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from ..contacts import NO_CONTACTS, SchoolContacts, handover_for, has_contact_details
from ..retrieval import should_abstain
from ..types import Answer, Citation
from .phrasing import plain_answer
from .verdict import decide_verdict, key_sentence

if TYPE_CHECKING:
    from ..index import DocumentEntry
    from ..retrieval import Evidence

#: Extra citations are shown only when their fused score is within this margin (z-score
#: units) of the best one: near-ties, where the reader should see both clauses.
SECONDARY_MARGIN = 0.35
MAX_CITATIONS = 3


def _review_note(meta: DocumentEntry | None, today: dt.date) -> str | None:
    due = meta.next_review if meta is not None else None
    if not due:
        return None
    year, month = int(due[:4]), int(due[5:7]) if len(due) >= 7 else 12
    if (year, month) >= (today.year, today.month):
        return None
    when = dt.date(year, month, 1).strftime("%B %Y") if len(due) >= 7 else str(year)
    return f"This policy was due for review in {when}; check with the school that it is still current."


def compose_answer(
    evidence: Evidence,
    school_name: str,
    documents: Mapping[str, DocumentEntry],
    today: dt.date | None = None,
    sentence_similarity: dict[str, float] | None = None,
    contacts: SchoolContacts | None = None,
    safeguarding: bool = False,
) -> Answer:
    """The answer stage: turn what retrieval and the trained stage found into an `Answer`.

    The answer is in the band they decided (`Evidence.band`), with its handover (see `with_handover`).

    Args:
        evidence: the question, its history and query plan, the school's ranked clauses and
            the trained stage's `Judgement` (`assistant.retrieval.hybrid.Evidence`).
        school_name: display name.
        documents: document id → its `DocumentEntry` in the index manifest (titles, review dates).
        today: the date review notes are judged against (default: today).
        sentence_similarity: the top clause's sentences → cosine similarity to the query
            (see `key_sentence`); None to choose the key sentence by shared words.
        contacts: the school's office and Designated Safeguarding Lead (default: none, so
            the handover says "ask the school office").
        safeguarding: the question is a possible child-protection concern
            (`assistant.safeguarding`): the answer starts with the fixed message naming the
            DSL and is never "not covered".

    Returns:
        the `Answer`, with its handover.
    """
    answer = _compose(evidence, school_name, documents, today, sentence_similarity)
    return with_handover(answer, evidence.question, contacts or NO_CONTACTS, safeguarding)


def with_handover(answer: Answer, question: str, contacts: SchoolContacts, safeguarding: bool = False) -> Answer:
    """``answer`` with whom to contact (issue 18).

    - A safeguarding question: the text starts with `assistant.contacts.safeguarding_message`
      (the DSL, how to reach them now, 999), then the policy's answer if retrieval found a
      clause; with none it is an ``info`` answer of the message alone, never "not covered".
    - A not-covered or unsure answer: the office contact (or "ask the school office").
    - An answer to a question holding an email address or phone number: the office contact,
      with ``contact_details`` set (nobody replies through the assistant).
    """
    if safeguarding:
        handover = handover_for(contacts, "safeguarding", question)
        if answer.band == "not_covered":
            # No clause answers it, so there is no clause confidence to show beside the message.
            return replace(
                answer, verdict="info", band="answer", confidence=None, text=handover.message, handover=handover, safeguarding=True
            )
        return replace(answer, text=f"{handover.message}\n\n{answer.text}", handover=handover, safeguarding=True)
    if answer.band in ("not_covered", "unsure"):
        return replace(answer, handover=handover_for(contacts, answer.band, question))
    if has_contact_details(question):
        return replace(answer, handover=handover_for(contacts, "contact_details", question))
    return answer


def _compose(
    evidence: Evidence,
    school_name: str,
    documents: Mapping[str, DocumentEntry],
    today: dt.date | None,
    sentence_similarity: dict[str, float] | None,
) -> Answer:
    candidates, judgement = evidence.candidates, evidence.judgement
    confidence = None if judgement is None else round(judgement.confidence, 4)
    band = evidence.band
    if band == "not_covered":
        return Answer(
            verdict="not_covered",
            text=f"{school_name}'s policies don't cover this. Please ask the school office.",
            citations=[],
            band="not_covered",
            confidence=confidence,
        )
    if band == "unsure":
        return Answer(
            verdict="unsure",
            text=(f"I'm not certain. These parts of {school_name}'s policies look relevant: please read them, or ask the school office."),
            citations=[Citation.from_clause(c.clause, c.score) for c in candidates[:MAX_CITATIONS]],
            band="unsure",
            confidence=confidence,
        )
    top = candidates[0]
    citations = [Citation.from_clause(top.clause, top.score)]
    if judgement is None:  # fused scores: near-ties are shown too; a reranked answer cites its one clause
        for cand in candidates[1:MAX_CITATIONS]:
            if cand.score >= top.score - SECONDARY_MARGIN and not should_abstain(cand):
                citations.append(Citation.from_clause(cand.clause, cand.score))
    sentence = key_sentence(top.clause.display_text, evidence.plan[-1].text, sentence_similarity)
    verdict, mod = decide_verdict(evidence.question, sentence, evidence.history)
    if judgement is not None and judgement.use_classifier:
        verdict = judgement.verdict
    text = plain_answer(verdict, mod, sentence, school_name, top.clause.document_title, top.clause.lead_in)
    notes = []
    note = _review_note(documents.get(top.clause.document), today or dt.date.today())
    if note:
        notes.append(note)
    return Answer(verdict=verdict, text=text, citations=citations, notes=notes, band="answer", confidence=confidence)
