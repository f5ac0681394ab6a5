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
from datetime import UTC, datetime
from html import escape as esc
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from assistant import school_bank
from assistant.feedback import MAX_NOTE_CHARS, AnswerRow, FeedbackStore, SchoolReport
from assistant.question_log import normalise_question
from assistant.types import VERDICTS

from .admin import REALM, token_guard
from .holder import AssistantHolder
from .limits import RateLimiter, strip_control
from .origins import OriginPolicy, refuse_foreign_origin
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


def record_answer(
    store: FeedbackStore | None, school: str, audience: str | None, question: str, answer, history: list[str], chat_key: str | None = None
) -> str | None:
    """Store an answer for feedback; returns its ``answer_id`` (None when there is no store or it failed: answering goes on).

    ``chat_key`` (`chat_feedback.chat_key`) finds a staff chat answer again from its chat message.
    """
    if store is None:
        return None
    try:
        return store.record_answer(
            school,
            audience,
            question,
            answer.verdict,
            answer.band,
            answer.confidence,
            [c.clause_id for c in answer.citations],
            history,
            chat_key=chat_key,
        )
    except Exception as exc:  # feedback must never cost anyone their answer
        log.error("could not store an answer for feedback: %s", exc)
        return None


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
        body, status = "", 200
        if school:
            if school not in {s for s, _ in schools}:
                status = 404
                body = f"<p class='pa-admin-error' role='alert'>There is no school {esc(school)} here: pick one above.</p>"
            else:
                clauses = {c.clause_id: c for c in assistant.clauses(school)}
                body = _report_html(
                    school, _report(school), clauses, school_bank.read_bank(corpus_dir, school), school_bank.past_runs(data_dir, school)
                )
        return HTMLResponse(_page(schools, school, body), status_code=status, headers=ADMIN_PAGE_HEADERS)

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


def _page(schools: list[tuple[str, str]], chosen: str | None, body: str) -> str:
    options = "".join(f"<option value='{esc(s)}'{' selected' if s == chosen else ''}>{esc(name)}</option>" for s, name in schools)
    return f"""<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>School report — Policy Assistant admin</title>
<link rel="stylesheet" href="/pa-static/answer.css"><link rel="stylesheet" href="/pa-static/admin.css">
<script src="/pa-static/admin-bank.js" defer></script>
</head>
<body class="pa-plain pa-admin"><main>
<h1>School report</h1>
<form method="get" action="/admin/school" class="pa-admin-picker"><label for="pa-school">School</label>
<select id="pa-school" name="school">{options}</select> <button type="submit">Show</button></form>
{body}
</main></body></html>
"""


def _clause_cell(clauses: dict, clause_id: str | None) -> str:
    if not clause_id:
        return "<td>none cited</td>"
    clause = clauses.get(clause_id)
    if clause is None:
        return f"<td>a clause no longer in the policy ({esc(clause_id)})</td>"
    url = citation_url(clause.school, clause.document, clause.clause_id)
    return f"<td><a href='{esc(url)}'>{esc(clause.document_title)}</a>: {esc(clause.text[:220])}</td>"


