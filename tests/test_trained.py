"""The trained stage (issue 16): committed training data, shipped models, calibration, bands.

Runs the committed ONNX models on the real index of the bundled corpus; nothing here trains.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_helpers import create_app

from assistant import Assistant
from assistant.answering import compose_answer
from assistant.config import get_settings
from assistant.index.units import embedding_text
from assistant.rerank import (
    CONFIDENCE_SIGNALS,
    VERDICT_CLASSES,
    Calibration,
    Judgement,
    TrainedJudge,
    TrainedModelError,
    confidence_signals,
    decide_band,
    fuse_in_domain,
    fused_relevance,
    pair_passage,
    pair_query,
    top_share,
    trained_dir,
)
from assistant.retrieval import Candidate, Evidence, full_query, query_plan
from assistant.verdict_features import RULE_SLOTS, general_features, relevance_features, rule_verdict, verdict_features
from assistant.web.settings import WebSettings
from training import verify
from training.confidence_curve import precision_at_coverage
from training.data import QUESTIONS, TRAINING_CORPUS, TrainingItem, _hashed_bytes, data_hash, read_questions
from training.train import FOLD_SAMPLE, fold_head_items, fold_training_items, staged

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((trained_dir() / "manifest.json").read_text(encoding="utf-8"))

# --- the committed training data ----------------------------------------------------------


@pytest.mark.unit
def test_the_committed_training_data_is_what_the_shipped_models_were_trained_on():
    # Editing a training question or policy without `make train` leaves models that no longer
    # match their data: the manifest's hash says so.
    assert data_hash() == MANIFEST["data_sha256"], "training data changed since the models were trained: run `make train`"


@pytest.mark.unit
def test_the_data_hash_reads_a_school_toml_as_the_models_do(tmp_path):
    """Contacts, example questions and comments are no input of the models; a document's title is."""
    path = tmp_path / "school.toml"
    base = 'name = "A School"\n[documents.p]\ntitle = "Phones"\n'
    path.write_text(base)
    before = _hashed_bytes(path)
    path.write_text("# a comment\n" + base + '[contacts.office]\nemail = "o@a.example"\n[[examples]]\nsurface = "chat"\nquestion = "Q?"\n')
    assert _hashed_bytes(path) == before
    path.write_text(base.replace("Phones", "Mobile phones"))
    assert _hashed_bytes(path) != before


@pytest.mark.unit
def test_every_gold_quote_lies_inside_one_clause_and_no_question_comes_from_an_evaluation_bank(capsys):
    assert verify.main([]) == 0, capsys.readouterr().out[-3000:]


@pytest.mark.unit
def test_the_training_corpus_is_as_large_and_varied_as_the_issue_asks():
    rows = read_questions()
    policies = [p for p in TRAINING_CORPUS.glob("*/*") if p.suffix in {".md", ".txt", ".docx", ".pdf", ".html"}]
    verdicts = Counter(r["verdict"][0] for r in rows)
    assert len(policies) >= 10
    assert len(rows) >= 4000
    assert verdicts["not_covered"] / len(rows) >= 0.20
    assert all(verdicts[v] >= 300 for v in VERDICT_CLASSES), verdicts
    assert all(r["gold"] for r in rows if r["verdict"] != ["not_covered"])
    assert {p.stem for p in QUESTIONS.glob("*.jsonl")} >= {"glais", "st-michaels", "st-margarets", "beaudesert-park", "shirley-warren"}


# --- the shipped models ----------------------------------------------------------------------


@pytest.mark.unit
def test_the_shipped_models_fit_the_size_budget_and_name_their_provenance():
    total = sum(p.stat().st_size for p in trained_dir().rglob("*") if p.is_file())
    assert total <= 100 * 1024 * 1024
    assert MANIFEST["seed"] and "all-MiniLM-L6-v2" in MANIFEST["base_model"]
    assert MANIFEST["settings"]["verdict_source"] in {"classifier", "rules"}
    assert set(MANIFEST["out_of_fold_metrics"]) >= {"hit_at_1", "confident_precision", "coverage", "abstain_f1"}


@pytest.mark.unit
def test_the_calibration_is_a_non_decreasing_probability_with_ordered_bands():
    cal = Calibration.load(trained_dir() / "calibration.json")
    probabilities = [cal.probability(x) for x in np.linspace(-12, 12, 97)]
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(probabilities))
    assert 0.0 <= cal.covered_threshold <= cal.answer_threshold <= cal.yes_threshold <= 1.0
    assert cal.band(cal.answer_threshold, "no") == "answer"
    assert cal.band(cal.covered_threshold, "info") in {"unsure", "answer"}
    assert cal.band(-0.01, "no") == "not_covered" or cal.covered_threshold == 0.0


