"""The pair model for verdicts (issue 16): the question and the clause read together.

The shipped ONNX pair model, its tokenizer, its mixing with the verdict classifier at serving and
in training, and the fp16 storage of the shipped weights. Nothing here trains; one test exports
an untrained pair classifier to check the export against PyTorch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.index.units import embedding_text
from assistant.models import model_path, onnx_model_path
from assistant.onnx_encoder import EncoderExportError, OnnxSentenceEncoder, store_weights_fp16
from assistant.pair_verdict import PAIR_FILES, PairModelError, PairVerdictModel, mix_verdict_probabilities, softmax
from assistant.rerank import (
    VERDICT_CLASSES,
    Calibration,
    TrainedJudge,
    TrainedModelError,
    decide_band,
    pair_passage,
    pair_query,
    trained_dir,
    yes_agreed,
)
from assistant.retrieval import full_query
from assistant.verdict_features import rule_verdict
from training.data import TrainingItem
from training.train import PAIR_WEIGHTS, choose_pair_weight, set_verdicts

MANIFEST = json.loads((trained_dir() / "manifest.json").read_text(encoding="utf-8"))
PAIR_DIR = trained_dir() / "pair"


@pytest.fixture(scope="module")
def pair_model() -> PairVerdictModel:
    """The shipped pair model."""
    return PairVerdictModel(PAIR_DIR, threads=2)


# --- mixing ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_mixing_is_the_weighted_mean_of_the_two_distributions():
    classifier = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    pair = np.array([[0.1, 0.7, 0.1, 0.1], [0.0, 1.0, 0.0, 0.0]])
    mixed = mix_verdict_probabilities(classifier, pair, 0.75)
    assert mixed == pytest.approx(np.array([[0.25, 0.55, 0.1, 0.1], [0.0625, 0.8125, 0.0625, 0.0625]]))
    assert mixed.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert mix_verdict_probabilities(classifier, pair, 0.0) is classifier
    assert mix_verdict_probabilities(classifier, None, 0.5) is classifier
    with pytest.raises(ValueError, match=r"weight 1\.5 is outside \[0, 1\]"):
        mix_verdict_probabilities(classifier, pair, 1.5)
    with pytest.raises(ValueError, match=r"shape \(1, 4\) against the classifier's \(2, 4\)"):
        mix_verdict_probabilities(classifier, pair[:1], 0.5)
    assert softmax(np.array([[0.0, np.log(3.0)]])) == pytest.approx(np.array([[0.25, 0.75]]))


def _prediction(classifier: list[list[float]], pair: list[list[float]]) -> dict:
    """A `training.train.predict` row's distributions; the pair model read every row here."""
    return {"classifier_probabilities": classifier, "pair_probabilities": {str(n): p for n, p in enumerate(pair)}}


@pytest.mark.unit
def test_training_puts_the_mixed_verdicts_on_each_reread_clause_and_the_gold_one():
    # Rows: the reread clauses in order, then the gold clause (as `training.train.predict` stores them).
    pred = _prediction([[0.6, 0.4, 0, 0], [0, 0, 1, 0], [0.6, 0.4, 0, 0]], [[0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]])
    set_verdicts(pred, 0.0, has_gold=True)
    assert pred["verdicts"] == ["yes", "conditional"] and pred["verdict_gold"] == "yes"
    assert pred["verdict_probabilities"] == [0.6, 1.0]
    set_verdicts(pred, 0.5, has_gold=True)
    assert pred["verdicts"] == ["no", "conditional"] and pred["verdict_gold"] == "no"
    assert pred["verdict_probabilities"] == [pytest.approx(0.7), 1.0]
    # Without a gold clause every row is a reread clause.
    set_verdicts(pred, 0.5, has_gold=False)
    assert len(pred["verdicts"]) == 3 and pred["verdict_gold"] is None
    # A row the pair model did not read keeps the classifier's distribution.
    del pred["pair_probabilities"]["0"]
    set_verdicts(pred, 0.5, has_gold=True)
    assert pred["verdicts"] == ["yes", "conditional"] and pred["verdict_gold"] == "no"


