"""The eval gate's comparison (`evals.gate`): committed report + new metrics → failures, on hand-written values."""

from __future__ import annotations

import json

import pytest

from evals.gate import CommittedReportError, gate_failures, gate_table, load_committed, main

pytestmark = pytest.mark.unit

COMMITTED = {
    "hit_at_1": 0.80,
    "recall_at_5": 0.9143,
    "verdict_acc": 0.775,
    "abstain_f1": 0.8889,
    "wrong_yes": 2,
    "cross_school_citations": 0,
    "ask_p50_ms": 109.87,
    "ask_p95_ms": 150.23,
}


def now(**changes) -> dict:
    """The committed metrics with ``changes`` applied (a new run)."""
    return {**COMMITTED, **changes}


def test_an_unchanged_run_passes():
    assert gate_failures(COMMITTED, now()) == []


def test_a_drop_of_exactly_the_tolerance_passes_and_a_larger_one_fails():
    assert gate_failures(COMMITTED, now(hit_at_1=0.78)) == []  # 0.80 - 0.78 is 0.020000000000000018 in floats
    failures = gate_failures(COMMITTED, now(hit_at_1=0.7799))
    assert failures == ["hit_at_1 dropped from 0.8 to 0.7799 (more than 0.02 below the committed value)"]


@pytest.mark.parametrize("metric", ["hit_at_1", "verdict_acc", "abstain_f1"])
def test_each_gated_metric_fails_on_a_drop(metric):
    failures = gate_failures(COMMITTED, now(**{metric: COMMITTED[metric] - 0.05}))
    assert len(failures) == 1 and failures[0].startswith(f"{metric} dropped from {COMMITTED[metric]}")


def test_improvements_and_ungated_metrics_never_fail():
    better = now(hit_at_1=0.95, verdict_acc=0.9, abstain_f1=1.0, recall_at_5=0.1, ask_p50_ms=10_000.0, ask_p95_ms=99_999.0)
    assert gate_failures(COMMITTED, better) == []


def test_any_cross_school_citation_fails_even_when_the_committed_report_had_some():
    assert gate_failures(COMMITTED, now(cross_school_citations=1)) == [
        "cross_school_citations is 1: a search result or citation came from another school"
    ]
    assert gate_failures({**COMMITTED, "cross_school_citations": 3}, now(cross_school_citations=3)) != []


def test_one_more_wrong_yes_than_committed_fails_and_fewer_pass():
    assert gate_failures(COMMITTED, now(wrong_yes=3)) == [
        "wrong_yes rose from 2 to 3: more answers say yes where the bank does not accept it"
    ]
    assert gate_failures(COMMITTED, now(wrong_yes=0)) == []
    assert gate_failures(COMMITTED, now(wrong_yes=None)) != []
    rows = {line.split()[0]: line.split() for line in gate_table(COMMITTED, now(wrong_yes=3))[1:]}
    assert rows["wrong_yes"] == ["wrong_yes", "2", "3", "+1", "FAIL"]


def test_a_metric_undefined_now_fails_and_one_undefined_before_passes():
    assert gate_failures(COMMITTED, now(abstain_f1=None)) == ["abstain_f1 is undefined now (committed 0.8889)"]
    assert gate_failures({**COMMITTED, "abstain_f1": None}, now(abstain_f1=0.1)) == []


def test_the_tolerance_is_a_parameter():
    assert gate_failures(COMMITTED, now(verdict_acc=0.70), tolerance=0.1) == []
    assert gate_failures(COMMITTED, now(verdict_acc=0.77), tolerance=0.0) != []


def test_the_table_shows_committed_now_delta_and_status():
    lines = gate_table(COMMITTED, now(hit_at_1=0.70, verdict_acc=0.78, ask_p95_ms=300.5))
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert lines[0].split() == ["metric", "committed", "now", "delta", "status"]
    assert rows["hit_at_1"] == ["hit_at_1", "0.8000", "0.7000", "-0.1000", "FAIL"]
    assert rows["verdict_acc"] == ["verdict_acc", "0.7750", "0.7800", "+0.0050", "ok"]
    assert rows["cross_school_citations"] == ["cross_school_citations", "0", "0", "+0", "ok"]
    assert rows["ask_p95_ms"] == ["ask_p95_ms", "150.23", "300.50", "+150.27", "not", "gated"]
    assert rows["recall_at_5"] == ["recall_at_5", "0.9143", "0.9143", "+0.0000"]
    assert rows["answer_citation_acc"] == ["answer_citation_acc", "-", "-", "-"]  # absent from both: shown, not gated


def test_a_missing_or_malformed_committed_report_is_named(tmp_path):
    missing = tmp_path / "starter.json"
    with pytest.raises(CommittedReportError, match=r"starter\.json: committed evaluation report is missing"):
        load_committed(missing)
    missing.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommittedReportError, match=r"starter\.json: committed evaluation report is not readable JSON"):
        load_committed(missing)
    missing.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CommittedReportError, match=r"starter\.json: committed evaluation report is not a JSON object"):
        load_committed(missing)
    missing.write_text(json.dumps({"hit_at_1": 0.8, "verdict_acc": 0.7, "cross_school_citations": 0}), encoding="utf-8")
    with pytest.raises(CommittedReportError, match=r"starter\.json: committed evaluation report has no 'abstain_f1'"):
        load_committed(missing)
    missing.write_text(json.dumps({k: v for k, v in COMMITTED.items() if k != "wrong_yes"}), encoding="utf-8")
    with pytest.raises(CommittedReportError, match=r"starter\.json: committed evaluation report has no 'wrong_yes'"):
        load_committed(missing)
    missing.write_text(json.dumps({**COMMITTED, "verdict_acc": "0.7"}), encoding="utf-8")
    with pytest.raises(CommittedReportError, match=r"starter\.json: 'verdict_acc' is '0.7', not a number"):
        load_committed(missing)
    missing.write_text(json.dumps(COMMITTED), encoding="utf-8")
    assert load_committed(missing) == COMMITTED


def test_the_gate_exits_2_naming_the_file_before_building_any_index(tmp_path, capsys):
    (tmp_path / "starter.json").write_text(json.dumps(COMMITTED), encoding="utf-8")
    (tmp_path / "policy_bank.json").write_text("", encoding="utf-8")

    assert main(["--reports-dir", str(tmp_path), "--index-dir", str(tmp_path / "never-built")]) == 2

    assert f"{tmp_path / 'policy_bank.json'}: committed evaluation report is not readable JSON" in capsys.readouterr().err
    assert not (tmp_path / "never-built").exists()


def test_the_committed_reports_are_well_formed():
    from evals.gate import BANKS, REPORTS_DIR

    for bank in BANKS:
        assert load_committed(REPORTS_DIR / f"{bank.stem}.json")["bank"] == f"evals/banks/{bank.stem}.jsonl"
