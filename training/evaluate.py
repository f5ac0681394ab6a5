"""Out-of-fold scoring of the trained stage, and the calibration fitted on it.

Every number here comes from models that never saw the scored school (folds grouped by
school, `training.train.school_folds`), so it predicts a school the product has never seen.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.verdict_features import rule_verdict
from evals.metrics import says_wrong_yes

from .data import ROOT, TrainingItem

if TYPE_CHECKING:
    from assistant.rerank import Calibration

LOSO_JSON = ROOT / "docs" / "eval" / "loso.json"
LOSO_TXT = ROOT / "docs" / "eval" / "loso.txt"


def _fused(pred: dict, stage: tuple[int, float]) -> np.ndarray:
    """Final scores of an item's first ``depth`` retrieved clauses under ``stage`` = (depth, prior weight)."""
    from assistant.rerank import fused_relevance

    depth, weight = stage
    return fused_relevance(np.array(pred["logits"][:depth]), weight)


def _top(item: TrainingItem, pred: dict, stage: tuple[int, float]) -> tuple[int, float]:
    """Position of the reranked first clause among the first ``depth`` retrieved, and its `top_share`."""
    from assistant.rerank import top_share

    scores = _fused(pred, stage)
    return int(np.argmax(scores)), top_share(scores)


def _verdict_at(pred: dict, position: int) -> str:
    return pred["verdicts"][position]


def _signals(item: TrainingItem, pred: dict, stage: tuple[int, float]) -> np.ndarray:
    """The `assistant.rerank.confidence_signals` of an item's answer under ``stage``, as serving computes them."""
    from assistant.rerank import confidence_signals

    if "relevance" not in pred:
        raise ValueError("the out-of-fold predictions predate the relevance head: run `python -m training.train --refit-heads`")
    best, share = _top(item, pred, stage)
    # ``ranked_ids`` is the order the stage rereads from (`training.train.staged`); the
    # retriever's own first clause, before the stage, is the first of ``pool_ids``.
    retrievers_first = item.pool_ids[0] if item.pool_ids else item.ranked_ids[0]
    agrees = item.ranked_ids[best] == retrievers_first
    return confidence_signals(share, pred["verdict_probabilities"][best], agrees, pred["relevance"][best])


#: Issue 16's operating point: confident precision ≥ 0.95 at coverage ≥ 0.75. When no
#: calibrated probability reaches the precision on held-out schools, the answer threshold keeps
#: the coverage instead: the out-of-fold answerable questions the floor lets through are
#: answered down to this share, the rest are "unsure" (the three likeliest clauses, no verdict).
MIN_COVERAGE = 0.75


#: The least calibrated probability at which an answer says "yes". Chow's reject rule (Chow,
#: "On optimum recognition error and reject tradeoff", IEEE Trans. Inf. Theory 16(1), 1970):
#: answer when the expected cost of answering, (1 − p) × cost of a wrong answer, is below the
#: cost of holding back ("unsure", the three likeliest clauses, no verdict). A wrong "yes" (the
#: policy forbids it or does not cover it) is the most harmful answer this product gives;
#: costed at three times an "unsure", a "yes" needs p ≥ 1 − 1/3. A product choice.
#: History, out of fold: the coverage threshold alone (p ≥ 0.18) showed 643 "yes" answers, 258
#: of them to questions the policy forbids or does not cover; a cost of twice an "unsure"
#: (p ≥ 0.5) left 16 of those. On 2026-11-28, with fold models nearer the shipped one
#: (`training.train.FOLD_SAMPLE` 0.6, heads fitted on every other school), p ≥ 0.5 showed 105
#: "yes" answers, 67 of them right and 31 wrong "yes"; p ≥ 2/3, 22, 17 and 3. The cost was
#: raised to three then: a wrong "yes" to a parent is far worse than "ask the office".
YES_MIN_PROBABILITY = 2 / 3

#: Whether a "yes" also needs every reader of the pair to allow it
#: (`assistant.rerank.yes_agreed`: the verdict classifier's and the pair model's own most probable
#: verdict "yes", the deontic rules' not "no"). With the pair model mixed in (2026-11-29) the
#: answers saying "yes" at p ≥ 2/3 doubled out of fold, 35 -> 75, their precision stayed (0.74 ->
#: 0.73), so the wrong "yes" doubled too, 9 -> 20 (truth "no" 4 -> 10). Of those 75, the ones
#: where a reader disagreed were 6 right and 8 wrong; where the rules read "no" although both
#: models read "yes", 0 right and 3 wrong. Requiring agreement: 61 "yes" answers, 49 right,
#: 12 wrong (training/README.md). A product choice on the out-of-fold training questions.
YES_NEEDS_AGREEMENT = True

