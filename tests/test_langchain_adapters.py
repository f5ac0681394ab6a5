"""The index from LangChain: `PolicyRetriever` (BaseRetriever) and `TrainedReranker`
(BaseDocumentCompressor) give the same clauses as `Assistant.search`, on the real index."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from assistant.retrieval.langchain import PolicyRetriever, TrainedReranker

pytestmark = pytest.mark.integration

QUESTION = "Can I text a parent from my own mobile phone?"


def test_the_retriever_returns_the_hybrid_searchs_clauses_as_documents(bot, monkeypatch):
    docs = PolicyRetriever(assistant=bot, school="glais", audience="staff", k=6).invoke(QUESTION)
    monkeypatch.setattr(bot, "judge", None)  # Assistant.search without the trained stage: the retriever alone
    expected = bot.search(QUESTION, "glais", "staff", k=6)
    assert [d.metadata["clause_id"] for d in docs] == [c.clause_id for c in expected]
    assert all(d.metadata["school"] == "glais" for d in docs)
    first = next(c for c in bot.clauses("glais") if c.clause_id == docs[0].metadata["clause_id"])
    assert docs[0].page_content == first.display_text
    assert docs[0].metadata["document_title"] == first.document_title


def test_retriever_then_reranker_in_a_chain_gives_assistant_searchs_clauses(bot):
    retriever = PolicyRetriever(assistant=bot, school="glais", audience="staff", k=6)
    reranker = TrainedReranker(assistant=bot, audience="staff", top_n=3)
    chain = retriever | RunnableLambda(lambda docs: reranker.compress_documents(docs, QUESTION))
    best = chain.invoke(QUESTION)
    assert [d.metadata["clause_id"] for d in best] == [c.clause_id for c in bot.search(QUESTION, "glais", "staff", k=3)]
    scores = [d.metadata["relevance_score"] for d in best]
    assert scores == sorted(scores, reverse=True)


def test_the_reranker_refuses_a_mix_of_schools_foreign_documents_and_a_missing_stage(bot, monkeypatch):
    reranker = TrainedReranker(assistant=bot)
    glais = PolicyRetriever(assistant=bot, school="glais", k=2).invoke(QUESTION)
    other = PolicyRetriever(assistant=bot, school="st-michaels", k=2).invoke(QUESTION)
    with pytest.raises(ValueError, match="2 schools"):
        reranker.compress_documents(glais + other, QUESTION)
    with pytest.raises(ValueError, match="document 1 is not a clause of this index"):
        reranker.compress_documents([glais[0], Document(page_content="x", metadata={"school": "glais", "clause_id": "nope"})], QUESTION)
    monkeypatch.setattr(bot, "judge", None)
    with pytest.raises(ValueError, match="trained stage is off"):
        reranker.compress_documents(glais, QUESTION)
