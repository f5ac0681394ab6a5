"""The JSON HTTP API: ``/api/ask``, ``/api/search``, ``/api/schools`` and ``/healthz``.

Request bodies are validated by pydantic (strict types, no unknown fields), so bad input
is a 422 whose ``detail`` names the field; an unknown school is a 404. Control and invisible
formatting characters are stripped from questions (`limits.strip_control`). Endpoints are plain
``def`` functions: FastAPI runs them in its thread pool, and `Assistant` is thread-safe.

Hardening (see `limits`, `origins`): questions are rate-limited per client (429 with
``Retry-After``); a browser request from a site not allowed for the body's school is a 403;
each answered ``/api/ask`` question is written, redacted, to the question log before the
answer is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import AUDIENCES, VERDICTS, Assistant, Citation
from assistant.config import get_settings
from assistant.feedback import FeedbackStore
from assistant.question_log import QuestionLog

from .holder import AssistantHolder
from .limits import RateLimiter, strip_control
from .origins import OriginPolicy, refuse_foreign_origin
from .recording import record_answer
from .render import citation_url

log = logging.getLogger(__name__)

#: Longest question accepted (the core assistant's limit, ``ASSISTANT_MAX_QUESTION_CHARS``).
MAX_QUESTION_CHARS = get_settings().max_question_chars
#: Most earlier questions a request may carry (the assistant reads the last 20).
MAX_HISTORY_ITEMS = 50

Audience = Literal[AUDIENCES]  # type: ignore[valid-type]
Verdict = Literal[VERDICTS]  # type: ignore[valid-type]
Band = Literal["answer", "unsure", "not_covered"]
Question = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS), AfterValidator(strip_control)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class AskRequest(_Strict):
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
        """The API form of a `Citation`."""
        return cls(
            school=citation.school,
            document=citation.document,
            document_title=citation.document_title,
            section=citation.section,
            clause_id=citation.clause_id,
            text=citation.text,
            score=citation.score,
            url=citation_url(citation.school, citation.document, citation.clause_id),
            page=citation.page,
        )


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
        description="Calibrated probability (0–1) that the first clause found answers the question; null when the trained stage is off.",
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


#: Longest field name a 422 repeats (a longer unknown key is cut, with "…").
MAX_FIELD_NAME_CHARS = 64
#: Most problems a 422 lists (the rest are counted in ``message``).
MAX_PROBLEMS = 20


def _short(name: str) -> str:
    return name if len(name) <= MAX_FIELD_NAME_CHARS else name[: MAX_FIELD_NAME_CHARS - 1] + "…"


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 for invalid input: ``detail`` lists each problem with its field; ``message`` sums them up.

    The rejected input is not echoed back, and field names are cut to `MAX_FIELD_NAME_CHARS`
    (an unknown key is the client's own text: a 200 KB key must not make a 600 KB answer);
    at most `MAX_PROBLEMS` problems are listed.
    """
    problems = []
    errors = exc.errors()
    for error in errors[:MAX_PROBLEMS]:
        loc = [_short(str(part)) for part in error.get("loc", ())]
        field = ".".join(loc[1:] if loc[:1] in (["body"], ["query"], ["path"]) else loc) or "body"
        if error.get("type") == "json_invalid":
            field = "body"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown field: this endpoint does not take it"
        problems.append({"field": field, "loc": loc, "msg": message, "type": error.get("type", "value_error")})
    summary = "; ".join(f"{p['field']}: {p['msg']}" for p in problems)
    if len(errors) > MAX_PROBLEMS:
        summary += f"; and {len(errors) - MAX_PROBLEMS} more problems"
    return JSONResponse(status_code=422, content={"detail": problems, "message": summary})


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's handler, except that a body it could not decode (not UTF-8) is a 422 naming ``body``, like malformed JSON."""
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        problem = {"field": "body", "loc": ["body"], "msg": "the body is not valid UTF-8 JSON", "type": "json_invalid"}
        return JSONResponse(status_code=422, content={"detail": [problem], "message": f"body: {problem['msg']}"})
    return await http_exception_handler(request, exc)


def _reject(exc: ValueError) -> HTTPException:
    """The assistant refused the input (its own checks, after ours): a 422 with its message."""
    return HTTPException(status_code=422, detail=str(exc))


def _check_origin(origins: OriginPolicy | None, http: Request, school: str) -> None:
    if origins is None:
        return
    message = refuse_foreign_origin(origins, http.headers.get("origin"), school, http.headers.get("host"), http.url.scheme)
    if message:
        raise HTTPException(status_code=403, detail=message)


QuestionBody = TypeVar("QuestionBody", bound=AskRequest)


@dataclass(frozen=True, slots=True)
class SchoolQuestion(Generic[QuestionBody]):
    """A question body checked against the served schools (what `school_question` gives a route).

    Attributes:
        assistant: the served `Assistant` that knows the body's school (ask it, not ``holder.get()`` again:
            an ingest may swap in a new generation meanwhile).
        request: the validated body (`AskRequest` or `SearchRequest`).
        history: the body's earlier questions without blank ones, oldest first.
    """

    assistant: Assistant
    request: QuestionBody
    history: list[str]


