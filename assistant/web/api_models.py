"""The JSON bodies of the HTTP API (`assistant.web.api`): requests in, responses out.

Request models are strict (`StrictModel`: no type coercion, no unknown fields), so bad input
is a 422 whose ``detail`` names the field (`assistant.web.api_errors`). Control and invisible
formatting characters are stripped from questions (`limits.strip_control`). The class names
are the schema names of the OpenAPI document at ``/openapi.json``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from assistant import AUDIENCES, VERDICTS, Citation, DocumentInfo
from assistant.config import get_settings

from .limits import strip_control
from .render import citation_url

#: Longest question accepted (the core assistant's limit, ``ASSISTANT_MAX_QUESTION_CHARS``).
MAX_QUESTION_CHARS = get_settings().max_question_chars
#: Most earlier questions a request may carry (the assistant reads the last 20).
MAX_HISTORY_ITEMS = 50

Audience = Literal[AUDIENCES]  # type: ignore[valid-type]
Verdict = Literal[VERDICTS]  # type: ignore[valid-type]
Band = Literal["answer", "unsure", "not_covered"]
Question = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS), AfterValidator(strip_control)]


class StrictModel(BaseModel):
    """A request body: strict types (``"5"`` is not an int) and no unknown fields (each is a 422)."""

    model_config = ConfigDict(strict=True, extra="forbid")


class AskRequest(StrictModel):
    """A question to answer from one school's policies."""

    question: Question = Field(description="The question, 1–1,000 characters.", examples=["Can I post sports day videos?"])
    school: str = Field(min_length=1, max_length=200, description="School id (see GET /api/schools).", examples=["st-michaels"])
    audience: Audience | None = Field(default=None, description="The asker's role; boosts clauses addressed to it.", examples=["parent"])
    history: list[Question] = Field(
        default_factory=list, max_length=MAX_HISTORY_ITEMS, description="The chat's earlier questions, oldest first (for follow-ups)."
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, question: str) -> str:
        if not question.strip():
            raise ValueError("question is empty: ask something about the school's policies")
        return question


class SearchRequest(AskRequest):
    """A question whose best-matching clauses are wanted (no verdict)."""

    k: int = Field(default=5, ge=1, le=50, description="How many clauses to return, 1–50.")


class CitationOut(BaseModel):
    """A cited clause: where it is, what it says, and a link to it in the policy viewer."""

    school: str
    document: str
    document_title: str
    section: str
    clause_id: str
    text: str = Field(description="The clause as written, with its lead-in.")
    score: float = Field(description="Retrieval score; higher is better; comparable only within one response.")
    url: str = Field(description="/policies/<school>/<document>#<clause_id>")
    page: int | None = None

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        """The API form of a `Citation`: its fields of the same name, and ``url`` into the policy viewer."""
        shared = {name: getattr(citation, name) for name in cls.model_fields if name != "url"}
        return cls(**shared, url=citation_url(citation.school, citation.document, citation.clause_id))


class ContactOut(BaseModel):
    """One way to reach a person at the school (any field may be null)."""

    role: str = Field(description='Who it is: "School office", "Designated Safeguarding Lead (…)".')
    email: str | None = None
    phone: str | None = None
    url: str | None = Field(default=None, description="An http(s) page, e.g. the school's contact form.")
    hours: str | None = None


class HandoverOut(BaseModel):
    """Whom to contact when the policies cannot settle a question (issue 18)."""

    reason: Literal["not_covered", "unsure", "safeguarding", "contact_details"]
    message: str = Field(description="The handover in words; 'Please ask the school office.' when the school lists no contacts.")
    office: ContactOut | None = None
    dsl: ContactOut | None = Field(default=None, description="The Designated Safeguarding Lead.")
    emergency: str | None = Field(default=None, description="The emergency number (999), for a safeguarding question.")
    contact_details: bool = Field(default=False, description="The question holds an email or phone number: nobody replies to it here.")


class AskResponse(BaseModel):
    """The answer: verdict, a short text resting only on the citations, and the citations (best first)."""

    verdict: Verdict = Field(
        description="yes, no, conditional (only if…), info; unsure (the likeliest clauses, no verdict); or not_covered (then no citations)."
    )
    text: str
    citations: list[CitationOut]
    notes: list[str] = Field(default_factory=list, description="Remarks such as a policy past its review date.")
    band: Band = Field(
        default="answer",
        description="answer (a verdict resting on the first citation), unsure (the three likeliest clauses, no verdict) or not_covered.",
    )
    confidence: float | None = Field(
        default=None,
        description="Calibrated probability (0–1) that the answer is right: the first clause found answers the question and the"
        " verdict is the policy's. A 'yes' is shown from 0.5, other verdicts from a lower threshold; null when the trained stage is off.",
    )
    handover: HandoverOut | None = Field(
        default=None,
        description="Whom to contact (office, Designated Safeguarding Lead) for a not-covered, unsure or safeguarding answer; else null.",
    )
    safeguarding: bool = Field(default=False, description="A possible child-protection concern: the text starts with the DSL's contact.")
    answer_id: str | None = Field(default=None, description="Rate this answer with POST /api/feedback (null when feedback is not stored).")


class SearchResponse(BaseModel):
    """The clauses that best match a question, best first."""

    citations: list[CitationOut]


class DocumentOut(BaseModel):
    """A policy document served for a school."""

    document: str
    title: str
    clauses: int
    adopted: str | None
    last_reviewed: str | None
    next_review: str | None
    url: str = Field(description="The policy viewer page.")

    @classmethod
    def of(cls, document: DocumentInfo) -> DocumentOut:
        """The API form of a `DocumentInfo`: its fields of the same name, and ``url`` of its policy viewer page."""
        shared = {name: getattr(document, name) for name in cls.model_fields if name != "url"}
        return cls(**shared, url=citation_url(document.school, document.document, "").removesuffix("#"))


class SchoolOut(BaseModel):
    """A school (tenant) and its documents."""

    school: str
    name: str
    documents: list[DocumentOut]


class SchoolsResponse(BaseModel):
    """Every school served, sorted by id."""

    schools: list[SchoolOut]


class Problem(BaseModel):
    """An error: ``detail`` says what is wrong."""

    detail: str


class Health(BaseModel):
    """Liveness and readiness: the index is loaded and answering."""

    status: Literal["ok"]
    generation: str
    schools: int
