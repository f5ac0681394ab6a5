"""Eval arithmetic on a tiny hand-made bank, bank parsing, and `python -m evals.run` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.metrics import BankItem, Outcome, cites_gold, load_bank, score
from evals.run import main as run_main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

G1 = "Staff must never add pupils or ex pupils under the age of 18 as friends"
G2 = "should hand them to their teacher at the start of the school day"
G3 = "Never share a password with anyone"


def padded(text: str, length: int) -> str:
    """``text`` padded with filler words to exactly ``length`` characters."""
    assert len(text) <= length
    return (text + " " + "x" * length)[:length] if len(text) < length else text


def item(id_, school, verdict, gold=(), history=()) -> BankItem:
    return BankItem(id_, school, "staff", f"question {id_}?", tuple(verdict), tuple(gold), tuple(history))


@pytest.fixture()
def outcomes() -> list[Outcome]:
    """Six outcomes whose every metric is worked out by hand below.

    q1 glais, answerable: gold ranked 1st and cited; verdict right.           100 ms
    q2 st-michaels, answerable: gold ranked 3rd; a glais clause ranked 2nd;
       answered not_covered (a wrong abstention).                            200 ms
    q3 beaudesert-park, answerable: gold ranked 6th (outside the top 5, as is
       a glais clause there); answered not_covered.                          300 ms
    q4 glais, not covered: answered not_covered (right).                     400 ms
    q5 st-michaels, not covered: answered "info" citing a glais clause.      500 ms
    q6 glais, answerable: gold ranked 1st in different case, spacing and
       markdown; cited; verdict right.                                      1000 ms
    """
    filler = [f"unrelated clause {n}" for n in range(6)]
    return [
        Outcome(item("q1", "glais", ["no"], [G1]), [G1 + ".", *filler[:4]], ["glais"] * 5, "no", [padded(G1, 100)], ["glais"], 100.0),
        Outcome(
            item("q2", "st-michaels", ["info"], [G2]),
            [filler[0], filler[1], "Children " + G2 + ".", filler[2], filler[3]],
            ["st-michaels", "glais", "st-michaels", "st-michaels", "st-michaels"],
            "not_covered",
            [],
            [],
            200.0,
        ),
        Outcome(
            item("q3", "beaudesert-park", ["no", "conditional"], [G3]),
            [*filler[:5], G3 + " – not even your best friend."],
            ["beaudesert-park"] * 5 + ["glais"],
            "not_covered",
            [],
            [],
            300.0,
        ),
        Outcome(item("q4", "glais", ["not_covered"]), filler[:5], ["glais"] * 5, "not_covered", [], [], 400.0),
        Outcome(
            item("q5", "st-michaels", ["not_covered"]),
            filler[:5],
            ["st-michaels"] * 5,
            "info",
            [padded("A glais clause", 40)],
            ["glais"],
            500.0,
        ),
        Outcome(
            item("q6", "glais", ["conditional"], ["staff must never add pupils"]),
            ["**STAFF**  must\nnever add `pupils` or ex pupils", *filler[:4]],
            ["glais"] * 5,
            "conditional",
            [padded("## Staff must never add pupils", 60)],
            ["glais"],
            1000.0,
        ),
    ]


@pytest.mark.unit
def test_retrieval_and_answer_metrics(outcomes):
    m = score(outcomes).metrics
    assert m["questions"] == 6 and m["answerable"] == 4
    assert m["hit_at_1"] == 0.5  # q1, q6
    assert m["recall_at_5"] == 0.75  # q1, q2, q6 (q3's gold is 6th)
    assert m["answer_citation_acc"] == 0.5  # q1, q6
    assert m["verdict_acc"] == 0.5  # q1, q4, q6 of all six


@pytest.mark.unit
def test_abstention_metrics(outcomes):
    m = score(outcomes).metrics
    # answered not_covered: q2, q3, q4; should have: q4, q5; both: q4
    assert m["abstain_precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["abstain_recall"] == 0.5
    assert m["abstain_f1"] == pytest.approx(0.4, abs=1e-4)


@pytest.mark.unit
def test_wrong_yes_counts_answered_yeses_the_bank_does_not_accept(outcomes):
    assert score(outcomes).metrics["wrong_yes"] == 0  # no outcome says "yes"

    def answered(verdicts: list[str], said: str, band: str = "answer") -> Outcome:
        return Outcome(item("y", "glais", verdicts, [G1]), [G1], ["glais"], said, [G1], ["glais"], 1.0, band)

    wrong = [answered(["no"], "yes"), answered(["not_covered"], "yes"), answered(["info"], "yes")]
    fine = [
        answered(["yes"], "yes"),
        answered(["conditional", "no"], "yes"),  # the condition is missing, but the policy does allow it
        answered(["no"], "unsure", band="unsure"),
        answered(["no"], "yes", band="unsure"),  # an unsure answer shows no verdict
        answered(["yes"], "no"),
    ]
    assert score(wrong + fine).metrics["wrong_yes"] == 3


@pytest.mark.unit
def test_cross_school_citations_count_the_top_five_and_the_citations(outcomes):
    # q2's 2nd result and q5's citation are glais; q3's glais result is 6th, so not counted
    assert score(outcomes).metrics["cross_school_citations"] == 2


@pytest.mark.unit
def test_cited_length_and_latency_percentiles(outcomes):
    m = score(outcomes).metrics
    assert m["median_cited_chars"] == 60  # first citations of q1, q5, q6: 100, 40, 60 characters
    # latencies 100, 200, 300, 400, 500, 1000 ms, linear interpolation between ranks
    assert m["ask_p50_ms"] == 350.0
    assert m["ask_p95_ms"] == 875.0


@pytest.mark.unit
def test_per_school_rows_and_misses(outcomes):
    scores = score(outcomes)
    assert scores.per_school == {
        "beaudesert-park": {"questions": 1, "hit_at_1": 0.0, "recall_at_5": 0.0, "verdict_acc": 0.0},
        "glais": {"questions": 3, "hit_at_1": 1.0, "recall_at_5": 1.0, "verdict_acc": 1.0},
        "st-michaels": {"questions": 2, "hit_at_1": 0.0, "recall_at_5": 1.0, "verdict_acc": 0.0},
    }
    misses = {m["id"]: m for m in scores.misses}
    assert sorted(misses) == ["q2", "q3", "q5"]
    assert misses["q2"]["kinds"] == ["retrieval", "verdict"] and misses["q2"]["gold_rank"] == 3
    assert misses["q3"]["kinds"] == ["retrieval", "verdict"] and misses["q3"]["gold_rank"] == 6
    assert misses["q5"]["kinds"] == ["verdict"] and misses["q5"]["gold_rank"] is None
    assert misses["q5"]["expected_verdict"] == ["not_covered"] and misses["q5"]["verdict"] == "info"


@pytest.mark.unit
def test_a_bank_without_not_covered_items_has_no_abstention_scores():
    answered = [Outcome(item("a", "glais", ["no"], [G1]), [G1], ["glais"], "no", [G1], ["glais"], 10.0)]
    m = score(answered).metrics
    assert (m["abstain_precision"], m["abstain_recall"], m["abstain_f1"]) == (None, None, None)
    assert m["hit_at_1"] == m["verdict_acc"] == 1.0
    never = [Outcome(item("b", "glais", ["not_covered"]), [], [], "no", [G1], ["glais"], 10.0)]
    m = score(never).metrics
    assert (m["abstain_precision"], m["abstain_recall"], m["abstain_f1"]) == (None, 0.0, 0.0)
    assert m["hit_at_1"] is None and m["median_cited_chars"] == len(G1)


# --- gold matching ---------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "Staff must never add pupils as friends.",
        "STAFF MUST NEVER ADD PUPILS as friends",
        "Staff  must\n never\tadd pupils",
        "**Staff** must *never* add pupils",
        "## Staff must never add `pupils`",
        "Guidelines issued to staff: Staff must never add pupils or ex pupils",
    ],
)
def test_cites_gold_ignores_case_whitespace_and_markdown(text):
    assert cites_gold(text, ("staff must never add pupils",))


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "Staff must not add pupils as friends.",  # different words
        "Staff must never add",  # the citation holds only part of the quote
        "Staff must-never add pupils",  # punctuation is not normalised away
    ],
)
def test_cites_gold_needs_the_whole_quote(text):
    assert not cites_gold(text, ("Staff must never add pupils",))


@pytest.mark.unit
def test_cites_gold_accepts_any_of_several_quotes_and_none_for_no_quotes():
    assert cites_gold("Parents should not post malicious comments.", ("staff must never", "parents should NOT post"))
    assert not cites_gold("Parents should not post malicious comments.", ())


# --- reading banks ------------------------------------------------------------------------------

GOOD = {
    "id": "t1",
    "school": "glais",
    "audience": "staff",
    "question": "Can I add pupils as friends?",
    "verdict": ["no"],
    "gold": ["Staff must never add pupils"],
    "history": [],
}


@pytest.mark.unit
def test_load_bank_reads_every_field(tmp_path):
    bank = tmp_path / "bank.jsonl"
    follow_up = {**GOOD, "id": "t2", "question": "what about parents?", "history": ["Can I add pupils as friends?"]}
    no_history = {k: v for k, v in GOOD.items() if k != "history"} | {"id": "t3"}
    bank.write_text("\n".join(json.dumps(d) for d in (GOOD, follow_up)) + "\n\n" + json.dumps(no_history) + "\n", encoding="utf-8")
    items = load_bank(bank)
    assert [i.id for i in items] == ["t1", "t2", "t3"]
    assert items[0] == BankItem("t1", "glais", "staff", "Can I add pupils as friends?", ("no",), ("Staff must never add pupils",), ())
    assert items[1].history == ("Can I add pupils as friends?",)
    assert items[2].history == ()
    assert items[0].answerable and not items[0].expects_abstention


@pytest.mark.unit
@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ('{"id": "t9", "school": "glais"', "broken JSON"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "gold"} | {"id": "t9"}), "missing gold"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "question"} | {"id": "t9"}), "missing question"),
        (json.dumps(["t9", "glais"]), "not an object"),
        (json.dumps(GOOD | {"id": "t9", "verdict": "no"}), "verdict is a string, not a list"),
        (json.dumps(GOOD | {"id": "t9", "gold": "Staff must never add pupils"}), "gold is a string, not a list"),
        (json.dumps(GOOD | {"id": "t9", "verdict": ["maybe"]}), "unknown verdict"),
    ],
)
def test_load_bank_names_the_line_of_a_malformed_entry(tmp_path, bad, why):
    bank = tmp_path / "bank.jsonl"
    bank.write_text(json.dumps(GOOD) + "\n\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bank\.jsonl:3: "):
        load_bank(bank)


# --- python -m evals.run ------------------------------------------------------------------------

RUN_BANK = [
    {
        "id": "r1",
        "school": "glais",
        "audience": "staff",
        "question": "Can staff add pupils as friends on Facebook?",
        "verdict": ["no"],
        "gold": ["Staff must never add pupils or ex pupils under the age of 18 as friends"],
    },
    {
        "id": "r2",
        "school": "st-michaels",
        "audience": "parent",
        "question": "Can I post sports day videos?",
        "verdict": ["no", "conditional"],
        "gold": ["Parents must not, however, post photographs or video containing other children"],
    },
    {
        "id": "r3",
        "school": "st-michaels",
        "audience": "parent",
        "question": "what about if it's only my own child in the video?",
        "history": ["Can I post sports day videos?"],
        "verdict": ["yes", "conditional", "no"],
        "gold": ["Parents must not, however, post photographs or video containing other children"],
    },
    {
        "id": "r4",
        "school": "beaudesert-park",
        "audience": "pupil",
        "question": "Can I share my password with my best friend?",
        "verdict": ["no"],
        "gold": ["Never share a password with anyone"],
    },
    {
        "id": "r5",
        "school": "shirley-warren",
        "audience": "staff",
        "question": "Do I have to lock my computer screen when I leave it?",
        "verdict": ["yes"],
        "gold": ["You must lock computer screens when leaving them unattended"],
    },
    {
        "id": "r6",
        "school": "st-margarets",
        "audience": "parent",
        "question": "What are the lunch menu options?",
        "verdict": ["not_covered"],
        "gold": [],
    },
]
#: The top-level keys of a report as the gate reads it: those of the committed ``docs/eval/policy_bank.json``.
REPORT_KEYS = set(json.loads((ROOT / "docs" / "eval" / "policy_bank.json").read_text(encoding="utf-8")))


@pytest.mark.integration
def test_evals_run_writes_every_metric_for_a_small_bank(tmp_path, index_dir):
    bank = tmp_path / "six.jsonl"
    bank.write_text("".join(json.dumps(d) + "\n" for d in RUN_BANK), encoding="utf-8")
    out = tmp_path / "reports" / "six.json"

    code = run_main(["--bank", str(bank), "--json", str(out), "--no-baseline", "--index-dir", str(index_dir), "--corpus-dir", str(CORPUS)])

    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result) == REPORT_KEYS
    assert result["questions"] == 6 and result["answerable"] == 5
    assert set(result["per_school"]) == {"glais", "st-michaels", "beaudesert-park", "shirley-warren", "st-margarets"}
    assert result["per_school"]["st-michaels"]["questions"] == 2
    assert result["cross_school_citations"] == 0
    for key in ("hit_at_1", "recall_at_5", "answer_citation_acc", "verdict_acc"):
        assert 0.0 <= result[key] <= 1.0
    assert result["recall_at_5"] >= result["hit_at_1"]
    assert 0 < result["ask_p50_ms"] <= result["ask_p95_ms"]
    assert isinstance(result["median_cited_chars"], int | float) and result["median_cited_chars"] > 0
    assert isinstance(result["misses"], list)
    assert {m["id"] for m in result["misses"]} <= {d["id"] for d in RUN_BANK}
    assert result["bank"] == str(bank)
    assert not list(tmp_path.glob("**/*.png")), "--no-baseline draws no chart"
    # The printed report is written beside the JSON, so the two never disagree.
    text = out.with_suffix(".txt").read_text(encoding="utf-8")
    assert text.startswith(f"Bank: {bank} (6 questions, 5 answerable)")
    assert f"verdict_acc{result['verdict_acc']:>{10 + 24 - len('verdict_acc')}.3f}" in text
