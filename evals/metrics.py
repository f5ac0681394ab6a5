"""Question-bank scoring: the arithmetic, separate from running the system.

A bank line (JSONL): ``id, school, audience, question, verdict`` (acceptable verdicts),
``gold`` (quotes; a citation is right when it contains one, after `normalise_for_match`),
``history`` (earlier questions of the chat).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.chunking import normalise_for_match
from assistant.types import VERDICTS


@dataclass(frozen=True)
class BankItem:
    """One question of a bank (see module docstring for the fields)."""

    id: str
    school: str
    audience: str
    question: str
    verdict: tuple[str, ...]
    gold: tuple[str, ...]
    history: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """True when the bank expects a citation (not a not_covered question)."""
        return bool(self.gold)

    @property
    def expects_abstention(self) -> bool:
        """True when not_covered is an acceptable verdict (the bank expects the system to abstain)."""
        return "not_covered" in self.verdict


def load_bank(path: Path) -> list[BankItem]:
    """Read a JSONL bank. Raises ValueError naming the line of a malformed entry."""
    items = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise TypeError("a bank entry is a JSON object")
            for key in ("verdict", "gold", "history"):
                value = d.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise TypeError(f"{key!r} must be a list of strings")
            unknown = set(d["verdict"]) - set(VERDICTS)
            if not d["verdict"] or unknown:
                raise TypeError(f"'verdict' must list verdicts from {', '.join(VERDICTS)} (got {sorted(unknown) or 'none'})")
            history = tuple(d.get("history", []))
            items.append(BankItem(d["id"], d["school"], d["audience"], d["question"], tuple(d["verdict"]), tuple(d["gold"]), history))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a bank entry ({exc})") from exc
    return items


def cites_gold(text: str, gold: tuple[str, ...]) -> bool:
    """True when ``text`` contains one of the gold quotes after normalisation."""
    norm = normalise_for_match(text)
    return any(normalise_for_match(g) in norm for g in gold)


@dataclass
class Outcome:
    """What the system did for one bank item.

    Attributes:
        ranked: texts of the search results, best first (k ≥ 5);
        ranked_schools: their schools; verdict: the answer's verdict;
        cited: texts of the answer's citations; cited_schools: their schools;
        ask_ms: latency of the ask call in milliseconds;
        band: the answer's band (answer / unsure / not_covered; a system without bands
            answers everything it does not abstain on in the "answer" band).
    """

    item: BankItem
    ranked: list[str]
    ranked_schools: list[str]
    verdict: str
    cited: list[str]
    cited_schools: list[str]
    ask_ms: float = 0.0
    band: str = "answer"


@dataclass
class Scores:
    """Bank-level metrics (see `score` for definitions) plus per-school rows and misses."""

    metrics: dict
    per_school: dict[str, dict] = field(default_factory=dict)
    misses: list[dict] = field(default_factory=list)


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) of ``values`` by `numpy.percentile` (linear interpolation), to 2 decimals; None when empty."""
    return round(float(np.percentile(values, q)), 2) if values else None


def says_wrong_yes(verdict: str, acceptable: Iterable[str]) -> bool:
    """True when an answer shows ``verdict`` "yes" and the ``acceptable`` verdicts hold neither yes nor conditional.

    ``verdict``: what the answer shows ("unsure" and "not_covered" show no yes).
    """
    return verdict == "yes" and not {"yes", "conditional"} & set(acceptable)


def is_wrong_yes(outcome: Outcome) -> bool:
    """True when an answer in the "answer" band `says_wrong_yes` against the bank's verdicts."""
    return outcome.band == "answer" and says_wrong_yes(outcome.verdict, outcome.item.verdict)


