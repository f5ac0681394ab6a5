"""Feedback on answers and the school's own question bank, over HTTP (issue 18).

Public (rate-limited like questions, per client; the client address is never stored):

| route | what |
| --- | --- |
| ``POST /api/feedback`` | ``{answer_id, rating: up/down, note?, clause_id?}``: a 👍/👎 on an answer of ``/api/ask`` |
| ``GET /api/clauses?school=&document=`` | a school's clauses (one document's, or all), for the "right part of the policy is…" picker |

Admin (behind ``ASSISTANT_ADMIN_TOKEN``, like `assistant.web.admin`):

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
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from assistant import school_bank
from assistant.feedback import MAX_NOTE_CHARS, AnswerRow, FeedbackStore, SchoolReport
from assistant.question_log import normalise_question
from assistant.types import VERDICTS, Clause

from .admin import REALM, token_guard
from .holder import AssistantHolder
from .limits import RateLimiter, strip_control
from .origins import OriginPolicy, refuse_foreign_origin
from .pages import render_page
from .render import citation_url

log = logging.getLogger(__name__)

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


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class FeedbackRequest(_Strict):
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


class BankAddRequest(_Strict):
    """Turn a logged answer's question into a bank entry."""

    answer_id: str = Field(min_length=1, max_length=64)
    verdict: list[Literal[VERDICTS]] = Field(min_length=1, max_length=len(VERDICTS))  # type: ignore[valid-type]
    clause_id: str | None = Field(default=None, max_length=100)


class BankRunRequest(_Strict):
    """Which school's bank to run."""

    school: str = Field(min_length=1, max_length=200)


def people_date(ts: float | None) -> str:
    """A Unix time as people read it: ``27 Nov 2026, 21:35 UTC`` (``–`` for None)."""
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, UTC).strftime("%-d %b %Y, %H:%M UTC")


def _known_school(holder: AssistantHolder, school: str):
    assistant = holder.get()
    if school not in holder.school_ids(assistant):
        raise HTTPException(status_code=404, detail=f"unknown school {school!r}")
    return assistant


def feedback_router(
    holder: AssistantHolder, store: FeedbackStore | None, limiter: RateLimiter | None = None, origins: OriginPolicy | None = None
) -> APIRouter:
    """``POST /api/feedback`` and ``GET /api/clauses``."""
    router = APIRouter()
    feedback_limit = [Depends(limiter.dependency("feedback", "ratings"))] if limiter else []
    pages_limit = [Depends(limiter.dependency("pages", "requests"))] if limiter else []

    @router.post("/api/feedback", response_model=FeedbackResponse, tags=["feedback"], summary="Rate an answer", dependencies=feedback_limit)
    def feedback(request: FeedbackRequest, http: Request) -> FeedbackResponse:
        """Store a 👍/👎 on an answer of /api/ask (its ``answer_id``), with an optional note and the right clause."""
        if store is None:
            raise HTTPException(status_code=503, detail="Feedback is not stored on this server (the question log is off).")
        found = store.answer(request.answer_id)
        if found is None:
            raise HTTPException(status_code=404, detail="unknown or expired answer_id")
        if origins is not None:
            message = refuse_foreign_origin(origins, http.headers.get("origin"), found.school, http.headers.get("host"), http.url.scheme)
            if message:
                raise HTTPException(status_code=403, detail=message)
        if request.clause_id and request.clause_id not in {c.clause_id for c in holder.get().clauses(found.school)}:
            raise HTTPException(status_code=422, detail="clause_id is not a clause of this answer's school")
        store.add_feedback(request.answer_id, request.rating, request.note, request.clause_id)
        return FeedbackResponse()

    @router.get("/api/clauses", response_model=list[ClauseOut], tags=["feedback"], summary="A school's clauses", dependencies=pages_limit)
    def clauses(school: str, document: str | None = None) -> list[ClauseOut]:
        """The school's clauses in document order (one ``document``'s, or all), for the clause picker."""
        assistant = _known_school(holder, school)
        return [
            ClauseOut(clause_id=c.clause_id, document=c.document, document_title=c.document_title, section=c.section, text=c.text)
            for c in assistant.clauses(school, document)
        ]

    return router


