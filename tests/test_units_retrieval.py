"""Exact values of the retrieval and rereading arithmetic, worked by hand from each definition.

No model, no index: `standardise` and `fuse` (assistant/retrieval.py), the query texts a
question is searched with (`role_query`, `expand_query`, `is_follow_up`, `query_plan`) and
the trained stage's pure functions (`rank_prior`, `fused_relevance`, `top_share`,
`pair_query`, `pair_passage` in assistant/rerank.py). Each expected value is written out
with its working, never computed by the function under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from assistant.rerank import fused_relevance, pair_passage, pair_query, rank_prior, top_share
from assistant.retrieval import PlannedQuery, QueryScores, expand_query, fuse, is_follow_up, query_plan, role_query, standardise
from assistant.types import Clause

pytestmark = pytest.mark.unit


def clause(clause_id: str, start: int, audiences: tuple[str, ...] = ("everyone",), **fields) -> Clause:
    """A clause of school "s", document "d", with only what a test looks at set."""
    values = {"section": "", "text": f"Rule {clause_id}.", "lead_in": ""} | fields
    return Clause("s", "d", "D", values["section"], 1, clause_id, values["text"], values["lead_in"], start, start + 10, audiences)


# --- standardise: z-scores over one school's clauses ----------------------------------------


def test_standardise_uses_the_population_standard_deviation():
    # [2, 4]: mean 3, population sd sqrt(((2-3)² + (4-3)²) / 2) = 1 → [-1, 1]
    # (the sample sd, sqrt(2), would give ±0.707).
    assert standardise(np.array([2.0, 4.0])).tolist() == pytest.approx([-1.0, 1.0])


def test_standardise_of_four_evenly_spaced_scores():
    # [1, 2, 3, 4]: mean 2.5, sd sqrt((2.25 + 0.25 + 0.25 + 2.25) / 4) = sqrt(5)/2
    # → (x - 2.5) / (sqrt(5)/2) = [-3, -1, 1, 3] / sqrt(5)
    root5 = math.sqrt(5)
    assert standardise(np.array([1.0, 2.0, 3.0, 4.0])).tolist() == pytest.approx([-3 / root5, -1 / root5, 1 / root5, 3 / root5])


def test_standardise_of_equal_scores_is_all_zeros_not_nan():
    assert standardise(np.array([0.7, 0.7, 0.7])).tolist() == [0.0, 0.0, 0.0]


# --- fuse: weighted z-scores, audience boost, ties by position ---------------------------------


def test_fuse_adds_one_fifth_of_the_lexical_z_score_to_the_dense_one():
    clauses = [clause("a", 0), clause("b", 10), clause("c", 20)]
    # dense [0.2, 0.4, 0.6]: mean 0.4, sd sqrt(0.08/3) → z = [-sqrt(1.5), 0, sqrt(1.5)] = [-1.224745, 0, 1.224745]
    # lexical [3, 0, 0]: mean 1, sd sqrt(6/3) = sqrt(2) → z = [2, -1, -1] / sqrt(2) = [1.414214, -0.707107, -0.707107]
    # score = 1.0·dense_z + 0.2·lexical_z = [-0.941902, -0.141421, 1.083324]
    scores = QueryScores(dense=np.array([0.2, 0.4, 0.6]), lexical=np.array([3.0, 0.0, 0.0]))
    fused = fuse(clauses, [scores], audience=None)
    assert [c.clause.clause_id for c in fused] == ["c", "b", "a"]
    assert [c.score for c in fused] == pytest.approx([1.083324, -0.141421, -0.941902], abs=1e-6)
    assert [c.dense for c in fused] == pytest.approx([0.6, 0.4, 0.2])
    assert [c.lexical for c in fused] == [0.0, 0.0, 3.0]


def test_fuse_boosts_clauses_for_the_askers_audience_or_everyone_and_breaks_ties_by_position():
    clauses = [clause("staff-only", 30, ("staff",)), clause("parents", 10, ("parent",)), clause("all", 20, ("everyone",))]
    flat = QueryScores(dense=np.array([0.5, 0.5, 0.5]), lexical=np.array([1.0, 1.0, 1.0]))  # every z-score 0
    # No audience: all score 0, so document order (start 10, 20, 30).
    plain = fuse(clauses, [flat], audience=None)
    assert [(c.clause.clause_id, c.score) for c in plain] == [("parents", 0.0), ("all", 0.0), ("staff-only", 0.0)]
    # A parent: +0.15 for "parent" and for "everyone", nothing for "staff".
    boosted = fuse(clauses, [flat], audience="parent")
    assert [c.clause.clause_id for c in boosted] == ["parents", "all", "staff-only"]
    assert [c.score for c in boosted] == pytest.approx([0.15, 0.15, 0.0])
    # Staff: only the staff clause and the one for everyone are boosted; the parents' clause drops to last.
    assert [c.clause.clause_id for c in fuse(clauses, [flat], audience="staff")] == ["all", "staff-only", "parents"]


def test_fuse_averages_query_texts_by_weight_and_keeps_each_clauses_best_raw_scores():
    clauses = [clause("a", 0), clause("b", 10), clause("c", 20)]
    zero = np.zeros(3)
    # query 1 (weight 0.5): dense z = [-1.224745, 0, 1.224745]; query 2 (weight 1.0): dense z reversed.
    # (0.5·[-1.224745, 0, 1.224745] + 1.0·[1.224745, 0, -1.224745]) / 1.5 = [0.408248, 0, -0.408248]
    first = QueryScores(dense=np.array([0.2, 0.4, 0.6]), lexical=zero, weight=0.5)
    second = QueryScores(dense=np.array([0.6, 0.4, 0.2]), lexical=zero, weight=1.0)
    fused = fuse(clauses, [first, second], audience=None)
    assert [c.clause.clause_id for c in fused] == ["a", "b", "c"]
    assert [c.score for c in fused] == pytest.approx([0.408248, 0.0, -0.408248], abs=1e-6)
    # dense on a candidate is the best over the two texts: max(0.2, 0.6), max(0.4, 0.4), max(0.6, 0.2)
    assert [c.dense for c in fused] == pytest.approx([0.6, 0.4, 0.6])


# --- the query texts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "audience", "expected"),
    [
        ("Can I go on social media at school?", "pupil", "Can pupils go on social media at school?"),
        ("Can I post my photos of the play?", "parent", "Can parents post their photos of the play?"),
        ("Can the office email me or call us?", "parent", "Can the office email parents or call parents?"),
        ("Should we lock our laptops?", "staff", "Should staff lock their laptops?"),
        ("May I sign in myself?", "visitor", "May visitors sign in visitors?"),
        ("Can I go on social media at school?", None, "Can I go on social media at school?"),
        ("Can I go on social media at school?", "everyone", "Can I go on social media at school?"),
        # contractions: the verb they hold is spelt out (it used to give "parents'm")
        ("I'm a governor, can I visit?", "governor", "governors are a governor, can governors visit?"),
        ("We've got photos, can we post them?", "staff", "staff have got photos, can staff post them?"),
        ("I’d like my son to bring his phone", "parent", "parents would like their son to bring his phone"),
        ("I'll be late, who do I tell?", "pupil", "pupils will be late, who do pupils tell?"),
    ],
)
def test_role_query_puts_the_askers_role_for_the_first_person(question, audience, expected):
    assert role_query(question, audience) == expected


def test_role_query_leaves_words_that_only_contain_a_pronoun():
    # "Mystery", "Item", "music", "Weekly" hold "my", "I", "us", "we" inside a word: no change.
    question = "Can the Mystery Item from music appear in the Weekly news?"
    assert role_query(question, "parent") == question


def test_expand_query_appends_the_policy_words_for_everyday_words_in_order():
    # words: can, i, put, pics, on, insta → "pics" and "insta" are in QUERY_EXPANSIONS, in that order.
    assert expand_query("Can I put pics on Insta?") == "Can I put pics on Insta? photographs images instagram social media networking"
    assert expand_query("Where is the office?") == "Where is the office?"


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        ("and what about videos?", True),  # starts with "and"
        ("What about videos?", True),  # starts with "what about"
        ("Can I bring it?", True),  # four words, with "it"
        ("Can I share my password with my best friend?", False),  # nine words, no leaning word
        ("Can Andrew bring his phone?", False),  # "Andrew" is not "and"
        # eighteen words: too long to lean on the chat, although it says "it"
        ("Can staff members use their own personal mobile phones to photograph pupils when it is a trip day?", False),
    ],
)
def test_is_follow_up(question, follow_up):
    assert is_follow_up(question) is follow_up


def test_query_plan_without_history_is_the_question_alone():
    assert query_plan("Can I post photos?", None) == [PlannedQuery("Can I post photos?", 1.0, False)]
    assert query_plan("Can I post photos?", []) == [PlannedQuery("Can I post photos?", 1.0, False)]


def test_query_plan_of_a_follow_up_leans_on_the_previous_question():
    # FOLLOW_UP_WEIGHTS = (0.5, 1.0): the bare question weighs less, so it is the light one.
    assert query_plan("and videos?", ["Where are photos kept?", "Can I post photos?"]) == [
        PlannedQuery("and videos?", 0.5, True),
        PlannedQuery("Can I post photos? and videos?", 1.0, False),
    ]


def test_query_plan_of_a_new_topic_leans_on_the_question_itself():
    # NEW_TOPIC_WEIGHTS = (1.0, 0.35): the question read with the last one is the light one.
    question = "Can I share my password with my best friend?"
    assert query_plan(question, ["Can I post photos?"]) == [
        PlannedQuery(question, 1.0, False),
        PlannedQuery(f"Can I post photos? {question}", 0.35, True),
    ]


# --- the trained stage's arithmetic ------------------------------------------------------------


def test_rank_prior_is_the_dcg_discount():
    # -log2(1 + rank): -log2(1) = 0, -log2(2) = -1, -log2(3) = -1.5849625, -log2(4) = -2, -log2(8) = -3
    assert rank_prior(np.array([0, 1, 2, 3, 7])).tolist() == pytest.approx([0.0, -1.0, -1.5849625, -2.0, -3.0])


def test_fused_relevance_adds_the_weighted_discount_in_retrieval_order():
    # [1, 1, 1] + 0.5·[0, -1, -1.5849625] = [1, 0.5, 0.2075187]
    assert fused_relevance(np.array([1.0, 1.0, 1.0]), 0.5).tolist() == pytest.approx([1.0, 0.5, 0.2075187])
    assert fused_relevance(np.array([0.3, 0.9]), 0.0).tolist() == pytest.approx([0.3, 0.9])


def test_top_share_is_the_softmax_share_of_the_best_score():
    # scale 20 · [0.05, 0] = [1, 0] → e / (e + 1) = 2.7182818 / 3.7182818 = 0.7310586
    assert top_share(np.array([0.05, 0.0])) == pytest.approx(0.7310586)
    # scale 10 · [0.1, 0] = [1, 0]: the same share
    assert top_share(np.array([0.1, 0.0]), scale=10.0) == pytest.approx(0.7310586)
    assert top_share(np.array([0.4, 0.4])) == pytest.approx(0.5)
    assert top_share(np.array([0.4])) == pytest.approx(1.0)


def test_top_share_of_large_scores_does_not_overflow():
    # 20 · [100, 99] = [2000, 1980]: e^2000 overflows, but the share is 1 / (1 + e^-20) = 0.999999998
    share = top_share(np.array([100.0, 99.0]))
    assert share == pytest.approx(1 / (1 + math.exp(-20)), abs=1e-12)


def test_pair_query_puts_the_role_first_and_the_previous_question_before_a_follow_up():
    history = ["Where are photos kept?", "can pupils use phones on trips?"]
    assert pair_query("and on the coach?", history, "pupil") == "pupil: can pupils use phones on trips? … and on the coach?"
    assert pair_query("Can I share my password with my best friend?", history, "staff") == (
        "staff: Can I share my password with my best friend?"
    )
    assert pair_query("and on the coach?", None, None) == "someone: and on the coach?"


def test_pair_passage_is_the_last_two_headings_then_the_clause_with_its_lead_in():
    deep = clause("a", 0, section="Online safety › Photographs › Storage", lead_in="Staff must:", text="lock screens.")
    assert pair_passage(deep) == "Photographs › Storage: Staff must: lock screens."
    assert pair_passage(clause("b", 0, section="Trips", text="Phones stay at home.")) == "Trips: Phones stay at home."
    assert pair_passage(clause("c", 0, text="Phones stay at home.")) == "Phones stay at home."
