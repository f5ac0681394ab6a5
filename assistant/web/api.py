"""The JSON HTTP API: ``/api/ask``, ``/api/search``, ``/api/schools`` and ``/healthz``.

Request bodies are validated by pydantic (strict types, no unknown fields; the models are in
`api_models`), so bad input is a 422 whose ``detail`` names the field (`api_errors`); an
unknown school is a 404. Control and invisible formatting characters are stripped from
questions (`limits.strip_control`). Endpoints are plain ``def`` functions: FastAPI runs them
in its thread pool, and `Assistant` is thread-safe.

Hardening (see `limits`, `origins`): questions are rate-limited per client (429 with
``Retry-After``); a browser request from a site not allowed for the body's school is a 403;
each answered ``/api/ask`` question is written, redacted, to the question log before the
answer is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from assistant import Assistant
from assistant.feedback import FeedbackStore
from assistant.question_log import QuestionLog

from .api_errors import check_origin, http_error_handler, known_school, rejected, validation_error_handler
from .api_models import (
    AskRequest,
    AskResponse,
    CitationOut,
    DocumentOut,
    HandoverOut,
    Health,
    Problem,
    SchoolOut,
    SchoolsResponse,
    SearchRequest,
    SearchResponse,
)
from .holder import AssistantHolder
from .limits import RateLimiter
from .origins import OriginPolicy
from .recording import record_answer

__all__ = ["SchoolQuestion", "api_router", "http_error_handler", "school_question", "validation_error_handler"]

log = logging.getLogger(__name__)

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
        assistant = known_school(holder, request.school)
        check_origin(origins, http, request.school)
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

    Returns:
        The router of ``/api/ask``, ``/api/search``, ``/api/schools`` and ``/healthz``.
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

    def question_route(path: str, response_model: type, summary: str) -> Callable:
        """``router.post`` for a question: its problems, tag and rate limit are those of every question route."""
        return router.post(
            path, response_model=response_model, responses=problems, tags=["questions"], summary=summary, dependencies=questions_limit
        )

    @question_route("/api/ask", AskResponse, "Answer a question with citations")
    def ask(question: SchoolQuestion[AskRequest] = Depends(ask_question)) -> AskResponse:  # noqa: B008 (Annotated would name the local dependency in a string)
        """Answer ``question`` from ``school``'s policies: a verdict, a short answer and the clauses it rests on."""
        request, history = question.request, question.history
        try:
            answer = question.assistant.ask(request.question, request.school, request.audience, history)
        except ValueError as exc:
            raise rejected(exc) from None
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

    @question_route("/api/search", SearchResponse, "Best-matching clauses")
    def search(question: SchoolQuestion[SearchRequest] = Depends(search_question)) -> SearchResponse:  # noqa: B008
        """The ``k`` clauses of ``school`` that best match ``question`` (read with ``history``), best first."""
        request = question.request
        try:
            citations = question.assistant.search(request.question, request.school, request.audience, question.history, request.k)
        except ValueError as exc:
            raise rejected(exc) from None
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
        out = [
            SchoolOut(school=info.school, name=info.name, documents=[DocumentOut.of(d) for d in info.documents])
            for info in holder.get().schools()
        ]
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
