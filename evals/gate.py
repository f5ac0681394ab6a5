"""Regression gate: score the starter and policy banks now and compare with the committed reports.

    python -m evals.gate [--index-dir DIR] [--corpus-dir DIR] [--reports-dir DIR] [--tolerance 0.02]

For each bank of `BANKS` it answers every question with the assistant (`evals.run.run_ours`,
scored by `evals.metrics.score`, the code that wrote the committed reports, without the
textbook baseline), then prints one table per bank: metric, committed value
(``docs/eval/<bank>.json``), value now, delta and status. The gate fails (exit code 1) when
one of `GATED_METRICS` is more than ``--tolerance`` below its committed value, when more answers
say "yes" where the bank does not accept it than the committed report had (`RISE_GATED_COUNTS`,
``wrong_yes``), or when any search result or citation comes from another school
(``cross_school_citations`` > 0).
Latency is printed, never gated: it depends on the machine and on what else runs on it.

The index: ``--index-dir``, else ``$ASSISTANT_INDEX_DIR``, refreshed from the corpus as
``python -m evals.run`` does (a no-op when it matches); with neither, a fresh index of the
corpus is built in a temporary folder (a few minutes on two cores) and removed afterwards.
Exit code 2 when a committed report is missing or malformed, naming the file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from .run import METRIC_KEYS

ROOT = Path(__file__).resolve().parents[1]
#: The banks the gate scores; each is compared with ``<reports dir>/<bank stem>.json``.
BANKS = (ROOT / "evals" / "banks" / "starter.jsonl", ROOT / "evals" / "banks" / "policy_bank.jsonl")
REPORTS_DIR = ROOT / "docs" / "eval"
#: Metrics that fail the gate when they drop more than the tolerance below the committed value.
GATED_METRICS = ("hit_at_1", "verdict_acc", "abstain_f1")
#: Counts of harmful answers that fail the gate when they rise at all above the committed count.
RISE_GATED_COUNTS = ("wrong_yes",)
#: Largest allowed drop of a gated metric (absolute, on the 0–1 scale).
TOLERANCE = 0.02
#: Metrics printed but never gated (milliseconds; machine-dependent).
LATENCY_METRICS = ("ask_p50_ms", "ask_p95_ms")


class CommittedReportError(Exception):
    """A committed evaluation report is missing, is not JSON, or lacks a gated metric."""


def load_committed(path: Path) -> dict:
    """Read a committed report written by ``python -m evals.run --json``.

    Args:
        path: the report, e.g. ``docs/eval/starter.json``.

    Returns:
        The report as a dict (metric name → value, plus ``per_school``, ``misses``, ``baseline``).

    Raises:
        CommittedReportError: the file is missing or unreadable, is not a JSON object, or one of
            `GATED_METRICS`, `RISE_GATED_COUNTS` or ``cross_school_citations`` is absent or not a
            number (or null).
    """
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CommittedReportError(f"{path}: committed evaluation report is missing (write it with python -m evals.run --json)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommittedReportError(f"{path}: committed evaluation report is not readable JSON ({exc})") from exc
    if not isinstance(report, dict):
        raise CommittedReportError(f"{path}: committed evaluation report is not a JSON object")
    for key in (*GATED_METRICS, *RISE_GATED_COUNTS, "cross_school_citations"):
        if key not in report:
            raise CommittedReportError(f"{path}: committed evaluation report has no {key!r}")
        value = report[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value)):
            raise CommittedReportError(f"{path}: {key!r} is {value!r}, not a number")
    return report


def gate_failures(committed: dict, now: dict, tolerance: float = TOLERANCE) -> list[str]:
    """The reasons a new evaluation fails against the committed one (empty: it passes).

    A gated metric fails when it is below its committed value by more than ``tolerance``
    (a drop of exactly ``tolerance`` passes), or when it is None (undefined) now but was a number.
    A metric that was None before passes whatever its value now. A count of `RISE_GATED_COUNTS`
    fails when it is above its committed value at all (or missing now).

    Args:
        committed: metric name → value of the committed report (see `load_committed`).
        now: metric name → value of this run (`evals.metrics.Scores.metrics`).
        tolerance: the largest allowed drop, on the metrics' 0–1 scale.

    Returns:
        One sentence per failure, naming the metric and both values.
    """
    failures = []
    for key in GATED_METRICS:
        before, after = committed.get(key), now.get(key)
        if _drops(before, after, tolerance):
            failures.append(
                f"{key} is undefined now (committed {before})"
                if after is None
                else f"{key} dropped from {before} to {after} (more than {tolerance} below the committed value)"
            )
    for key in RISE_GATED_COUNTS:
        before, after = committed.get(key), now.get(key)
        if _rises(before, after):
            failures.append(f"{key} rose from {before} to {after}: more answers say yes where the bank does not accept it")
    cross = now.get("cross_school_citations")
    if _crosses(cross):
        failures.append(f"cross_school_citations is {cross}: a search result or citation came from another school")
    return failures


def _drops(before: float | None, after: float | None, tolerance: float) -> bool:
    """True when ``after`` is more than ``tolerance`` below ``before`` (rounded, so a drop of exactly the tolerance passes)."""
    if before is None:
        return False
    return after is None or round(before - after, 9) > tolerance


def _rises(before: int | None, after: int | None) -> bool:
    """True when a harmful count is above its committed value (or missing now while it was committed)."""
    if before is None:
        return False
    return after is None or after > before


def _crosses(cross: int | None) -> bool:
    return cross is None or cross > 0


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) <= 1.0 else f"{value:.2f}"
    return str(value)


def gate_table(committed: dict, now: dict, tolerance: float = TOLERANCE) -> list[str]:
    """The lines of the comparison table: metric, committed, now, delta, status.

    Status is ``ok`` or ``FAIL`` for the gated metrics, `RISE_GATED_COUNTS` and ``cross_school_citations``,
    ``not gated`` for latency and blank for the other metrics (shown for context).

    Args:
        committed: the committed report (see `load_committed`).
        now: this run's metrics.
        tolerance: as in `gate_failures`.

    Returns:
        The header line followed by one line per metric of `evals.run.METRIC_KEYS`.
    """
    lines = [f"{'metric':<24}{'committed':>11}{'now':>11}{'delta':>11}  status"]
    for key in METRIC_KEYS:
        before, after = committed.get(key), now.get(key)
        delta = after - before if isinstance(before, int | float) and isinstance(after, int | float) else None
        if key in GATED_METRICS:
            status = "FAIL" if _drops(before, after, tolerance) else "ok"
        elif key in RISE_GATED_COUNTS:
            status = "FAIL" if _rises(before, after) else "ok"
        elif key == "cross_school_citations":
            status = "FAIL" if _crosses(after) else "ok"
        elif key in LATENCY_METRICS:
            status = "not gated"
        else:
            status = ""
        if delta is None:
            delta_text = "-"
        elif isinstance(delta, int):  # counts (cross_school_citations, wrong_yes)
            delta_text = f"{delta:+d}"
        else:
            delta_text = f"{delta:+.4f}" if abs(delta) <= 1.0 else f"{delta:+.2f}"
        lines.append(f"{key:<24}{_fmt(before):>11}{_fmt(after):>11}{delta_text:>11}  {status}".rstrip())
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the gate; returns the exit code (0 pass, 1 a gated metric regressed, 2 a committed report is unusable)."""
    parser = argparse.ArgumentParser(prog="python -m evals.gate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--index-dir", type=Path, help="index to evaluate (default: $ASSISTANT_INDEX_DIR, else a fresh one in a temp folder)"
    )
    parser.add_argument("--corpus-dir", type=Path, default=ROOT / "corpus")
    parser.add_argument("--reports-dir", type=Path, default=REPORTS_DIR, help="committed reports, <bank>.json (default: docs/eval)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="largest allowed drop of a gated metric (default: %(default)s)")
    args = parser.parse_args(argv)

    try:  # check every committed report before spending minutes on the index
        committed = {bank: load_committed(args.reports_dir / f"{bank.stem}.json") for bank in BANKS}
    except CommittedReportError as exc:
        print(f"evals.gate: {exc}", file=sys.stderr)
        return 2

    index_dir = args.index_dir or (Path(os.environ["ASSISTANT_INDEX_DIR"]) if os.environ.get("ASSISTANT_INDEX_DIR") else None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="evals-gate-") as scratch:
        if index_dir is None:
            index_dir = Path(scratch) / "index"
            print(f"Building an index of {args.corpus_dir} in {index_dir} ...", flush=True)
        failures = _evaluate(args.corpus_dir, index_dir, committed, args.tolerance)
    print(f"\nGate took {time.perf_counter() - started:.0f} s.")
    if failures:
        print(f"Eval gate FAILED ({len(failures)}):")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print("Eval gate passed.")
    return 0


def _evaluate(corpus_dir: Path, index_dir: Path, committed: dict[Path, dict], tolerance: float) -> list[str]:
    """Score every bank against ``index_dir`` (built or refreshed from ``corpus_dir``), print the tables, return the failures."""
    from assistant import Assistant
    from assistant.index import build_index

    from .metrics import load_bank, score
    from .run import run_ours

    build_index(corpus_dir, index_dir)  # no-op when the index matches the corpus
    bot = Assistant.load(index_dir)
    failures = []
    for bank_path, report in committed.items():
        bank = load_bank(bank_path)
        bot.ask("warm-up", school=bank[0].school)  # as evals.run: the first call pays one-off costs
        now = score(run_ours(bot, bank)).metrics
        print(f"\nBank: {bank_path.relative_to(ROOT) if bank_path.is_relative_to(ROOT) else bank_path} ({now['questions']} questions)")
        print("\n".join(gate_table(report, now, tolerance)))
        failures += [f"{bank_path.stem}: {reason}" for reason in gate_failures(report, now, tolerance)]
    return failures


if __name__ == "__main__":
    sys.exit(main())
