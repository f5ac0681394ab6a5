"""The index from a LangChain chain: the hybrid retriever and the trained reranker as LangChain components.

The hybrid retriever is a `BaseRetriever`, the trained reranker a `BaseDocumentCompressor`
(langchain-core 1.x interfaces).

    from assistant import Assistant
    from assistant.retrieval.langchain import PolicyRetriever, TrainedReranker

    bot = Assistant.load("index")
    retriever = PolicyRetriever(assistant=bot, school="glais", audience="staff", k=10)
    reranker = TrainedReranker(assistant=bot, audience="staff", top_n=3)
    question = "can I text a parent from my own phone?"
    best = reranker.compress_documents(retriever.invoke(question), question)

Each `Document` holds one clause: ``page_content`` is the clause with its lead-in, and the
metadata carries what a citation needs (``clause_id``, ``school``, ``document``,
``document_title``, ``section``, ``page``) and the scores (``score``, ``dense``, ``lexical``;
the reranker adds ``relevance_score``). The documents of one call are always one school's:
retrieval is scoped to the tenant before any ranking, and the reranker refuses a mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun, Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .fusion import Candidate


def _document(candidate: Candidate) -> Document:
    clause = candidate.clause
    return Document(
        page_content=clause.display_text,
        metadata={
            "clause_id": clause.clause_id,
            "school": clause.school,
            "document": clause.document,
            "document_title": clause.document_title,
            "section": clause.section,
            "page": clause.page,
            "score": float(candidate.score),
            "dense": float(candidate.dense),
            "lexical": float(candidate.lexical),
        },
    )


class PolicyRetriever(BaseRetriever):
    """One school's clauses for a query, by the product's hybrid search, without the trained stage.

    The hybrid search is dense + BM25, fused (`assistant.retrieval.hybrid.HybridRetriever`).

    Attributes:
        assistant: a loaded `assistant.Assistant`.
        school: the school (tenant) searched.
        audience: the asker's role (staff, parent, pupil, visitor, governor) or None.
        k: documents returned, 1–50.

    ``invoke(query)`` raises ValueError for an empty or over-long query, and
    IndexUnavailableError when the vector store is not answering, as `Assistant.search` does.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Any
    school: str
    audience: str | None = None
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        evidence = self.assistant.retrieve(query, self.school, self.audience)
        return [_document(c) for c in evidence.candidates[: self.k]]


class TrainedReranker(BaseDocumentCompressor):
    """Reorders one school's clause documents with the trained stage (`assistant.rerank`).

    The fine-tuned encoder's cosine is first added to the documents' ``score`` metadata as the
    in-domain channel, z-scored over the documents given (`assistant.rerank.fuse_in_domain`; the
    served stage gets every clause of the school); the first `TrainedJudge.depth` of that order
    are reread, the rest keep it. Returns the first ``top_n`` with a ``relevance_score``.

    Attributes:
        assistant: a loaded `assistant.Assistant` with the trained stage on.
        audience: the asker's role or None (the encoder reads "<role>: <question>").
        top_n: documents returned.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Any
    audience: str | None = None
    top_n: int = 3

    def compress_documents(self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None) -> Sequence[Document]:
        """The documents reranked for ``query``, best first, at most ``top_n``.

        Raises:
            ValueError: the trained stage is off (``ASSISTANT_RERANK=false``), a document does not
                come from `PolicyRetriever` (no ``clause_id``/``school`` of this index), or the
                documents belong to more than one school.
        """
        judge = self.assistant.judge
        if judge is None:
            raise ValueError("the trained stage is off (ASSISTANT_RERANK=false): there is no reranker to run")
        if not documents:
            return []
        schools = {d.metadata.get("school") for d in documents}
        if len(schools) != 1:
            raise ValueError(f"documents of {len(schools)} schools: rerank one school's clauses at a time")
        index = self.assistant.retriever.school(schools.pop())
        candidates = []
        for n, doc in enumerate(documents):
            position = index.position.get(doc.metadata.get("clause_id"))
            if position is None:
                raise ValueError(f"document {n} is not a clause of this index (metadata clause_id {doc.metadata.get('clause_id')!r})")
            meta = doc.metadata
            candidates.append(Candidate(index.clauses[position], meta.get("score", 0.0), meta.get("dense", 0.0), meta.get("lexical", 0.0)))
        reranked = judge.rerank(query, [], self.audience, candidates, index.stored_vectors(judge))
        return [
            Document(page_content=_document(c).page_content, metadata={**_document(c).metadata, "relevance_score": float(c.score)})
            for c in reranked[: self.top_n]
        ]
