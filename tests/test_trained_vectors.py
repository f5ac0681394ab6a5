"""The trained encoder's clause vectors, stored at ingest (`assistant.trained_vectors`).

Ingest encodes every clause with the trained stage's encoder and stores the vectors with the
generation, so serving rereads a school's clauses without encoding them. Checked on real
ingests of the bundled corpus with the committed models.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.config import get_settings
from assistant.index import build_index, current_generation, read_manifest_dict
from assistant.rerank import TrainedJudge, pair_passage, shared_judge
from assistant.trained_vectors import (
    clause_vectors,
    decode_record,
    encode_record,
    passage_key,
    trained_vectors_file,
)
from assistant.types import Clause

ROOT = Path(__file__).resolve().parents[1]


def _one_school_corpus(tmp_path: Path, school: str) -> Path:
    """A copy of the bundled corpus holding only ``school`` (a quicker ingest)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus" / school, corpus / school)
    return corpus


def _clause(clause_id: str, text: str, section: str = "Photographs") -> Clause:
    return Clause(
        clause_id=clause_id,
        school="hillside",
        document="photos",
        document_title="Photography policy",
        section=section,
        position=1,
        text=text,
        lead_in="",
        start=0,
        end=len(text),
    )


@pytest.mark.unit
def test_a_record_gives_back_each_clauses_vector_and_passage_key():
    clauses = [_clause("a", "Staff must not use personal phones."), _clause("b", "Parents may film the nativity.")]
    vectors = np.array([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    record = json.loads(encode_record("sha256:x", clauses, vectors))
    assert record["dimension"] == 3
    assert record["clauses"] == [["a", passage_key(clauses[0])], ["b", passage_key(clauses[1])]]
    # six little-endian float32s, row after row
    assert base64.b64decode(record["vectors"]) == np.array([0.6, 0.8, 0.0, 0.0, 0.0, 1.0], dtype="<f4").tobytes()
    decoded = decode_record(json.dumps(record), "sha256:x")
    assert decoded.keys() == {"a", "b"}
    assert decoded["b"][1].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.unit
def test_a_record_made_by_another_encoder_or_for_changed_text_is_not_used():
    clauses = [_clause("a", "Staff must not use personal phones.")]
    text = encode_record("sha256:old", clauses, np.ones((1, 4)))
    assert clause_vectors(text, "sha256:new", clauses) == {}
    edited = [_clause("a", "Staff may use personal phones in the staffroom.")]
    assert clause_vectors(text, "sha256:old", edited) == {}
    assert clause_vectors(text, "sha256:old", clauses)["a"].tolist() == [1.0, 1.0, 1.0, 1.0]


@pytest.mark.unit
def test_the_passage_key_follows_the_text_the_encoder_reads():
    plain = _clause("a", "Pupils hand their phones to the teacher.")
    assert passage_key(plain) == passage_key(_clause("other-id", "Pupils hand their phones to the teacher."))
    assert passage_key(plain) != passage_key(_clause("a", "Pupils hand their phones to the teacher.", section="Mobile phones"))


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        '{"encoder": "e", "dimension": 3, "clauses": [["a", "k"]], "vectors": "AAAA"}',  # 3 bytes: not one float32
        '{"encoder": "e", "dimension": 2, "clauses": [["a", "k"]], "vectors": "not base64!"}',
    ],
)
def test_a_damaged_record_is_a_value_error(text):
    with pytest.raises(ValueError):
        decode_record(text, "e")


@pytest.mark.integration
def test_ingest_stores_the_trained_vector_of_every_clause_and_serving_encodes_none(tmp_path):
    index_dir = tmp_path / "index"
    build_index(ROOT / "corpus", index_dir)
    judge = shared_judge()
    generation = current_generation(index_dir)
    assert read_manifest_dict(generation)["trained_vectors"] == judge.encoder_id
    bot = Assistant.load(index_dir)
    clauses = bot.clauses("st-michaels")
    stored = decode_record((generation / trained_vectors_file("st-michaels")).read_text(encoding="utf-8"), judge.encoder_id)
    assert set(stored) == {c.clause_id for c in clauses}
    sample = clauses[:5]
    fresh = judge.encoder.encode([pair_passage(c) for c in sample])
    np.testing.assert_allclose(np.stack([stored[c.clause_id][1] for c in sample]), fresh, atol=1e-4)

    encoded: list[list[str]] = []
    encode = judge.encoder.encode
    judge.encoder.encode = lambda texts, **kw: encoded.append(list(texts)) or encode(texts, **kw)
    judge._clause_vectors.clear()
    try:
        answer = bot.ask("Can my child bring a mobile phone to school?", "st-michaels", "parent")
    finally:
        judge.encoder.encode = encode
    assert encoded == [["parent: Can my child bring a mobile phone to school?"]]  # the question alone
    assert answer.band in ("answer", "unsure", "not_covered")
    assert answer.confidence is not None


