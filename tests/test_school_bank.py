"""Issue 18: a school's own question bank (corpus/<school>/questions.jsonl) — entries, runs, and the ingest check.

The real assistant over the real corpus; banks are written into a temporary copy of the corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.loading import load_corpus
from assistant.school_bank import add_entry, bank_path, compare_after_ingest, past_runs, run_bank, runs_path
from evals.metrics import load_bank

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
STARTER = [
    json.loads(line) for line in (ROOT / "evals" / "banks" / "starter.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
]
ITEM = next(i for i in STARTER if i["gold"] and not i["history"])


def _gold_clause(bot):
    return next(c for c in bot.clauses(ITEM["school"]) if ITEM["gold"][0].lower()[:40] in c.text.lower())


def test_entries_are_in_the_shared_schema_numbered_and_not_duplicated(corpus_copy, bot):
    school = ITEM["school"]
    first = add_entry(corpus_copy, school, ITEM["question"], ITEM["audience"], ITEM["verdict"], [_gold_clause(bot).text])
    second = add_entry(corpus_copy, school, "Can I bring a unicycle to the school disco?", "parent", ["not_covered"], ["ignored"])
    assert (first["id"], second["id"]) == (f"{school}-q001", f"{school}-q002")
    items = load_bank(bank_path(corpus_copy, school))
    assert [i.id for i in items] == [first["id"], second["id"]] and items[1].gold == () and items[1].expects_abstention
    with pytest.raises(ValueError, match="already"):
        add_entry(corpus_copy, school, ITEM["question"].upper() + "?", "parent", ["no"], ["x"])
    with pytest.raises(ValueError, match="clause"):
        add_entry(corpus_copy, school, "Another question entirely", "parent", ["yes"], [])
    with pytest.raises(ValueError):
        bank_path(corpus_copy, "../escape")
    # The bank sits beside the policies and is never ingested as one (loading must not report it as a bad file).
    (loaded,) = [s for s in load_corpus(corpus_copy) if s.school == school]
    assert "questions" not in {d.document for d in loaded.documents}


def test_run_bank_scores_with_the_evals_code_and_keeps_the_runs(corpus_copy, bot, tmp_path):
    school = ITEM["school"]
    add_entry(corpus_copy, school, ITEM["question"], ITEM["audience"], ITEM["verdict"], [_gold_clause(bot).text])
    with pytest.raises(ValueError, match="no question bank"):
        run_bank(bot, corpus_copy, next(s.school for s in bot.schools() if s.school != school), tmp_path)
    result = run_bank(bot, corpus_copy, school, tmp_path)
    assert result["questions"] == 1 and result["metrics"]["hit_at_1"] == 1.0 and result["metrics"]["recall_at_5"] == 1.0
    run_bank(bot, corpus_copy, school, tmp_path)
    assert [r["questions"] for r in past_runs(tmp_path, school)] == [1, 1]


def test_an_ingest_that_lowers_a_schools_bank_score_says_so(corpus_copy, bot, tmp_path):
    school = ITEM["school"]
    # The gold quote is a clause the answer will not rest on: hit@1 is 0 on this bank.
    wrong = next(c for c in bot.clauses(school) if c.clause_id != _gold_clause(bot).clause_id and len(c.text) > 60)
    add_entry(corpus_copy, school, ITEM["question"], ITEM["audience"], ITEM["verdict"], [wrong.text[-60:]])
    assert compare_after_ingest(bot, corpus_copy, tmp_path, [school]) == []  # never run before: nothing to compare
    earlier = {"ran_at": 0, "questions": 1, "metrics": {"hit_at_1": 1.0, "recall_at_5": 1.0, "verdict_acc": 0.0}, "misses": []}
    runs_path(tmp_path, school).parent.mkdir(parents=True, exist_ok=True)
    runs_path(tmp_path, school).write_text(json.dumps([earlier]), encoding="utf-8")
    (line,) = compare_after_ingest(bot, corpus_copy, tmp_path, [school])
    assert line.startswith(school) and "hit_at_1 1.000 → 0.000" in line and "verdict_acc" not in line
    assert compare_after_ingest(bot, corpus_copy, tmp_path, [school]) == []  # the same score as the last run: silent