#: The near-miss model's P(not covered) at which a question the similarity floor let through is
#: answered "not covered" (`assistant.rerank.Calibration.not_covered_probability`): the Bayes
#: decision with equal costs, "more likely not covered than covered" (a product choice: telling
#: the asker to ask the office about a question the policy does answer costs about as much as
#: answering a question it does not, from a clause that does not settle it). The probability is
#: fitted on the training questions, a quarter of which (among those the floor lets through)
#: are near misses. Out of fold (2026-11-29) it raised the abstention F1 from 0.25 to 0.46 and
#: turned away 26 of the ~1,100 answers that were right (training/README.md).
NOT_COVERED_MIN_PROBABILITY = 0.5


def precision_lower_bound(right: int, answered: int) -> float:
    """The lower end of the 95 % Wilson score interval of a precision of ``right`` / ``answered``.

    The answer threshold must keep the target precision on this bound, not on the rate itself:
    a handful of held-out answers that happen to be all right (5 of 5: bound 0.57) must not set
    the threshold. Wilson, "Probable inference, the law of succession, and statistical
    inference", JASA 1927, via SciPy's `binomtest(...).proportion_ci(method="wilson")`.

    Raises:
        ValueError: ``answered`` < 1 or ``right`` outside 0–``answered``.
    """
    from scipy.stats import binomtest

    return float(binomtest(right, answered).proportion_ci(confidence_level=0.95, method="wilson").low)