@pytest.mark.integration
def test_answers_are_the_same_with_and_without_stored_vectors_and_a_damaged_record_only_costs_time(tmp_path, caplog):
    corpus = _one_school_corpus(tmp_path, "glais")
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir)
    questions = [
        ("Can staff use their own phones to take photos of pupils?", "staff"),
        ("Is it ok to message a pupil on social media?", "staff"),
        ("Where can I park my car at pick-up time?", "parent"),
    ]
    with_stored = Assistant.load(index_dir)
    assert with_stored.retriever.school("glais").trained
    expected = [with_stored.ask(q, "glais", who) for q, who in questions]

    record = current_generation(index_dir) / trained_vectors_file("glais")
    record.write_text(record.read_text(encoding="utf-8")[:100], encoding="utf-8")  # truncated
    shared_judge()._clause_vectors.clear()
    damaged = Assistant.load(index_dir)
    got = [damaged.ask(q, "glais", who) for q, who in questions]
    assert "glais's stored clause vectors are not used" in caplog.text
    assert damaged.retriever.school("glais").trained == {}
    for want, have in zip(expected, got, strict=True):
        assert (have.band, have.verdict, [c.clause_id for c in have.citations]) == (
            want.band,
            want.verdict,
            [c.clause_id for c in want.citations],
        )
        assert have.confidence == pytest.approx(want.confidence, abs=1e-3)


@pytest.mark.integration
def test_a_retrained_encoder_makes_re_ingest_rebuild_the_vectors_even_when_no_document_changed(tmp_path, monkeypatch):
    corpus = _one_school_corpus(tmp_path, "st-michaels")
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir)
    first = current_generation(index_dir)
    assert not build_index(corpus, index_dir).changed  # same documents, same encoder: nothing to do

    judge = shared_judge()
    monkeypatch.setattr(judge, "_encoder_id", "sha256:" + "0" * 32)  # as after `make train`
    report = build_index(corpus, index_dir)
    assert report.changed and report.embedded == 0  # the general encoders' vectors are copied
    second = current_generation(index_dir)
    assert second.name != first.name
    assert read_manifest_dict(second)["trained_vectors"] == "sha256:" + "0" * 32
    record = json.loads((second / trained_vectors_file("st-michaels")).read_text(encoding="utf-8"))
    assert record["encoder"] == "sha256:" + "0" * 32


@pytest.mark.integration
def test_with_the_trained_stage_off_ingest_stores_no_vectors(tmp_path, monkeypatch):
    corpus = _one_school_corpus(tmp_path, "st-michaels")
    monkeypatch.setenv("ASSISTANT_RERANK", "false")
    # Read the settings again now: a thread left by an earlier test (a served app) may have
    # cached them between conftest's clearing and this setenv (seen once in `make test`).
    get_settings.cache_clear()
    build_index(corpus, tmp_path / "index")
    generation = current_generation(tmp_path / "index")
    assert "trained_vectors" not in read_manifest_dict(generation)
    assert not (generation / "trained-vectors").exists()


@pytest.mark.integration
def test_a_judge_with_other_weights_encodes_the_clauses_itself(bot, monkeypatch):
    """Leave-schools-out evaluation swaps each fold's judge into one assistant: the vectors
    ingest stored with the shipped encoder must not be scored by another encoder."""
    assert bot.retriever.school("glais").stored_vectors(bot.judge)  # the shipped judge reads them
    fold = TrainedJudge()
    monkeypatch.setattr(fold, "_encoder_id", "sha256:" + "1" * 32)
    monkeypatch.setattr(bot, "judge", fold)
    assert bot.retriever.school("glais").stored_vectors(fold) is None
    encoded: list[int] = []
    encode = fold.encoder.encode
    monkeypatch.setattr(fold.encoder, "encode", lambda texts, **kw: encoded.append(len(texts)) or encode(texts, **kw))
    bot.ask("Can staff use their own phones to take photos of pupils?", "glais", "staff")
    # The question, then every clause of the school: the in-domain channel scores them all.
    assert encoded == [1, len(bot.clauses("glais"))]


@pytest.mark.integration
def test_a_fresh_index_folder_of_the_same_policies_takes_the_vectors_from_the_embedding_cache(tmp_path, monkeypatch):
    corpus = _one_school_corpus(tmp_path, "st-michaels")
    build_index(corpus, tmp_path / "first")
    judge = shared_judge()
    encoded: list[int] = []
    encode = judge.encoder.encode
    monkeypatch.setattr(judge.encoder, "encode", lambda texts, **kw: encoded.append(len(texts)) or encode(texts, **kw))
    build_index(corpus, tmp_path / "second")
    assert encoded == []
    first, second = (current_generation(tmp_path / name) / trained_vectors_file("st-michaels") for name in ("first", "second"))
    assert json.loads(first.read_text(encoding="utf-8"))["vectors"] == json.loads(second.read_text(encoding="utf-8"))["vectors"]
