"""What an ingest will serve: the corpus compared with the served generation, document by document.

`plan_changes` is the first step of `assistant.index.build.build_index`: it chunks every
school, decides each document's status (added, updated, unchanged, removed; failed or kept
when its file cannot be ingested) and gathers the next generation's manifest entries,
clauses and texts. Nothing is written here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..audience import tag_audiences
from ..chunking import chunk_document
from ..errors import CorpusError
from ..formats import EXTRACTOR_VERSION
from ..loading import CorpusScan, SchoolScan
from ..types import Clause, School
from .generation import read_clauses, read_generation_text
from .manifest import DocumentEntry, Manifest, SchoolEntry
from .store import Generation, document_text_file

#: Bump when chunking or embedding text changes, so ingest rebuilds every document.
PIPELINE_VERSION = "6"  # 6: only exact repeats are merged (issue 17 item 8)


@dataclass
class DocumentChange:
    """What ingest did to one document.

    Attributes:
        status: ``added``, ``updated``, ``unchanged`` or ``removed``; ``failed`` when its
            file cannot be ingested, ``kept`` when it failed but ``allow_partial`` kept
            serving its previous version.
        clauses: clauses served for it (for ``failed``: 0; for ``removed``: as before).
        file: the source file name; format: ``text``/``pdf``/``docx``/``html``;
        pages: page count of a PDF; reason: why it failed.
    """

    school: str
    document: str
    status: str
    clauses: int
    file: str = ""
    format: str = ""
    pages: int | None = None
    reason: str = ""


@dataclass
class IngestReport:
    """The outcome of one ingest.

    Attributes:
        changed: False when the corpus matched the served index and nothing was written.
        generation: the generation now served.
        documents: per-document changes; schools: per-school ``(documents, clauses)``.
        embedded, reused: clause vectors computed vs. copied from the previous generation.
        seconds: wall time of the ingest.
        problems: every file or folder that could not be ingested, with its reason.
        notes: remarks that did not stop ingest (legacy encodings, metadata disagreements).
    """

    changed: bool
    generation: str
    documents: list[DocumentChange] = field(default_factory=list)
    schools: dict[str, tuple[int, int]] = field(default_factory=dict)
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    problems: list[CorpusError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class IngestFailed(CorpusError):
    """Some corpus files cannot be ingested, so nothing was written and the served index is untouched.

    Attributes:
        problems: one `CorpusError` per bad file or folder; report: what would have been
            served (``report.documents`` has every other file's result).
    """

    def __init__(self, corpus_dir: Path, problems: list[CorpusError], report: IngestReport) -> None:
        """Name every problem in the message (``corpus_dir``: the corpus folder)."""
        self.problems = problems
        self.report = report
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(corpus_dir, f"{len(problems)} file(s) cannot be ingested:\n{listing}")


def fingerprint(school: School, doc, model_id: str) -> str:
    """SHA-256 hex of everything a document's clauses and vectors depend on (an unchanged one is reused).

    Args:
        school: the document's school.
        doc: the loaded document (`assistant.types.Document`).
        model_id: the embedding model's id.
    """
    dates = [doc.adopted, doc.last_reviewed, doc.next_review]
    key = json.dumps(
        [
            PIPELINE_VERSION,
            EXTRACTOR_VERSION,
            model_id,
            school.name,
            list(school.widget_origins),
            doc.title,
            doc.sha256,
            doc.audiences,
            doc.source_format,
            dates,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()


def chunk_school(school: School) -> list[Clause]:
    """Chunk and audience-tag every document of a school."""
    out: list[Clause] = []
    for doc in school.documents:
        page_starts = list(doc.page_starts) if doc.page_starts else None
        for clause in chunk_document(doc, school.name, page_starts=page_starts):
            tags = tag_audiences(clause.text, clause.section, clause.lead_in, doc.audiences)
            out.append(_with_audiences(clause, tags))
    return out


def _with_audiences(clause: Clause, tags: tuple[str, ...]) -> Clause:
    data = clause.to_dict()
    data["audiences"] = tags
    return Clause.from_dict(data)


@dataclass
class Plan:
    """The next generation's content and how it differs from the served one.

    Attributes:
        served: ``(school, document)`` → (manifest entry, clauses, extracted text or None).
        names: school id → display name; widget_origins: school id → origins.
        changes: one `DocumentChange` per document, failed and removed ones included.
        problems: every file or folder that cannot be ingested; notes: remarks from the scan.
    """

    served: dict[tuple[str, str], tuple[DocumentEntry, list[Clause], str | None]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    widget_origins: dict[str, list[str]] = field(default_factory=dict)
    changes: list[DocumentChange] = field(default_factory=list)
    problems: list[CorpusError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        """Whether no document was added, updated, removed or failed without a kept version."""
        return all(c.status in ("unchanged", "kept") for c in self.changes)

    def schools(self) -> dict[str, SchoolEntry]:
        """The manifest's schools, sorted by id, each with its documents sorted by id."""
        documents: dict[str, dict[str, DocumentEntry]] = {}
        for (school_id, doc_id), (entry, _, _) in sorted(self.served.items()):
            documents.setdefault(school_id, {})[doc_id] = entry
        return {s: SchoolEntry(self.names[s], docs, tuple(self.widget_origins.get(s, []))) for s, docs in documents.items()}

    def clauses(self) -> list[Clause]:
        """Every clause served, school by school and document by document (sorted by id)."""
        return [c for _, (_, doc_clauses, _) in sorted(self.served.items()) for c in doc_clauses]

    def texts(self) -> dict[str, str]:
        """Each served document's extracted text, by its path inside the generation (`document_text_file`)."""
        return {document_text_file(s, d): text for (s, d), (_, _, text) in sorted(self.served.items()) if text is not None}

    def report(self, generation: str) -> IngestReport:
        """An unchanged-so-far `IngestReport` of this plan, ``generation`` being the one served."""
        counts = {s: (len(e.documents), e.clauses) for s, e in self.schools().items()}
        return IngestReport(False, generation, self.changes, counts, problems=self.problems, notes=self.notes)


def plan_changes(scan: CorpusScan, previous: Generation | None, old: Manifest, model_id: str, allow_partial: bool) -> Plan:
    """Compare a scanned corpus with the served generation.

    Args:
        scan: the corpus as `assistant.loading.scan_corpus` read it.
        previous: the served generation, or None (none, or unreadable: build everything).
        old: its manifest (empty when ``previous`` is None).
        model_id: the embedding model's id (part of every document's fingerprint).
        allow_partial: keep serving the previous version of a document that now fails.

    Returns:
        the `Plan`; its ``problems`` include documents that yield no clauses.

    Raises:
        IndexCorruptError: (``allow_partial``) the previous generation's clauses cannot be read.
    """
    plan = Plan(problems=list(scan.problems), notes=scan.notes)
    old_docs = {(s, d): meta for s, entry in old.schools.items() for d, meta in entry.documents.items()}
    problem_of = {(p.path.parent.name, p.path.stem): p for p in plan.problems}
    kept_clauses: dict[tuple[str, str], list[Clause]] | None = None
    for sscan in scan.schools:
        failed = set(sscan.failed) | _plan_school(plan, sscan, old_docs, problem_of, model_id)
        if sscan.whole_school:
            failed |= {d for s, d in old_docs if s == sscan.school_id}
        for doc_id in sorted(failed):
            entry = old_docs.get((sscan.school_id, doc_id))
            if allow_partial and entry is not None and previous is not None:
                if kept_clauses is None:
                    kept_clauses = {}
                    for c in read_clauses(previous):
                        kept_clauses.setdefault((c.school, c.document), []).append(c)
                _keep(plan, sscan, doc_id, entry, old, previous, kept_clauses, problem_of)
            else:
                reason, file_name = _failure(sscan, doc_id, problem_of)
                plan.changes.append(DocumentChange(sscan.school_id, doc_id, "failed", 0, file_name, reason=reason))
    seen = {(c.school, c.document) for c in plan.changes}
    for (school_id, doc_id), meta in old_docs.items():
        if (school_id, doc_id) not in seen:
            plan.changes.append(DocumentChange(school_id, doc_id, "removed", meta.clauses, meta.file or "", meta.format or ""))
    return plan


def _plan_school(plan: Plan, sscan: SchoolScan, old_docs: dict, problem_of: dict, model_id: str) -> set[str]:
    """Plan a loaded school's documents; returns the ids of those that yield no clauses."""
    school, school_id = sscan.school, sscan.school_id
    if school is None:
        return set()
    empty: set[str] = set()
    plan.names[school_id] = school.name
    # Recorded in the manifest so app processes without the corpus (Chroma server mode) know them.
    plan.widget_origins[school_id] = list(school.widget_origins)
    school_clauses = chunk_school(school)
    for doc in school.documents:
        doc_clauses = [c for c in school_clauses if c.document == doc.document]
        if not doc_clauses:
            problem = CorpusError(doc.path, "yields no clauses (no policy text found)")
            plan.problems.append(problem)
            problem_of[(school_id, doc.document)] = problem
            empty.add(doc.document)
            continue
        fp = fingerprint(school, doc, model_id)
        old = old_docs.get((school_id, doc.document))
        status = "added" if old is None else ("unchanged" if old.fingerprint == fp else "updated")
        pages = len(doc.page_starts) if doc.page_starts else None
        file_name = Path(doc.path).name
        plan.changes.append(DocumentChange(school_id, doc.document, status, len(doc_clauses), file_name, doc.source_format, pages))
        entry = DocumentEntry(
            title=doc.title,
            path=doc.path,
            file=file_name,
            format=doc.source_format,
            pages=pages,
            text_file=document_text_file(school_id, doc.document),
            sha256=doc.sha256,
            fingerprint=fp,
            clauses=len(doc_clauses),
            adopted=doc.adopted,
            last_reviewed=doc.last_reviewed,
            next_review=doc.next_review,
            audiences=tuple(doc.audiences),
        )
        plan.served[(school_id, doc.document)] = (entry, doc_clauses, doc.text)
    return empty


def _failure(sscan: SchoolScan, doc_id: str, problem_of: dict) -> tuple[str, str]:
    """``(reason, file name)`` of a document that cannot be ingested (the file name empty for a whole folder)."""
    problem = problem_of.get((sscan.school_id, doc_id))
    reason = problem.reason if problem else "; ".join(f"{p.path.name} {p.reason}" for p in sscan.problems)
    file_name = problem.path.name if problem and problem.path.suffix else ""
    return reason, file_name


def _keep(
    plan: Plan,
    sscan: SchoolScan,
    doc_id: str,
    entry: DocumentEntry,
    old: Manifest,
    previous: Generation,
    kept_clauses: dict[tuple[str, str], list[Clause]],
    problem_of: dict,
) -> None:
    """Serve a failing document's previous version, as the previous generation holds it (``allow_partial``)."""
    school_id = sscan.school_id
    reason, file_name = _failure(sscan, doc_id, problem_of)
    plan.names.setdefault(school_id, old.schools[school_id].name)
    plan.widget_origins.setdefault(school_id, list(old.schools[school_id].widget_origins))
    text = read_generation_text(previous, entry.text_file) if entry.text_file else None
    plan.served[(school_id, doc_id)] = (entry, kept_clauses.get((school_id, doc_id), []), text)
    kept = DocumentChange(school_id, doc_id, "kept", entry.clauses, entry.file or "", entry.format or "")
    kept.pages, kept.reason = entry.pages, f"{file_name} {reason}" if file_name else reason
    plan.changes.append(kept)