@pytest.mark.unit
def test_a_yes_needs_more_confidence_than_another_verdict():
    cal = Calibration.load(trained_dir() / "calibration.json")
    # Chow's reject rule with a wrong "yes" costed at three times an "unsure" (training.evaluate.YES_MIN_PROBABILITY).
    assert cal.yes_threshold == pytest.approx(max(cal.answer_threshold, 2 / 3))
    between = (cal.answer_threshold + cal.yes_threshold) / 2
    assert cal.band(between, "no") == cal.band(between, "conditional") == cal.band(between, "info") == "answer"
    assert cal.band(between, "yes") == "unsure"
    assert cal.band(cal.yes_threshold, "yes") == "answer"
    data = json.loads((trained_dir() / "calibration.json").read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match=r"yes_threshold .* is below answer_threshold"):
        Calibration.from_json({**data, "yes_threshold": data["answer_threshold"] - 0.01})


@pytest.mark.unit
def test_a_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(TrainedModelError, match=r"model\.onnx is missing"):
        TrainedJudge(tmp_path)


@pytest.mark.unit
def test_the_verdict_features_are_the_pair_vectors_and_a_one_hot_of_the_rules_verdict():
    q = np.array([[1.0, 2.0], [0.5, 0.0]], dtype=np.float32)
    c = np.array([[3.0, 1.0], [2.0, 4.0]], dtype=np.float32)
    features = verdict_features(q, c, ["no", "info"])
    assert features.shape == (2, 3 * 2 + len(RULE_SLOTS))
    assert features[0, :6].tolist() == [1.0, 2.0, 3.0, 1.0, 3.0, 2.0]
    assert features[0, 6:].tolist() == [float(slot == "no") for slot in RULE_SLOTS]
    assert features[1, 6:].tolist() == [float(slot == "info") for slot in RULE_SLOTS]
    with pytest.raises(ValueError, match=r"'unsure'"):
        verdict_features(q, c, ["no", "unsure"])
    with pytest.raises(ValueError, match="2 questions, 2 clauses and 1 rule verdicts"):
        verdict_features(q, c, ["no"])


@pytest.mark.integration
def test_a_verdict_classifier_without_the_rule_slots_is_a_clear_error(tmp_path):
    (tmp_path / "encoder").symlink_to(trained_dir() / "encoder", target_is_directory=True)
    shipped = json.loads((trained_dir() / "verdict.json").read_text(encoding="utf-8"))
    old = {**shipped, "coef": [row[: -len(RULE_SLOTS)] for row in shipped["coef"]]}  # the vectors' features only
    (tmp_path / "verdict.json").write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(TrainedModelError, match=r"rule slots .*rebuild with `make train`"):
        TrainedJudge(tmp_path, calibrated=False)


@pytest.mark.integration
def test_a_general_view_that_does_not_fit_its_vectors_is_a_clear_error(tmp_path):
    (tmp_path / "encoder").symlink_to(trained_dir() / "encoder", target_is_directory=True)
    shipped = json.loads((trained_dir() / "verdict.json").read_text(encoding="utf-8"))
    wrong = {**shipped, "general": {**shipped["general"], "dimension": 384}}  # as if fitted on MiniLM alone
    (tmp_path / "verdict.json").write_text(json.dumps(wrong), encoding="utf-8")
    with pytest.raises(TrainedModelError, match=r"384-d general vectors .*rebuild with `make train`"):
        TrainedJudge(tmp_path, calibrated=False)


@pytest.mark.integration
def test_the_shipped_classifier_leans_towards_the_rules_verdict():
    # The rules' one-hot carries signal the classifier learned: a "no" from the rules raises "no"
    # against "yes" more than a "yes" from the rules does, and the other way round.
    verdict = json.loads((trained_dir() / "verdict.json").read_text(encoding="utf-8"))
    coef = np.asarray(verdict["coef"])[:, -len(RULE_SLOTS) :]
    row = {label: coef[n] for n, label in enumerate(verdict["labels"])}
    slot = {v: RULE_SLOTS.index(v) for v in RULE_SLOTS}
    for said, other in (("no", "yes"), ("yes", "no"), ("info", "yes"), ("conditional", "yes")):
        lean_when_said = row[said][slot[said]] - row[other][slot[said]]
        lean_when_other = row[said][slot[other]] - row[other][slot[other]]
        assert lean_when_said > lean_when_other, (said, other)


def _judged_with_vectors(bot, question: str, school: str, audience: str) -> tuple[Evidence, Judgement, np.ndarray, np.ndarray]:
    """The retriever's evidence, the trained stage's judgement as `ask` makes it, and the question's
    and cited clause's vectors (1 × d each)."""
    evidence = bot.retrieve(question, school, audience)
    judgement = bot._rerank(evidence).judgement
    q = bot.judge.encoder.encode([pair_query(question, [], audience)])
    c = bot.judge.encoder.encode([pair_passage(judgement.candidates[0].clause)])
    return evidence, judgement, q, c


def _general_pair(bot, question: str, history: list[str], audience: str, clause) -> tuple[np.ndarray, np.ndarray]:
    """The general view of (question, clause) as `training.train.general_view` builds it: the
    embeddings run afresh on the plan's full query and on the clause's embedded text."""
    q = bot.embeddings.embed_documents([full_query(Assistant.plan(question, history, audience)).text])
    c = bot.embeddings.embed_documents([embedding_text(clause)])
    return np.asarray(q, dtype=np.float32), np.asarray(c, dtype=np.float32)