def _rows_table(title: str, rows: list[AnswerRow], clauses: dict, school: str, kind: str, banked: dict[str, str]) -> str:
    if not rows:
        return f"<h2>{esc(title)}</h2><p>None logged yet.</p>"
    verdict_options = "".join(f"<option value='{v}'>{v}</option>" for v in VERDICTS if v != "unsure")
    out = []
    for r in rows:
        confidence = "–" if r.confidence is None else f"{r.confidence:.0%}"
        feedback = ""
        if r.rating == "down":
            feedback = f"👎 {esc(r.note or '')}" + (
                " · right clause: " + esc(clauses[r.chosen_clause].text[:160]) if r.chosen_clause in clauses else ""
            )
        elif r.rating == "up":
            feedback = "👍"
        picks = [c for c in dict.fromkeys([r.chosen_clause, *r.citations]) if c in clauses]
        clause_options = "".join(f"<option value='{esc(c)}'>{esc(clauses[c].text[:90])}</option>" for c in picks)
        default = r.verdict if r.verdict in VERDICTS and r.verdict != "unsure" else "info"
        verdict_sel = verdict_options.replace(f"value='{default}'", f"value='{default}' selected")
        documents = ",".join(dict.fromkeys(clauses[c].document for c in picks))
        in_bank = banked.get(normalise_question(r.question))
        if in_bank:
            out.append(
                f"<tr data-answer-id='{esc(r.answer_id)}'><td>{esc(r.question)}</td><td class='n'>{r.count}</td>"
                f"{_clause_cell(clauses, r.citations[0] if r.citations else None)}<td>{esc(r.verdict)}</td><td class='n'>{confidence}</td>"
                f"<td>{people_date(r.asked_at)}</td><td>{feedback}</td><td>In the bank as {esc(in_bank)}</td></tr>"
            )
            continue
        out.append(
            f"<tr data-answer-id='{esc(r.answer_id)}'><td>{esc(r.question)}</td><td class='n'>{r.count}</td>{_clause_cell(clauses, r.citations[0] if r.citations else None)}"
            f"<td>{esc(r.verdict)}</td><td class='n'>{confidence}</td><td>{people_date(r.asked_at)}</td><td>{feedback}</td>"
            f"<td class='pa-bank-add'><label>verdict <select class='pa-bank-verdict'>{verdict_sel}</select></label> "
            f"<label>clause <select class='pa-bank-clause' data-school='{esc(school)}' data-documents='{esc(documents)}'>{clause_options}"
            f"<option value=''>(none: not covered)</option></select></label> <button type='button' class='pa-more-clauses'>more clauses…</button> "
            f"<button type='button' class='pa-bank-add-button'>Add to bank</button> <span class='pa-bank-added' role='status'></span></td></tr>"
        )
    return (
        f"<h2>{esc(title)}</h2><table class='pa-admin-table pa-{kind}'><thead><tr><th>question (personal data redacted)</th><th>times</th>"
        "<th>cited clause</th><th>verdict</th><th>confidence</th><th>asked</th><th>feedback</th><th>school's bank</th></tr></thead>"
        f"<tbody>{''.join(out)}</tbody></table>"
    )


#: The trend chart's lines: metric, colour, label.
CHART_LINES = (("hit_at_1", "#1d4ed8", "hit@1"), ("verdict_acc", "#b45309", "verdict accuracy"))


def trend_chart(runs: list[dict], width: int = 480, height: int = 160) -> str:
    """An inline SVG line chart of hit@1 and verdict accuracy over the kept runs (oldest left; no script, no style)."""
    pad, n = 28, len(runs)
    x = lambda i: pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)  # noqa: E731
    y = lambda v: height - pad - (height - 2 * pad) * v  # noqa: E731
    parts = [
        f"<svg class='pa-bank-chart' role='img' aria-label='Trend of hit@1 and verdict accuracy over {n} runs' "
        f"width='{width}' height='{height}' viewBox='0 0 {width} {height}' xmlns='http://www.w3.org/2000/svg'>",
        f"<line x1='{pad}' y1='{y(0)}' x2='{width - pad}' y2='{y(0)}' stroke='#6b7280'/>",
        f"<line x1='{pad}' y1='{y(1)}' x2='{width - pad}' y2='{y(1)}' stroke='#d1d5db'/>",
        f"<text x='2' y='{y(1) + 4}' font-size='10' fill='#374151'>1.0</text><text x='2' y='{y(0) + 4}' font-size='10' fill='#374151'>0</text>",
    ]
    for row, (key, colour, label) in enumerate(CHART_LINES):
        points = [(x(i), y(r["metrics"][key])) for i, r in enumerate(runs) if r["metrics"].get(key) is not None]
        if points:
            parts.append(
                f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{' '.join(f'{a:.1f},{b:.1f}' for a, b in points)}'/>"
            )
            parts.extend(f"<circle cx='{a:.1f}' cy='{b:.1f}' r='3' fill='{colour}'/>" for a, b in points)
        parts.append(f"<text x='{pad + 150 * row}' y='{height - 6}' font-size='11' fill='{colour}'>■ {label}</text>")
    return "".join(parts) + "</svg>"


