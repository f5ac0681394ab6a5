"""In-process ``ask`` latency with and without the trained stage (issue 16's latency target).

    python bench/rerank_latency.py [--index-dir index] [--bank evals/banks/policy_bank.jsonl] [--runs 2]

Loads the index once, then for each configuration — the trained stage off
(``ASSISTANT_RERANK=false``: retriever and rules, as before issue 16) and on (the committed
reranker / verdict model and calibration) — asks every bank question in process, with its
school, audience and history, timing each `Assistant.ask` call. The query-embedding caches
are cleared before each pass, so every question pays for its embeddings as a new question
would. The stage runs twice: with the clause vectors ingest stored
(`assistant.trained_vectors`, as served), and without them, encoding every clause of a school
on its first question (the in-domain channel scores them all) as a generation built without
trained models (or before this existed) does. Also
times the trained stage alone (`TrainedJudge.judge` on the retriever's candidates). Prints a markdown table of p50 / p95 / p99 / mean / max in milliseconds and
the machine's load; no assertions: it reports.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _row(name: str, ms: list[float]) -> str:
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return f"| {name} | {len(ms)} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {np.mean(ms):.1f} | {max(ms):.1f} |"


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--bank", type=Path, default=ROOT / "evals" / "banks" / "policy_bank.jsonl")
    parser.add_argument("--runs", type=int, default=2, help="passes over the bank per configuration")
    args = parser.parse_args(argv)

    from assistant import Assistant
    from assistant.rerank import shared_judge
    from evals.metrics import load_bank

    bot = Assistant.load(args.index_dir)
    judge = shared_judge()
    bank = load_bank(args.bank)
    bot.ask("warm-up", school=bank[0].school)
    stored = {school: bot.retriever.school(school).trained for school in {item.school for item in bank}}
    if not any(stored.values()):
        print("(this index has no stored trained clause vectors: re-ingest it to measure them)\n")
    rows = []
    configurations = (
        ("ask, trained stage off", None, True),
        ("ask, trained stage on, stored clause vectors", judge, True),
        ("ask, trained stage on, clauses encoded on first use", judge, False),
    )
    for name, stage, use_stored in configurations:
        ms: list[float] = []
        for school, vectors in stored.items():
            bot.retriever.school(school).trained = vectors if use_stored else {}
        for _ in range(args.runs):
            bot.embeddings._embed_query_cached.cache_clear()
            bot.embeddings._embed_query_light_cached.cache_clear()
            bot.embeddings._recent_heads.clear()
            judge._clause_vectors.clear()
            bot.judge = stage
            for item in bank:
                started = time.perf_counter()
                bot.ask(item.question, item.school, item.audience, list(item.history))
                ms.append((time.perf_counter() - started) * 1000)
        rows.append(_row(name, ms))
    for school, vectors in stored.items():
        bot.retriever.school(school).trained = vectors
    stage_ms = []
    for item in bank:
        plan = bot.plan(item.question, list(item.history), item.audience)
        candidates = bot.retriever.candidates(plan, item.school, item.audience)
        started = time.perf_counter()
        judge.judge(
            item.question,
            list(item.history),
            item.audience,
            candidates,
            stored=stored[item.school],
            general=lambda clause, plan=plan: bot.retriever.general_vectors(plan, [clause]),
        )
        stage_ms.append((time.perf_counter() - started) * 1000)
    rows.append(_row(f"trained stage alone (channel over every clause, {judge.depth} reread, stored vectors, general view)", stage_ms))
    print(
        f"{len(bank)} questions of {args.bank.name}, {args.runs} passes; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n"
    )
    print("| in process, ms | n | p50 | p95 | p99 | mean | max |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
