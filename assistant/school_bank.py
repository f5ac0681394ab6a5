"""A school's own question bank, grown from real use (issue 18): ``corpus/<school>/questions.jsonl``.

Entries are in the shared bank schema read by `evals.metrics.load_bank` (``id, school,
audience, question, verdict`` list, ``gold`` quotes, ``history``), so
``python -m evals.run --bank corpus/<school>/questions.jsonl`` scores it like any other bank.
`add_entry` appends one (from a logged question, the right clause and the verdict);
`run_bank` scores the school's bank with the same code as ``evals.run`` (no textbook
baseline) and keeps each run's results in ``<data>/bank_runs/<school>.json`` so the admin
page can show the trend.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from .loading import BANK_FILE  # the loader skips it: a bank is never ingested as a policy
from .question_log import WITHHELD, normalise_question
from .types import VERDICTS

#: Runs kept per school (the oldest are dropped).
MAX_RUNS = 50
#: The metrics the admin page shows, in order.
SHOWN_METRICS = ("hit_at_1", "recall_at_5", "answer_citation_acc", "verdict_acc", "abstain_f1", "confident_precision", "coverage")

_lock = threading.Lock()
_SCHOOL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def bank_path(corpus_dir: str | Path, school: str) -> Path:
    """``<corpus_dir>/<school>/questions.jsonl``. Raises ValueError for a school id that is not a plain folder name."""
    if not _SCHOOL_ID.match(school):
        raise ValueError(f"not a school id: {school!r}")
    return Path(corpus_dir) / school / BANK_FILE


def read_bank(corpus_dir: str | Path, school: str) -> list[dict]:
    """The school's bank entries as dicts (empty when it has none)."""
    path = bank_path(corpus_dir, school)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def add_entry(
    corpus_dir: str | Path,
    school: str,
    question: str,
    audience: str | None,
    verdicts: list[str],
    gold: list[str],
    history: list[str] | None = None,
) -> dict:
    """Append one entry to the school's bank and return it.

    Args:
        corpus_dir: the corpus folder; the bank is ``<corpus_dir>/<school>/questions.jsonl`` (`bank_path`).
        school: the school id (a plain folder name).
        question: the (redacted) question.
        audience: the asker's role (None is stored as ``parent``).
        verdicts: the acceptable verdicts.
        gold: quotes of the right clause (empty for a ``not_covered`` question).
        history: the chat's earlier questions (withheld and empty ones are dropped).

    Returns:
        the entry as appended (with its new ``id``, ``<school>-qNNN``).

    Raises:
        ValueError: a withheld or empty question, an unknown verdict, gold missing for an
            answerable question, or the same question already in the bank.
    """
    question = question.strip()
    if not question or question.startswith(WITHHELD):
        raise ValueError("this question's text was not stored, so it cannot go in the bank")
    if not verdicts or set(verdicts) - set(VERDICTS):
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    if "not_covered" in verdicts:
        gold = []
    elif not [g for g in gold if g.strip()]:
        raise ValueError("choose the clause that answers the question")
    path = bank_path(corpus_dir, school)
    with _lock:
        existing = read_bank(corpus_dir, school)
        if any(normalise_question(e.get("question", "")) == normalise_question(question) for e in existing):
            raise ValueError("this question is already in the school's bank")
        numbers = [int(m.group(1)) for e in existing if (m := re.search(r"-q(\d+)$", str(e.get("id", ""))))]
        entry = {
            "id": f"{school}-q{max(numbers, default=0) + 1:03d}",
            "school": school,
            "audience": audience or "parent",
            "question": question,
            "verdict": list(verdicts),
            "gold": [g.strip() for g in gold if g.strip()],
            "history": [h for h in (history or []) if h and not h.startswith(WITHHELD)],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def runs_path(data_dir: str | Path, school: str) -> Path:
    """Where a school's bank runs are kept: ``<data_dir>/bank_runs/<school>.json``."""
    bank_path(".", school)  # checks the id
    return Path(data_dir) / "bank_runs" / f"{school}.json"


def past_runs(data_dir: str | Path, school: str) -> list[dict]:
    """The school's kept runs, oldest first (each: ``ran_at``, ``questions``, ``metrics``, ``misses``)."""
    path = runs_path(data_dir, school)
    if not path.exists():
        return []
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def run_bank(bot, corpus_dir: str | Path, school: str, data_dir: str | Path) -> dict:
    """Score ``school``'s bank with ``bot`` (`evals.run.run_ours` + `evals.metrics.score`), keep the result and return it.

    Raises:
        ValueError: the school has no bank, or a malformed entry (named by line).
    """
    from evals.metrics import load_bank, score  # the same scoring code as `python -m evals.run`
    from evals.run import run_ours

    path = bank_path(corpus_dir, school)
    if not path.exists():
        raise ValueError("this school has no question bank yet: add questions from the report first")
    bank = [item for item in load_bank(path) if item.school == school]
    if not bank:
        raise ValueError("this school's bank has no questions for it")
    scores = score(run_ours(bot, bank))
    result = {
        "ran_at": time.time(),
        "generation": getattr(getattr(bot, "generation", None), "name", None),
        "questions": len(bank),
        "metrics": {k: scores.metrics.get(k) for k in (*SHOWN_METRICS, "questions", "answerable")},
        "misses": scores.misses,
    }
    out = runs_path(data_dir, school)
    with _lock:
        runs = [*past_runs(data_dir, school), result][-MAX_RUNS:]
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(runs, ensure_ascii=False), encoding="utf-8")
        tmp.replace(out)
    return result


#: Metrics whose fall after an ingest is reported (`compare_after_ingest`).
WATCHED_METRICS = ("hit_at_1", "recall_at_5", "verdict_acc", "abstain_f1")


def compare_after_ingest(bot, corpus_dir: str | Path, data_dir: str | Path, schools: list[str]) -> list[str]:
    """After an ingest: rerun the bank of each of ``schools`` that has one and an earlier run; keep the runs.

    Returns one line per school whose score fell (a watched metric lower than in its last run),
    naming the metrics with before → after, for the ingest's output.
    """
    lines = []
    for school in schools:
        before = past_runs(data_dir, school)
        if not before or not bank_path(corpus_dir, school).exists():
            continue
        try:
            after = run_bank(bot, corpus_dir, school, data_dir)
        except ValueError as exc:
            lines.append(f"{school}: its question bank could not be run ({exc})")
            continue
        old, new = before[-1]["metrics"], after["metrics"]
        fell = [
            f"{key} {old[key]:.3f} → {new[key]:.3f}"
            for key in WATCHED_METRICS
            if old.get(key) is not None and new.get(key) is not None and new[key] < old[key] - 1e-9
        ]
        if fell:
            lines.append(f"{school}: its own question bank scores lower than before this ingest: {', '.join(fell)}")
    return lines
