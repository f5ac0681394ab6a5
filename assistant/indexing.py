"""The clause index: a persistent Chroma collection (dense) plus clause records (for BM25).

On-disk layout (``index/`` by default, ``ASSISTANT_INDEX_DIR`` overrides)::

    index/CURRENT                 # name of the generation being served
    index/gen-<stamp>/chroma/     # Chroma persistent store, collection "clauses" (cosine)
    index/gen-<stamp>/clauses.jsonl
    index/gen-<stamp>/manifest.json                       # written last: a generation without one is unfinished
    index/gen-<stamp>/documents/<school>/<document>.txt   # each document's text as ingested (PDF/DOCX/HTML extracted)
    index/.ingest.lock                                    # held (flock) while an ingest runs

Ingest never modifies the served generation: it builds a new one beside it and switches
``CURRENT`` with an atomic rename only when the new one is complete. A failed or killed
ingest therefore leaves the previous index serving; the next ingest deletes what a killed
one left half-built. Clause vectors whose embedding text is unchanged are copied from the
previous generation instead of re-embedded. A corpus file that cannot be ingested stops
the ingest before anything is written (`IngestFailed` names every such file), unless
``allow_partial`` serves the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .audience import tag_audiences
from .chunking import SECTION_SEPARATOR, chunk_document
from .errors import CorpusError, IndexNotFoundError
from .formats import EXTRACTOR_VERSION
from .loading import scan_corpus
from .types import Clause, School

log = logging.getLogger(__name__)

COLLECTION = "clauses"
POINTER = "CURRENT"
#: Bump when chunking or embedding text changes, so ingest rebuilds every document.
PIPELINE_VERSION = "5"


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'“‘])")
#: Sentences shorter than this are embedded only as part of their clause.
MIN_UNIT_CHARS = 25


def _section_context(clause: Clause) -> str:
    return SECTION_SEPARATOR.join(clause.section.split(SECTION_SEPARATOR)[-2:])


_CONTINUED_BY = re.compile(
    r"\b(may|might|to|should|must|which|who|that|for|is|are|was|be|it|if|will|would|can|shall|not|of|by|with|when|"
    r"ensure|include|includes|following|they|we|you|i)\s*[:\-—]*$",
    re.IGNORECASE,
)


def continues_lead_in(clause: Clause) -> bool:
    """True when the clause only reads as the end of its lead-in's sentence.

    "… in a manner which may:" + "Bring the School into disrepute;" does; a heading-like
    lead-in ("Guidelines issued to staff:") followed by a full rule ("Staff must never …")
    does not, and embedding such a lead-in into every item only blurs them.
    """
    if not clause.lead_in:
        return False
    last = clause.lead_in.rstrip().rstrip(":-—").split(". ")[-1]
    return clause.text[:1].islower() or bool(_CONTINUED_BY.search(last + ":")) or len(clause.text.split()) <= 6


def embedding_text(clause: Clause) -> str:
    """The clause as embedded whole: last two section headings, its lead-in when the clause
    continues it (see `continues_lead_in`), then its text."""
    body = clause.display_text if continues_lead_in(clause) else clause.text
    section = _section_context(clause)
    return f"{section}: {body}" if section else body


def embedding_units(clause: Clause) -> list[str]:
    """Texts embedded for one clause: the whole clause, then each of its sentences.

    A long clause often states several rules ("Photographs will be stored … until the
    school ceases to operate" sits in a paragraph about consent). One vector per
    sentence lets a question find the sentence it asks about; the clause's dense score
    is the best of its vectors (multi-vector retrieval with max pooling, as in ColBERT's
    MaxSim, Khattab & Zaharia, SIGIR 2020, at sentence rather than token granularity),
    and the citation is still the whole clause.
    """
    units = [embedding_text(clause)]
    sentences = [s.strip() for s in _SENTENCE.split(clause.text) if len(s.strip()) >= MIN_UNIT_CHARS]
    if len(sentences) > 1:
        lead_in = clause.lead_in if continues_lead_in(clause) else ""
        prefix = " ".join(p for p in (_section_context(clause) + ":" if clause.section else "", lead_in) if p)
        units.extend(f"{prefix} {s}".strip() for s in sentences)
    return units


def chroma_client(path: Path):
    """A persistent Chroma client at ``path`` with telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))


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
        self.problems = problems
        self.report = report
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(corpus_dir, f"{len(problems)} file(s) cannot be ingested:\n{listing}")


class IngestBusyError(RuntimeError):
    """Another ingest is writing to the same index folder (it holds ``.ingest.lock``)."""


LOCK_FILE = ".ingest.lock"
DOCUMENTS_DIR = "documents"