def fit_calibration(
    items: list[TrainingItem], predictions: dict[str, dict], texts, stage: tuple[int, float], target: float
) -> tuple[dict, dict]:
    """The confidence (`assistant.rerank.Calibration`) and the two band thresholds, from
    out-of-fold predictions; ``stage`` is (rerank depth, rank-prior weight).

    The confidence is P(the answer's clause is gold and the classifier's verdict is right): a
    logistic regression (scikit-learn, default C = 1) over the `confidence_signals`, its linear
    score mapped by isotonic regression onto that rate. Both are fitted on the questions the
    retriever's similarity floor lets through (``item.outside`` False), as they are applied at
    serving, where the floor decides "not covered". Out of fold (2026-11-28) the four signals
    then used ranked right answers above wrong ones with ROC AUC 0.734, against 0.667 for
    `top_share` alone; after the in-domain channel, 0.730 (cross-validated by fold), with the
    agreement read as the hybrid retriever's own (0.709 with the agreement of the order reread).

    * ``answer_threshold``: the lowest probability whose answered set (p ≥ it) keeps the share
      of right answers ≥ ``target`` (on its `precision_lower_bound`); when no set does, the
      probability that answers `MIN_COVERAGE` of the answerable questions;
    * ``yes_threshold``: the same for an answer whose verdict is "yes": the higher of
      ``answer_threshold`` and `YES_MIN_PROBABILITY`;
    * ``covered_threshold``: (``band_source = "calibrated"`` only) the probability below which
      answering "not covered" gives the best F1 for not_covered questions;
    * ``not_covered``: the near-miss model, a logistic regression from the log-odds of the
      relevance head's highest probability among the ``depth`` reread clauses to "not covered",
      fitted on the questions the floor lets through (Platt scaling: Platt, "Probabilistic
      outputs for support vector machines", 1999), with `NOT_COVERED_MIN_PROBABILITY`. Out of
      fold (2026-11-29) that signal told near misses from answerable questions with ROC AUC
      0.740; adding the relevance of the first clause, the second highest, `top_share` or the
      verdict's probability moved it by less than 0.01.

    Returns:
        ``(calibration, metrics)``: the JSON of `assistant.rerank.Calibration`, and what the
        choice gives on the out-of-fold predictions (floor, then bands).

    Raises:
        ValueError: no out-of-fold predictions (train with ``--folds``), or predictions
            without the relevance head's (refit with ``--refit-heads``).
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    from assistant.rerank import CONFIDENCE_SIGNALS, NOT_COVERED_SIGNAL, Calibration, log_odds

    scored = [(i, predictions[i.id]) for i in items if i.id in predictions]
    if not scored:
        raise ValueError("no out-of-fold predictions to calibrate on: run with --folds")
    signals = np.stack([_signals(i, p, stage) for i, p in scored])
    best = [_top(i, p, stage)[0] for i, p in scored]
    clause_right = np.array([bool(i.gold_ids) and i.ranked_ids[b] in i.gold_ids for (i, _), b in zip(scored, best, strict=True)])
    verdicts = [_verdict_at(p, b) for (_, p), b in zip(scored, best, strict=True)]
    agreed = [_yes_agreed(i, p, b, texts) for (i, p), b in zip(scored, best, strict=True)]
    answer_right = clause_right & np.array([v == i.verdict for (i, _), v in zip(scored, verdicts, strict=True)])
    not_covered = np.array([not i.gold_ids for i, _ in scored])
    inside = np.array([not i.outside for i, _ in scored])
    combiner = LogisticRegression(max_iter=1000).fit(signals[inside], answer_right[inside])
    weights, bias = combiner.coef_[0], float(combiner.intercept_[0])
    x = signals @ weights + bias
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x[inside], answer_right[inside].astype(float))
    prob = iso.predict(x)

    candidates = sorted(set(np.round(prob[inside], 4)))
    answerable_inside = np.sort(prob[inside & ~not_covered])[::-1]
    at_coverage = float(answerable_inside[min(len(answerable_inside) - 1, int(MIN_COVERAGE * (~not_covered).sum()))])
    answer_threshold, rule = (
        at_coverage,
        (f"precision {target} out of reach on held-out schools: the probability answering {MIN_COVERAGE} of answerable questions"),
    )
    for t in candidates:  # lowest threshold meeting the target
        chosen = inside & (prob >= t)
        if chosen.any() and precision_lower_bound(int(answer_right[chosen].sum()), int(chosen.sum())) >= target:
            answer_threshold, rule = float(t), f"lowest probability whose answered precision is >= {target} (Wilson 95 % lower bound)"
            break
    best_f1, covered_threshold = -1.0, 0.0
    for t in [*candidates, 1.01]:
        abstain = prob < t
        tp = (abstain & not_covered).sum()
        precision = tp / abstain.sum() if abstain.sum() else 0.0
        recall = tp / not_covered.sum() if not_covered.sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if f1 > best_f1:
            best_f1, covered_threshold = f1, float(t)
    covered_threshold = min(covered_threshold, answer_threshold)
    yes_threshold = max(answer_threshold, YES_MIN_PROBABILITY)
    best_relevance = np.array([_best_relevance(p, stage) for _, p in scored])
    near_miss = LogisticRegression(max_iter=1000).fit(np.array([log_odds(r) for r in best_relevance[inside]])[:, None], not_covered[inside])
    calibration = {
        "signals": list(CONFIDENCE_SIGNALS),
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "x": [float(v) for v in iso.X_thresholds_],
        "y": [float(v) for v in iso.y_thresholds_],
        "answer_threshold": answer_threshold,
        "covered_threshold": covered_threshold,
        "yes_threshold": yes_threshold,
        "fitted_on": f"{int(inside.sum())} out-of-fold training questions the similarity floor lets through (folds grouped by school)",
        "answer_threshold_rule": rule,
        "yes_threshold_rule": f"a 'yes' is shown from probability {YES_MIN_PROBABILITY:.4f} (a wrong 'yes' costed at three times an 'unsure')"
        + (", and only when the classifier, the pair model and the rules agree (yes_needs_agreement)" if YES_NEEDS_AGREEMENT else ""),
        "yes_needs_agreement": YES_NEEDS_AGREEMENT,
        "not_covered": {
            "signal": NOT_COVERED_SIGNAL,
            "weight": round(float(near_miss.coef_[0][0]), 6),
            "bias": round(float(near_miss.intercept_[0]), 6),
            "threshold": NOT_COVERED_MIN_PROBABILITY,
            "rule": "not covered when P(not covered) from the relevance head's best reread clause is >= the threshold"
            " (Platt scaling, fitted out of fold on the questions the floor lets through)",
        },
    }
    fitted = Calibration.from_json(calibration)
    near = np.array([fitted.says_not_covered(float(r)) for r in best_relevance])
    abstained = ~inside | near
    answered = ~abstained & np.array([fitted.answers(float(p), v, a) for p, v, a in zip(prob, verdicts, agreed, strict=True)])
    tp = (abstained & not_covered).sum()
    precision = tp / abstained.sum() if abstained.sum() else 0.0
    recall = tp / not_covered.sum() if not_covered.sum() else 0.0
    metrics = {
        "questions": len(scored),
        "confident_precision": round(float(answer_right[answered].mean()), 4) if answered.any() else None,
        "coverage": round(float(answered[~not_covered].mean()), 4),
        "abstain_f1": round(float(2 * precision * recall / (precision + recall)), 4) if precision + recall else 0.0,
    }
    return calibration, metrics


def _best_relevance(pred: dict, stage: tuple[int, float]) -> float:
    """The relevance head's highest probability among the ``depth`` reread clauses (what the near-miss model reads)."""
    return float(max(pred["relevance"][: stage[0]]))


