"""Markdown table of evaluation JSONs (as written by ``python -m evals.run --json``).

python -m evals.report docs/eval/starter.json docs/eval/policy_bank.json docs/eval/holdout.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .run import METRIC_KEYS


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer() and value < 1.0:
        return f"{value:.3f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def markdown(paths: list[Path]) -> str:
    """One row per metric; for each bank a column for ours and one for the textbook baseline."""
    runs = [(Path(p).stem, json.loads(Path(p).read_text(encoding="utf-8"))) for p in paths]
    head = "| metric | " + " | ".join(f"{name} (n={run['questions']}): ours | baseline" for name, run in runs) + " |"
    rule = "| --- |" + " ---: | ---: |" * len(runs)
    rows = [head, rule]
    for key in METRIC_KEYS:
        cells = []
        for _, run in runs:
            cells += [_cell(run.get(key)), _cell(run.get("baseline", {}).get(key))]
        rows.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown([Path(p) for p in sys.argv[1:]]))
