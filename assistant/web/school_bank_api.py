"""The admin school report and each school's own question bank, over HTTP (issue 18).

Behind ``ASSISTANT_ADMIN_TOKEN``, like `assistant.web.admin`; hidden from the OpenAPI schema:

| route | what |
| --- | --- |
| ``GET /admin/school?school=<id>`` | HTML page: a school picker; most asked, not covered, unsure and 👎 answers; the school's bank and its runs |
| ``GET /admin/school.json?school=<id>`` | the report as JSON |
| ``POST /admin/bank/add`` | ``{answer_id, verdict: [...], clause_id?}``: a logged question becomes an entry of ``corpus/<school>/questions.jsonl`` |
| ``POST /admin/bank/run`` | ``{school}``: score the school's bank (`assistant.school_bank.run_bank`); the result is kept |

The admin POSTs accept the token as a Bearer header, or as the page's Basic password only
when the request also carries the ``X-PA-Admin: 1`` header and, if it has an ``Origin``, one
equal to this server's: a form or a plain request from another site can carry neither
(a custom header needs a CORS preflight, which this server never grants), so a saved
password cannot be replayed by another site (cross-site request forgery).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import Field, SecretStr

from assistant import school_bank
from assistant.feedback import FeedbackStore, SchoolReport
from assistant.types import VERDICTS

from .admin import REALM, token_guard
from .api_errors import known_answer, known_school, rejected
from .api_models import StrictModel
from .holder import AssistantHolder
from .limits import RateLimiter
from .school_page import SchoolSection, school_page_html

#: The header an admin page's script sends with its POSTs (see the module docstring).
ADMIN_HEADER = "x-pa-admin"
#: The admin page's headers: its own scripts and styles only, never framed, never cached.
ADMIN_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class BankAddRequest(StrictModel):
    """Turn a logged answer's question into a bank entry."""

    answer_id: str = Field(min_length=1, max_length=64)
    verdict: list[Literal[VERDICTS]] = Field(min_length=1, max_length=len(VERDICTS))  # type: ignore[valid-type]
    clause_id: str | None = Field(default=None, max_length=100)


class BankRunRequest(StrictModel):
    """Which school's bank to run."""

    school: str = Field(min_length=1, max_length=200)


def _admin_post_guard(token: SecretStr | None) -> Callable[[Request], None]:
    """Admin POSTs: a Bearer token, or the Basic password with `ADMIN_HEADER` and a same-site (or absent) Origin.

    Without a Basic password (or without a token configured) this is `admin.token_guard`'s check;
    `admin.token_guard` refuses a Basic password on a POST, which the admin page's script needs.
    """
    token_check = token_guard(token)
    expected = token.get_secret_value().encode("utf-8") if token is not None else None

    def check(request: Request) -> None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if expected is None or scheme.lower() != "basic":
            token_check(request)  # 403 when no token is configured; a Bearer token, or else 401
            return
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if request.headers.get(ADMIN_HEADER) != "1" or (origin is not None and origin != own):
            raise HTTPException(status_code=403, detail="This admin action must come from the admin page of this server.")
        try:
            given = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            given = None
        if given is None or not hmac.compare_digest(given.encode("utf-8"), expected):
            raise HTTPException(status_code=401, detail="Admin token missing or wrong.", headers={"WWW-Authenticate": REALM})

    return check


def school_bank_router(
    holder: AssistantHolder,
    token: SecretStr | None,
    store: FeedbackStore | None,
    limiter: RateLimiter | None,
    corpus_dir: Path,
    data_dir: Path,
) -> APIRouter:
    """The admin report page with the school picker, and the bank actions (hidden from the OpenAPI schema).

    Args:
        holder: the served assistant.
        token: the admin token (None: every route answers 403 saying how to enable them).
        store: where answers are kept for feedback (None: the question log is off; reports and bank
            additions answer 404).
        limiter: per-client rate limits (None: no limit); admin requests count on their own.
        corpus_dir: the corpus folder, holding each school's ``questions.jsonl`` bank.
        data_dir: where the bank runs are kept.

    Returns:
        The router of ``/admin/school``, ``/admin/school.json``, ``/admin/bank/add`` and ``/admin/bank/run``.
    """
    limit = [Depends(limiter.dependency("admin", "admin requests"))] if limiter else []
    router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=limit)
    read_guard = [Depends(token_guard(token))]
    post_guard = [Depends(_admin_post_guard(token))]

    def _kept_answers() -> FeedbackStore:
        if store is None:
            raise HTTPException(status_code=404, detail="The question log is off (ASSISTANT_QUESTION_LOG=off).")
        return store

    def _report(school: str) -> SchoolReport:
        return _kept_answers().report(school)

    @router.get("/school", response_class=HTMLResponse, dependencies=read_guard)
    def school_page(school: str | None = None) -> HTMLResponse:
        """The school picker and, for a school, its report, bank and bank runs."""
        assistant = holder.get()
        schools = [(s.school, s.name) for s in assistant.schools()]
        if school and school not in {s for s, _ in schools}:
            page = school_page_html(schools, school, unknown_school=school)
            return HTMLResponse(page, status_code=404, headers=ADMIN_PAGE_HEADERS)
        section = None
        if school:
            clauses = {c.clause_id: c for c in assistant.clauses(school)}
            report = _report(school)
            section = SchoolSection(
                school, report, clauses, school_bank.read_bank(corpus_dir, school), school_bank.past_runs(data_dir, school)
            )
        return HTMLResponse(school_page_html(schools, school, section), headers=ADMIN_PAGE_HEADERS)

    @router.get("/school.json", dependencies=read_guard)
    def school_json(school: str) -> dict:
        """The school's report as JSON."""
        known_school(holder, school)
        return _report(school).to_dict()

    @router.post("/bank/add", dependencies=post_guard)
    def bank_add(request: BankAddRequest) -> dict:
        """Append the answer's question, with the clause and verdict, to its school's bank; returns the entry."""
        found = known_answer(_kept_answers(), request.answer_id)
        assistant = known_school(holder, found.school)
        gold = []
        if "not_covered" not in request.verdict:
            clause_id = request.clause_id or found.chosen_clause or (found.citations[0] if found.citations else None)
            clause = next((c for c in assistant.clauses(found.school) if c.clause_id == clause_id), None)
            if clause is None:
                raise HTTPException(status_code=422, detail="choose the clause that answers the question")
            gold = [clause.text]
        try:
            entry = school_bank.add_entry(
                corpus_dir, found.school, found.question, found.audience, list(request.verdict), gold, found.history
            )
        except ValueError as exc:
            raise rejected(exc) from None
        return {"entry": entry}

    @router.post("/bank/run", dependencies=post_guard)
    def bank_run(request: BankRunRequest) -> dict:
        """Score the school's bank with the served assistant (the code of ``python -m evals.run``); returns the run."""
        assistant = known_school(holder, request.school)
        try:
            return school_bank.run_bank(assistant, corpus_dir, request.school, data_dir)
        except ValueError as exc:
            raise rejected(exc) from None

    return router
