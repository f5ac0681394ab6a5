"""Feedback on answers over HTTP (issue 18), and the store that keeps answers for it.

Public (rate-limited like questions, per client; the client address is never stored):

| route | what |
| --- | --- |
| ``POST /api/feedback`` | ``{answer_id, rating: up/down, note?, clause_id?}``: a 👍/👎 on an answer of ``/api/ask`` |
| ``GET /api/clauses?school=&document=`` | a school's clauses (one document's, or all), for the "right part of the policy is…" picker |

The admin side (the school report page and each school's question bank, behind
``ASSISTANT_ADMIN_TOKEN``) is `school_bank_api`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import AfterValidator, BaseModel, Field

from assistant.feedback import MAX_NOTE_CHARS, FeedbackStore
from assistant.question_log import QuestionLog

from .api_errors import check_origin, known_answer, known_school
from .api_models import StrictModel
from .holder import AssistantHolder
from .limits import RateLimiter, strip_control
from .origins import OriginPolicy

__all__ = ["ClauseOut", "FeedbackRequest", "FeedbackResponse", "feedback_router", "open_feedback_store"]

log = logging.getLogger(__name__)


class FeedbackRequest(StrictModel):
    """A 👍/👎 on one answer, with an optional note and the clause the person says is right."""

    answer_id: str = Field(min_length=1, max_length=64, description="The ``answer_id`` of the /api/ask response.")
    rating: Literal["up", "down"]
    note: Annotated[str, Field(max_length=MAX_NOTE_CHARS), AfterValidator(strip_control)] | None = Field(
        default=None, description="What was wrong (optional; stored redacted, like questions)."
    )
    clause_id: str | None = Field(default=None, max_length=100, description="The right part of the policy (a clause id of the school).")


class FeedbackResponse(BaseModel):
    """The feedback was stored."""

    stored: bool = True


class ClauseOut(BaseModel):
    """One clause of a school's policy, for the clause picker."""

    clause_id: str
    document: str
    document_title: str
    section: str
    text: str


def feedback_router(
    holder: AssistantHolder, store: FeedbackStore | None, limiter: RateLimiter | None = None, origins: OriginPolicy | None = None
) -> APIRouter:
    """``POST /api/feedback`` and ``GET /api/clauses``.

    Args:
        holder: the served assistant.
        store: where answers are kept for feedback (None: ``POST /api/feedback`` answers 503).
        limiter: per-client rate limits (None: no limit); ratings and clause listings count separately.
        origins: which sites may call for which school from a browser (None: no origin check).

    Returns:
        The router of the two routes.
    """
    router = APIRouter()
    feedback_limit = [Depends(limiter.dependency("feedback", "ratings"))] if limiter else []
    pages_limit = [Depends(limiter.dependency("pages", "requests"))] if limiter else []

    @router.post("/api/feedback", response_model=FeedbackResponse, tags=["feedback"], summary="Rate an answer", dependencies=feedback_limit)
    def feedback(request: FeedbackRequest, http: Request) -> FeedbackResponse:
        """Store a 👍/👎 on an answer of /api/ask (its ``answer_id``), with an optional note and the right clause."""
        if store is None:
            raise HTTPException(status_code=503, detail="Feedback is not stored on this server (the question log is off).")
        found = known_answer(store, request.answer_id)
        check_origin(origins, http, found.school)
        if request.clause_id and request.clause_id not in {c.clause_id for c in holder.get().clauses(found.school)}:
            raise HTTPException(status_code=422, detail="clause_id is not a clause of this answer's school")
        store.add_feedback(request.answer_id, request.rating, request.note, request.clause_id)
        return FeedbackResponse()

    @router.get("/api/clauses", response_model=list[ClauseOut], tags=["feedback"], summary="A school's clauses", dependencies=pages_limit)
    def clauses(school: str, document: str | None = None) -> list[ClauseOut]:
        """The school's clauses in document order (one ``document``'s, or all), for the clause picker."""
        assistant = known_school(holder, school)
        return [
            ClauseOut(clause_id=c.clause_id, document=c.document, document_title=c.document_title, section=c.section, text=c.text)
            for c in assistant.clauses(school, document)
        ]

    return router


def open_feedback_store(question_log: QuestionLog | None, retention_days: float) -> FeedbackStore | None:
    """The feedback store beside ``question_log``; answering goes on without it.

    Args:
        question_log: the open question log (None: it is off, and so is feedback).
        retention_days: how long kept answers and their feedback are kept, in days.

    Returns:
        The store, or None when the log is off or the store cannot be opened (logged as an error).
    """
    from assistant.feedback import feedback_path

    if question_log is None:
        return None
    try:
        return FeedbackStore(feedback_path(question_log), question_log, retention_days)
    except Exception as exc:
        log.error("the feedback store cannot be opened, so answers cannot be rated: %s", exc)
        return None
