"""`Assistant`: the one object the CLI, web chat, widget, HTTP API and evals all use.

A question goes through five stages, each entered once, in order (`Assistant.ask`):

1. **validate** the question, school, audience and history (`ValueError` names the problem);
2. **plan** the retrieval queries: the asker's role, a follow-up read with the question before
   it (`assistant.retrieval.query_plan`);
3. **retrieve** the school's clauses by dense + BM25 search, fused, and the similarity floor's
   decision (`assistant.retrieval.HybridRetriever.retrieve` → `Evidence`);
4. **rerank** the first clauses with the trained stage, which also calibrates the confidence,
   picks the band and classifies the verdict (`assistant.rerank.TrainedJudge.judge`);
5. **answer**: the verdict, the key sentence and the citation, or unsure / not covered with a
   handover (`assistant.answering.compose_answer`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from .answering import compose_answer
from .config import get_settings
from .contacts import shared_contact_book
from .errors import IndexOutdatedError, IndexUnavailableError, UnknownSchoolError
from .index import (
    LAYOUT,
    STORE_FORMAT,
    Generation,
    Manifest,
    open_generation,
    read_generation_text,
    read_manifest,
    store_of,
    verify_clause_records,
    verify_generation,
)
from .rerank import TrainedJudge
from .retrieval import Evidence, HybridRetriever, PlannedQuery, query_plan, role_query
from .safeguarding import is_concern
from .types import AUDIENCES, Answer, Citation, Clause

MAX_HISTORY = 20
MAX_K = 50


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


def _refuse_an_older_format(generation: Generation, manifest: Manifest) -> None:
    """Serving reads only the current index format; ingest upgrades older ones.

    Raises:
        IndexOutdatedError: the generation has an earlier layout (one shared collection) or
            store format (one ``clauses.jsonl``), naming where it is and what to run.
    """
    layout, store_format = manifest.layout, manifest.store_format
    if not manifest.current_format:
        raise IndexOutdatedError(
            f"the index at {store_of(generation).where(generation)} was built by an older ingest (layout {layout or 'shared collection'},"
            f" store format {store_format}; this version reads {LAYOUT}, format {STORE_FORMAT}): run `python ingest.py` to upgrade it"
            " (its vectors are copied, no model runs)"
        )


class Assistant:
    """Answers policy questions for one school at a time, citing that school's clauses.

    Build with `Assistant.load`. Thread-safe for concurrent `search`/`ask` calls.
    """

    def __init__(self, generation: Generation, embeddings=None) -> None:
        """Open a generation, loading its manifest now and each school's clauses lazily.

        The manifest is read now; a school's clause records and BM25 index on its first question;
        its vectors stay in Chroma.

        Args:
            generation: a ``gen-*`` folder, or a `RemoteGeneration` on the Chroma server.
            embeddings: the query embedder (default: the shared ensemble).

        Raises:
            IndexCorruptError: the generation's manifest, clauses or vector store is damaged.
            IndexOutdatedError: (an IndexCorruptError) an older ingest wrote it: run ``python ingest.py``.
            IndexUnavailableError: (server mode) the Chroma server cannot be reached.
        """
        from .embedding import shared_embeddings

        self.generation = generation
        self.manifest = read_manifest(generation)
        _refuse_an_older_format(generation, self.manifest)
        verify_generation(generation, self.manifest)
        self.embeddings = embeddings or shared_embeddings()
        verify_clause_records(generation, self.manifest)
        self.retriever = HybridRetriever(generation, self.manifest, self.embeddings)
        settings = get_settings()
        self.max_question_chars = settings.max_question_chars  # read once, not per request
        # The trained reranker, verdict classifier and calibration (issue 16); off only to
        # measure the retriever and rules alone (ASSISTANT_RERANK=false).
        self.judge: TrainedJudge | None = None
        if settings.rerank:
            from .rerank import shared_judge

            self.judge = shared_judge()
            if self.manifest.trained_vectors:
                _ = self.judge.encoder_id  # hash the weights (~0.3 s) now, not on the first question

    @classmethod
    def load(cls, index_dir: str | Path | None = None) -> Assistant:
        """Open the served index generation.

        Args:
            index_dir: the index folder; default ``ASSISTANT_INDEX_DIR`` or ``./index``.

        Raises:
            IndexNotFoundError: no index has been built there (run ``python ingest.py``).
            IndexCorruptError: the served generation is damaged (a subclass of the above), or
                was written by an older ingest (`IndexOutdatedError`).
            IndexUnavailableError: (``CHROMA_HOST`` set) the Chroma server cannot be reached.
        """
        return cls(open_generation(Path(index_dir) if index_dir else get_settings().index_dir))

    # --- tenants ------------------------------------------------------------------

    def schools(self) -> list[SchoolInfo]:
        """Every school served, sorted by id, with its documents."""
        out = []
        for school_id, meta in sorted(self.manifest.schools.items()):
            docs = tuple(
                DocumentInfo(school_id, doc_id, d.title, d.clauses, d.adopted, d.last_reviewed, d.next_review)
                for doc_id, d in sorted(meta.documents.items())
            )
            out.append(SchoolInfo(school_id, meta.name, docs))
        return out

    def school_name(self, school: str) -> str:
        """Display name of a school id. Raises ValueError for an unknown school."""
        self._check_school(school)
        return self.manifest.schools[school].name

    def clauses(self, school: str, document: str | None = None) -> list[Clause]:
        """A school's clauses in document order (optionally one document's)."""
        self._check_school(school)
        found = self.retriever.school(school).clauses
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
        meta = self.manifest.schools[school].documents.get(document)
        if meta is None:
            raise ValueError(f"unknown document {document!r} for school {school!r}")
        if meta.text_file:
            try:
                stored = read_generation_text(self.generation, meta.text_file)
            except IndexUnavailableError:
                raise
            except Exception as exc:
                raise self.retriever.unavailable(exc) from exc
            if stored is not None:
                return stored
        return Path(meta.path).read_text(encoding="utf-8-sig")

    # --- questions ----------------------------------------------------------------

    def _check_school(self, school: str) -> None:
        if not isinstance(school, str) or school not in self.manifest.schools:
            raise UnknownSchoolError(school, sorted(self.manifest.schools))

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

    @staticmethod
    def plan(question: str, history: list[str], audience: str | None) -> list[PlannedQuery]:
        """The retrieval queries of a question, as `search`, `ask` and training's general view read them.

        That is `assistant.retrieval.query_plan` of its `role_query` and its history's.
        """
        return query_plan(role_query(question, audience), [role_query(h, audience) for h in history])

    def search(
        self, question: str, school: str, audience: str | None = None, history: list[str] | None = None, k: int = 5
    ) -> list[Citation]:
        """The ``k`` clauses of ``school`` that best answer ``question``, best first.

        Args:
            question: 1–1,000 characters.
            school: a school id (see `schools`).
            audience: the asker's role (staff, parent, pupil, visitor, governor), which
                boosts clauses addressed to it.
            history: the chat's earlier questions, oldest first.
            k: how many clauses to return, 1–50.

        Returns:
            up to ``k`` `Citation` objects, best first.

        Raises:
            ValueError: empty/over-long question, unknown school or audience, bad history or k.
            IndexUnavailableError: the vector store (a Chroma server) is not answering right now.
        """
        history = self._validate(question, school, audience, history)
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be a whole number from 1 to {MAX_K}")
        candidates = self.retriever.candidates(self.plan(question, history, audience), school, audience)
        if self.judge is not None:
            stored = self.retriever.school(school).stored_vectors(self.judge)
            candidates = self.judge.rerank(question, history, audience, candidates, stored)
        return [Citation.from_clause(c.clause, c.score) for c in candidates[:k]]

    def ask(
        self,
        question: str,
        school: str,
        audience: str | None = None,
        history: list[str] | None = None,
        today: dt.date | None = None,
    ) -> Answer:
        """Answer ``question`` from ``school``'s policies: validate → plan → retrieve → rerank → answer.

        Returns:
            an `Answer` in one of three bands (see `assistant.rerank`): ``answer`` (verdict
            yes / no / conditional / info citing this school's clause), ``unsure`` (verdict
            unsure, the three likeliest clauses) or ``not_covered`` (no citation); with the
            calibrated ``confidence``.

        Raises:
            ValueError, IndexUnavailableError: as for `search`.
        """
        evidence = self.retrieve(question, school, audience, history)
        evidence = self._rerank(evidence)
        return self._answer(evidence, today)

    def retrieve(self, question: str, school: str, audience: str | None = None, history: list[str] | None = None) -> Evidence:
        """The first three stages of `ask` (validate → plan → retrieve), before the trained stage.

        Returns every clause of ``school`` ranked by the hybrid retriever, before the trained
        stage, and the similarity floor's decision (`HybridRetriever.retrieve`).

        Raises:
            ValueError, IndexUnavailableError: as for `search`.
        """
        history = self._validate(question, school, audience, history)
        return self.retriever.retrieve(question, school, audience, history, self.plan(question, history, audience))

    def _rerank(self, evidence: Evidence) -> Evidence:
        """The rerank stage: the trained stage's reading of the retrieved clauses (a no-op when it is off)."""
        if self.judge is None or not evidence.candidates:
            return evidence
        stored = self.retriever.school(evidence.school).stored_vectors(self.judge)
        general = None
        # The classifier's general view reads this index's vectors only if they are the ones it was fitted on.
        if self.judge.general_embeddings == getattr(self.embeddings, "model_id", None):
            general = lambda clause: self.retriever.general_vectors(evidence.plan, [clause])  # noqa: E731
        judgement = self.judge.judge(
            evidence.question, evidence.history, evidence.audience, evidence.candidates, evidence.outside, stored, general
        )
        return replace(evidence, candidates=judgement.candidates, judgement=judgement)

    def _answer(self, evidence: Evidence, today: dt.date | None) -> Answer:
        """The answer stage: compose the answer in the evidence's band, with its handover."""
        meta = self.manifest.schools[evidence.school]
        similarity = None
        if evidence.band == "answer":
            similarity = self.retriever.sentence_similarity(evidence.candidates[0].clause, evidence.plan)
        # Issue 18: whom to hand over to, and whether this is a possible child-protection concern.
        contacts, concern = shared_contact_book().contacts(meta), is_concern(evidence.question, self.embeddings)
        return compose_answer(evidence, meta.name, meta.documents, today, similarity, contacts, concern)

    def outside_policies(self, question: str, school: str, audience: str | None = None, history: list[str] | None = None) -> bool:
        """Whether the retriever alone would answer "not covered" (`HybridRetriever.outside_policies`).

        Training records it for every question to calibrate the bands on what the floor lets through.

        Raises:
            ValueError, IndexUnavailableError: as for `search`.
        """
        return self.retrieve(question, school, audience, history).outside
