"""`HybridRetriever`: one school's clauses for a question, from dense and lexical search, fused.

The retrieval stage of `Assistant.ask` (validate → plan → **retrieve** → rerank → answer). It
owns everything that touches the index at question time: the Chroma collections, each school's
clause records, BM25 index and stored trained clause vectors (`SchoolIndex`, read on the
school's first question), the query embeddings, and the similarity floor. Query planning is in
`assistant.retrieval.query`, BM25 and fusion in `assistant.retrieval.fusion`; the package
docstring gives the method. Every search is scoped to one school, the tenant, before any ranking.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import IndexCorruptError, IndexUnavailableError
from ..index import (
    Generation,
    Manifest,
    RemoteGeneration,
    clause_id_of_vector,
    embedding_text,
    embedding_units,
    generation_client,
    read_generation_text,
    read_school_clauses,
    school_collection_name,
    server_address,
    unit_sentences,
    vector_id,
)
from ..trained_vectors import clause_vectors, trained_vectors_file
from ..types import Clause
from .fusion import MIN_DENSE, UNRETRIEVED, Candidate, LexicalIndex, QueryScores, fuse, should_abstain
from .query import PlannedQuery, expand_query, full_query, is_follow_up

if TYPE_CHECKING:
    from ..rerank import Judgement, TrainedJudge

log = logging.getLogger(__name__)

#: Vectors fetched from Chroma per query before max-pooling them into clause scores.
DENSE_VECTORS = 150


class SchoolIndex:
    """One tenant's clauses, its BM25 index and the trained encoder's stored vectors of its clauses.

    The BM25 index takes ~0.24 MB and ~16 ms to build at ~100 clauses; the trained encoder's
    vectors of its clauses that ingest stored take ~1.5 KB a clause.

    Attributes:
        clauses: the school's clauses in document order.
        position: clause id → index in ``clauses``.
        vectors: how many dense vectors the school's collection holds (clauses and sentences).
        lexical: the BM25 index over the clauses' embedding texts.
        trained: clause id → stored trained vector (`assistant.trained_vectors`); empty when
            the generation stored none.
        trained_encoder: `TrainedJudge.encoder_id` of the encoder that made ``trained`` (None
            when empty); the reranker uses them only when it is the same encoder.
    """

    def __init__(self, clauses: list[Clause], trained: dict[str, np.ndarray] | None = None, trained_encoder: str | None = None) -> None:
        """Index ``clauses`` (one school's, document order) for BM25; keep its stored trained vectors."""
        self.clauses = clauses
        self.position = {c.clause_id: i for i, c in enumerate(clauses)}
        self.vectors = sum(len(embedding_units(c)) for c in clauses)
        self.lexical = LexicalIndex(clauses, [expand_query(embedding_text(c)) for c in clauses])
        self.trained = trained or {}
        self.trained_encoder = trained_encoder if self.trained else None

    def stored_vectors(self, judge: TrainedJudge) -> dict[str, np.ndarray] | None:
        """The stored trained vectors if ``judge``'s encoder made them, else None.

        (Training's leave-schools-out run scores with each fold's judge.)
        """
        return self.trained if self.trained and self.trained_encoder == judge.encoder_id else None


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the stages found for one question, handed from each stage to the next.

    Attributes:
        question: as asked; school: the tenant searched; audience: the asker's role or None;
        history: the chat's earlier questions in use, oldest first.
        plan: the retrieval queries (`assistant.retrieval.query_plan`).
        candidates: every clause of the school, best first (retrieval order, then reranked).
        outside: the retriever's similarity floor says the school's policies do not cover
            the question (`HybridRetriever.outside_policies`).
        judgement: the trained stage's reading (`assistant.rerank.Judgement`), or None when
            the stage is off.
    """

    question: str
    school: str
    audience: str | None
    history: list[str]
    plan: list[PlannedQuery]
    candidates: list[Candidate]
    outside: bool
    judgement: Judgement | None = field(default=None)

    @property
    def band(self) -> str:
        """The one abstention decision: ``answer``, ``unsure`` or ``not_covered``.

        With the trained stage, its band (the floor decides not covered, the calibrated
        confidence answer or unsure, `TrainedJudge.judge`). Without it (``ASSISTANT_RERANK=
        false``, kept to measure the stage against), the retriever alone, as before issue 16:
        not covered when the best clause is below the floor (`should_abstain`), else answer.
        """
        if not self.candidates:
            return "not_covered"
        if self.judgement is not None:
            return self.judgement.band
        return "not_covered" if should_abstain(self.candidates[0]) else "answer"


class HybridRetriever:
    """Dense + BM25 search over one generation's schools, scoped to one school per query.

    Args:
        generation: a ``gen-*`` folder, or a `RemoteGeneration` on the Chroma server.
        manifest: the generation's `Manifest` (`assistant.index.read_manifest`).
        embeddings: the query embedder (`assistant.embedding.EnsembleEmbeddings`).

    Thread-safe: per-school indexes and collections are opened once under a lock.
    """

    def __init__(self, generation: Generation, manifest: Manifest, embeddings) -> None:
        """Open the generation's vector store; schools are read on their first question."""
        self.generation = generation
        self.manifest = manifest
        self.embeddings = embeddings
        self._client = generation_client(generation, manifest)
        self._collections: dict[str, object] = {}  # school -> its Chroma collection, opened on first use
        self._collections_lock = threading.Lock()
        # A school's clauses and BM25 index are read on its first question, not here: at
        # 1,000 schools reading them all took 22 s of a 32.9 s cold start (bench/limits.md).
        self._schools: dict[str, SchoolIndex] = {}
        self._schools_lock = threading.Lock()

    def unavailable(self, exc: Exception) -> IndexUnavailableError:
        """The error to raise when the vector store fails (answered as a 503), naming where it is."""
        where = f"the Chroma server at {server_address()}" if isinstance(self.generation, RemoteGeneration) else "the vector store"
        return IndexUnavailableError(f"{where} is not answering ({type(exc).__name__})")

    def school(self, school: str) -> SchoolIndex:
        """``school``'s clauses, BM25 index and stored trained vectors, read on first use.

        Raises:
            IndexUnavailableError: its clause records turn out damaged (answered as a 503;
                start-up checked only that every school's file is there and complete).
        """
        index = self._schools.get(school)
        if index is None:
            with self._schools_lock:
                index = self._schools.get(school)
                if index is None:
                    try:
                        clauses = read_school_clauses(self.generation, school)
                        expected = self.manifest.schools[school].clauses
                        if len(clauses) != expected:
                            raise IndexCorruptError(
                                f"{school}'s clause records hold {len(clauses)} clauses, the manifest says {expected}: rebuild it with `python ingest.py`"
                            )
                    except IndexCorruptError as exc:
                        log.error("%s", exc)
                        raise IndexUnavailableError(str(exc)) from exc
                    except IndexUnavailableError:
                        raise
                    except Exception as exc:
                        raise self.unavailable(exc) from exc
                    encoder = self.manifest.trained_vectors
                    index = self._schools[school] = SchoolIndex(clauses, self._trained_vectors(school, clauses, encoder), encoder)
        return index

    def _trained_vectors(self, school: str, clauses: list[Clause], encoder: str | None) -> dict[str, np.ndarray]:
        """The trained encoder's vectors of ``school``'s clauses that ingest stored (`assistant.trained_vectors`).

        None when the generation has none. A damaged record is logged and ignored: the reranker
        then encodes the clauses, which costs time, never an answer.
        """
        if not encoder:
            return {}
        try:
            text = read_generation_text(self.generation, trained_vectors_file(school))
            return clause_vectors(text, encoder, clauses) if text else {}
        except ValueError as exc:
            log.warning("%s's stored clause vectors are not used: %s", school, exc)
            return {}

    def _collection(self, school: str):
        """``school``'s own Chroma collection, opened on first use."""
        collection = self._collections.get(school)
        if collection is None:
            with self._collections_lock:
                collection = self._collections.get(school)
                if collection is None:
                    collection = self._client.get_collection(school_collection_name(self.generation.name, school), embedding_function=None)
                    self._collections[school] = collection
        return collection

    def query_vector(self, query: PlannedQuery) -> tuple[list[float], float]:
        """The query's embedding and the factor that turns its dot products into cosines.

        A light query embeds with the first model only; see `EnsembleEmbeddings.light_scale`.
        """
        if query.light:
            return self.embeddings.embed_query_light(query.text), self.embeddings.light_scale
        return self.embeddings.embed_query(query.text), 1.0

    def query_scores(self, query: PlannedQuery, school: str) -> QueryScores:
        """One planned query's dense and BM25 scores over ``school``'s clauses (document order).

        Raises:
            IndexUnavailableError: the vector store is not answering.
        """
        index = self.school(school)
        vector, scale = self.query_vector(query)
        # Straight to the collection for ids and distances only: langchain-chroma's
        # similarity search also fetches every hit's text and metadata and builds a Document
        # per hit, 11.2 vs 3.6 ms a query here (150 hits), which follow-ups pay twice.
        try:
            hits = self._collection(school).query(
                query_embeddings=[vector],
                n_results=min(DENSE_VECTORS, index.vectors),
                include=["distances"],
            )
        except Exception as exc:  # a server down, a store gone: callers answer 503, not a traceback
            raise self.unavailable(exc) from exc
        dense = np.full(len(index.clauses), -np.inf, dtype=np.float32)
        for vid, distance in zip(hits["ids"][0], hits["distances"][0], strict=True):
            pos = index.position.get(clause_id_of_vector(vid))
            if pos is not None:  # the school scope guarantees the tenant; this guards a stale id
                # cosine space: similarity = 1 - distance; max-pool a clause's vectors
                dense[pos] = max(dense[pos], (1.0 - distance) / scale)
        retrieved = np.isfinite(dense)
        dense[~retrieved] = dense[retrieved].min() if retrieved.any() else UNRETRIEVED
        return QueryScores(dense, index.lexical.scores(expand_query(query.text)), query.weight)

    def candidates(self, plan: list[PlannedQuery], school: str, audience: str | None) -> list[Candidate]:
        """Every clause of ``school`` ranked for the planned queries (`assistant.retrieval.fuse`).

        Raises:
            IndexUnavailableError: the vector store is not answering.
        """
        return fuse(self.school(school).clauses, [self.query_scores(query, school) for query in plan], audience)

    def outside_policies(
        self, question: str, school: str, history: list[str], plan: list[PlannedQuery], candidates: list[Candidate]
    ) -> bool:
        """True when the similarity floor says ``school``'s policies do not cover the question.

        That is when its best clause is below the floor (`should_abstain`), or the question starts
        a new topic after earlier ones (not `is_follow_up`) and the question alone is below it, so
        an earlier on-topic question cannot lend it the similarity that keeps it from abstaining.
        """
        if not candidates or should_abstain(candidates[0]):
            return True
        if history and not is_follow_up(question):
            return float(self.query_scores(plan[0], school).dense.max()) < MIN_DENSE
        return False

    def retrieve(self, question: str, school: str, audience: str | None, history: list[str], plan: list[PlannedQuery]) -> Evidence:
        """The retrieval stage: ``school``'s clauses ranked for ``plan``, and the floor's decision.

        Args:
            question: as asked (validated).
            school: a served school id.
            audience: the asker's role or None.
            history: earlier questions in use.
            plan: `query_plan`'s queries.

        Raises:
            IndexUnavailableError: the vector store is not answering.
        """
        candidates = self.candidates(plan, school, audience)
        outside = self.outside_policies(question, school, history, plan, candidates)
        return Evidence(question, school, audience, history, plan, candidates, outside)

    def general_vectors(self, plan: list[PlannedQuery], clauses: list[Clause]) -> tuple[np.ndarray, np.ndarray] | None:
        """The general embeddings' view of a question and clauses, for the trained verdict classifier.

        Returns ``(query, clause_vectors)``: the retriever's vector of the plan's `full_query`
        (cached by retrieval, so nothing is embedded again), shape ``(D,)``, and
        `stored_clause_vectors`, shape ``(len(clauses), D)``; ``D`` is the embeddings' dimension
        (`EnsembleEmbeddings.dimension`). None when the store lacks a clause's vector: the
        classifier then reads without the general view, which costs accuracy, never the answer.

        Raises:
            IndexUnavailableError: the vector store is not answering.
        """
        vectors = self.stored_clause_vectors(clauses)
        if vectors is None:
            return None
        vector, _ = self.query_vector(full_query(plan))
        return np.asarray(vector, dtype=np.float32), vectors

    def stored_clause_vectors(self, clauses: list[Clause]) -> np.ndarray | None:
        """The vectors the index stores for one school's clauses whole (unit 0, `embedding_text`).

        Returns shape ``(len(clauses), D)``, or None (logged) when one is missing from the store.

        Raises:
            IndexUnavailableError: the vector store is not answering.
        """
        if not clauses:
            return np.zeros((0, self.embeddings.dimension), dtype=np.float32)
        ids = [vector_id(clause, 0) for clause in clauses]
        try:
            stored = self._collection(clauses[0].school).get(ids=ids, include=["embeddings"])
        except Exception as exc:
            raise self.unavailable(exc) from exc
        by_id = dict(zip(stored["ids"], stored["embeddings"], strict=True))
        missing = [i for i in ids if i not in by_id]
        if missing:
            log.warning("the vector store has no vector %r (rebuild the index with `python ingest.py`)", missing[0])
            return None
        return np.stack([np.asarray(by_id[i], dtype=np.float32) for i in ids])

    def sentence_similarity(self, clause: Clause, plan: list[PlannedQuery]) -> dict[str, float] | None:
        """Each sentence of ``clause`` that has a vector of its own → its cosine similarity to the question.

        The similarity is weighted over the query plan as retrieval weights it (a light
        query by the first model alone); None for a one-sentence clause. The sentence
        vectors are read back from the index and the query vectors are cached by now, so
        nothing is embedded again.

        On the policy bank this picked the sentence a verdict rests on better than shared
        words did (README, "Verdicts: which sentence of the clause").

        Raises:
            IndexUnavailableError: the vector store is not answering.
        """
        sentences = unit_sentences(clause)
        if not sentences:
            return None
        ids = [vector_id(clause, n) for n in range(1, len(sentences) + 1)]
        try:
            stored = self._collection(clause.school).get(ids=ids, include=["embeddings"])
        except Exception as exc:
            raise self.unavailable(exc) from exc
        by_id = dict(zip(stored["ids"], stored["embeddings"], strict=True))
        similarity = np.zeros(len(ids), dtype=np.float64)
        for query in plan:
            vector, scale = self.query_vector(query)
            vector = np.asarray(vector, dtype=np.float32)
            similarity += query.weight * np.array([np.dot(vector, by_id[i]) / scale if i in by_id else -np.inf for i in ids])
        similarity /= sum(q.weight for q in plan)
        return {s: float(sim) for s, sim, i in zip(sentences, similarity, ids, strict=True) if i in by_id}