@pytest.mark.unit
def test_training_chooses_the_pair_weight_with_the_best_held_out_verdicts_on_gold_clauses():
    base = TrainingItem("", "s", "parent", "q?", (), "direct", "yes", frozenset({"g"}), ("g",))
    yes, no = [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]
    unsure_yes, unsure_no = [0.4, 0.35, 0.25, 0.0], [0.35, 0.4, 0.25, 0.0]
    items, predictions = [], {}
    # The classifier is right where it is sure; the pair model is right where the classifier wavers.
    for n, (gold, classifier, pair) in enumerate(
        [("yes", yes, unsure_no), ("no", no, unsure_yes), ("no", unsure_yes, no), ("yes", unsure_no, yes), ("yes", unsure_no, yes)]
    ):
        item = TrainingItem(f"i-{n}", "s", "parent", "q?", (), "direct", gold, frozenset({"g"}), ("g",))
        items.append(item)
        predictions[item.id] = _prediction([classifier, classifier], [pair, pair])
    weight = choose_pair_weight(items, predictions)
    # The classifier alone gets two right, the pair model alone three; every weight from 0.05 to
    # 0.95 gets all five, and the smallest of them wins.
    assert weight == 0.05
    assert [predictions[i.id]["verdict_gold"] for i in items] == [i.verdict for i in items]
    # Predictions without the pair model's probabilities (models before it) keep the classifier alone.
    assert choose_pair_weight([base], {"": {"classifier_probabilities": [yes]}}) == 0.0


# --- fp16 storage --------------------------------------------------------------------------------


@pytest.mark.integration
def test_weights_stored_in_fp16_halve_the_file_and_keep_the_vectors(tmp_path):
    source = onnx_model_path("minilm")
    half = tmp_path / "model.onnx"
    shutil.copy(source, half)
    store_weights_fp16(half)
    assert half.stat().st_size < 0.55 * source.stat().st_size
    before = half.read_bytes()
    store_weights_fp16(half)  # already stored in fp16: left as it is
    assert half.read_bytes() == before
    folder = Path(model_path("minilm"))
    texts = ["can I post photos of the class trip?", "Staff must not use personal devices to photograph pupils."]
    full = OnnxSentenceEncoder(folder, source, 2).encode(texts)
    stored = OnnxSentenceEncoder(folder, half, 2).encode(texts)
    assert (full * stored).sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


