"""The ONNX Runtime encoder gives the vectors, and so the citations, of sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.embedding import EnsembleEmbeddings, shared_embeddings
from assistant.index import read_clauses

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def torch_embeddings() -> EnsembleEmbeddings:
    return EnsembleEmbeddings(backend="torch")


@pytest.mark.integration
def test_default_backend_is_onnx():
    assert shared_embeddings().backend == "onnx"


@pytest.mark.integration
def test_onnx_vectors_equal_sentence_transformers_on_policy_text(bot, torch_embeddings):
    clauses = [c.text for c in read_clauses(bot.generation)[:60]]
    questions = [json.loads(line)["question"] for line in (ROOT / "evals/banks/starter.jsonl").open()][:20]
    for texts in (clauses, questions):
        # _embed skips the persistent cache, which holds one vector per text for both backends.
        onnx = shared_embeddings()._embed(texts)
        reference = torch_embeddings._embed(texts)
        assert onnx.shape == reference.shape
        assert (onnx * reference).sum(axis=1).min() > 0.9999


@pytest.mark.integration
def test_switching_backend_keeps_every_citation(bot, torch_embeddings):
    """An IT lead can run either backend: the same question cites the same clauses."""
    torch_bot = Assistant(bot.generation, embeddings=torch_embeddings)
    bank = [json.loads(line) for line in (ROOT / "evals/banks/starter.jsonl").open()][:15]
    for item in bank:
        ours = [c.clause_id for c in bot.search(item["question"], item["school"], item.get("audience"), k=3)]
        theirs = [c.clause_id for c in torch_bot.search(item["question"], item["school"], item.get("audience"), k=3)]
        assert ours == theirs, item["question"]


@pytest.mark.unit
def test_unknown_backend_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown embedding backend 'gpu'"):
        EnsembleEmbeddings(backend="gpu")


@pytest.mark.integration
def test_a_light_query_scores_clauses_by_the_first_model_alone(bot):
    """A follow-up's secondary query uses MiniLM only; its scores must be MiniLM's own cosines."""
    ensemble = shared_embeddings()
    minilm = EnsembleEmbeddings([("minilm", 1.0)])
    clauses = [c.text for c in read_clauses(bot.generation)[:40]]
    question = "can I put photos of the class on my own facebook page?"
    light = np.array(ensemble.embed_query_light(question))
    assert abs(np.linalg.norm(light) - 1.0) < 1e-5
    similarity = np.array(ensemble.embed_documents(clauses)) @ light / ensemble.light_scale
    expected = np.array(minilm.embed_documents(clauses)) @ np.array(minilm.embed_query(question))
    assert np.allclose(similarity, expected, atol=1e-4)
    assert np.argmax(similarity) == np.argmax(expected)


@pytest.mark.integration
def test_a_light_query_of_a_text_just_embedded_in_full_reuses_its_first_model_vector(monkeypatch):
    """The safeguarding check embeds the question as asked with MiniLM alone; when retrieval
    has just embedded the same text with the ensemble, no model runs again and the vector is
    the one a fresh light query gives."""
    embeddings = shared_embeddings()
    question = "Is there a first aid kit on the minibus to the swimming pool?"
    embeddings._recent_heads.pop(question, None)
    embeddings._embed_query_cached.cache_clear()  # so the full query below runs the models
    embeddings._embed_query_light_cached.cache_clear()
    fresh = np.array(embeddings.embed_query_light(question))
    embeddings._embed_query_light_cached.cache_clear()
    embeddings.embed_query(question + " ")  # another text: its head is kept, not this one's
    embeddings.embed_query(question)
    calls: list[int] = []
    encode = embeddings._encoders[0].encode
    monkeypatch.setattr(embeddings._encoders[0], "encode", lambda texts, *a: calls.append(len(texts)) or encode(texts, *a))
    reused = np.array(embeddings.embed_query_light(question))
    assert calls == []
    np.testing.assert_array_equal(reused, fresh)
    embeddings._embed_query_light_cached.cache_clear()
    embeddings.embed_query_light("A question never embedded in full")
    assert calls == [1]
