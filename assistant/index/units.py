"""What a clause is embedded as, and the vector ids the query path maps back to clauses.

Ingest embeds every clause as one or more *units* (`embedding_units`): the clause whole,
then each of its sentences long enough to stand alone. The query path needs the same
functions to score sentences (`unit_sentences`) and to turn a Chroma id back into a clause
(`clause_id_of_vector`).
"""

from __future__ import annotations

import hashlib
import re

from ..chunking import SECTION_SEPARATOR
from ..text import split_sentences
from ..types import Clause

#: Sentences shorter than this are embedded only as part of their clause.
MIN_UNIT_CHARS = 25

_CONTINUED_BY = re.compile(
    r"\b(may|might|to|should|must|which|who|that|for|is|are|was|be|it|if|will|would|can|shall|not|of|by|with|when|"
    r"ensure|include|includes|following|they|we|you|i)\s*[:\-—]*$",
    re.IGNORECASE,
)


def section_context(clause: Clause) -> str:
    """The clause's last two section headings, joined as in ``Clause.section``."""
    return SECTION_SEPARATOR.join(clause.section.split(SECTION_SEPARATOR)[-2:])


def continues_lead_in(clause: Clause) -> bool:
    """True when the clause only reads as the end of its lead-in's sentence.

    "… in a manner which may:" + "Bring the School into disrepute;" does; a heading-like
    lead-in ("Guidelines issued to staff:") followed by a full rule ("Staff must never …")
    does not, and embedding such a lead-in into every item only blurs them.
    """
    if not clause.lead_in:
        return False
    last = clause.lead_in.rstrip().rstrip(":-—").split(". ")[-1]
    return clause.text[:1].islower() or bool(_CONTINUED_BY.search(last + ":")) or len(clause.text.split()) <= 6


def embedding_text(clause: Clause) -> str:
    """The clause as embedded whole.

    Its last two section headings, its lead-in when the clause continues it (see
    `continues_lead_in`), then its text.
    """
    body = clause.display_text if continues_lead_in(clause) else clause.text
    section = section_context(clause)
    return f"{section}: {body}" if section else body


def unit_sentences(clause: Clause) -> list[str]:
    """The sentences of a clause that get a vector of their own.

    Vector ``n`` (n ≥ 1) of `embedding_units` embeds sentence ``n - 1``. Empty for a
    one-sentence clause; sentences shorter than `MIN_UNIT_CHARS` are left out.
    """
    sentences = [s.strip() for s in split_sentences(clause.text) if len(s.strip()) >= MIN_UNIT_CHARS]
    return sentences if len(sentences) > 1 else []


def embedding_units(clause: Clause) -> list[str]:
    """Texts embedded for one clause: the whole clause, then each of its sentences.

    A long clause often states several rules ("Photographs will be stored … until the
    school ceases to operate" sits in a paragraph about consent). One vector per
    sentence lets a question find the sentence it asks about; the clause's dense score
    is the best of its vectors (multi-vector retrieval with max pooling, as in ColBERT's
    MaxSim, Khattab & Zaharia, SIGIR 2020, at sentence rather than token granularity),
    and the citation is still the whole clause.
    """
    units = [embedding_text(clause)]
    sentences = unit_sentences(clause)
    if sentences:
        lead_in = clause.lead_in if continues_lead_in(clause) else ""
        prefix = " ".join(p for p in (section_context(clause) + ":" if clause.section else "", lead_in) if p)
        units.extend(f"{prefix} {s}".strip() for s in sentences)
    return units


def vector_id(clause: Clause, unit: int) -> str:
    """Chroma id of a clause's ``unit``-th vector: ``"<school>:<clause_id>:<unit>"``."""
    return f"{clause.school}:{clause.clause_id}:{unit}"


def clause_id_of_vector(vector_id: str) -> str:
    """The clause id inside a `vector_id` (clause ids and unit numbers never hold a colon)."""
    return vector_id.rsplit(":", 2)[1]


def unit_records(clause: Clause, model_id: str) -> list[tuple[str, str, dict]]:
    """The vectors ingest stores for one clause.

    Args:
        clause: the clause.
        model_id: the embedding model's id (``SentenceEmbeddings.model_id``), part of each key.

    Returns:
        one ``(vector id, embedded text, metadata)`` per unit; the metadata's ``embed_key``
        (SHA-1 of model id and text) lets the next ingest reuse the vector.
    """
    out = []
    for n, text in enumerate(embedding_units(clause)):
        key = hashlib.sha1(f"{model_id}\x1f{text}".encode()).hexdigest()
        meta = {"school": clause.school, "document": clause.document, "clause_id": clause.clause_id, "unit": n, "embed_key": key}
        out.append((vector_id(clause, n), text, meta))
    return out