@pytest.mark.integration
def test_an_answer_judges_its_verdict_from_the_same_features_training_used(bot):
    # Serving and `make train` must build the classifier's input the same way: the pair's
    # vectors, the rules' verdict on the cited clause for the question as asked, and the general
    # embeddings' vectors of the question as retrieval embedded it and of the clause as stored.
    question, audience = "can I put photos of the class trip on my own instagram?", "staff"
    _, judgement, q, c = _judged_with_vectors(bot, question, "st-margarets", audience)
    assert judgement.general_view
    clause = judgement.candidates[0].clause
    rules = rule_verdict(question, [], audience, clause.display_text)
    texts = ([pair_query(question, [], audience)], [pair_passage(clause)])  # the pair model's input (test_pair_verdict.py)
    verdicts, probabilities = bot.judge.verdicts_of(q, c, [rules], _general_pair(bot, question, [], audience, clause), texts)
    assert verdicts == [judgement.verdict]
    assert probabilities[0] == pytest.approx(judgement.verdict_probability, abs=1e-4)
    # Without the general view the other classifier reads: another probability.
    assert bot.judge.verdicts_of(q, c, [rules], None, texts)[1][0] != pytest.approx(judgement.verdict_probability, abs=1e-4)


@pytest.mark.integration
def test_a_follow_ups_general_view_is_the_question_read_after_the_last_one(bot):
    # A follow-up's full query is the previous question and this one (`query_plan`), as training reads it.
    history, question, audience = ["can parents take photos at sports day?"], "and videos?", "parent"
    evidence = bot.retrieve(question, "st-michaels", audience, history)
    judgement = bot._rerank(evidence).judgement
    clause = judgement.candidates[0].clause
    served_q, served_c = bot.retriever.general_vectors(evidence.plan, [clause])
    q, c = _general_pair(bot, question, history, audience, clause)
    assert full_query(evidence.plan).text.endswith(question) and full_query(evidence.plan).text != question
    assert np.allclose(served_q, q[0], atol=1e-5) and np.allclose(served_c, c, atol=1e-5)