def _admin_post_guard(token: SecretStr | None):
    """Admin POSTs: a Bearer token, or the Basic password with `ADMIN_HEADER` and a same-site (or absent) Origin."""
    expected = token.get_secret_value().encode("utf-8") if token is not None else None

    def check(request: Request) -> None:
        if expected is None:
            raise HTTPException(
                status_code=403, detail="Admin endpoints are disabled: set ASSISTANT_ADMIN_TOKEN on the server to enable them."
            )
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        given = None
        if scheme.lower() == "bearer":
            given = value.strip()
        elif scheme.lower() == "basic":
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
    corpus_dir,
    data_dir,
) -> APIRouter:
    """The admin report page with the school picker, and the bank actions (hidden from the OpenAPI schema)."""
    limit = [Depends(limiter.dependency("admin", "admin requests"))] if limiter else []
    router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=limit)
    read_guard = [Depends(token_guard(token))]
    post_guard = [Depends(_admin_post_guard(token))]

    def _report(school: str) -> SchoolReport:
        if store is None:
            raise HTTPException(status_code=404, detail="The question log is off (ASSISTANT_QUESTION_LOG=off).")
        return store.report(school)

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
        _known_school(holder, school)
        return _report(school).to_dict()

    @router.post("/bank/add", dependencies=post_guard)
    def bank_add(request: BankAddRequest) -> dict:
        """Append the answer's question, with the clause and verdict, to its school's bank; returns the entry."""
        if store is None:
            raise HTTPException(status_code=404, detail="The question log is off (ASSISTANT_QUESTION_LOG=off).")
        found = store.answer(request.answer_id)
        if found is None:
            raise HTTPException(status_code=404, detail="unknown or expired answer_id")
        assistant = _known_school(holder, found.school)
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
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return {"entry": entry}

    @router.post("/bank/run", dependencies=post_guard)
    def bank_run(request: BankRunRequest) -> dict:
        """Score the school's bank with the served assistant (the code of ``python -m evals.run``); returns the run."""
        assistant = _known_school(holder, request.school)
        try:
            return school_bank.run_bank(assistant, corpus_dir, request.school, data_dir)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    return router


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


@dataclass(frozen=True, slots=True)
class SchoolSection:
    """What the admin page shows about the chosen school.

    Attributes:
        school: the school id.
        report: its answers (`FeedbackStore.report`).
        clauses: its clauses by clause id (`Assistant.clauses`), to show the cited clause of each answer.
        bank: its question bank (`school_bank.read_bank`), entries as dicts with ``id`` and ``question``.
        runs: the bank's kept runs, oldest first (`school_bank.past_runs`).
    """

    school: str
    report: SchoolReport
    clauses: dict[str, Clause]
    bank: list[dict]
    runs: list[dict]


def school_page_html(
    schools: list[tuple[str, str]], chosen: str | None, section: SchoolSection | None = None, unknown_school: str | None = None
) -> str:
    """The admin school page (``templates/admin_school.html``): the school picker, then the chosen school's section.

    Args:
        schools: (school id, name) of every school served, in picker order.
        chosen: the school id selected in the picker, or None.
        section: what to show about the chosen school; None shows the picker alone.
        unknown_school: a requested school id that is not served (the page says so instead of a section).

    Returns:
        The page's HTML; every value from the log, the bank or a policy is escaped.
    """
    context = {"tables": [], "report": None, "runs": None, "bank_size": 0}
    if section is not None:
        report = section.report
        banked = {normalise_question(str(e.get("question", ""))): str(e.get("id", "")) for e in section.bank}
        tables = (
            ("Rated 👎 (wrong or unhelpful)", "down", report.thumbs_down),
            ("Low confidence (unsure)", "unsure", report.unsure),
            ("Not covered by the policies", "not-covered", report.not_covered),
            ("Most asked", "most-asked", report.most_asked),
        )
        context = {
            "report": report,
            "tables": [(title, kind, [_answer_view(r, section.clauses, banked) for r in rows]) for title, kind, rows in tables],
            "runs": _runs_view(section.runs) if section.runs else None,
            "bank_size": len(section.bank),
        }
    return render_page(
        "admin_school.html",
        schools=schools,
        chosen=chosen,
        unknown_school=unknown_school,
        school=section.school if section is not None else chosen,
        bank_file=school_bank.BANK_FILE,
        verdict_choices=[v for v in VERDICTS if v != "unsure"],
        **context,
    )