@pytest.mark.unit
def test_a_file_that_is_not_an_onnx_model_is_named_in_the_error(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(EncoderExportError, match=r"model\.onnx is not a readable ONNX model"):
        store_weights_fp16(bad)
    assert bad.read_bytes() == b"not a model"  # nothing written over it


@pytest.mark.integration
def test_the_shipped_models_store_their_weights_in_fp16():
    import onnx

    for path in (trained_dir() / "encoder" / "model.onnx", PAIR_DIR / "model.onnx"):
        model = onnx.load(str(path))
        large = [i for i in model.graph.initializer if int(np.prod(i.dims)) >= 1024]
        assert large and all(i.data_type == onnx.TensorProto.FLOAT16 for i in large), path


# --- the exported model -------------------------------------------------------------------------


@pytest.mark.integration
def test_the_onnx_export_gives_the_probabilities_of_the_pytorch_model(tmp_path):
    # An untrained pair classifier (MiniLM and a seeded random head) through the same export as
    # `make train`'s: ONNX Runtime on the fp16-stored weights against PyTorch's fp32.
    import torch
    from transformers import AutoModel, AutoTokenizer

    from assistant.pair_verdict import TRUNCATION
    from training.pair_verdict import PAIR_MAX_LENGTH, export_pair_model, pair_classifier

    torch.manual_seed(0)
    base = model_path("minilm")
    tokenizer = AutoTokenizer.from_pretrained(base)
    head = torch.nn.Linear(384, len(VERDICT_CLASSES))
    torch.nn.init.normal_(head.weight, std=0.5)
    model = pair_classifier(AutoModel.from_pretrained(base), head).eval()
    export_pair_model(model, tokenizer, base, tmp_path / "pair")
    assert sorted(p.name for p in (tmp_path / "pair").iterdir()) == sorted(PAIR_FILES)
    queries = ["parent: can my son bring his phone?", "staff: can I accept a friend request from a parent? " * 8]
    passages = [
        "Mobile phones: pupils hand their phones to the teacher at the start of the day.",
        "Social media: " + "staff must not " * 60,
    ]
    x = tokenizer(queries, passages, truncation=TRUNCATION, max_length=PAIR_MAX_LENGTH, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = torch.softmax(model(x["input_ids"], x["attention_mask"], x["token_type_ids"]), -1).numpy()
    got = PairVerdictModel(tmp_path / "pair", 2).probabilities(queries, passages)
    assert got == pytest.approx(expected, abs=2e-3)
    assert expected.max(axis=1).min() < 0.99  # a head that does not saturate, so the check can fail


@pytest.mark.integration
def test_the_pair_tokenizer_cuts_and_marks_segments_as_training_did(pair_model):
    from transformers import AutoTokenizer

    from assistant.pair_verdict import TRUNCATION

    reference = AutoTokenizer.from_pretrained(model_path("minilm"))  # whose tokenizer.json the pair model ships
    pairs = [
        ("parent: is nutella ok in a packed lunch?", "Packed lunches: lunches must not contain nuts, including spreads."),
        ("staff: " + "a long preamble about my day " * 20 + "can I?", "Short clause."),
        ("pupil: can I?", "Clause " + "with many words " * 80),
    ]
    for question, clause in pairs:
        want = reference(question, clause, truncation=TRUNCATION, max_length=pair_model.max_length)
        got = pair_model._tokenizer.encode(question, clause)
        assert got.ids == want["input_ids"] and got.type_ids == want["token_type_ids"]
        assert len(got.ids) <= pair_model.max_length and got.type_ids[-1] == 1  # the clause is never cut away


@pytest.mark.integration
def test_the_shipped_pair_model_gives_a_distribution_over_the_four_verdicts(pair_model):
    assert pair_model.labels == list(VERDICT_CLASSES)
    probs = pair_model.probabilities(
        ["parent: can my child bring a phone?", "staff: can I use my own phone to take photos of pupils?"],
        ["Pupils may bring a phone if it is handed in at the office.", "Staff must not use personal phones to photograph pupils."],
    )
    assert probs.shape == (2, 4) and probs.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert probs.min() >= 0.0
    assert pair_model.probabilities([], []).shape == (0, 4)
    with pytest.raises(ValueError, match="2 queries for 1 passages"):
        pair_model.probabilities(["a", "b"], ["c"])


@pytest.mark.integration
def test_the_manifest_mixes_the_pair_model_at_a_weight_chosen_out_of_fold():
    settings = MANIFEST["settings"]
    assert 0.0 < settings["pair_verdict_weight"] <= 1.0
    assert settings["pair_verdict_weight"] in PAIR_WEIGHTS
    assert "pair" in settings["pair_model"] and "fp16" in settings["precision"]


# --- loading errors --------------------------------------------------------------------------------


def _trained_copy(tmp_path: Path) -> Path:
    """The shipped folder with symlinked models and copied settings, to damage one file at a time."""
    folder = tmp_path / "trained"
    folder.mkdir()
    for path in trained_dir().iterdir():
        if path.name == "pair":
            shutil.copytree(path, folder / "pair")
        elif path.is_dir():
            (folder / path.name).symlink_to(path, target_is_directory=True)
        else:
            shutil.copy(path, folder / path.name)
    return folder


@pytest.mark.integration
def test_a_missing_or_damaged_pair_model_is_a_clear_error(tmp_path):
    folder = _trained_copy(tmp_path)
    (folder / "pair" / "model.onnx").write_bytes(b"damaged")
    with pytest.raises(TrainedModelError, match=r"pair/model\.onnx cannot be loaded .*rebuild with `make train`"):
        TrainedJudge(folder)
    config = json.loads((folder / "pair" / "pair.json").read_text(encoding="utf-8"))
    (folder / "pair" / "pair.json").write_text(json.dumps({**config, "labels": ["yes", "no", "maybe", "info"]}), encoding="utf-8")
    with pytest.raises(TrainedModelError, match=r"labels .*'maybe'.* are not the verdict classes"):
        TrainedJudge(folder)
    shutil.rmtree(folder / "pair")
    with pytest.raises(PairModelError, match=r"pair: missing model\.onnx, tokenizer\.json, special_tokens_map\.json, pair\.json"):
        PairVerdictModel(folder / "pair")
    # The manifest mixes a pair model that is not there: an error, not a silent fallback.
    with pytest.raises(TrainedModelError, match=r"pair: missing model\.onnx, tokenizer\.json"):
        TrainedJudge(folder)


# --- serving --------------------------------------------------------------------------------------


@pytest.mark.integration
def test_an_answers_verdict_mixes_the_classifier_and_the_pair_model_at_the_manifests_weight(bot, pair_model):
    question, school, audience = "can I put photos of the class trip on my own instagram?", "st-margarets", "staff"
    evidence = bot.retrieve(question, school, audience, [])
    judgement = bot._rerank(evidence).judgement
    clause = judgement.candidates[0].clause
    judge = bot.judge
    q = judge.encoder.encode([pair_query(question, [], audience)])
    c = judge.encoder.encode([pair_passage(clause)])
    general = (
        np.asarray(bot.embeddings.embed_documents([full_query(Assistant.plan(question, [], audience)).text]), dtype=np.float32),
        np.asarray(bot.embeddings.embed_documents([embedding_text(clause)]), dtype=np.float32),
    )
    classifier = judge.classifier_probabilities(q, c, [rule_verdict(question, [], audience, clause.display_text)], general)[0]
    pair = pair_model.probabilities([pair_query(question, [], audience)], [pair_passage(clause)])[0]
    weight = MANIFEST["settings"]["pair_verdict_weight"]
    mixed = weight * pair + (1 - weight) * classifier
    assert judgement.verdict == VERDICT_CLASSES[int(mixed.argmax())]
    assert judgement.verdict_probability == pytest.approx(float(mixed.max()), abs=1e-4)
    # The pair model moved the probability: serving reads it, not the classifier alone.
    assert judgement.verdict_probability != pytest.approx(float(classifier.max()), abs=1e-4)


# --- a "yes" needs every reader ----------------------------------------------------------------


@pytest.mark.unit
def test_a_yes_needs_the_classifier_the_pair_model_and_the_rules_to_allow_it():
    assert yes_agreed("yes", "yes", "yes") and yes_agreed("yes", "yes", "conditional") and yes_agreed("yes", None, "info")
    assert not yes_agreed("no", "yes", "yes")  # the classifier reads "no"
    assert not yes_agreed("yes", "conditional", "yes")  # the pair model does not read "yes"
    assert not yes_agreed("yes", "yes", "no")  # the rules read "no"
    data = json.loads((trained_dir() / "calibration.json").read_text(encoding="utf-8"))
    assert data["yes_needs_agreement"] is True
    cal = Calibration.from_json(data)
    sure = max(cal.yes_threshold, cal.answer_threshold) + 0.01
    assert cal.answers(sure, "yes", agreed=True) and not cal.answers(sure, "yes", agreed=False)
    assert cal.answers(sure, "no", agreed=False)  # only a "yes" needs agreement
    assert decide_band(cal, sure, "yes", False, "floor_and_confidence", 0.99, agreed=False) == "unsure"
    assert decide_band(cal, sure, "yes", False, "floor_and_confidence", 0.99, agreed=True) == "answer"
    # Calibrations from before the rule read it as off.
    older = Calibration.from_json({k: v for k, v in data.items() if k != "yes_needs_agreement"})
    assert older.answers(sure, "yes", agreed=False)


@pytest.mark.integration
def test_a_yes_that_the_rules_read_as_no_is_not_answered(bot, pair_model):
    # The policy: "The school accepts no responsibility for loss or damage of pupil's phones."
    # Both models lean to "yes" on this wording (is the school responsible?); the rules read the
    # clause's "no". Before the agreement rule this was a confident "yes" (0.86).
    question, school, audience = "Is the school responsible if my child's phone gets broken?", "st-michaels", "parent"
    answer = bot.ask(question, school=school, audience=audience)
    assert answer.verdict != "yes" and answer.band != "answer", answer
    assert answer.citations and "accepts no responsibility" in answer.citations[0].text
    judgement = bot._rerank(bot.retrieve(question, school, audience, [])).judgement
    assert judgement.verdict == "yes" and judgement.confidence >= bot.judge.calibration.yes_threshold  # what the rule holds back
    assert rule_verdict(question, [], audience, judgement.candidates[0].clause.display_text) == "no"


@pytest.mark.integration
@pytest.mark.xfail(
    strict=True,
    reason="issue 16 open: since the pair model for verdicts (2026-11-29) a plain prohibition asked about with a time"
    " or place ('while at school', 'into the classroom') is often read 'conditional' (pair model 0.60 here); out of fold"
    " 'no' read 'conditional' fell overall (179 -> 160), but the training questions label many such pairs conditional",
)
def test_a_plain_prohibition_asked_with_a_time_or_place_is_a_no(bot):
    answer = bot.ask("Can my child use social media while at school?", school="beaudesert-park", audience="parent")
    assert "Pupils are not allowed to access social networking sites whilst at school" in answer.citations[0].text
    assert answer.verdict == "no", answer
