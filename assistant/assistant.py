"""`Assistant`: the one object the CLI, web chat, widget, HTTP API and evals all use."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answering import MIN_DENSE, compose_answer, should_abstain
from .config import Settings
from .contacts import shared_contact_book
from .errors import IndexCorruptError, IndexUnavailableError, UnknownSchoolError
from .indexing import (
    COLLECTION,
    LAYOUT,
    Generation,
    RemoteGeneration,
    clause_id_of_vector,
    embedding_text,
    embedding_units,
    generation_client,
    open_generation,
    read_clauses,
    read_generation_text,
    read_manifest,
    read_school_clauses,
    school_collection_name,
    server_address,
    unit_sentences,
    vector_id,
    verify_clause_records,
    verify_generation,
)
from .rerank import TrainedJudge
from .retrieval import (
    UNRETRIEVED,
    Candidate,
    LexicalIndex,
    PlannedQuery,
    QueryScores,
    expand_query,
    fuse,
    is_follow_up,
    query_plan,
    role_query,
)
from .safeguarding import is_concern
from .types import AUDIENCES, Answer, Citation, Clause

log = logging.getLogger(__name__)

MAX_HISTORY = 20
MAX_K = 50
#: Vectors fetched from Chroma per query before max-pooling them into clause scores.
DENSE_VECTORS = 150


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A served document: ids, title, dates (ISO strings or None) and clause count."""

    school: str
    document: str
    title: str
    clauses: int
    adopted: str | None
    last_reviewed: str | None
    next_review: str | None


@dataclass(frozen=True, slots=True)
class SchoolInfo:
    """A served school (tenant): id, display name and documents."""

    school: str
    name: str
    documents: tuple[DocumentInfo, ...]


class _SchoolIndex:
    """One tenant's clauses and its BM25 index (~0.24 MB and ~16 ms to build at ~100 clauses)."""

    def __init__(self, clauses: list[Clause]) -> None:
        self.clauses = clauses
        self.position = {c.clause_id: i for i, c in enumerate(clauses)}
        self.vectors = sum(len(embedding_units(c)) for c in clauses)
        self.lexical = LexicalIndex(clauses, [expand_query(embedding_text(c)) for c in clauses])