def pair_rows(pred: dict) -> dict[int, np.ndarray]:
    """A prediction's pair-model probabilities (shape ``(4,)`` each) by row of its
    ``classifier_probabilities``: the rows the pair model read (`training.train.predict`); none
    before the pair model."""
    rows = pred.get("pair_probabilities", {})
    if isinstance(rows, list):  # every row, as predictions of the first pair-model run stored them
        return {k: np.asarray(v) for k, v in enumerate(rows)}
    return {int(k): np.asarray(v) for k, v in rows.items()}


def _yes_agreed(item: TrainingItem, pred: dict, position: int, texts) -> bool:
    """`assistant.rerank.yes_agreed` of the clause at ``position``: the classifier's and the pair
    model's own verdicts there (the mixed one for predictions without the distributions) and the rules'."""
    from assistant.rerank import VERDICT_CLASSES, yes_agreed

    if _verdict_at(pred, position) != "yes":
        return True  # only a "yes" needs agreement; the rules cost a parse
    if "classifier_probabilities" in pred:
        classifier = VERDICT_CLASSES[int(np.argmax(pred["classifier_probabilities"][position]))]
    else:
        classifier = _verdict_at(pred, position)
    rows = pred.get("pair_probabilities", {})
    pair = (
        rows[position] if isinstance(rows, list) and position < len(rows) else rows.get(str(position)) if isinstance(rows, dict) else None
    )
    rules = rule_verdict(item.question, list(item.history), item.audience, texts[item.ranked_ids[position]].display_text)
    return yes_agreed(classifier, None if pair is None else VERDICT_CLASSES[int(np.argmax(pair))], rules)


def _band(
    calibration: Calibration,
    item: TrainingItem,
    signals: np.ndarray,
    verdict: str,
    band_source: str,
    best_relevance: float,
    agreed: bool = True,
) -> str:
    """The band of an item whose answer would show ``verdict``, as `assistant.rerank.TrainedJudge.judge` decides it."""
    from assistant.rerank import decide_band

    probability = calibration.probability(calibration.score(signals))
    return decide_band(calibration, probability, verdict, item.outside, band_source, best_relevance, agreed)


