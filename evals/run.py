"""Score the assistant on a question bank, beside the textbook LangChain recipe.

    python -m evals.run --bank evals/banks/policy_bank.jsonl [--json OUT] [--chart PNG]

Prints a table (ours vs. baseline, overall and per school) and the misses; writes the
metrics as JSON and a PNG chart of per-school hit@1 and verdict accuracy.

The baseline is the textbook recipe (`evals.textbook`, the one the benchmarks time too):
``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`` over each document,
the same embeddings, an in-memory Chroma collection, top-k filtered by school. It has no
abstention; its verdict is our verdict rule applied to its top chunk, so the comparison
isolates retrieval and chunking.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

from assistant.config import get_settings

from .metrics import BankItem, Outcome, Scores, load_bank, score
from .textbook import TextbookBaseline

K = 5


def run_ours(bot, bank: list[BankItem]) -> list[Outcome]:
    """Ask and search every bank item with the assistant."""
    outcomes = []
    for item in bank:
        history = list(item.history)
        started = time.perf_counter()
        answer = bot.ask(item.question, school=item.school, audience=item.audience, history=history)
        ask_ms = (time.perf_counter() - started) * 1000
        ranked = bot.search(item.question, school=item.school, audience=item.audience, history=history, k=K)
        outcomes.append(
            Outcome(
                item,
                [c.text for c in ranked],
                [c.school for c in ranked],
                answer.verdict,
                [c.text for c in answer.citations],
                [c.school for c in answer.citations],
                ask_ms,
                answer.band,
            )
        )
    return outcomes


METRIC_KEYS = [
    "hit_at_1",
    "recall_at_5",
    "answer_citation_acc",
    "verdict_acc",
    "abstain_precision",
    "abstain_recall",
    "abstain_f1",
    "confident_precision",
    "coverage",
    "wrong_yes",
    "cross_school_citations",
    "median_cited_chars",
    "ask_p50_ms",
    "ask_p95_ms",
]


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) and v <= 1.0 else f"{v}"


def print_report(bank_path: Path, ours: Scores, base: Scores, out=None) -> None:
    """Print the comparison table, per-school rows and the misses (to ``out``, default stdout)."""
    out = out or sys.stdout
    print(f"Bank: {bank_path} ({ours.metrics['questions']} questions, {ours.metrics['answerable']} answerable)", file=out)
    print(f"{'metric':<24}{'ours':>10}{'baseline':>10}", file=out)
    for key in METRIC_KEYS:
        print(f"{key:<24}{_fmt(ours.metrics[key]):>10}{_fmt(base.metrics[key]):>10}", file=out)
    print(f"\n{'school':<18}{'n':>4}{'hit@1':>8}{'base':>8}{'verdict':>9}{'base':>8}", file=out)
    for school, row in ours.per_school.items():
        b = base.per_school[school]
        print(
            f"{school:<18}{row['questions']:>4}{_fmt(row['hit_at_1']):>8}{_fmt(b['hit_at_1']):>8}"
            f"{_fmt(row['verdict_acc']):>9}{_fmt(b['verdict_acc']):>8}",
            file=out,
        )
    if ours.misses:
        print(f"\nMisses ({len(ours.misses)}):", file=out)
        for m in ours.misses:
            print(
                f"  {m['id']} [{','.join(m['kinds'])}] {m['question']!r} -> {m['verdict']} "
                f"(want {'/'.join(m['expected_verdict'])}; gold rank {m['gold_rank']})",
                file=out,
            )


def write_chart(path: Path, ours: Scores, base: Scores) -> None:
    """A PNG with per-school hit@1 and verdict accuracy, ours vs. baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    schools = list(ours.per_school)
    x = np.arange(len(schools))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, key, title in ((axes[0], "hit_at_1", "hit@1"), (axes[1], "verdict_acc", "verdict accuracy")):
        ax.bar(x - 0.2, [ours.per_school[s][key] or 0 for s in schools], 0.4, label="Policy Assistant", color="#1f6f8b")
        ax.bar(x + 0.2, [base.per_school[s][key] or 0 for s in schools], 0.4, label="textbook recipe", color="#c9c9c9")
        ax.set_xticks(x, schools, rotation=20, ha="right")
        ax.set_title(title)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; returns the exit code."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bank", type=Path, required=True, help="question bank (JSONL)")
    parser.add_argument("--json", type=Path, help="write metrics JSON here, and the printed report beside it (.txt)")
    parser.add_argument("--chart", type=Path, help="write the PNG chart here (default: beside --json, or evals/reports/)")
    parser.add_argument("--corpus-dir", type=Path, default=settings.corpus_dir)
    parser.add_argument("--index-dir", type=Path, default=settings.index_dir)
    parser.add_argument("--no-baseline", action="store_true", help="skip the textbook baseline")
    args = parser.parse_args(argv)

    from assistant import Assistant
    from assistant.index import build_index

    bank = load_bank(args.bank)
    build_index(args.corpus_dir, args.index_dir)  # no-op when the index matches the corpus
    bot = Assistant.load(args.index_dir)
    bot.ask("warm-up", school=bank[0].school)  # the first call pays one-off costs; don't time it
    ours = score(run_ours(bot, bank))
    if args.no_baseline:
        base = Scores({k: None for k in METRIC_KEYS}, {s: {"hit_at_1": None, "verdict_acc": None} for s in ours.per_school})
    else:
        base = score(TextbookBaseline(args.corpus_dir, bot.embeddings).run(bank))
    report = io.StringIO()
    print_report(args.bank, ours, base, out=report)
    print(report.getvalue(), end="")
    result = {
        **ours.metrics,
        "per_school": ours.per_school,
        "misses": ours.misses,
        "baseline": {**base.metrics, "per_school": base.per_school},
        "bank": str(args.bank),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        # The same report as printed, so the committed .txt never lags the .json.
        args.json.with_suffix(".txt").write_text(report.getvalue(), encoding="utf-8")
    chart = args.chart or (args.json.with_suffix(".png") if args.json else Path("evals/reports") / f"{args.bank.stem}.png")
    if not args.no_baseline:
        write_chart(chart, ours, base)
        print(f"\nChart: {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
