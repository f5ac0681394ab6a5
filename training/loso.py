"""Leave-schools-out on the evaluation banks (``make loso``).

    python -m training.loso [--index-dir index]

``make train`` trains one reranker and verdict classifier per fold (schools grouped into
folds, `training.train.school_folds`), each with a calibration fitted on the other folds
only. This asks every question of ``evals/banks/*.jsonl`` with the models of the fold that
held its school out, through the product's own `Assistant` and `evals.metrics.score`, so
each number says how the product does on a school it has never seen. Results go to
``docs/eval/loso_banks.json`` and ``.txt`` beside the training-question report
(``docs/eval/loso.txt``) written by ``make train``.

The banks are only read to score: nothing here trains or chooses a setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .data import ROOT, WORK

BANKS = ("starter", "policy_bank", "holdout")
OUT_JSON = ROOT / "docs" / "eval" / "loso_banks.json"
OUT_TXT = ROOT / "docs" / "eval" / "loso_banks.txt"
KEYS = (
    "hit_at_1",
    "recall_at_5",
    "answer_citation_acc",
    "verdict_acc",
    "abstain_f1",
    "confident_precision",
    "coverage",
    "wrong_yes",
    "cross_school_citations",
)


def main(argv: list[str] | None = None) -> int:
    """Score every bank with held-out fold models; returns the exit status (2: no fold models)."""
    from assistant import Assistant
    from assistant.index import build_index
    from assistant.rerank import TrainedJudge
    from evals.metrics import load_bank, score
    from evals.run import run_ours

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--corpus-dir", type=Path, default=ROOT / "corpus")
    args = parser.parse_args(argv)
    folds = sorted(WORK.glob("fold-*/manifest.json"))
    if not folds:
        print("no fold models in training/.work/: run `make train` first", file=sys.stderr)
        return 2
    build_index(args.corpus_dir, args.index_dir)
    bot = Assistant.load(args.index_dir)
    judges = {}
    for manifest in folds:
        for school in json.loads(manifest.read_text())["held_out"]:
            judges[school] = TrainedJudge(manifest.parent, threads=2)
    report, lines = {}, []
    for name in BANKS:
        bank = load_bank(ROOT / "evals" / "banks" / f"{name}.jsonl")
        outcomes = []
        for school in sorted({item.school for item in bank}):
            if school not in judges:
                print(f"{school} is in no fold: skipped", file=sys.stderr)
                continue
            bot.judge = judges[school]
            outcomes += run_ours(bot, [item for item in bank if item.school == school])
        scores = score(outcomes)
        report[name] = {**scores.metrics, "per_school": scores.per_school}
    header = f"{'metric':24}" + "".join(f"{b:>14}" for b in BANKS)
    lines.append("Evaluation banks, each school answered by models trained without it (grouped folds)")
    lines.append(header)
    for key in KEYS:
        lines.append(f"{key:24}" + "".join(f"{'' if report[b][key] is None else report[b][key]:>14}" for b in BANKS))
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(report, indent=1) + "\n")
    OUT_TXT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