@contextlib.contextmanager
def ingest_lock(index_dir: Path):
    """Hold the index folder's ingest lock (an ``flock``; the kernel drops it if the process dies).

    Raises:
        IngestBusyError: another ingest holds it.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK_FILE).open("a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise IngestBusyError(f"another ingest is running on {index_dir} (pid {holder}); wait for it to finish") from exc
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def document_text_file(school: str, document: str) -> str:
    """Where a generation stores a document's extracted text, relative to the generation folder."""
    return f"{DOCUMENTS_DIR}/{school}/{document}.txt"


def current_generation(index_dir: Path) -> Path | None:
    """The served generation's folder, or None when the index has never been built."""
    pointer = Path(index_dir) / POINTER
    if not pointer.exists():
        return None
    gen = Path(index_dir) / pointer.read_text(encoding="utf-8").strip()
    return gen if (gen / "manifest.json").exists() else None


def read_manifest(generation: Path) -> dict:
    """The manifest of a generation (schools, documents, fingerprints, model)."""
    return json.loads((generation / "manifest.json").read_text(encoding="utf-8"))


def read_clauses(generation: Path) -> list[Clause]:
    """Every clause record of a generation, in document order."""
    with (generation / "clauses.jsonl").open(encoding="utf-8") as fh:
        return [Clause.from_dict(json.loads(line)) for line in fh if line.strip()]


def _fingerprint(school: School, doc, model_id: str) -> str:
    dates = [doc.adopted, doc.last_reviewed, doc.next_review]
    key = json.dumps(
        [PIPELINE_VERSION, EXTRACTOR_VERSION, model_id, school.name, doc.title, doc.sha256, doc.audiences, doc.source_format, dates],
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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _old_vectors(generation: Path | None) -> dict[str, list[float]]:
    """Vectors of the previous generation keyed by embedding-text hash."""
    if generation is None or not (generation / "chroma").exists():
        return {}
    try:
        collection = chroma_client(generation / "chroma").get_collection(COLLECTION)
        got = collection.get(include=["embeddings", "metadatas"])
    except Exception as exc:  # an unreadable old generation only costs re-embedding
        log.warning("previous index generation unreadable, re-embedding everything: %s", exc)
        return {}
    return {meta["embed_key"]: list(vec) for meta, vec in zip(got["metadatas"], got["embeddings"], strict=True)}


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embeddings=None,
    progress: Callable[[int, int], None] | None = None,
    *,
    allow_partial: bool = False,
    max_bytes: int | None = None,
) -> IngestReport:
    """Build or refresh the index from a corpus folder.

    The new state is built aside in a new ``gen-*`` folder and served by swapping the
    ``CURRENT`` pointer (an atomic rename) only once it is complete; a failed or killed
    ingest leaves the served generation as it was. Unchanged clause vectors are reused.

    Args:
        corpus_dir: the corpus (one folder per school; see `assistant.loading`).
        index_dir: where generations live; created if missing.
        embeddings: a `SentenceEmbeddings` (default: the shared MiniLM model).
        progress: called as ``progress(done, total)`` while clauses are embedded/stored.
        allow_partial: serve every file that can be ingested even when some cannot; a bad
            file whose previous version is served keeps that version (status ``kept``).
        max_bytes: per-file size limit (default: ``ASSISTANT_MAX_FILE_MB``, 20 MB).

    Returns:
        an `IngestReport`. When the corpus matches the served index, nothing is written
        and ``report.changed`` is False.

    Raises:
        IngestFailed: some files cannot be ingested (and ``allow_partial`` is False); its
            ``problems`` name each file and reason and its ``report`` has every other
            file's result. Nothing was written.
        CorpusError: the corpus folder is missing or empty, or no file can be ingested.
        IngestBusyError: another ingest is running on ``index_dir``.
    """
    index_dir = Path(index_dir)
    with ingest_lock(index_dir):
        _remove_crashed_leftovers(index_dir)
        return _build(Path(corpus_dir), index_dir, embeddings, progress, allow_partial, max_bytes)