class Assistant:
    """Answers policy questions for one school at a time, citing that school's clauses.

    Build with `Assistant.load`. Thread-safe for concurrent `search`/`ask` calls.
    """

    def __init__(self, generation: Generation, embeddings=None) -> None:
        """Open a generation: its manifest now; a school's clause records and BM25 index on its
        first question; its vectors stay in Chroma.

        Args:
            generation: a ``gen-*`` folder, or a `RemoteGeneration` on the Chroma server.
            embeddings: the query embedder (default: the shared ensemble).

        Raises:
            IndexCorruptError: the generation's manifest, clauses or vector store is damaged.
            IndexUnavailableError: (server mode) the Chroma server cannot be reached.
        """
        from .embedding import shared_embeddings

        self.generation = generation
        self.manifest = read_manifest(generation)
        verify_generation(generation, self.manifest)
        self.embeddings = embeddings or shared_embeddings()
        self._client = generation_client(generation, self.manifest)
        # Generations from before per-school collections keep one filtered collection.
        self._per_school = self.manifest.get("layout") == LAYOUT
        self._collections: dict[str, object] = {}  # school -> its Chroma collection, opened on first use
        self._collections_lock = threading.Lock()
        # A school's clauses and BM25 index are read on its first question, not here: at
        # 1,000 schools reading them all took 22 s of a 32.9 s cold start (bench/limits.md).
        self._schools: dict[str, _SchoolIndex] = {}
        self._schools_lock = threading.Lock()
        verify_clause_records(generation, self.manifest)
        if self.manifest.get("store_format", 1) < 2:  # one clauses.jsonl for all schools: read it once
            by_school: dict[str, list[Clause]] = {}
            for clause in read_clauses(generation):
                by_school.setdefault(clause.school, []).append(clause)
            self._schools = {school: _SchoolIndex(clauses) for school, clauses in by_school.items()}
        settings = Settings()
        self.max_question_chars = settings.max_question_chars  # read once, not per request
        # The trained reranker, verdict classifier and calibration (issue 16); off only to
        # measure the retriever and rules alone (ASSISTANT_RERANK=false).
        self.judge: TrainedJudge | None = None
        if settings.rerank:
            from .rerank import shared_judge

            self.judge = shared_judge()

    def _school(self, school: str) -> _SchoolIndex:
        """``school``'s clauses and BM25 index, read from the generation on first use.

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
                        expected = sum(d["clauses"] for d in self.manifest["schools"][school]["documents"].values())
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
                        raise self._unavailable(exc) from exc
                    index = self._schools[school] = _SchoolIndex(clauses)
        return index

    def _collection(self, school: str):
        """The Chroma collection to query for ``school`` (its own, or the legacy shared one)."""
        key = school if self._per_school else COLLECTION
        collection = self._collections.get(key)
        if collection is None:
            name = school_collection_name(self.generation.name, school) if self._per_school else COLLECTION
            with self._collections_lock:
                collection = self._collections.get(key)
                if collection is None:
                    collection = self._client.get_collection(name, embedding_function=None)
                    self._collections[key] = collection
        return collection

    @classmethod
    def load(cls, index_dir: str | Path | None = None) -> Assistant:
        """Open the served index generation.

        Args:
            index_dir: the index folder; default ``ASSISTANT_INDEX_DIR`` or ``./index``.

        Raises:
            IndexNotFoundError: no index has been built there (run ``python ingest.py``).
            IndexCorruptError: the served generation is damaged (a subclass of the above).
            IndexUnavailableError: (``CHROMA_HOST`` set) the Chroma server cannot be reached.
        """
        return cls(open_generation(Path(index_dir) if index_dir else Settings().index_dir))

    def _unavailable(self, exc: Exception) -> IndexUnavailableError:
        where = f"the Chroma server at {server_address()}" if isinstance(self.generation, RemoteGeneration) else "the vector store"
        return IndexUnavailableError(f"{where} is not answering ({type(exc).__name__})")

    # --- tenants ------------------------------------------------------------------

    def schools(self) -> list[SchoolInfo]:
        """Every school served, sorted by id, with its documents."""
        out = []
        for school_id, meta in sorted(self.manifest["schools"].items()):
            docs = tuple(
                DocumentInfo(school_id, doc_id, d["title"], d["clauses"], d.get("adopted"), d.get("last_reviewed"), d.get("next_review"))
                for doc_id, d in sorted(meta["documents"].items())
            )
            out.append(SchoolInfo(school_id, meta["name"], docs))
        return out

    def school_name(self, school: str) -> str:
        """Display name of a school id. Raises ValueError for an unknown school."""
        self._check_school(school)
        return self.manifest["schools"][school]["name"]

    def clauses(self, school: str, document: str | None = None) -> list[Clause]:
        """A school's clauses in document order (optionally one document's)."""
        self._check_school(school)
        found = self._school(school).clauses
        return [c for c in found if document is None or c.document == document]

    def document_text(self, school: str, document: str) -> str:
        """The full text of one document as ingested (for the policy viewer).

        For PDF, Word and HTML sources this is the text extracted from the file (the text
        clause offsets refer to), stored in the index generation; older generations
        without it fall back to the source file.

        Raises:
            ValueError: unknown school or document.
        """
        self._check_school(school)
        meta = self.manifest["schools"][school]["documents"].get(document)
        if meta is None:
            raise ValueError(f"unknown document {document!r} for school {school!r}")
        if meta.get("text_file"):
            try:
                stored = read_generation_text(self.generation, meta["text_file"])
            except IndexUnavailableError:
                raise
            except Exception as exc:
                raise self._unavailable(exc) from exc
            if stored is not None:
                return stored
        return Path(meta["path"]).read_text(encoding="utf-8-sig")

    # --- questions ----------------------------------------------------------------

    def _check_school(self, school: str) -> None:
        if not isinstance(school, str) or school not in self.manifest["schools"]:
            raise UnknownSchoolError(school, sorted(self.manifest["schools"]))

    def _validate(self, question: str, school: str, audience: str | None, history: list[str] | None) -> list[str]:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question is empty: ask something about the school's policies")
        limit = self.max_question_chars
        if len(question) > limit:
            raise ValueError(f"question is {len(question)} characters long; the limit is {limit}")
        self._check_school(school)
        if audience is not None and audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r} (use one of: {', '.join(AUDIENCES)})")
        if history is None:
            history = []
        if not isinstance(history, list | tuple) or not all(isinstance(h, str) for h in history):
            raise ValueError("history must be a list of earlier questions (strings)")
        return [h for h in list(history) if h.strip()][-MAX_HISTORY:]

    def _query_vector(self, query: PlannedQuery) -> tuple[list[float], float]:
        """The query's embedding and the factor that turns its dot products into cosines
        (a light query embeds with the first model only; see `EnsembleEmbeddings.light_scale`)."""
        if query.light:
            return self.embeddings.embed_query_light(query.text), self.embeddings.light_scale
        return self.embeddings.embed_query(query.text), 1.0

    def _query_scores(self, query: PlannedQuery, school: str) -> QueryScores:
        index = self._school(school)
        vector, scale = self._query_vector(query)
        # Straight to the collection for ids and distances only: langchain-chroma's
        # similarity search also fetches every hit's text and metadata and builds a Document
        # per hit, 11.2 vs 3.6 ms a query here (150 hits), which follow-ups pay twice.
        try:
            hits = self._collection(school).query(
                query_embeddings=[vector],
                n_results=min(DENSE_VECTORS, index.vectors),
                where=None if self._per_school else {"school": school},
                include=["distances"],
            )
        except Exception as exc:  # a server down, a store gone: callers answer 503, not a traceback
            raise self._unavailable(exc) from exc
        dense = np.full(len(index.clauses), -np.inf, dtype=np.float32)
        for vid, distance in zip(hits["ids"][0], hits["distances"][0], strict=True):
            pos = index.position.get(clause_id_of_vector(vid))
            if pos is not None:  # the school scope guarantees the tenant; this guards a stale id
                # cosine space: similarity = 1 - distance; max-pool a clause's vectors
                dense[pos] = max(dense[pos], (1.0 - distance) / scale)
        retrieved = np.isfinite(dense)
        dense[~retrieved] = dense[retrieved].min() if retrieved.any() else UNRETRIEVED
        return QueryScores(dense, index.lexical.scores(expand_query(query.text)), query.weight)

    @staticmethod
    def _plan(question: str, history: list[str], audience: str | None) -> list[PlannedQuery]:
        return query_plan(role_query(question, audience), [role_query(h, audience) for h in history])

    def _candidates(self, plan: list[PlannedQuery], school: str, audience: str | None) -> list[Candidate]:
        queries = [self._query_scores(query, school) for query in plan]
        return fuse(self._school(school).clauses, queries, audience)

    def search(
        self, question: str, school: str, audience: str | None = None, history: list[str] | None = None, k: int = 5
    ) -> list[Citation]:
        """The ``k`` clauses of ``school`` that best answer ``question``, best first.

        Args:
            question: 1–1,000 characters; school: a school id (see `schools`);
            audience: the asker's role (staff, parent, pupil, visitor, governor), which
                boosts clauses addressed to it; history: the chat's earlier questions,
                oldest first; k: 1–50.

        Raises:
            ValueError: empty/over-long question, unknown school or audience, bad history or k.
            IndexUnavailableError: the vector store (a Chroma server) is not answering right now.
        """
        history = self._validate(question, school, audience, history)
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be a whole number from 1 to {MAX_K}")
        candidates = self._candidates(self._plan(question, history, audience), school, audience)
        if self.judge is not None:
            candidates = self.judge.rerank(question, history, audience, candidates)
        return [Citation.from_clause(c.clause, c.score) for c in candidates[:k]]

    def ask(
        self,
        question: str,
        school: str,
        audience: str | None = None,
        history: list[str] | None = None,
        today: dt.date | None = None,
    ) -> Answer:
        """Answer ``question`` from ``school``'s policies.

        Returns:
            an `Answer` in one of three bands (see `assistant.rerank`): ``answer`` (verdict
            yes / no / conditional / info citing this school's clause), ``unsure`` (verdict
            unsure, the three likeliest clauses) or ``not_covered`` (no citation); with the
            calibrated ``confidence``.

        Raises:
            ValueError, IndexUnavailableError: as for `search`.
        """
        history = self._validate(question, school, audience, history)
        plan = self._plan(question, history, audience)
        candidates = self._candidates(plan, school, audience)
        judgement = None
        if self.judge is not None and candidates:
            outside = self._outside_policies(question, school, history, plan, candidates)
            judgement = self.judge.judge(question, history, audience, candidates, outside)
            candidates = judgement.candidates
        meta = self.manifest["schools"][school]
        query = plan[-1].text
        similarity = None
        answering = judgement.band == "answer" if judgement is not None else bool(candidates) and not should_abstain(candidates[0])
        if answering:
            similarity = self._sentence_similarity(candidates[0].clause, plan)
        # Issue 18: whom to hand over to, and whether this is a possible child-protection concern.
        contacts, concern = shared_contact_book().contacts(meta), is_concern(question, self.embeddings)
        return compose_answer(
            question, query, candidates, meta["name"], meta["documents"], history, today, similarity, judgement, contacts, concern
        )

    def _outside_policies(
        self, question: str, school: str, history: list[str], plan: list[PlannedQuery], candidates: list[Candidate]
    ) -> bool:
        """True when the retriever's similarity floor says ``school``'s policies do not cover
        the question: its best clause is below the floor (`should_abstain`), or the question
        starts a new topic after earlier ones (not `is_follow_up`) and the question alone is
        below it, so an earlier on-topic question cannot lend it the similarity that keeps it
        from abstaining."""
        if not candidates or should_abstain(candidates[0]):
            return True
        if history and not is_follow_up(question):
            return float(self._query_scores(plan[0], school).dense.max()) < MIN_DENSE
        return False

    def outside_policies(self, question: str, school: str, audience: str | None = None, history: list[str] | None = None) -> bool:
        """Whether the retriever alone would answer "not covered" (see `_outside_policies`);
        training records it for every question to calibrate the bands on what the floor lets through.

        Raises:
            ValueError, IndexUnavailableError: as for `search`.
        """
        history = self._validate(question, school, audience, history)
        plan = self._plan(question, history, audience)
        return self._outside_policies(question, school, history, plan, self._candidates(plan, school, audience))

    def _sentence_similarity(self, clause: Clause, plan: list[PlannedQuery]) -> dict[str, float] | None:
        """Each sentence of ``clause`` that has a vector of its own → its cosine similarity
        to the question, weighted over the query plan as retrieval weights it (a light
        query by the first model alone); None for a one-sentence clause. The sentence
        vectors are read back from the index and the query vectors are cached by now, so
        nothing is embedded again.

        On the policy bank this picked the sentence a verdict rests on better than shared
        words did (README, "Verdicts: which sentence of the clause").
        """
        sentences = unit_sentences(clause)
        if not sentences:
            return None
        ids = [vector_id(clause, n) for n in range(1, len(sentences) + 1)]
        try:
            stored = self._collection(clause.school).get(ids=ids, include=["embeddings"])
        except Exception as exc:
            raise self._unavailable(exc) from exc
        by_id = dict(zip(stored["ids"], stored["embeddings"], strict=True))
        similarity = np.zeros(len(ids), dtype=np.float64)
        for query in plan:
            vector, scale = self._query_vector(query)
            vector = np.asarray(vector, dtype=np.float32)
            similarity += query.weight * np.array([np.dot(vector, by_id[i]) / scale if i in by_id else -np.inf for i in ids])
        similarity /= sum(q.weight for q in plan)
        return {s: float(sim) for s, sim, i in zip(sentences, similarity, ids, strict=True) if i in by_id}