def _runs_html(school: str, bank: list[dict], runs: list[dict]) -> str:
    head = (
        f"<h2>The school's question bank</h2><p>{len(bank)} questions in <code>corpus/{esc(school)}/{school_bank.BANK_FILE}</code>. "
        f"<button type='button' id='pa-run-bank' data-school='{esc(school)}'>Run the bank</button> <span id='pa-run-status' role='status'></span></p>"
    )
    if not runs:
        return head + "<p>The bank has not been run yet.</p>"
    keys = school_bank.SHOWN_METRICS
    last, previous = runs[-1], (runs[-2] if len(runs) > 1 else None)

    def trend(key: str) -> str:
        if previous is None or last["metrics"].get(key) is None or previous["metrics"].get(key) is None:
            return ""
        delta = last["metrics"][key] - previous["metrics"][key]
        return "" if abs(delta) < 1e-9 else f" ({'▲' if delta > 0 else '▼'} {delta:+.3f})"

    metrics = "".join(f"<tr><td>{k}</td><td class='n'>{_fmt(last['metrics'].get(k))}{trend(k)}</td></tr>" for k in keys)
    history = "".join(
        f"<tr><td>{people_date(r['ran_at'])}</td><td class='n'>{r['questions']}</td>"
        + "".join(f"<td class='n'>{_fmt(r['metrics'].get(k))}</td>" for k in ("hit_at_1", "verdict_acc", "abstain_f1"))
        + "</tr>"
        for r in reversed(runs)
    )
    misses = "".join(
        f"<tr><td>{esc(m['question'])}</td><td>{esc(', '.join(m['kinds']))}</td><td>{esc(' / '.join(m['expected_verdict']))}</td><td>{esc(m['verdict'])}</td>"
        f"<td>{esc((m['gold'] or ['(not covered)'])[0][:200])}</td><td>{esc((m.get('top') or '–')[:200])}</td></tr>"
        for m in last["misses"]
    )
    return (
        head
        + f"<h3>Last run, {people_date(last['ran_at'])} ({last['questions']} questions)</h3>"
        + f"<table class='pa-admin-table pa-bank-metrics'><thead><tr><th>metric</th><th>value (change since the run before)</th></tr></thead><tbody>{metrics}</tbody></table>"
        + f"<h3>Misses ({len(last['misses'])})</h3>"
        + (
            "<table class='pa-admin-table pa-bank-misses'><thead><tr><th>question</th><th>kind</th><th>expected verdict</th><th>verdict</th>"
            f"<th>expected clause</th><th>clause found first</th></tr></thead><tbody>{misses}</tbody></table>"
            if misses
            else "<p>None: every question was answered as the bank expects.</p>"
        )
        + "<h3>Trend</h3>"
        + trend_chart(runs)
        + "<table class='pa-admin-table pa-bank-trend'><thead><tr><th>run</th><th>questions</th><th>hit_at_1</th><th>verdict_acc</th>"
        + f"<th>abstain_f1</th></tr></thead><tbody>{history}</tbody></table>"
    )


def _report_html(school: str, report: SchoolReport, clauses: dict, bank: list[dict], runs: list[dict]) -> str:
    banked = {normalise_question(str(e.get("question", ""))): str(e.get("id", "")) for e in bank}
    return (
        f"<p>{report.total} answers logged; {len(report.thumbs_down)} rated 👎 and {report.thumbs_up} rated 👍 (latest shown).</p>"
        + _rows_table("Rated 👎 (wrong or unhelpful)", report.thumbs_down, clauses, school, "down", banked)
        + _rows_table("Low confidence (unsure)", report.unsure, clauses, school, "unsure", banked)
        + _rows_table("Not covered by the policies", report.not_covered, clauses, school, "not-covered", banked)
        + _rows_table("Most asked", report.most_asked, clauses, school, "most-asked", banked)
        + _runs_html(school, bank, runs)
    )


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