def score(outcomes: list[Outcome]) -> Scores:
    """Score outcomes.

    * ``hit_at_1`` / ``recall_at_5``: answerable items whose first / any of the first five
      search results contains a gold quote.
    * ``answer_citation_acc``: answerable items whose answer's first citation contains gold.
    * ``verdict_acc``: items whose answer verdict is one of the acceptable verdicts.
    * ``abstain_precision/recall/f1``: of not_covered answers vs. not_covered items.
    * ``cross_school_citations``: search results or citations from another school (count).
    * ``confident_precision``: of the answers in the "answer" band, the share whose question
      is answerable, whose first citation contains gold and whose verdict is acceptable.
    * ``coverage``: answerable items answered in the "answer" band.
    * ``wrong_yes``: answers in the "answer" band that say "yes" where the bank accepts neither
      yes nor conditional (the policy forbids it, does not cover it, or the question asks for
      information): the most harmful answer (count; `is_wrong_yes`).
    * ``median_cited_chars``: median length of the answer's first citation, when it cites.
    * ``ask_p50_ms`` / ``ask_p95_ms``: ask latency percentiles (linear interpolation).
    """
    answerable = [o for o in outcomes if o.item.answerable]
    hit1 = [o for o in answerable if o.ranked[:1] and cites_gold(o.ranked[0], o.item.gold)]
    rec5 = [o for o in answerable if any(cites_gold(t, o.item.gold) for t in o.ranked[:5])]
    ans_ok = [o for o in answerable if o.cited and cites_gold(o.cited[0], o.item.gold)]
    verdict_ok = [o for o in outcomes if o.verdict in o.item.verdict]
    predicted_abstain = [o for o in outcomes if o.verdict == "not_covered"]
    true_abstain = [o for o in outcomes if o.item.expects_abstention]
    both = [o for o in predicted_abstain if o.item.expects_abstention]
    precision = _rate(len(both), len(predicted_abstain))
    recall = _rate(len(both), len(true_abstain))
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else (0.0 if true_abstain else None)
    confident = [o for o in outcomes if o.band == "answer" and o.verdict != "not_covered"]
    confident_ok = [o for o in confident if o.item.answerable and o in ans_ok and o in verdict_ok]
    cross = sum(s != o.item.school for o in outcomes for s in (*o.ranked_schools[:5], *o.cited_schools))
    cited_chars = [len(o.cited[0]) for o in outcomes if o.cited]
    latencies = [o.ask_ms for o in outcomes]
    metrics = {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "hit_at_1": _rate(len(hit1), len(answerable)),
        "recall_at_5": _rate(len(rec5), len(answerable)),
        "answer_citation_acc": _rate(len(ans_ok), len(answerable)),
        "verdict_acc": _rate(len(verdict_ok), len(outcomes)),
        "abstain_precision": precision,
        "abstain_recall": recall,
        "abstain_f1": f1,
        "confident_precision": _rate(len(confident_ok), len(confident)),
        "coverage": _rate(sum(o.item.answerable for o in confident), len(answerable)),
        "wrong_yes": sum(is_wrong_yes(o) for o in outcomes),
        "cross_school_citations": cross,
        "median_cited_chars": statistics.median(cited_chars) if cited_chars else None,
        "ask_p50_ms": _percentile(latencies, 50),
        "ask_p95_ms": _percentile(latencies, 95),
    }
    per_school: dict[str, dict] = {}
    for school in sorted({o.item.school for o in outcomes}):
        mine = [o for o in outcomes if o.item.school == school]
        ans = [o for o in mine if o.item.answerable]
        per_school[school] = {
            "questions": len(mine),
            "hit_at_1": _rate(sum(o in hit1 for o in ans), len(ans)),
            "recall_at_5": _rate(sum(o in rec5 for o in ans), len(ans)),
            "verdict_acc": _rate(sum(o in verdict_ok for o in mine), len(mine)),
        }
    misses = []
    for o in outcomes:
        kinds = []
        if o.item.answerable and o not in hit1:
            kinds.append("retrieval")
        if o.verdict not in o.item.verdict:
            kinds.append("verdict")
        if kinds:
            misses.append(
                {
                    "id": o.item.id,
                    "school": o.item.school,
                    "question": o.item.question,
                    "history": list(o.item.history),
                    "kinds": kinds,
                    "expected_verdict": list(o.item.verdict),
                    "verdict": o.verdict,
                    "gold": list(o.item.gold),
                    "top": o.ranked[0] if o.ranked else None,
                    "gold_rank": next((i + 1 for i, t in enumerate(o.ranked) if cites_gold(t, o.item.gold)), None)
                    if o.item.answerable
                    else None,
                }
            )
    return Scores(metrics, per_school, misses)