def _answer_view(row: AnswerRow, clauses: dict[str, Clause], banked: dict[str, str]) -> dict:
    """One answer's row of the admin tables, as the template prints it."""
    cited_id = row.citations[0] if row.citations else None
    cited = clauses.get(cited_id) if cited_id else None
    picks = [c for c in dict.fromkeys([row.chosen_clause, *row.citations]) if c in clauses]
    return {
        "answer_id": row.answer_id,
        "question": row.question,
        "count": row.count,
        "cited": {
            "clause_id": cited_id,
            "clause": cited,
            "url": citation_url(cited.school, cited.document, cited.clause_id) if cited is not None else None,
        },
        "verdict": row.verdict,
        "confidence": "–" if row.confidence is None else f"{row.confidence:.0%}",
        "asked": people_date(row.asked_at),
        "rating": row.rating,
        "note": row.note or "",
        "right_clause": clauses[row.chosen_clause].text[:160] if row.chosen_clause in clauses else None,
        "in_bank": banked.get(normalise_question(row.question)),
        # The "Add to bank" controls: the verdict preselected, and the clauses offered (the chosen and cited ones first).
        "default_verdict": row.verdict if row.verdict in VERDICTS and row.verdict != "unsure" else "info",
        "picks": [(c, clauses[c].text[:90]) for c in picks],
        "documents": ",".join(dict.fromkeys(clauses[c].document for c in picks)),
    }


def _runs_view(runs: list[dict]) -> dict:
    """The bank's runs (oldest first, at least one) as the template prints them.

    That is the last run's metrics with the change since the run before, its misses, the trend
    chart and every run, newest first.
    """
    last, previous = runs[-1], (runs[-2] if len(runs) > 1 else None)

    def change(key: str) -> str:
        if previous is None or last["metrics"].get(key) is None or previous["metrics"].get(key) is None:
            return ""
        delta = last["metrics"][key] - previous["metrics"][key]
        return "" if abs(delta) < 1e-9 else f" ({'▲' if delta > 0 else '▼'} {delta:+.3f})"

    return {
        "last_ran": people_date(last["ran_at"]),
        "last_questions": last["questions"],
        "metrics": [(key, _fmt(last["metrics"].get(key)), change(key)) for key in school_bank.SHOWN_METRICS],
        "misses": last["misses"],
        "chart": trend_chart(runs),
        "history": [
            (people_date(r["ran_at"]), r["questions"], [_fmt(r["metrics"].get(k)) for k in ("hit_at_1", "verdict_acc", "abstain_f1")])
            for r in reversed(runs)
        ],
    }


#: The trend chart's lines: metric, colour, label.
CHART_LINES = (("hit_at_1", "#1d4ed8", "hit@1"), ("verdict_acc", "#b45309", "verdict accuracy"))


def trend_chart(runs: list[dict], width: int = 480, height: int = 160) -> dict:
    """The geometry of the admin page's trend chart of hit@1 and verdict accuracy over the kept runs (oldest left).

    The template's ``trend_chart`` macro draws it as an inline SVG (no script, no style).

    Args:
        runs: the bank's runs, oldest first, each with a ``metrics`` dict (values 0–1, or None when not measured).
        width: the chart's width in CSS pixels.
        height: the chart's height in CSS pixels.

    Returns:
        ``{"runs", "width", "height", "left", "right", "y0", "y1", "lines"}``: x of the axes' ends, y of the
        0 and 1 gridlines, and per `CHART_LINES` entry ``{"colour", "label", "legend_x", "points"}`` with
        ``points`` as ``("x", "y")`` strings to one decimal (none for a metric no run measured).
    """
    pad, n = 28, len(runs)
    x = lambda i: pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)  # noqa: E731
    y = lambda v: height - pad - (height - 2 * pad) * v  # noqa: E731
    lines = []
    for row, (key, colour, label) in enumerate(CHART_LINES):
        points = [(f"{x(i):.1f}", f"{y(r['metrics'][key]):.1f}") for i, r in enumerate(runs) if r["metrics"].get(key) is not None]
        lines.append({"colour": colour, "label": label, "legend_x": pad + 150 * row, "points": points})
    return {"runs": n, "width": width, "height": height, "left": pad, "right": width - pad, "y0": y(0), "y1": y(1), "lines": lines}


def open_feedback_store(question_log, retention_days: float) -> FeedbackStore | None:
    """The feedback store beside ``question_log`` (None when the log is off or the store cannot be opened; answering goes on)."""
    from assistant.feedback import feedback_path

    if question_log is None:
        return None
    try:
        return FeedbackStore(feedback_path(question_log), question_log, retention_days)
    except Exception as exc:
        log.error("the feedback store cannot be opened, so answers cannot be rated: %s", exc)
        return None
