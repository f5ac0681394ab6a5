"""Precision of the answer band at fixed coverages: the shipped confidence against `top_share` alone.

    python -m training.confidence_curve [--index-dir index]

The answer threshold moves with the model (the fold models and the shipped one place the same
questions at different confidences), so comparing two confidences by their bands alone mixes
how well they rank answers with where their thresholds fall. This ranks every evaluation-bank
answer by each confidence and reports the precision (clause and verdict right, as
`evals.metrics.score`'s ``confident_precision``) of the first answers reaching 60, 75 and 90 %
of the answerable questions the similarity floor lets through, and the ROC AUC of each confidence for a right answer. Every
question is answered as if the threshold were 0 (all in the answer band unless the
similarity floor says not covered; the near-miss model is set aside too), twice: by the shipped models, and by the fold models that
never saw its school (``make train``'s ``training/.work/fold-*``). Writes
``docs/eval/confidence_curve.txt``.

The banks are only read to score: nothing here trains or chooses a setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from .data import ROOT, WORK

BANKS = ("starter", "policy_bank", "holdout")
COVERAGES = (0.6, 0.75, 0.9)
OUT_TXT = ROOT / "docs" / "eval" / "confidence_curve.txt"


def precision_at_coverage(confidence: np.ndarray, right: np.ndarray, answerable: np.ndarray, coverage: float) -> float:
    """Precision of the most confident answers that reach ``coverage`` of the answerable ones.

    Args:
        confidence, right, answerable: one entry per answered question (shape ``(n,)``).
        coverage: the share (0–1] of ``answerable.sum()`` the answered set must reach.

    Ties are taken in the given order. Raises ValueError when no question is answerable.
    """
    need = int(np.ceil(coverage * answerable.sum()))
    if need < 1:
        raise ValueError("no answerable question to cover")
    order = np.argsort(-confidence, kind="stable")
    reached = np.cumsum(answerable[order])
    k = int(np.searchsorted(reached, need)) + 1
    return float(right[order[:k]].mean())


def _judges(shipped: bool) -> dict[str | None, object]:
    from assistant.rerank import TrainedJudge

    def opened(folder: Path | None) -> TrainedJudge:
        judge = TrainedJudge(folder, threads=2)
        # Every question the floor lets through is answered, near misses too (the near-miss model
        # is set aside like the thresholds): this compares how the confidences rank answers.
        judge.calibration = dataclasses.replace(judge.calibration, answer_threshold=0.0, yes_threshold=0.0, not_covered_threshold=1.01)
        return judge

    if shipped:
        return {None: opened(None)}
    return {
        school: opened(manifest.parent)
        for manifest in sorted(WORK.glob("fold-*/manifest.json"))
        for school in json.loads(manifest.read_text())["held_out"]
    }


def main(argv: list[str] | None = None) -> int:
    """Print and write the table; returns the exit status (2: no fold models)."""
    from sklearn.metrics import roc_auc_score

    import assistant.rerank as rerank
    from assistant import Assistant
    from evals.metrics import cites_gold, load_bank

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    args = parser.parse_args(argv)
    if not list(WORK.glob("fold-*/manifest.json")):
        print("no fold models in training/.work/: run `make train` first", file=sys.stderr)
        return 2
    shares: list[float] = []
    signals = rerank.confidence_signals

    def recording(share: float, *rest) -> np.ndarray:  # the judge's top_share, as it computes it
        shares.append(share)
        return signals(share, *rest)

    rerank.confidence_signals = recording
    bot = Assistant.load(args.index_dir)
    lines = [
        "Precision of the answer band when the most confident answers cover 60 / 75 / 90 % of the answerable questions",
        "(threshold set aside; clause and verdict right). 'confidence': the shipped calibration's signals; 'top_share': that signal alone.",
        "",
        f"{'models':22}{'bank':13}{'answered':>9}{'AUC conf':>10}{'AUC share':>10}"
        + "".join(f"{f'conf@{c}':>11}{f'share@{c}':>11}" for c in COVERAGES),
    ]
    try:
        for shipped in (True, False):
            judges = _judges(shipped)
            for name in BANKS:
                rows = []
                for item in load_bank(ROOT / "evals" / "banks" / f"{name}.jsonl"):
                    judge = judges.get(None if shipped else item.school)
                    if judge is None:
                        continue
                    bot.judge = judge
                    shares.clear()
                    answer = bot.ask(item.question, school=item.school, audience=item.audience, history=list(item.history))
                    if answer.band != "answer" or answer.confidence is None or not shares:
                        continue
                    right = item.answerable and bool(answer.citations) and cites_gold(answer.citations[0].text, item.gold)
                    rows.append((shares[-1], answer.confidence, right and answer.verdict in item.verdict, item.answerable))
                share, conf, right, answerable = (np.array(col) for col in zip(*rows, strict=True))
                cells = "".join(
                    f"{precision_at_coverage(conf, right, answerable, c):>11.3f}{precision_at_coverage(share, right, answerable, c):>11.3f}"
                    for c in COVERAGES
                )
                who = "shipped" if shipped else "fold (school unseen)"
                lines.append(
                    f"{who:22}{name:13}{len(rows):>9}{roc_auc_score(right, conf):>10.3f}{roc_auc_score(right, share):>10.3f}" + cells
                )
    finally:
        rerank.confidence_signals = signals
    OUT_TXT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