def _scores(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    nc = [r for r in rows if not r["answerable"]]
    abstained = [r for r in rows if r["band"] == "not_covered"]
    tp = sum(1 for r in abstained if not r["answerable"])
    precision = tp / len(abstained) if abstained else 0.0
    recall = tp / len(nc) if nc else 0.0
    answered = [r for r in rows if r["band"] == "answer"]

    def rate(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    return {
        "questions": len(rows),
        "retriever_hit_at_1": rate([r["retriever_hit"] for r in answerable]),
        "hit_at_1": rate([r["hit1"] for r in answerable]),
        "recall_at_5": rate([r["recall5"] for r in answerable]),
        "recall_at_depth": rate([r["in_depth"] for r in answerable]),
        "verdict_classifier_on_gold": rate([r["classifier_gold"] for r in answerable]),
        "verdict_rules_on_gold": rate([r["rules_gold"] for r in answerable]),
        "verdict_acc": rate([r["verdict_right"] for r in rows]),
        "abstain_precision": round(precision, 4),
        "abstain_recall": round(recall, 4),
        "abstain_f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "confident_precision": rate([r["hit1"] and r["classifier_top"] for r in answered]),
        "coverage": rate([r["band"] == "answer" for r in answerable]),
        "wrong_yes": sum(r["wrong_yes"] for r in rows),
    }


def oof_report(
    items: list[TrainingItem],
    predictions: dict[str, dict],
    texts,
    calibration: dict,
    stage: tuple[int, float],
    band_source: str = "floor_and_confidence",
) -> dict:
    """Out-of-fold metrics overall and per school (see `_scores` for the names); ``calibration``: `fit_calibration`'s JSON."""
    from assistant.rerank import Calibration

    confidence = Calibration.from_json(calibration)
    rows = []
    for item in items:
        pred = predictions.get(item.id)
        if pred is None:
            continue
        depth = stage[0]
        best, _ = _top(item, pred, stage)
        order = np.argsort(-_fused(pred, stage), kind="stable")
        reranked = [item.ranked_ids[i] for i in order] + list(item.ranked_ids[depth:])
        agreed = _yes_agreed(item, pred, best, texts)
        band = _band(
            confidence, item, _signals(item, pred, stage), _verdict_at(pred, best), band_source, _best_relevance(pred, stage), agreed
        )
        answerable = bool(item.gold_ids)
        classifier_top = _verdict_at(pred, best) == item.verdict
        predicted = _verdict_at(pred, best) if band == "answer" else ("not_covered" if band == "not_covered" else "unsure")
        rows.append(
            {
                "school": item.school,
                "answerable": answerable,
                "retriever_hit": answerable and item.ranked_ids[0] in item.gold_ids,
                "hit1": answerable and reranked[0] in item.gold_ids,
                "recall5": answerable and any(c in item.gold_ids for c in reranked[:5]),
                "in_depth": answerable and any(c in item.gold_ids for c in item.ranked_ids[:depth]),
                "classifier_gold": answerable and pred["verdict_gold"] == item.verdict,
                "rules_gold": answerable
                and rule_verdict(item.question, list(item.history), item.audience, texts[sorted(item.gold_ids)[0]].display_text)
                == item.verdict,
                "classifier_top": classifier_top,
                "band": band,
                "verdict_right": predicted == (item.verdict if answerable else "not_covered"),
                "wrong_yes": says_wrong_yes(predicted, [item.verdict if answerable else "not_covered"]),
            }
        )
    by_school = defaultdict(list)
    for r in rows:
        by_school[r["school"]].append(r)
    per_school = {s: _scores(rs) for s, rs in sorted(by_school.items())}
    return {"overall": _scores(rows), "per_school": per_school}


#: Metrics whose worst school is the highest.
LOWER_IS_BETTER = frozenset({"wrong_yes"})


def write_loso_report(report: dict, fold_of: dict[str, int]) -> None:
    """Write ``docs/eval/loso.json`` and a table ``docs/eval/loso.txt`` (mean and worst school)."""
    per = report["per_school"]
    keys = ["hit_at_1", "recall_at_5", "verdict_acc", "abstain_f1", "confident_precision", "coverage", "wrong_yes", "retriever_hit_at_1"]
    summary = {}
    for key in keys:
        values = [v[key] for v in per.values() if v[key] is not None]
        worst = np.max if key in LOWER_IS_BETTER else np.min
        summary[key] = {"mean": round(float(np.mean(values)), 4), "worst": round(float(worst(values)), 4)} if values else None
    report = {**report, "school_mean_and_worst": summary, "fold_of_school": fold_of}
    LOSO_JSON.parent.mkdir(parents=True, exist_ok=True)
    LOSO_JSON.write_text(json.dumps(report, indent=1) + "\n")
    lines = ["Training questions of schools the models never saw (grouped folds), reranker + verdict classifier + bands", ""]
    header = f"{'school':24}" + "".join(f"{k[:14]:>16}" for k in ["questions", *keys])
    lines.append(header)
    for school, v in per.items():
        lines.append(f"{school:24}" + "".join(f"{'' if v[k] is None else v[k]:>16}" for k in ["questions", *keys]))
    o = report["overall"]
    lines.append(f"{'all':24}" + "".join(f"{'' if o[k] is None else o[k]:>16}" for k in ["questions", *keys]))
    lines.append(f"{'mean of schools':24}" + f"{'':>16}" + "".join(f"{summary[k]['mean'] if summary[k] else '':>16}" for k in keys))
    lines.append(f"{'worst school':24}" + f"{'':>16}" + "".join(f"{summary[k]['worst'] if summary[k] else '':>16}" for k in keys))
    lines.append("")
    lines.append(f"verdict on the gold clause: classifier {o['verdict_classifier_on_gold']}, rules {o['verdict_rules_on_gold']}")
    LOSO_TXT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def load_oof(path: Path) -> dict[str, dict]:
    """Read the out-of-fold predictions written by ``training.train`` (id → prediction)."""
    return {d["id"]: d for d in map(json.loads, path.read_text().splitlines())}