def school_question(
    body: type[QuestionBody], holder: AssistantHolder, origins: OriginPolicy | None
) -> Callable[[QuestionBody, Request], SchoolQuestion[QuestionBody]]:
    """The FastAPI dependency shared by ``/api/ask`` and ``/api/search``: the body, its school and its history.

    The dependency reads the request body as ``body`` (invalid: 422 naming the field, see
    `validation_error_handler`), then refuses an unknown school (404) and a browser page of a site
    not allowed for that school (403), in that order.

    Args:
        body: the route's body model (`AskRequest`, or `SearchRequest` with ``k``).
        holder: the served assistant.
        origins: which sites may call for which school from a browser (None: no origin check).

    Returns:
        The dependency, for ``Depends``; it returns a `SchoolQuestion`.
    """

    def dependency(request: AskRequest, http: Request) -> SchoolQuestion[QuestionBody]:
        assistant = holder.get()
        if request.school not in holder.school_ids(assistant):
            raise HTTPException(status_code=404, detail=f"unknown school {request.school!r}")
        _check_origin(origins, http, request.school)
        return SchoolQuestion(assistant, request, [h for h in request.history if h.strip()])

    # FastAPI reads the body's model from the annotation: the route's own (a SearchRequest body has ``k``).
    dependency.__annotations__["request"] = body
    return dependency


def api_router(
    holder: AssistantHolder,
    limiter: RateLimiter | None = None,
    origins: OriginPolicy | None = None,
    question_log: QuestionLog | None = None,
    feedback: FeedbackStore | None = None,
) -> APIRouter:
    """The API routes over the served assistant.

    Args:
        holder: the served assistant.
        limiter: per-client rate limits (None: no limit); questions and schools listings count separately.
        origins: which sites may call for which school from a browser (None: no origin check).
        question_log: where answered questions are logged, redacted (None: not logged).
        feedback: where answers are kept for feedback (issue 18; None: answers carry no ``answer_id``).
    """
    router = APIRouter()
    problems = {
        403: {"model": Problem, "description": "A browser page of a site not allowed for this school"},
        404: {"model": Problem, "description": "Unknown school"},
        422: {"description": "Invalid input; the field is named"},
        429: {"model": Problem, "description": "Too many questions from this client; see Retry-After"},
    }
    questions_limit = [Depends(limiter.dependency("questions", "questions"))] if limiter else []
    pages_limit = [Depends(limiter.dependency("pages", "requests"))] if limiter else []
    ask_question = school_question(AskRequest, holder, origins)
    search_question = school_question(SearchRequest, holder, origins)

    @router.post(
        "/api/ask",
        response_model=AskResponse,
        responses=problems,
        tags=["questions"],
        summary="Answer a question with citations",
        dependencies=questions_limit,
    )
    def ask(question: SchoolQuestion[AskRequest] = Depends(ask_question)) -> AskResponse:  # noqa: B008 (Annotated would name the local dependency in a string)
        """Answer ``question`` from ``school``'s policies: a verdict, a short answer and the clauses it rests on."""
        request, history = question.request, question.history
        try:
            answer = question.assistant.ask(request.question, request.school, request.audience, history)
        except ValueError as exc:
            raise _reject(exc) from None
        answer_id = record_answer(question_log, feedback, request.school, request.audience, request.question, answer, history)
        return AskResponse(
            verdict=answer.verdict,
            text=answer.text,
            citations=[CitationOut.of(c) for c in answer.citations],
            notes=list(answer.notes),
            band=answer.band,
            confidence=answer.confidence,
            handover=HandoverOut(**answer.handover.to_dict()) if answer.handover else None,
            safeguarding=answer.safeguarding,
            answer_id=answer_id,
        )

    @router.post(
        "/api/search",
        response_model=SearchResponse,
        responses=problems,
        tags=["questions"],
        summary="Best-matching clauses",
        dependencies=questions_limit,
    )
    def search(question: SchoolQuestion[SearchRequest] = Depends(search_question)) -> SearchResponse:  # noqa: B008
        """The ``k`` clauses of ``school`` that best match ``question`` (read with ``history``), best first."""
        request = question.request
        try:
            citations = question.assistant.search(request.question, request.school, request.audience, question.history, request.k)
        except ValueError as exc:
            raise _reject(exc) from None
        return SearchResponse(citations=[CitationOut.of(c) for c in citations])

    @router.get(
        "/api/schools",
        response_model=SchoolsResponse,
        responses={429: {"model": Problem, "description": "Too many requests; see Retry-After"}},
        tags=["schools"],
        summary="Schools and their policy documents",
        dependencies=pages_limit,
    )
    def schools() -> SchoolsResponse:
        """Every school served (id and name) with its documents."""
        out = []
        for info in holder.get().schools():
            documents = [
                DocumentOut(
                    document=d.document,
                    title=d.title,
                    clauses=d.clauses,
                    adopted=d.adopted,
                    last_reviewed=d.last_reviewed,
                    next_review=d.next_review,
                    url=citation_url(info.school, d.document, "").removesuffix("#"),
                )
                for d in info.documents
            ]
            out.append(SchoolOut(school=info.school, name=info.name, documents=documents))
        return SchoolsResponse(schools=out)

    @router.get("/healthz", response_model=Health, responses={503: {"model": Problem}}, tags=["operations"], summary="Health check")
    def healthz() -> Health | JSONResponse:
        """Liveness and readiness: 200 when the index answers, 503 otherwise.

        200 when the index is loaded, a search over it succeeds and every school it serves is
        still there (`AssistantHolder.check`, issue 17).
        """
        try:
            assistant = holder.get()
            ids = sorted(holder.school_ids(assistant))
            assistant.search("mobile phones", ids[0], k=1)
            holder.check(assistant)
        except Exception as exc:
            log.error("health check failed: %s", exc)
            return JSONResponse(status_code=503, content={"detail": "the policy index is not answering"})
        return Health(status="ok", generation=assistant.generation.name, schools=len(ids))

    return router