@pytest.mark.integration
def test_the_general_view_is_read_only_with_the_embeddings_it_was_fitted_on(bot, monkeypatch):
    verdict = json.loads((trained_dir() / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["general"]["embeddings"] == bot.embeddings.model_id == bot.judge.general_embeddings
    # A question the policy covers ("hand them to their teacher"), so that the answer can stand.
    question, audience = "is my daughter allowed to bring her phone into school?", "parent"
    monkeypatch.setattr(bot.judge, "general_embeddings", "minilm:1")  # as if the index were embedded otherwise
    evidence = bot.retrieve(question, "st-michaels", audience)
    assert not bot._rerank(evidence).judgement.general_view
    monkeypatch.undo()
    # A store that lost the clause's vector: the classifier reads without the view, the answer stands.
    monkeypatch.setattr(type(bot.retriever), "stored_clause_vectors", lambda self, clauses: None)
    judgement = bot._rerank(evidence).judgement
    assert not judgement.general_view and judgement.band in ("answer", "unsure")


@pytest.mark.unit
def test_the_general_features_are_the_vectors_and_their_product():
    q = np.array([[1.0, 2.0]], dtype=np.float32)
    c = np.array([[3.0, 1.0]], dtype=np.float32)
    assert general_features(q, c).tolist() == [[1.0, 2.0, 3.0, 1.0, 3.0, 2.0]]
    with pytest.raises(ValueError, match=r"do not pair up"):
        general_features(q, np.ones((2, 2), dtype=np.float32))


@pytest.mark.unit
def test_every_plan_has_a_query_embedded_by_every_model():
    assert full_query(query_plan("can I?", [])).text == "can I?"
    assert full_query(query_plan("and videos?", ["can I post photos?"])).text == "can I post photos? and videos?"
    assert full_query(query_plan("where are the toilets kept?", ["can I post photos?"])).text == "where are the toilets kept?"
    with pytest.raises(ValueError, match="no query embedded by every model"):
        full_query([])


@pytest.mark.integration
def test_the_confidence_reads_the_signals_training_calibrated(bot):
    # The four signals are computed at serving as `training.evaluate` computes them for the
    # calibration: the reread clauses' top share, the verdict's probability, whether the hybrid
    # retriever alone (before the trained stage) ranked the cited clause first too, and the
    # relevance head's reading of the pair.
    judge = bot.judge
    question = "is my daughter allowed to bring her phone on the residential trip?"
    evidence, judgement, q, c = _judged_with_vectors(bot, question, "st-michaels", "parent")
    top = judgement.candidates[0].clause
    signals = confidence_signals(
        top_share(np.array([x.score for x in judgement.candidates[: judge.depth]])),
        judgement.verdict_probability,
        top.clause_id == evidence.candidates[0].clause.clause_id,
        float(judge.relevance_of(q, c)[0]),
    )
    cal = judge.calibration
    assert judgement.confidence == pytest.approx(cal.probability(cal.score(signals)))


@pytest.mark.unit
def test_the_relevance_features_are_the_full_pair_features():
    q = np.array([[1.0, 2.0]], dtype=np.float32)
    c = np.array([[3.0, 1.0]], dtype=np.float32)
    assert relevance_features(q, c).tolist() == [[1.0, 2.0, 3.0, 1.0, 3.0, 2.0, 2.0, 1.0]]
    with pytest.raises(ValueError, match=r"do not pair up"):
        relevance_features(q, np.ones((2, 2), dtype=np.float32))


@pytest.mark.unit
def test_the_confidence_signals_are_log_odds_and_the_retrievers_agreement():
    signals = confidence_signals(0.5, 0.8, True, 1.0)
    assert signals[0] == pytest.approx(0.0)
    assert signals[1] == pytest.approx(np.log(4.0))
    assert signals[2] == 1.0
    assert signals[3] == pytest.approx(np.log((1 - 1e-4) / 1e-4))  # clipped, never infinite
    assert confidence_signals(0.5, 0.8, False, 0.5)[2] == 0.0


@pytest.mark.unit
def test_the_shipped_confidence_counts_every_signal_as_evidence_of_a_right_answer():
    # Held-out schools' answers were right more often when the best clause stood out, the
    # verdict was sure, the retriever agreed and the relevance head said the clause answers:
    # a weight of the wrong sign would mean the calibration learned noise.
    cal = Calibration.load(trained_dir() / "calibration.json")
    assert all(w > 0 for w in cal.weights), dict(zip(CONFIDENCE_SIGNALS, cal.weights, strict=True))
    low, high = cal.score(confidence_signals(0.3, 0.4, False, 0.2)), cal.score(confidence_signals(0.9, 0.95, True, 0.9))
    assert cal.probability(low) < cal.probability(high)


@pytest.mark.integration
def test_an_older_calibration_or_a_missing_relevance_head_is_a_clear_error(tmp_path):
    shipped = json.loads((trained_dir() / "calibration.json").read_text(encoding="utf-8"))
    old = {k: v for k, v in shipped.items() if k not in {"signals", "weights", "bias"}}  # top_share alone
    (tmp_path / "calibration.json").write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(TrainedModelError, match=r"calibration\.json is missing or malformed .*'signals'"):
        Calibration.load(tmp_path / "calibration.json")
    one_threshold = {k: v for k, v in shipped.items() if k != "yes_threshold"}  # before "yes" had its own
    (tmp_path / "calibration.json").write_text(json.dumps(one_threshold), encoding="utf-8")
    with pytest.raises(TrainedModelError, match=r"calibration\.json is missing or malformed .*'yes_threshold'"):
        Calibration.load(tmp_path / "calibration.json")
    no_near_miss = {k: v for k, v in shipped.items() if k != "not_covered"}  # before the near-miss model
    (tmp_path / "calibration.json").write_text(json.dumps(no_near_miss), encoding="utf-8")
    with pytest.raises(TrainedModelError, match=r"calibration\.json is missing or malformed .*'not_covered'"):
        Calibration.load(tmp_path / "calibration.json")
    (tmp_path / "encoder").symlink_to(trained_dir() / "encoder", target_is_directory=True)
    (tmp_path / "verdict.json").write_text((trained_dir() / "verdict.json").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(TrainedModelError, match=r"relevance\.json cannot be read .*rebuild with `make train`"):
        TrainedJudge(tmp_path, calibrated=False)


@pytest.mark.integration
def test_the_relevance_head_prefers_the_clause_that_answers_to_one_on_the_same_topic(bot):
    judge = bot.judge
    clauses = bot.clauses("st-michaels")
    phones = next(c for c in clauses if "hand them to their teacher" in c.display_text)
    consent = next(c for c in clauses if "consent" in c.display_text.lower() and "photo" in c.display_text.lower())
    q = judge.encoder.encode([pair_query("does my son have to hand his phone in when he gets to school?", [], "parent")])
    c = judge.encoder.encode([pair_passage(phones), pair_passage(consent)])
    relevance = judge.relevance_of(np.repeat(q, 2, axis=0), c)
    assert relevance[0] > 5 * relevance[1]  # measured 2026-11-28: 0.30 against 0.034


@pytest.mark.integration
def test_the_reranker_puts_the_clause_that_answers_above_those_that_only_share_words(bot):
    judge = bot.judge
    clauses = bot.clauses("st-michaels")
    phones = next(c for c in clauses if "hand them to their teacher" in c.display_text)
    others = [c for c in clauses if c is not phones]
    # The clause that answers comes last of the clauses the stage rereads, after ones on other rules.
    candidates = [Candidate(c, 0.0, 0.0, 0.0) for c in [*others[: judge.depth - 1], phones, *others[judge.depth :]]]
    reranked = judge.rerank("does my son have to hand his phone in when he gets to school?", [], "parent", candidates)
    assert reranked[0].clause is phones


@pytest.mark.unit
def test_the_in_domain_channel_adds_the_z_scored_cosines_at_its_weight():
    retrieval = np.array([2.0, 1.0, 0.0, -1.0])
    cosines = np.array([0.1, 0.3, 0.5, 0.7])  # mean 0.4, population s.d. √0.05
    z = (cosines - 0.4) / np.sqrt(0.05)
    assert fuse_in_domain(retrieval, cosines, 1.0) == pytest.approx(retrieval + z)
    assert fuse_in_domain(retrieval, cosines, 0.5) == pytest.approx(retrieval + 0.5 * z)
    assert fuse_in_domain(retrieval, cosines, 0.0).tolist() == retrieval.tolist()  # weight 0: the retriever's scores
    assert fuse_in_domain(np.array([1.5]), np.array([0.9]), 1.0).tolist() == [1.5]  # one clause: nothing to compare
    assert fuse_in_domain(retrieval, np.full(4, 0.3), 1.0).tolist() == retrieval.tolist()  # equal cosines say nothing


@pytest.mark.integration
def test_the_in_domain_channel_brings_a_clause_the_retriever_ranked_low_into_the_reread_clauses(bot):
    judge = TrainedJudge()
    assert judge.fusion_weight == MANIFEST["settings"]["trained_fusion_weight"] > 0
    clauses = bot.clauses("st-michaels")
    phones = next(c for c in clauses if "hand them to their teacher" in c.display_text)
    others = [c for c in clauses if c is not phones]
    # The retriever ranked the clause that answers last, a little below the others (z-score units).
    candidates = [Candidate(c, -0.01 * n, 0.0, 0.0) for n, c in enumerate([*others, phones])]
    question = "does my son have to hand his phone in when he gets to school?"
    assert phones in [c.clause for c in judge.rerank(question, [], "parent", candidates)[: judge.depth]]
    judge.fusion_weight = 0.0  # the retriever's order alone: the stage never rereads it
    assert judge.rerank(question, [], "parent", candidates)[-1].clause is phones


@pytest.mark.integration
def test_training_scores_the_stage_on_the_order_serving_gives_it(index_dir, bot, tmp_path, monkeypatch):
    """`make train` mines the retriever's scores and adds the fold encoder's channel as serving does,
    so the depth, prior weight and calibration it chooses fit the order the served stage rereads."""
    from training import data as training_data
    from training.train import TRAINED_FUSION_WEIGHT, clause_texts, predict

    row = {
        "id": "t-1",
        "school": "st-michaels",
        "audience": "parent",
        "question": "does my son have to hand his phone in when he gets to school?",
        "verdict": ["yes"],
        "gold": ["hand them to their teacher"],
        "history": [],
        "kind": "direct",
    }
    monkeypatch.setattr(training_data, "read_questions", lambda: [row])
    monkeypatch.setattr(training_data, "WORK", tmp_path)  # its own mining cache
    monkeypatch.setenv("ASSISTANT_RERANK", "false")  # mining sets it; restored after the test
    (item,) = training_data.mine(index_dir, tmp_path / "mined.jsonl")
    assert training_data.read_mined(tmp_path / "mined.jsonl") == [item]
    school = [c.clause_id for c in bot.clauses("st-michaels")]
    assert sorted(item.pool_ids) == sorted(school) and item.ranked_ids == item.pool_ids[: training_data.MINED_DEPTH]
    assert list(item.pool_scores) == sorted(item.pool_scores, reverse=True)
    (prediction,) = predict(trained_dir(), [item], clause_texts(index_dir))
    judge = bot.judge
    assert judge.fusion_weight == TRAINED_FUSION_WEIGHT
    served = [c.clause_id for c in bot.search(row["question"], "st-michaels", "parent", k=12)]
    # The served stage rereads the first `depth` of the channel's order; the rest keep it.
    assert set(served[: judge.depth]) == set(prediction["ranked_ids"][: judge.depth])
    assert served[judge.depth :] == prediction["ranked_ids"][judge.depth : 12]
    assert prediction["ranked_ids"] != list(item.ranked_ids)  # the channel moved something
    # The pair model read the gold clause (the last row) and the clause the served stage puts first.
    top = int(np.argmax(fused_relevance(np.array(prediction["logits"][: judge.depth]), judge.prior_weight)))
    assert {str(len(prediction["logits"])), str(top)} <= set(prediction["pair_probabilities"])
    assert prediction["ranked_ids"][top] == served[0]


@pytest.mark.unit
def test_held_out_questions_are_scored_in_the_order_the_in_domain_channel_gave_them():
    item = TrainingItem("x-1", "x", "parent", "q?", (), "direct", "yes", frozenset({"b"}), ("a", "b", "c"))
    other = dataclasses.replace(item, id="x-2")
    staged_items = staged([item, other], {"x-1": {"ranked_ids": ["b", "a", "c"]}, "x-2": {"logits": [0.1]}})
    assert staged_items[0].ranked_ids == ("b", "a", "c") and staged_items[0].gold_ids == item.gold_ids
    assert staged_items[1] is other  # a prediction from before the channel keeps the retriever's order


@pytest.mark.unit
def test_a_fold_trains_its_heads_on_every_other_school_and_its_encoder_on_a_sample_of_them():
    base = TrainingItem("", "", "parent", "q?", (), "direct", "yes", frozenset({"b"}), ("a", "b"))
    items = [dataclasses.replace(base, id=f"{s}-{n}", school=s) for s in ("p", "q", "r") for n in range(50)]
    heads = fold_head_items(items, {"q"})
    assert {i.school for i in heads} == {"p", "r"} and len(heads) == 100
    encoder = fold_training_items(items, {"q"}, 0)
    assert len(encoder) == round(FOLD_SAMPLE * 100) and {i.id for i in encoder} <= {i.id for i in heads}
    assert encoder == fold_training_items(items, {"q"}, 0)  # seeded: make train reproduces it


@pytest.mark.unit
def test_the_top_share_is_the_best_scores_softmax_share_at_the_losss_scale():
    # softmax(20·[0.6, 0.5, 0.5]) = e^2 / (e^2 + 2) for the first
    assert top_share(np.array([0.6, 0.5, 0.5])) == pytest.approx(np.exp(2) / (np.exp(2) + 2))
    assert top_share(np.array([0.3, 0.3, 0.3, 0.3])) == pytest.approx(0.25)
    assert top_share(np.array([0.2, 0.9])) == top_share(np.array([0.9, 0.2]))  # position does not matter, only the gap


@pytest.mark.integration
def test_the_floor_decides_not_covered_and_the_confidence_answer_or_unsure(bot):
    judge = bot.judge
    candidates = [Candidate(c, 1.0, 0.6, 1.0) for c in bot.clauses("st-michaels")]
    question = "Do pupils have to hand their mobile phones to the teacher when they arrive?"
    shipped = judge.calibration
    real = dataclasses.replace(shipped, not_covered_threshold=1.01)  # the near-miss model set aside: its own test below
    try:
        judge.calibration = dataclasses.replace(real, answer_threshold=0.0, covered_threshold=0.0, yes_threshold=0.0)
        assert judge.judge(question, [], "parent", candidates).band == "answer"
        assert judge.judge(question, [], "parent", candidates, outside=True).band == "not_covered"
        judge.calibration = dataclasses.replace(real, answer_threshold=1.01, covered_threshold=0.0, yes_threshold=1.01)
        assert judge.judge(question, [], "parent", candidates).band == "unsure"
        # A "yes" below its own threshold is unsure, though any other verdict would be answered.
        judge.calibration = dataclasses.replace(real, answer_threshold=0.0, covered_threshold=0.0, yes_threshold=1.01)
        judgement = judge.judge(question, [], "parent", candidates)
        assert judgement.verdict == "yes" and judgement.band == "unsure"
    finally:
        judge.calibration = shipped


@pytest.mark.integration
def test_the_near_miss_model_reads_the_best_relevance_of_the_reread_clauses(bot):
    """The near-miss model's P(not covered) is the calibration's of the relevance head's highest
    probability among the clauses the stage rereads, and at its threshold the band is not
    covered though the similarity floor let the question through."""
    judge = bot.judge
    candidates = [Candidate(c, 1.0, 0.6, 1.0) for c in bot.clauses("st-michaels")]
    question = "Do pupils have to hand their mobile phones to the teacher when they arrive?"
    judgement = judge.judge(question, [], "parent", candidates)
    reread = [c.clause for c in judgement.candidates[: judge.depth]]
    query = judge.encoder.encode([pair_query(question, [], "parent")])
    vectors = judge.encoder.encode([pair_passage(c) for c in reread])
    relevance = judge.relevance_of(np.repeat(query, len(vectors), axis=0), vectors)
    expected = judge.calibration.not_covered_probability(float(relevance.max()))
    assert judgement.not_covered_probability == pytest.approx(expected, abs=1e-4)
    real = judge.calibration
    try:
        judge.calibration = dataclasses.replace(real, answer_threshold=0.0, yes_threshold=0.0, not_covered_threshold=expected - 1e-3)
        assert judge.judge(question, [], "parent", candidates).band == "not_covered"
        judge.calibration = dataclasses.replace(real, answer_threshold=0.0, yes_threshold=0.0, not_covered_threshold=expected + 1e-3)
        assert judge.judge(question, [], "parent", candidates).band == "answer"
    finally:
        judge.calibration = real


@pytest.mark.unit
def test_the_shipped_near_miss_model_reads_less_relevance_as_more_likely_not_covered():
    from training.evaluate import NOT_COVERED_MIN_PROBABILITY

    cal = Calibration.load(trained_dir() / "calibration.json")
    assert cal.not_covered_weight < 0  # fitted out of fold: a weight of the other sign would be noise
    assert cal.not_covered_threshold == NOT_COVERED_MIN_PROBABILITY
    probabilities = [cal.not_covered_probability(r) for r in np.linspace(0.0, 1.0, 41)]
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert all(a >= b for a, b in itertools.pairwise(probabilities))
    assert probabilities[0] > cal.not_covered_threshold > probabilities[-1]
    # The floor still decides on its own, and "calibrated" bands do not read the near-miss model.
    assert decide_band(cal, 1.0, "no", False, "floor_and_confidence", 1.0) == "answer"
    assert decide_band(cal, 1.0, "no", False, "floor_and_confidence", 0.0) == "not_covered"
    assert decide_band(cal, 1.0, "no", True, "floor_and_confidence", 1.0) == "not_covered"
    assert decide_band(cal, 1.0, "no", False, "calibrated", 0.0) == "answer"


@pytest.mark.unit
def test_training_fits_the_near_miss_model_on_what_the_floor_lets_through():
    """`fit_calibration` learns P(not covered) from the reread clauses' best relevance, on the
    questions the similarity floor lets through, and its abstention counts what the model turns away."""
    from training.evaluate import NOT_COVERED_MIN_PROBABILITY, fit_calibration
    from training.train import ClauseText

    rng = np.random.default_rng(7)
    items, predictions = [], {}
    for n in range(400):
        covered, outside = n % 4 != 0, n % 20 == 1
        ranked = tuple(f"c{n}-{k}" for k in range(6))
        item = TrainingItem(f"i{n}", "s", "parent", "q?", (), "direct", "no", frozenset({ranked[0]} if covered else ()), ranked, outside)
        best = rng.uniform(0.45, 0.95) if covered else rng.uniform(0.02, 0.55)
        predictions[item.id] = {
            "logits": [0.7, 0.5, 0.45, 0.4, 0.3, 0.2],
            "verdicts": ["no" if rng.random() < 0.7 else "yes"] + ["no"] * 5,
            "verdict_probabilities": [rng.uniform(0.3, 0.9)] + [0.5] * 5,
            "relevance": [best * 0.8, best, best * 0.5, best * 0.3, 0.99, 0.99],  # beyond the depth: not read
        }
        items.append(item)
    # A "yes" answer's clause is read by the rules (`training.evaluate._yes_agreed`).
    texts = {c: ClauseText("s", "Pupils may use it.", "Pupils may use it.") for i in items for c in i.ranked_ids}
    calibration, metrics = fit_calibration(items, predictions, texts, (4, 0.0), 0.95)
    near_miss = calibration["not_covered"]
    assert near_miss["signal"] == "best_relevance" and near_miss["threshold"] == NOT_COVERED_MIN_PROBABILITY
    assert near_miss["weight"] < 0
    fitted = Calibration.from_json(calibration)
    assert fitted.not_covered_probability(0.1) > NOT_COVERED_MIN_PROBABILITY > fitted.not_covered_probability(0.9)
    # The floor alone would catch 5 of the 100 not-covered questions (F1 < 0.1).
    assert metrics["abstain_f1"] > 0.6


@pytest.mark.integration
def test_clause_vectors_are_kept_so_a_second_question_encodes_only_itself(bot):
    judge = TrainedJudge()
    candidates = [Candidate(c, 0.0, 0.0, 0.0) for c in bot.clauses("st-michaels")]
    encoded: list[list[str]] = []
    encode = judge.encoder.encode
    judge.encoder.encode = lambda texts, **kw: encoded.append(texts) or encode(texts, **kw)
    judge.rerank("can my son bring his phone?", [], "parent", candidates)
    # The question, then every clause of the school: the in-domain channel scores them all.
    assert [len(texts) for texts in encoded] == [1, len(candidates)]
    judge.rerank("is he allowed his phone on the coach?", [], "parent", candidates)
    assert encoded[-1] == ["parent: is he allowed his phone on the coach?"]


@pytest.mark.unit
def test_the_final_score_adds_the_retrievers_rank_as_a_dcg_discount():
    scores = fused_relevance(np.array([0.5, 0.6, 0.4, 0.9]), 0.1)
    assert scores.round(4).tolist() == [0.5, 0.5, 0.2415, 0.7]  # 0.6 - 0.1·log2(2), 0.4 - 0.1·log2(3), 0.9 - 0.1·log2(4)
    assert fused_relevance(np.array([0.2, 0.3]), 0.0).tolist() == [0.2, 0.3]


@pytest.mark.unit
def test_a_follow_up_is_read_with_the_question_before_it_and_a_new_question_alone():
    assert (
        pair_query("and on the coach?", ["can pupils use phones on trips?"], "parent")
        == "parent: can pupils use phones on trips? … and on the coach?"
    )
    assert pair_query("What time does the school close on Friday?", ["can pupils use phones on trips?"], None) == (
        "someone: What time does the school close on Friday?"
    )


# --- bands in answers ------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("school", ["glais", "st-michaels", "shirley-warren"])
def test_an_off_topic_question_is_not_covered_with_a_low_confidence(bot, school):
    answer = bot.ask("What are the arrangements for the Christmas lunch menu and the price of a school dinner?", school, "parent")
    assert answer.band == "not_covered" and answer.verdict == "not_covered"
    assert answer.citations == []
    assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0


@pytest.mark.integration
def test_earlier_questions_on_topic_do_not_rescue_an_off_topic_one(bot):
    # A strict xfail until 2026-11-29: the floor lets this near miss through and the reranker was
    # sure of a clause sharing its words ('leave unattended in vehicles'); the near-miss model
    # refitted on 17 schools now turns it away (P(not covered) 0.63).
    history = ["Can I post photos of my child's sports day on Facebook?", "What about videos of the nativity?"]
    answer = bot.ask("Where can I park my car at pick-up time?", "glais", "parent", history)
    assert answer.band != "answer", answer


@pytest.mark.integration
def test_a_question_the_policy_answers_plainly_is_answered_confidently_with_its_clause(bot):
    answer = bot.ask("Do pupils have to hand their mobile phones to the teacher when they arrive?", "st-michaels", "parent")
    assert answer.band == "answer" and answer.verdict in {"yes", "info"}
    assert "hand them to their teacher" in answer.citations[0].text
    assert bot.judge.calibration.answers(answer.confidence, answer.verdict)
    # A strict xfail from 2026-11-28 (a "yes" below the 2/3 threshold, 0.58) until the pair model
    # for verdicts came (2026-11-29): the mixed verdict's confidence clears the threshold.


def _judged(bot, band: str) -> tuple[list[Candidate], Evidence]:
    """Six Glais clauses as the trained stage's reading in ``band`` (confidence 0.5, verdict "yes")."""
    candidates = [Candidate(c, 1.0, 0.5, 1.0) for c in bot.clauses("glais")[:6]]
    judgement = Judgement(candidates, 0.5, band, "yes", 0.9)
    return candidates, Evidence("can I?", "glais", None, [], query_plan("can I?", []), candidates, band == "not_covered", judgement)


@pytest.mark.integration
def test_an_unsure_answer_shows_the_three_likeliest_clauses_and_no_verdict(bot):
    candidates, evidence = _judged(bot, "unsure")
    answer = compose_answer(evidence, "Glais", {})
    assert answer.verdict == "unsure" and answer.band == "unsure"
    assert [c.clause_id for c in answer.citations] == [c.clause.clause_id for c in candidates[:3]]
    assert "not certain" in answer.text and answer.confidence == 0.5


@pytest.mark.integration
def test_a_not_covered_band_cites_nothing_and_hands_over_to_the_office(bot):
    _, evidence = _judged(bot, "not_covered")
    answer = compose_answer(evidence, "Glais", {})
    assert answer.verdict == "not_covered" and answer.citations == [] and "school office" in answer.text


@pytest.mark.integration
def test_the_classifier_verdict_is_used_only_when_training_chose_it(bot):
    _, evidence = _judged(bot, "answer")
    chosen = compose_answer(evidence, "Glais", {})
    expected_source = MANIFEST["settings"]["verdict_source"]
    assert (chosen.verdict == "yes") or expected_source == "rules"
    assert len(chosen.citations) == 1 and chosen.band == "answer"


@pytest.mark.integration
def test_the_api_returns_band_and_confidence(index_dir, bot):
    app = create_app(WebSettings(index_dir=index_dir, reload_interval=0), assistant=bot)
    with TestClient(app) as client:
        body = client.post("/api/ask", json={"question": "Is the school dinner menu changing next term?", "school": "glais"}).json()
        assert body["band"] == "not_covered"
        assert isinstance(body["confidence"], float) and 0.0 <= body["confidence"] <= 1.0
        page = client.get("/widget?school=glais")
        assert "data-bands=" in page.text and "Not certain" in page.text


@pytest.mark.integration
def test_with_the_trained_stage_off_answers_carry_no_confidence(index_dir, monkeypatch):
    monkeypatch.setenv("ASSISTANT_RERANK", "false")
    # Read the settings again now: a thread left by an earlier test (a served app) may have
    # cached them between conftest's clearing and this setenv (seen once in `make test`).
    get_settings.cache_clear()
    plain = Assistant.load(index_dir)
    assert plain.judge is None
    answer = plain.ask("Can I post sports day videos?", "glais", "parent")
    assert answer.confidence is None and answer.band in {"answer", "not_covered"}


@pytest.mark.unit
def test_the_band_line_names_the_band_and_calls_the_figure_a_confidence():
    from assistant.web.render import confidence_text

    assert confidence_text("answer", 0.27) == "Answered from the policy · confidence 27%"
    assert confidence_text("unsure", 0.104) == "Not certain: check these parts of the policy · confidence 10%"
    assert confidence_text("not_covered", 0.9) == "Not in the school's policies"
    assert confidence_text("answer", None) == "Answered from the policy"


@pytest.mark.integration
def test_a_safeguarding_message_without_a_clause_shows_no_clause_confidence(bot):
    from assistant.answering import with_handover
    from assistant.contacts import NO_CONTACTS

    question = "What are the arrangements for the Christmas lunch menu and the price of a school dinner?"
    answer = bot.ask(question, "glais", "parent")
    assert answer.band == "not_covered" and answer.confidence is not None
    flagged = with_handover(answer, question, NO_CONTACTS, safeguarding=True)
    assert (flagged.band, flagged.verdict, flagged.confidence, flagged.safeguarding) == ("answer", "info", None, True)
    from assistant.web.render import answer_html

    assert "Safeguarding: please contact the school now" in answer_html(flagged, "Glais")
    assert "Answered from the policy" not in answer_html(flagged, "Glais")


@pytest.mark.unit
def test_precision_at_coverage_takes_the_most_confident_answers_until_enough_answerable_ones():
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    right = np.array([True, False, False, True, False])
    answerable = np.array([True, False, True, True, True])  # the second is a near miss: never right
    assert precision_at_coverage(confidence, right, answerable, 0.5) == pytest.approx(1 / 3)  # 2 of 4 answerable: 3 answers
    assert precision_at_coverage(confidence, right, answerable, 0.25) == 1.0
    assert precision_at_coverage(confidence, right, answerable, 1.0) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="no answerable"):
        precision_at_coverage(confidence, right, np.zeros(5, dtype=bool), 0.5)
