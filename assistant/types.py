"""Typed records that flow through the pipeline, each carrying its provenance.

A `Clause` is what ingest produces (one quotable rule); a `Citation` is a clause as
retrieved for a question (with a score); an `Answer` is the verdict, a short text and
the citations it rests on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Verdict = Literal["yes", "no", "conditional", "info", "unsure", "not_covered"]
#: ``unsure``: the assistant is not confident enough to answer and shows the likeliest clauses instead.
VERDICTS: tuple[str, ...] = ("yes", "no", "conditional", "info", "unsure", "not_covered")
#: The verdicts of an answer that rests on a clause (the trained verdict classifier's classes).
ANSWER_VERDICTS: tuple[str, ...] = VERDICTS[:4]
#: What a reader sees for each verdict: the chat's and widget's badge, the CLI's (upper-cased).
VERDICT_LABELS: dict[str, str] = {
    "yes": "Yes",
    "no": "No",
    "conditional": "Only if…",
    "info": "Info",
    "unsure": "Not sure",
    "not_covered": "Not covered",
}
#: Answer bands by confidence (issue 16): answer (verdict + clause), unsure (top clauses, no
#: verdict), not_covered (no citation, ask the school office).
Band = Literal["answer", "unsure", "not_covered"]

#: Roles a question may be asked in (the asker's audience).
AUDIENCES: tuple[str, ...] = ("staff", "parent", "pupil", "visitor", "governor")
#: Tags a clause may carry: the roles above plus "everyone" for clauses addressed to all.
CLAUSE_AUDIENCES: tuple[str, ...] = (*AUDIENCES, "everyone")


@dataclass(frozen=True, slots=True)
class Clause:
    """One quotable rule of one school's policy document.

    Attributes:
        school: school id (the corpus folder name), e.g. ``"glais"``.
        document: document id (the file name without extension).
        document_title: human title of the document, from the school's metadata.
        section: section path, headings joined by ``" › "`` (``""`` before any heading).
        position: 1-based position of the clause within its section.
        clause_id: stable id: a hash of school, document, lead-in and text, so the same
            text gets the same id on every ingest.
        text: the clause as written, without its lead-in (markdown emphasis removed).
        lead_in: the sentence(s) the clause continues ("Staff must not … which may:"),
            ``""`` when it stands alone.
        start, end: character offsets of ``text``'s source span in the document text
            (``source[start:end]`` is the raw clause, markup included).
        audiences: whom the clause addresses, a subset of `CLAUSE_AUDIENCES`.
        page: 1-based page number for paginated sources (PDF), else ``None``.
    """

    school: str
    document: str
    document_title: str
    section: str
    position: int
    clause_id: str
    text: str
    lead_in: str
    start: int
    end: int
    audiences: tuple[str, ...] = ("everyone",)
    page: int | None = None

    @property
    def display_text(self) -> str:
        """The clause with its lead-in, as quoted to a reader."""
        return f"{self.lead_in} {self.text}" if self.lead_in else self.text

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        data = asdict(self)
        data["audiences"] = list(self.audiences)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Clause:
        """Inverse of `to_dict`."""
        return cls(**{**data, "audiences": tuple(data.get("audiences", ("everyone",)))})


@dataclass(frozen=True, slots=True)
class Citation:
    """A clause retrieved for a question.

    Attributes:
        school, document, section, clause_id, start, end, page: provenance, as in `Clause`.
        document_title: human title of the cited document.
        text: the clause as written, with its lead-in.
        score: retrieval score, higher is better (fused z-score of dense and BM25
            relevance with the audience boost; comparable only within one query).
    """

    school: str
    document: str
    document_title: str
    section: str
    clause_id: str
    text: str
    score: float
    start: int
    end: int
    page: int | None = None

    @classmethod
    def from_clause(cls, clause: Clause, score: float) -> Citation:
        """Cite ``clause`` with ``score``."""
        return cls(
            school=clause.school,
            document=clause.document,
            document_title=clause.document_title,
            section=clause.section,
            clause_id=clause.clause_id,
            text=clause.display_text,
            score=round(float(score), 6),
            start=clause.start,
            end=clause.end,
            page=clause.page,
        )

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Handover:
    """Whom to contact when the policies cannot settle a question (issue 18).

    Attributes:
        reason: ``not_covered``, ``unsure``, ``safeguarding`` (a possible child-protection
            concern) or ``contact_details`` (the asker typed an email or phone number).
        message: the plain-text handover ("To talk to someone, contact the school office: …",
            "Please ask the school office." for a school without contacts; for a safeguarding
            question, the fixed message naming the Designated Safeguarding Lead and 999).
        office, dsl: the school office's and the Designated Safeguarding Lead's contact
            (``role, email, phone, url, hours``), None where the school gives none.
        emergency: the emergency number for a safeguarding question, else None.
        contact_details: the question holds an email address or phone number: nobody replies
            to it through the assistant, so the asker is told to contact the school instead.
    """

    reason: str
    message: str
    office: dict | None = None
    dsl: dict | None = None
    emergency: str | None = None
    contact_details: bool = False

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Answer:
    """The assistant's reply to one question.

    Attributes:
        verdict: one of `VERDICTS`.
        text: a short, plain-English answer resting only on ``citations``.
        citations: 1–3 citations, best first; empty when ``verdict == "not_covered"``.
        notes: extra remarks shown with the answer (e.g. a policy past its review date).
        band: ``answer`` (a verdict resting on the first citation), ``unsure`` (verdict
            ``unsure``: the likeliest clauses, no verdict) or ``not_covered`` (no citation).
        confidence: calibrated probability (0–1) that the answer is right: the first clause
            the assistant found answers the question and the verdict is the policy's
            (`assistant.rerank.Calibration`); None when the trained
            stage is switched off (``ASSISTANT_RERANK=false``).
        handover: whom to contact (`Handover`) for a not-covered, unsure or safeguarding
            answer, or when the question holds contact details; None otherwise.
        safeguarding: the question discloses or asks about a possible child-protection
            concern (`assistant.safeguarding`): the text starts with the fixed message naming
            the Designated Safeguarding Lead, and the answer is never "not covered".
    """

    verdict: Verdict
    text: str
    citations: list[Citation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    band: Band = "answer"
    confidence: float | None = None
    handover: Handover | None = None
    safeguarding: bool = False

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return {
            "verdict": self.verdict,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "notes": list(self.notes),
            "band": self.band,
            "confidence": self.confidence,
            "handover": self.handover.to_dict() if self.handover else None,
            "safeguarding": self.safeguarding,
        }


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """One policy document of one school, as loaded from the corpus.

    Attributes:
        school: school id; document: document id (file stem); title: human title.
        path: source file path (a string, for JSON); text: the full document text.
        sha256: hex digest of the source file's bytes (detects changes between ingests).
        adopted, last_reviewed, next_review: ISO dates (YYYY, YYYY-MM or YYYY-MM-DD)
            where the document or the school's metadata states them, else ``None``.
        audiences: whom the document addresses when a clause names nobody (metadata
            ``audiences``); empty means everyone.
        source_format: ``"text"``, ``"pdf"``, ``"docx"`` or ``"html"``: the file's format
            (``text`` is then extracted from it, see `assistant.formats`).
        page_starts: PDF only: ascending offsets in ``text`` where pages 1, 2, … start.
    """

    school: str
    document: str
    title: str
    path: str
    text: str
    sha256: str
    adopted: str | None = None
    last_reviewed: str | None = None
    next_review: str | None = None
    audiences: tuple[str, ...] = ()
    source_format: str = "text"
    page_starts: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class School:
    """A school (tenant) of the corpus: its id, display name and documents.

    Attributes:
        widget_origins: the sites (``scheme://host[:port]``) allowed to embed the school's
            parent widget and call the API for it from a browser (``school.toml``
            ``widget_origins``); empty when the school lists none.
    """

    school: str
    name: str
    documents: tuple[PolicyDocument, ...]
    widget_origins: tuple[str, ...] = ()
