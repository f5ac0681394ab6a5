"""The admin school page's HTML (``templates/admin_school.html``), built from a school's report, bank and bank runs.

`school_page_html` turns what `school_bank_api` gathered about a school (a `SchoolSection`) into
the plain values the template prints: one row per answer, the bank runs' metrics and misses,
and the geometry of the trend chart (`trend_chart`). Every value is escaped by the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from assistant import school_bank
from assistant.feedback import AnswerRow, SchoolReport
from assistant.question_log import normalise_question
from assistant.types import VERDICTS, Clause

from .pages import render_page
from .render import citation_url

#: The trend chart's lines: metric, colour, label.
CHART_LINES = (("hit_at_1", "#1d4ed8", "hit@1"), ("verdict_acc", "#b45309", "verdict accuracy"))


def people_date(ts: float | None) -> str:
    """A Unix time as people read it: ``27 Nov 2026, 21:35 UTC`` (``–`` for None).

    Args:
        ts: seconds since the Unix epoch, or None.

    Returns:
        The date and time in UTC, or ``–``.
    """
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, UTC).strftime("%-d %b %Y, %H:%M UTC")


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
