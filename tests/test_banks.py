"""The question banks in evals/banks/ are well formed and answerable from the corpus they test.

Fast (no model): banks are read with `load_bank` and checked against the bundled corpus
and its clauses (`chunk_document`), with the normalisation `cites_gold` uses.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.chunking import chunk_document, normalise_for_match
from assistant.loading import load_school
from assistant.types import AUDIENCES, VERDICTS
from evals.metrics import BankItem, load_bank

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
BANK_DIR = ROOT / "evals" / "banks"
BANKS = sorted(BANK_DIR.glob("*.jsonl"))
FIELDS = {"id", "school", "audience", "question", "verdict", "gold", "history"}


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[str, list[str]]]:
    """school id → (normalised document text, normalised display texts of its clauses)."""
    out = {}
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        school = load_school(folder)
        text = "\n".join(normalise_for_match(d.text) for d in school.documents)
        clauses = [normalise_for_match(c.display_text) for d in school.documents for c in chunk_document(d, school.name)]
        out[folder.name] = (text, clauses)
    return out


@pytest.fixture(scope="module")
def banks() -> dict[str, list[BankItem]]:
    return {path.stem: load_bank(path) for path in BANKS}


def test_the_three_banks_are_there():
    assert {p.stem for p in BANKS} >= {"starter", "policy_bank", "holdout"}


@pytest.mark.parametrize("path", BANKS, ids=[p.stem for p in BANKS])
def test_every_line_is_a_complete_entry_with_valid_values(path, corpus):
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines
    for n, line in enumerate(lines, start=1):
        entry = json.loads(line)
        where = f"{path.name} entry {n} ({entry.get('id')})"
        assert {"id", "school", "audience", "question", "verdict", "gold"} <= entry.keys() <= FIELDS, where
        assert isinstance(entry["verdict"], list) and entry["verdict"], where
        assert set(entry["verdict"]) <= set(VERDICTS), where
        assert isinstance(entry["gold"], list) and all(isinstance(g, str) and g.strip() for g in entry["gold"]), where
        history = entry.get("history", [])
        assert isinstance(history, list) and all(isinstance(h, str) and h.strip() for h in history), where
        assert entry["school"] in corpus, where
        assert entry["audience"] in AUDIENCES, where
        assert isinstance(entry["question"], str) and 0 < len(entry["question"].strip()) <= 1000, where


@pytest.mark.parametrize("path", BANKS, ids=[p.stem for p in BANKS])
def test_ids_are_unique(path, banks):
    counts = Counter(item.id for item in banks[path.stem])
    assert [i for i, n in counts.items() if n > 1] == []


def test_ids_are_unique_across_banks(banks):
    counts = Counter(item.id for items in banks.values() for item in items)
    assert [i for i, n in counts.items() if n > 1] == []


def test_the_holdout_shares_no_question_with_the_banks_used_for_tuning(banks):
    def asked(name):
        return {(i.school, normalise_for_match(i.question)) for i in banks[name]}

    tuned = asked("starter") | asked("policy_bank")
    assert asked("holdout") & tuned == set()


@pytest.mark.parametrize("path", BANKS, ids=[p.stem for p in BANKS])
def test_every_gold_quote_is_in_its_schools_policy_and_in_one_of_its_clauses(path, banks, corpus):
    """A gold quote must be citable: `cites_gold` compares it with a clause's display text."""
    missing = []
    for item in banks[path.stem]:
        text, clauses = corpus[item.school]
        for gold in item.gold:
            quote = normalise_for_match(gold)
            if quote not in text and not any(quote in c for c in clauses):
                missing.append((item.id, gold, "not in the policy"))
            elif not any(quote in c for c in clauses):
                missing.append((item.id, gold, "in the policy but no clause holds it whole"))
    assert missing == []


@pytest.mark.parametrize("path", BANKS, ids=[p.stem for p in BANKS])
def test_not_covered_items_have_no_gold_and_answerable_items_have_some(path, banks):
    for item in banks[path.stem]:
        if item.expects_abstention:
            assert item.verdict == ("not_covered",), item.id
            assert item.gold == (), item.id
        else:
            assert item.gold, item.id


def test_policy_bank_is_big_enough_to_tune_on(banks):
    bank = banks["policy_bank"]
    assert len(bank) >= 150
    assert sum(i.expects_abstention for i in bank) >= 25
    assert sum(bool(i.history) for i in bank) >= 10
    # every school and the main audiences are asked about
    assert {i.school for i in bank} == {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert {"staff", "parent", "pupil"} <= {i.audience for i in bank}
    # "unsure" is what the assistant says when it is not confident, never the right answer to expect
    assert {v for i in bank for v in i.verdict} == set(VERDICTS) - {"unsure"}


def test_follow_ups_in_the_banks_read_as_follow_ups(banks):
    """A follow-up's history is earlier questions of the same chat, not a copy of the question."""
    for items in banks.values():
        for item in items:
            for earlier in item.history:
                assert normalise_for_match(earlier) != normalise_for_match(item.question), item.id
