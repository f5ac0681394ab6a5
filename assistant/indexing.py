"""The clause index: a persistent Chroma collection (dense) plus clause records (for BM25).

On-disk layout (``index/`` by default, ``ASSISTANT_INDEX_DIR`` overrides)::

    index/CURRENT                 # name of the generation being served
    index/gen-<stamp>/chroma/     # Chroma persistent store, collection "clauses" (cosine)
    index/gen-<stamp>/clauses.jsonl
    index/gen-<stamp>/manifest.json

Ingest never modifies the served generation: it builds a new one beside it and switches
``CURRENT`` with an atomic rename only when the new one is complete. A failed or killed
ingest therefore leaves the previous index serving. Clause vectors whose embedding text
is unchanged are copied from the previous generation instead of re-embedded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .audience import tag_audiences
from .chunking import SECTION_SEPARATOR, chunk_document
from .errors import CorpusError, IndexNotFoundError
from .loading import load_corpus
from .types import Clause, School

log = logging.getLogger(__name__)

COLLECTION = "clauses"
POINTER = "CURRENT"
#: Bump when chunking or embedding text changes, so ingest rebuilds every document.
PIPELINE_VERSION = "1"


def embedding_text(clause: Clause) -> str:
    """What is embedded for a clause: its last two section headings, then lead-in and text."""
    section = SECTION_SEPARATOR.join(clause.section.split(SECTION_SEPARATOR)[-2:])
    return f"{section}: {clause.display_text}" if section else clause.display_text


def chroma_client(path: Path):
    """A persistent Chroma client at ``path`` with telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))


@dataclass
class DocumentChange:
    """What ingest did to one document: ``added``, ``updated``, ``removed`` or ``unchanged``."""

    school: str
    document: str
    status: str
    clauses: int


@dataclass
class IngestReport:
    """The outcome of one ingest.

    Attributes:
        changed: False when the corpus matched the served index and nothing was written.
        generation: the generation now served.
        documents: per-document changes; schools: per-school ``(documents, clauses)``.
        embedded, reused: clause vectors computed vs. copied from the previous generation.
        seconds: wall time of the ingest.
    """

    changed: bool
    generation: str
    documents: list[DocumentChange] = field(default_factory=list)
    schools: dict[str, tuple[int, int]] = field(default_factory=dict)
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0


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
    key = json.dumps([PIPELINE_VERSION, model_id, school.name, doc.title, doc.sha256, doc.audiences], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()


def chunk_school(school: School) -> list[Clause]:
    """Chunk and audience-tag every document of a school."""
    out: list[Clause] = []
    for doc in school.documents:
        for clause in chunk_document(doc, school.name):
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
) -> IngestReport:
    """Build or refresh the index from a corpus folder.

    Args:
        corpus_dir: the corpus (one folder per school; see `assistant.loading`).
        index_dir: where generations live; created if missing.
        embeddings: a `SentenceEmbeddings` (default: the shared MiniLM model).
        progress: called as ``progress(done, total)`` while clauses are embedded/stored.

    Returns:
        an `IngestReport`. When the corpus matches the served index, nothing is written
        and ``report.changed`` is False.

    Raises:
        CorpusError: a file or folder of the corpus cannot be ingested (the message names
            it). The served index is untouched.
    """
    from .embedding import shared_embeddings

    started = time.perf_counter()
    index_dir = Path(index_dir)
    schools = load_corpus(Path(corpus_dir))  # raises CorpusError before anything is written
    embeddings = embeddings or shared_embeddings()
    model_id = embeddings.model_id

    previous = current_generation(index_dir)
    old_manifest = read_manifest(previous) if previous else {"schools": {}}
    old_docs = {(s, d): meta for s, sm in old_manifest["schools"].items() for d, meta in sm["documents"].items()}

    clauses: list[Clause] = []
    manifest_schools: dict = {}
    changes: list[DocumentChange] = []
    for school in schools:
        school_clauses = chunk_school(school)
        if not school_clauses:
            raise CorpusError(Path(corpus_dir) / school.school, "yields no clauses (is it a policy document?)")
        clauses.extend(school_clauses)
        docs_meta = {}
        for doc in school.documents:
            n = sum(1 for c in school_clauses if c.document == doc.document)
            if n == 0:
                raise CorpusError(doc.path, "yields no clauses (no policy text found)")
            fp = _fingerprint(school, doc, model_id)
            old = old_docs.pop((school.school, doc.document), None)
            status = "added" if old is None else ("unchanged" if old["fingerprint"] == fp else "updated")
            changes.append(DocumentChange(school.school, doc.document, status, n))
            docs_meta[doc.document] = {
                "title": doc.title,
                "path": doc.path,
                "sha256": doc.sha256,
                "fingerprint": fp,
                "clauses": n,
                "adopted": doc.adopted,
                "last_reviewed": doc.last_reviewed,
                "next_review": doc.next_review,
                "audiences": list(doc.audiences),
            }
        manifest_schools[school.school] = {"name": school.name, "documents": docs_meta}
    for (school_id, doc_id), meta in old_docs.items():
        changes.append(DocumentChange(school_id, doc_id, "removed", meta["clauses"]))

    school_counts = {s: (len(m["documents"]), sum(d["clauses"] for d in m["documents"].values())) for s, m in manifest_schools.items()}
    if previous is not None and all(c.status == "unchanged" for c in changes) and old_manifest.get("model") == model_id:
        return IngestReport(False, previous.name, changes, school_counts, 0, 0, time.perf_counter() - started)

    generation = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.time_ns() % 1_000_000:06d}"
    generation.mkdir(parents=True)
    try:
        embedded, reused = _write_generation(generation, clauses, manifest_schools, embeddings, _old_vectors(previous), progress)
        _write_atomic(index_dir / POINTER, generation.name + "\n")
    except BaseException:
        shutil.rmtree(generation, ignore_errors=True)
        raise
    _collect_old_generations(index_dir, keep={generation.name, previous.name if previous else ""})
    return IngestReport(True, generation.name, changes, school_counts, embedded, reused, time.perf_counter() - started)


def _write_generation(generation, clauses, manifest_schools, embeddings, old_vectors, progress) -> tuple[int, int]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document

    texts = [embedding_text(c) for c in clauses]
    keys = [hashlib.sha1(f"{embeddings.model_id}\x1f{t}".encode()).hexdigest() for t in texts]
    todo = [i for i, k in enumerate(keys) if k not in old_vectors]
    vectors: dict[int, list[float]] = {i: old_vectors[k] for i, k in enumerate(keys) if k in old_vectors}
    total = len(clauses)
    done = len(vectors)
    if progress:
        progress(done, total)
    batch = 64
    for start in range(0, len(todo), batch):
        idx = todo[start : start + batch]
        for i, vec in zip(idx, embeddings.embed_documents([texts[i] for i in idx]), strict=True):
            vectors[i] = vec
        done += len(idx)
        if progress:
            progress(done, total)

    client = chroma_client(generation / "chroma")
    client.create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    store = Chroma(client=client, collection_name=COLLECTION, embedding_function=embeddings)
    docs = [
        Document(
            page_content=texts[i],
            metadata={"school": c.school, "document": c.document, "clause_id": c.clause_id, "embed_key": keys[i]},
        )
        for i, c in enumerate(clauses)
    ]
    ids = [f"{c.school}:{c.clause_id}" for c in clauses]
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


def _collect_old_generations(index_dir: Path, keep: set[str]) -> None:
    """Delete generations other than the served one and the one before it (and crashed leftovers)."""
    for gen in index_dir.glob("gen-*"):
        if gen.is_dir() and gen.name not in keep:
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