def _build(corpus_dir: Path, index_dir: Path, embeddings, progress, allow_partial: bool, max_bytes: int | None) -> IngestReport:
    from .embedding import shared_embeddings

    started = time.perf_counter()
    scan = scan_corpus(corpus_dir, max_bytes)  # raises CorpusError before anything is written
    embeddings = embeddings or shared_embeddings()
    model_id = embeddings.model_id

    previous = current_generation(index_dir)
    old_manifest = read_manifest(previous) if previous else {"schools": {}}
    old_docs = {(s, d): meta for s, sm in old_manifest["schools"].items() for d, meta in sm["documents"].items()}
    old_clauses: dict[tuple[str, str], list[Clause]] | None = None

    problems: list[CorpusError] = list(scan.problems)
    served: dict[tuple[str, str], tuple[dict, list[Clause], str | None]] = {}  # → (manifest entry, clauses, text)
    names: dict[str, str] = {}
    changes: list[DocumentChange] = []
    problem_of = {(p.path.parent.name, p.path.stem): p for p in problems}
    for sscan in scan.schools:
        school, school_id = sscan.school, sscan.school_id
        failed = set(sscan.failed)
        if school is not None:
            names[school_id] = school.name
            school_clauses = chunk_school(school)
            for doc in school.documents:
                doc_clauses = [c for c in school_clauses if c.document == doc.document]
                if not doc_clauses:
                    problem = CorpusError(doc.path, "yields no clauses (no policy text found)")
                    problems.append(problem)
                    problem_of[(school_id, doc.document)] = problem
                    failed.add(doc.document)
                    continue
                fp = _fingerprint(school, doc, model_id)
                old = old_docs.get((school_id, doc.document))
                status = "added" if old is None else ("unchanged" if old["fingerprint"] == fp else "updated")
                pages = len(doc.page_starts) if doc.page_starts else None
                file_name = Path(doc.path).name
                changes.append(DocumentChange(school_id, doc.document, status, len(doc_clauses), file_name, doc.source_format, pages))
                entry = {
                    "title": doc.title,
                    "path": doc.path,
                    "file": Path(doc.path).name,
                    "format": doc.source_format,
                    "pages": pages,
                    "text_file": document_text_file(school_id, doc.document),
                    "sha256": doc.sha256,
                    "fingerprint": fp,
                    "clauses": len(doc_clauses),
                    "adopted": doc.adopted,
                    "last_reviewed": doc.last_reviewed,
                    "next_review": doc.next_review,
                    "audiences": list(doc.audiences),
                }
                served[(school_id, doc.document)] = (entry, doc_clauses, doc.text)
        if sscan.whole_school:
            failed |= {d for s, d in old_docs if s == school_id}
        for doc_id in sorted(failed):
            old = old_docs.get((school_id, doc_id))
            problem = problem_of.get((school_id, doc_id))
            reason = problem.reason if problem else "; ".join(f"{p.path.name} {p.reason}" for p in sscan.problems)
            file_name = problem.path.name if problem and problem.path.suffix else ""
            if allow_partial and old is not None and previous is not None:
                if old_clauses is None:
                    old_clauses = {}
                    for c in read_clauses(previous):
                        old_clauses.setdefault((c.school, c.document), []).append(c)
                names.setdefault(school_id, old_manifest["schools"][school_id]["name"])
                text = _stored_text(previous, old)
                served[(school_id, doc_id)] = (old, old_clauses.get((school_id, doc_id), []), text)
                kept = DocumentChange(school_id, doc_id, "kept", old["clauses"], old.get("file", ""), old.get("format", ""))
                kept.pages, kept.reason = old.get("pages"), f"{file_name} {reason}" if file_name else reason
                changes.append(kept)
            else:
                changes.append(DocumentChange(school_id, doc_id, "failed", 0, file_name, reason=reason))
    seen = {(c.school, c.document) for c in changes}
    for (school_id, doc_id), meta in old_docs.items():
        if (school_id, doc_id) not in seen:
            changes.append(DocumentChange(school_id, doc_id, "removed", meta["clauses"], meta.get("file", ""), meta.get("format", "")))

    manifest_schools: dict = {}
    clauses: list[Clause] = []
    texts: dict[tuple[str, str], str] = {}
    for (school_id, doc_id), (entry, doc_clauses, text) in sorted(served.items()):
        manifest_schools.setdefault(school_id, {"name": names[school_id], "documents": {}})["documents"][doc_id] = entry
        clauses.extend(doc_clauses)
        if text is not None:
            texts[(school_id, doc_id)] = text
    school_counts = {s: (len(m["documents"]), sum(d["clauses"] for d in m["documents"].values())) for s, m in manifest_schools.items()}
    current_name = previous.name if previous else ""
    report = IngestReport(False, current_name, changes, school_counts, problems=problems, notes=scan.notes)
    if problems and not allow_partial:
        report.seconds = time.perf_counter() - started
        raise IngestFailed(corpus_dir, problems, report)
    if not clauses:
        listing = "".join(f"\n  - {p}" for p in problems)
        raise CorpusError(corpus_dir, "has no document that can be ingested" + (":" + listing if problems else ""))
    unchanged = all(c.status in ("unchanged", "kept") for c in changes)
    if previous is not None and unchanged and old_manifest.get("model") == model_id:
        report.seconds = time.perf_counter() - started
        return report

    generation = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.time_ns() % 1_000_000:06d}"
    generation.mkdir(parents=True)
    try:
        for (school_id, doc_id), text in texts.items():
            target = generation / document_text_file(school_id, doc_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        embedded, reused = _write_generation(generation, clauses, manifest_schools, embeddings, _old_vectors(previous), progress)
        _write_atomic(index_dir / POINTER, generation.name + "\n")
    except BaseException:
        shutil.rmtree(generation, ignore_errors=True)
        raise
    _collect_old_generations(index_dir, keep={generation.name, current_name})
    report.changed, report.generation = True, generation.name
    report.embedded, report.reused = embedded, reused
    report.seconds = time.perf_counter() - started
    return report


def _stored_text(generation: Path, entry: dict) -> str | None:
    """A document's text as a generation stored it (None for generations that stored none)."""
    rel = entry.get("text_file")
    if not rel:
        return None
    try:
        return (generation / rel).read_text(encoding="utf-8")
    except OSError:
        return None


def _remove_crashed_leftovers(index_dir: Path) -> None:
    """Delete what a killed ingest left behind: unfinished ``gen-*`` folders and temp pointer files.

    Runs under the ingest lock, so no other ingest is building a generation meanwhile. A
    generation is finished once its ``manifest.json`` exists; the served one is never touched.
    """
    served = current_generation(index_dir)
    for gen in index_dir.glob("gen-*"):
        if gen.is_dir() and gen != served and not (gen / "manifest.json").exists():
            shutil.rmtree(gen, ignore_errors=True)
    for tmp in index_dir.glob(f".{POINTER}.tmp-*"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _write_generation(generation, clauses, manifest_schools, embeddings, old_vectors, progress) -> tuple[int, int]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document

    docs: list[Document] = []
    ids: list[str] = []
    for c in clauses:
        for n, text in enumerate(embedding_units(c)):
            key = hashlib.sha1(f"{embeddings.model_id}\x1f{text}".encode()).hexdigest()
            docs.append(
                Document(
                    page_content=text,
                    metadata={"school": c.school, "document": c.document, "clause_id": c.clause_id, "unit": n, "embed_key": key},
                )
            )
            ids.append(f"{c.school}:{c.clause_id}:{n}")
    total = len(docs)
    vectors: dict[int, list[float]] = {
        i: old_vectors[d.metadata["embed_key"]] for i, d in enumerate(docs) if d.metadata["embed_key"] in old_vectors
    }
    todo = [i for i in range(total) if i not in vectors]
    done = len(vectors)
    if progress:
        progress(done, total)
    for start in range(0, len(todo), 64):
        batch = todo[start : start + 64]
        for i, vec in zip(batch, embeddings.embed_documents([docs[i].page_content for i in batch]), strict=True):
            vectors[i] = vec
        done += len(batch)
        if progress:
            progress(done, total)

    client = chroma_client(generation / "chroma")
    client.create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    store = Chroma(client=client, collection_name=COLLECTION, embedding_function=embeddings)
    # Vectors are already computed (or reused), so write them straight to the collection.
    collection = store._collection
    for start in range(0, total, 512):
        sl = slice(start, start + 512)
        collection.add(
            ids=ids[sl],
            embeddings=[vectors[i] for i in range(total)[sl]],
            documents=[d.page_content for d in docs[sl]],
            metadatas=[d.metadata for d in docs[sl]],
        )
    with (generation / "clauses.jsonl").open("w", encoding="utf-8") as fh:
        for c in clauses:
            fh.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    manifest = {
        "generation": generation.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": embeddings.model_id,
        "pipeline_version": PIPELINE_VERSION,
        "schools": manifest_schools,
    }
    _write_atomic(generation / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    return len(todo), total - len(todo)


#: A superseded generation is kept this long (seconds) after its last change, so a server
#: that has not yet switched to the new one (it checks every second) never loses its files.
GENERATION_GRACE_SECONDS = 600


def _collect_old_generations(index_dir: Path, keep: set[str]) -> None:
    """Delete generations other than the served one and the one before it, once they are
    older than `GENERATION_GRACE_SECONDS`."""
    cutoff = time.time() - GENERATION_GRACE_SECONDS
    for gen in index_dir.glob("gen-*"):
        if gen.is_dir() and gen.name not in keep and gen.stat().st_mtime < cutoff:
            shutil.rmtree(gen, ignore_errors=True)


def open_generation(index_dir: Path) -> Path:
    """The served generation folder.

    Raises:
        IndexNotFoundError: no index has been built at ``index_dir``.
    """
    gen = current_generation(Path(index_dir))
    if gen is None:
        raise IndexNotFoundError(f"no index at {Path(index_dir).resolve()}: build it with `python ingest.py`")
    return gen
