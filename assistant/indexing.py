"""The clause index: one Chroma collection per school (dense) plus clause records (for BM25).

Embedded layout (``index/`` by default, ``ASSISTANT_INDEX_DIR`` overrides)::

    index/CURRENT                 # name of the generation being served
    index/gen-<stamp>/chroma/     # Chroma persistent store: one cosine collection per school
    index/gen-<stamp>/clauses/<school>.jsonl              # clause records, one file per school (read on its first question)
    index/gen-<stamp>/manifest.json                       # written last: a generation without one is unfinished
    index/gen-<stamp>/documents/<school>/<document>.txt   # each document's text as ingested (PDF/DOCX/HTML extracted)
    index/.ingest.lock                                    # held (flock) while an ingest runs
    index/.leases/<host>-<pid>-<id>.json                  # each running server's lease on what it serves

Server layout (``CHROMA_HOST``/``CHROMA_PORT`` set; see `chroma_client`): the same
generation lives on the Chroma server, so app processes on any machine need only the server:

    collection gen-<stamp>.<school>.<hash>   # one per school, as embedded
    collection gen-<stamp>.meta              # records: manifest (written last), clauses:<school>, text:<file>
    collection policy-assistant.current      # its metadata ``current`` names the served generation

Each school's vectors live in their own collection (named by `school_collection_name`), so
a query searches only that school's HNSW graph: latency does not grow with the number of
schools, and a server loads only the collections being asked (measured in
``bench/tenant_store.py``; README "Deployment").

Ingest never modifies the served generation: it builds a new one beside it and switches
``CURRENT`` (or the server's pointer) only when the new one is complete. A failed or killed
ingest therefore leaves the previous index serving; the next ingest deletes what a killed
one left half-built. Old generations are deleted only when no live server leases them
(`GenerationLease`): a server that has not reloaded yet keeps the generation it serves. Clause vectors whose embedding text is unchanged are copied from the
previous generation (school by school) instead of re-embedded. A corpus file that cannot
be ingested stops the ingest before anything is written (`IngestFailed` names every such
file), unless ``allow_partial`` serves the rest.
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
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audience import tag_audiences
from .chunking import SECTION_SEPARATOR, chunk_document
from .config import Settings
from .errors import CorpusError, IndexCorruptError, IndexNotFoundError, IndexUnavailableError
from .formats import EXTRACTOR_VERSION
from .loading import scan_corpus
from .types import Clause, School

log = logging.getLogger(__name__)

#: The single collection of generations built before per-school collections (still readable).
COLLECTION = "clauses"
POINTER = "CURRENT"
#: Manifest ``layout`` of generations with one collection per school.
LAYOUT = "collection-per-school"
#: On a Chroma server: the collection whose metadata names the served generation.
SERVER_POINTER = "policy-assistant.current"
#: Seconds an HTTP call to a Chroma server may take before the store counts as unavailable.
SERVER_TIMEOUT = 10.0
#: Bump when chunking or embedding text changes, so ingest rebuilds every document.
PIPELINE_VERSION = "6"  # 6: only exact repeats are merged (issue 17 item 8)
#: Manifest ``store_format``: 2 = every school's HNSW graph persisted at ingest and clause
#: records stored per school. An index of an older format serves as it is; the next ingest
#: rebuilds it (copying its vectors, no model runs) even when the corpus is unchanged.
STORE_FORMAT = 2


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'“‘])")
#: Sentences shorter than this are embedded only as part of their clause.
MIN_UNIT_CHARS = 25
#: Texts per embedding call at ingest (the progress bar moves once per call).
EMBED_CHUNK = 256


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


def unit_sentences(clause: Clause) -> list[str]:
    """The sentences of a clause that get a vector of their own: vector ``n`` (n ≥ 1) of
    `embedding_units` embeds sentence ``n - 1``. Empty for a one-sentence clause."""
    sentences = [s.strip() for s in _SENTENCE.split(clause.text) if len(s.strip()) >= MIN_UNIT_CHARS]
    return sentences if len(sentences) > 1 else []


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
    sentences = unit_sentences(clause)
    if sentences:
        lead_in = clause.lead_in if continues_lead_in(clause) else ""
        prefix = " ".join(p for p in (_section_context(clause) + ":" if clause.section else "", lead_in) if p)
        units.extend(f"{prefix} {s}".strip() for s in sentences)
    return units


_CLIENT_LOCK = threading.Lock()


def _start_embedded_store(path: str, settings, graphs: int) -> None:
    """Start Chroma's embedded store for ``path`` keeping at most ``graphs`` HNSW graphs loaded,
    unless this process has already started it (Chroma keeps one store per folder per process).

    Chroma 1.x's embedded store has no setting for this cache: it sizes it as the open-file
    limit // 5 (``chromadb.api.rust.RustBindingsAPI.__init__``; a loaded graph holds about
    four files open), and ``chroma_memory_limit_bytes`` / ``chroma_segment_cache_policy``
    reach only the legacy Python segments. So this does what ``PersistentClient`` does
    (``SharedSystemClient._create_system_if_not_exists``, chromadb 1.5) with the size set
    before the store starts; ``PersistentClient`` then finds the started store and uses it.
    `tests/test_store.py` fails if a Chroma upgrade changes that path.
    """
    from chromadb.api import ServerAPI
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import System
    from chromadb.telemetry.product import ProductTelemetryClient

    with _CLIENT_LOCK:
        if path in SharedSystemClient._identifier_to_system:
            return
        system = System(settings)
        system.instance(ProductTelemetryClient)
        system.instance(ServerAPI).hnsw_cache_size = graphs
        system.start()
        SharedSystemClient._identifier_to_system[path] = system


def chroma_client(path: Path | None = None, graph_cache: int | None = None):
    """The Chroma client every index read and write goes through, telemetry off.

    With ``CHROMA_HOST`` set (`assistant.config.Settings`), an ``HttpClient`` to that
    server (``CHROMA_PORT``, default 8000), whatever ``path`` is; otherwise an embedded
    ``PersistentClient`` at ``path``. ``graph_cache`` bounds how many schools' HNSW graphs
    the embedded store keeps loaded, least recently used evicted first (see
    `_start_embedded_store`; None: Chroma's default, one per five allowed open files). It
    applies when this process first opens ``path``: Chroma keeps one store per folder.

    Raises:
        ValueError: embedded mode without a ``path``.
        IndexUnavailableError: the Chroma server cannot be reached.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = Settings()
    if settings.chroma_host:
        return _server_client(settings.chroma_host, settings.chroma_port)
    if path is None:
        raise ValueError("an embedded Chroma store needs a folder")
    if graph_cache is not None:
        started = ChromaSettings(anonymized_telemetry=False, allow_reset=False, is_persistent=True, persist_directory=str(path))
        _start_embedded_store(str(path), started, graph_cache)
    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))


def server_address() -> str | None:
    """``host:port`` of the configured Chroma server, or None in embedded mode."""
    settings = Settings()
    return f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else None


def _server_client(host: str, port: int):
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    try:
        client = chromadb.HttpClient(host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as exc:  # the constructor already calls the server
        raise IndexUnavailableError(f"the Chroma server at {host}:{port} is not answering ({type(exc).__name__})") from exc
    # chromadb's HTTP session has no timeout; a hung server must not hang every request.
    with contextlib.suppress(AttributeError):
        client._server._session.timeout = httpx.Timeout(SERVER_TIMEOUT)
    return client


@dataclass(frozen=True)
class RemoteGeneration:
    """An index generation stored on the Chroma server (the server-mode counterpart of a
    ``gen-*`` folder). ``name`` is the generation's name, as for a folder."""

    name: str


#: A served generation: a ``gen-*`` folder (embedded) or a `RemoteGeneration` (server).
Generation = Path | RemoteGeneration


def school_collection_configuration(vectors: int) -> dict:
    """Chroma configuration of a school's collection holding ``vectors`` vectors: cosine
    space, and an HNSW graph built and written to disk by the ingest that adds them.

    Chroma persists a collection's graph only once ``sync_threshold`` vectors (default
    1,000) have arrived, and purges its write-ahead log only up to a persisted graph; a
    school has fewer vectors than that, so with the defaults every process replayed the
    school's whole log from SQLite on its first question (median 187 ms at 1,000 schools,
    ``bench/limits.md``) and the log was never purged. A threshold equal to the
    collection's size persists the graph once, on the last add. Chroma's minimum is 2.
    """
    size = max(2, vectors)
    return {"hnsw": {"space": "cosine", "batch_size": size, "sync_threshold": size}}


def school_collection_name(generation: str, school: str) -> str:
    """The Chroma collection holding one school's vectors in a generation.

    ``<generation>.<school id, at most 100 characters>.<8 hex of its hash>``: valid for
    Chroma (3–512 of ``[a-zA-Z0-9._-]``, alphanumeric at both ends, no ``..``) and
    unique per school even when two long ids share a prefix.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", school.lower())[:100].strip("-") or "school"
    return f"{generation}.{slug}.{hashlib.sha1(school.encode()).hexdigest()[:8]}"


def meta_collection_name(generation: str) -> str:
    """The server-mode collection of a generation's manifest, clause records and texts."""
    return f"{generation}.meta"


def generation_client(generation: Generation, manifest: dict | None = None):
    """The Chroma client of a generation's vectors (the server, or the folder's store).

    An embedded store of the current format keeps at most ``collection_cache_size`` schools'
    graphs loaded (`assistant.config.Settings`). One of store format 1 keeps Chroma's default:
    its graphs were never written to disk, so Chroma cannot reload a graph it has evicted
    ("Nothing found on disk"). A generation without a manifest is one this code is writing.
    """
    if isinstance(generation, RemoteGeneration):
        return chroma_client()
    if manifest is None:
        with contextlib.suppress(IndexCorruptError):
            manifest = read_manifest(generation)
    store_format = manifest.get("store_format", 1) if manifest is not None else STORE_FORMAT
    graph_cache = Settings().collection_cache_size if store_format >= 2 else None
    return chroma_client(Path(generation) / "chroma", graph_cache=graph_cache)


def same_generation(a: Generation | None, b: Generation | None) -> bool:
    """True when ``a`` and ``b`` are the same generation (folders compared resolved)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, RemoteGeneration) or isinstance(b, RemoteGeneration):
        return a == b
    return Path(a).resolve() == Path(b).resolve()


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


def current_generation(index_dir: Path) -> Generation | None:
    """The served generation, or None when the index has never been built (or its pointer
    names no finished generation).

    Embedded: the ``gen-*`` folder ``index_dir/CURRENT`` names. Server mode: the
    `RemoteGeneration` the server's pointer names (``index_dir`` is not read).

    Raises:
        IndexUnavailableError: (server mode) the Chroma server cannot be reached.
    """
    if server_address():
        return _remote_current()
    pointer = Path(index_dir) / POINTER
    if not pointer.exists():
        return None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        return None
    if not re.fullmatch(r"gen-[A-Za-z0-9-]+", name):
        return None
    gen = Path(index_dir) / name
    return gen if (gen / "manifest.json").exists() else None


def _remote_current() -> RemoteGeneration | None:
    client = chroma_client()
    try:
        pointer = client.get_collection(SERVER_POINTER)
    except Exception as exc:
        _raise_if_unreachable(exc)
        return None  # never built on this server
    name = (pointer.metadata or {}).get("current")
    if not name:
        return None
    generation = RemoteGeneration(str(name))
    return generation if _remote_record(generation, "manifest") is not None else None


def _raise_if_unreachable(exc: Exception) -> None:
    """Re-raise a transport failure as `IndexUnavailableError`; let "not found" pass."""
    import httpx

    if isinstance(exc, IndexUnavailableError):
        raise exc
    if isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError):
        raise IndexUnavailableError(f"the Chroma server at {server_address()} is not answering ({type(exc).__name__})") from exc


def _remote_record(generation: RemoteGeneration, record_id: str) -> str | None:
    """One stored text of a generation's meta collection (None when absent)."""
    try:
        got = chroma_client().get_collection(meta_collection_name(generation.name)).get(ids=[record_id], include=["documents"])
    except Exception as exc:
        _raise_if_unreachable(exc)
        return None
    return got["documents"][0] if got["ids"] else None


def _corrupt(generation: Generation, what: str) -> IndexCorruptError:
    where = (
        f"generation {generation.name} on the Chroma server at {server_address()}"
        if isinstance(generation, RemoteGeneration)
        else str(Path(generation).resolve())
    )
    return IndexCorruptError(f"the index at {where} is corrupt ({what}): rebuild it with `python ingest.py`")


def read_manifest(generation: Generation) -> dict:
    """The manifest of a generation (schools, documents, fingerprints, model, layout).

    Raises:
        IndexCorruptError: the manifest is missing or not valid JSON.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    if isinstance(generation, RemoteGeneration):
        text = _remote_record(generation, "manifest")
        if text is None:
            raise _corrupt(generation, "it has no manifest")
    else:
        try:
            text = (Path(generation) / "manifest.json").read_text(encoding="utf-8")
        except OSError as exc:
            raise _corrupt(generation, f"manifest.json cannot be read: {exc.strerror}") from exc
    try:
        manifest = json.loads(text)
        manifest["schools"].items()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _corrupt(generation, "manifest.json is truncated or not a manifest") from exc
    return manifest


def school_clauses_file(school: str) -> str:
    """Path, inside a generation folder, of one school's clause records."""
    return f"clauses/{school}.jsonl"


def _parse_clauses(generation: Generation, lines: list[str], what: str) -> list[Clause]:
    try:
        return [Clause.from_dict(json.loads(line)) for line in lines if line.strip()]
    except (ValueError, KeyError, TypeError) as exc:
        raise _corrupt(generation, f"{what} is truncated") from exc


def read_school_clauses(generation: Generation, school: str) -> list[Clause]:
    """One school's clause records, in document order, reading only that school's records.

    Only for generations with per-school records (store format 2, or on a server); for
    format 1 (one ``clauses.jsonl``) use `read_clauses`.

    Raises:
        IndexCorruptError: the school's clause records are missing or truncated.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    if isinstance(generation, RemoteGeneration):
        text = _remote_record(generation, f"clauses:{school}")
        if text is None:
            raise _corrupt(generation, f"no clause records for {school}")
        return _parse_clauses(generation, text.splitlines(), f"the clause records of {school}")
    path = Path(generation) / school_clauses_file(school)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise _corrupt(generation, f"{school_clauses_file(school)} cannot be read: {exc.strerror}") from exc
    return _parse_clauses(generation, lines, school_clauses_file(school))


def read_clauses(generation: Generation) -> list[Clause]:
    """Every clause record of a generation, school by school (sorted by id), each in document order.

    Raises:
        IndexCorruptError: the clause records are missing or truncated.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    if isinstance(generation, RemoteGeneration) or (Path(generation) / "clauses").is_dir():
        return [c for school in sorted(read_manifest(generation)["schools"]) for c in read_school_clauses(generation, school)]
    try:
        lines = (Path(generation) / "clauses.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise _corrupt(generation, f"clauses.jsonl cannot be read: {exc.strerror}") from exc
    return _parse_clauses(generation, lines, "clauses.jsonl")


def read_generation_text(generation: Generation, rel: str) -> str | None:
    """A text a generation stored (``documents/<school>/<document>.txt``), or None if absent."""
    if isinstance(generation, RemoteGeneration):
        return _remote_record(generation, f"text:{rel}")
    try:
        return (Path(generation) / rel).read_text(encoding="utf-8")
    except OSError:
        return None


def verify_generation(generation: Generation, manifest: dict | None = None) -> None:
    """Check that a generation's vector store holds a collection for every school it serves.

    Cheap (one listing of collection names); used before serving so a deleted or emptied
    store is a clear start-up error rather than a failure on the first question.

    Raises:
        IndexCorruptError: the store or a school's collection is missing.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    manifest = manifest if manifest is not None else read_manifest(generation)
    if not isinstance(generation, RemoteGeneration) and not (Path(generation) / "chroma" / "chroma.sqlite3").exists():
        raise _corrupt(generation, "its chroma/ vector store is missing")
    try:
        names = set(_collection_names(generation_client(generation, manifest)))
    except IndexUnavailableError:
        raise
    except Exception as exc:
        _raise_if_unreachable(exc)
        raise _corrupt(generation, f"its vector store cannot be opened ({type(exc).__name__})") from exc
    if manifest.get("layout") != LAYOUT:
        if COLLECTION not in names:
            raise _corrupt(generation, f"its vector store has no {COLLECTION!r} collection")
        return
    missing = [s for s in manifest["schools"] if school_collection_name(generation.name, s) not in names]
    if missing:
        raise _corrupt(generation, f"no vectors for {len(missing)} school(s), e.g. {missing[0]}")


def verify_clause_records(generation: Generation, manifest: dict) -> None:
    """Check, without parsing them, that every school's clause records are there and complete.

    Cheap at start-up (one stat and one byte per school); the records themselves are parsed on
    a school's first question (`read_school_clauses`). A file cut short by a crash or a full
    disk does not end with a newline. Generations of store format 1 (one ``clauses.jsonl``)
    and server generations are checked when read.

    Raises:
        IndexCorruptError: a school's clause file is missing, empty or cut short.
    """
    if isinstance(generation, RemoteGeneration) or not (Path(generation) / "clauses").is_dir():
        return
    for school in manifest["schools"]:
        rel = school_clauses_file(school)
        try:
            with (Path(generation) / rel).open("rb") as fh:
                complete = fh.seek(0, os.SEEK_END) > 0 and fh.seek(-1, os.SEEK_END) >= 0 and fh.read(1) == b"\n"
        except OSError as exc:
            raise _corrupt(generation, f"{rel} cannot be read: {exc.strerror}") from exc
        if not complete:
            raise _corrupt(generation, f"{rel} is truncated")


def check_generation(generation: Generation, manifest: dict) -> None:
    """Check that a served generation is all still there (``/healthz``): its manifest, its
    vector store and every school's clause records (`verify_clause_records`); on a Chroma server,
    its manifest record and every school's collection (`verify_generation`).

    Cheap (stats, or one listing of collections): it never loads a school, so it can check
    them all on every probe, where a search checks only one school already in memory.

    Raises:
        IndexCorruptError: something the generation serves from is gone or cut short.
        IndexUnavailableError: (server mode) the Chroma server cannot be reached.
    """
    if isinstance(generation, RemoteGeneration):
        if _remote_record(generation, "manifest") is None:
            raise _corrupt(generation, "it has no manifest")
        verify_generation(generation, manifest)
        return
    for rel in ("manifest.json", "chroma/chroma.sqlite3"):
        if not (Path(generation) / rel).is_file():
            raise _corrupt(generation, f"{rel} is missing")
    verify_clause_records(generation, manifest)


def _collection_names(client) -> list[str]:
    """Every collection name on a client (chromadb 1.x returns names or objects by version)."""
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def _fingerprint(school: School, doc, model_id: str) -> str:
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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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
    try:
        old_manifest = read_manifest(previous) if previous else {"schools": {}}
    except IndexCorruptError as exc:  # a damaged served generation: rebuild everything from the corpus
        log.warning("%s; building a complete new generation", exc)
        previous, old_manifest = None, {"schools": {}}
    old_docs = {(s, d): meta for s, sm in old_manifest["schools"].items() for d, meta in sm["documents"].items()}
    old_clauses: dict[tuple[str, str], list[Clause]] | None = None

    problems: list[CorpusError] = list(scan.problems)
    served: dict[tuple[str, str], tuple[dict, list[Clause], str | None]] = {}  # → (manifest entry, clauses, text)
    names: dict[str, str] = {}
    # Recorded in the manifest so app processes without the corpus (Chroma server mode) know them.
    widget_origins: dict[str, list[str]] = {}
    changes: list[DocumentChange] = []
    problem_of = {(p.path.parent.name, p.path.stem): p for p in problems}
    for sscan in scan.schools:
        school, school_id = sscan.school, sscan.school_id
        failed = set(sscan.failed)
        if school is not None:
            names[school_id] = school.name
            widget_origins[school_id] = list(school.widget_origins)
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
                widget_origins.setdefault(school_id, old_manifest["schools"][school_id].get("widget_origins", []))
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
        school_entry = {"name": names[school_id], "widget_origins": widget_origins.get(school_id, []), "documents": {}}
        manifest_schools.setdefault(school_id, school_entry)["documents"][doc_id] = entry
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
    current_format = old_manifest.get("layout") == LAYOUT and old_manifest.get("store_format") == STORE_FORMAT
    if previous is not None and unchanged and old_manifest.get("model") == model_id and current_format:
        report.seconds = time.perf_counter() - started
        return report

    name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.time_ns() % 1_000_000:06d}"
    generation: Generation = RemoteGeneration(name) if server_address() else index_dir / name
    try:
        embedded, reused = _write_generation(generation, clauses, manifest_schools, texts, embeddings, previous, progress)
        _switch_pointer(index_dir, generation, previous)
    except BaseException:
        _delete_generation(index_dir, generation)
        raise
    _collect_old_generations(index_dir, keep={generation.name, current_name})
    report.changed, report.generation = True, generation.name
    report.embedded, report.reused = embedded, reused
    report.seconds = time.perf_counter() - started
    return report


def _stored_text(generation: Generation, entry: dict) -> str | None:
    """A document's text as a generation stored it (None for generations that stored none)."""
    rel = entry.get("text_file")
    return read_generation_text(generation, rel) if rel else None


def _remove_crashed_leftovers(index_dir: Path) -> None:
    """Delete what a killed ingest left behind: unfinished generations and temp pointer files.

    Runs under the ingest lock, so no other ingest is building a generation meanwhile. A
    generation is finished once its manifest exists; the served one is never touched. In
    server mode the lock is the index folder's, so one ingest machine writes to a server.
    """
    served = current_generation(index_dir)
    if server_address():
        for name in _remote_generation_names():
            generation = RemoteGeneration(name)
            if generation != served and _remote_record(generation, "manifest") is None:
                _delete_generation(index_dir, generation)
        return
    for gen in index_dir.glob("gen-*"):
        if gen.is_dir() and gen != served and not (gen / "manifest.json").exists():
            shutil.rmtree(gen, ignore_errors=True)
    for tmp in index_dir.glob(f".{POINTER}.tmp-*"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _remote_generation_names() -> set[str]:
    return {name.split(".", 1)[0] for name in _collection_names(chroma_client()) if name.startswith("gen-")}


def _delete_generation(index_dir: Path, generation: Generation) -> None:
    """Remove a generation: its folder, or (server mode) every collection named after it."""
    if not isinstance(generation, RemoteGeneration):
        shutil.rmtree(generation, ignore_errors=True)
        return
    with contextlib.suppress(Exception):  # best effort: a leftover is removed by the next ingest
        client = chroma_client()
        for name in _collection_names(client):
            if name.startswith(generation.name + "."):
                client.delete_collection(name)


def vector_id(clause: Clause, unit: int) -> str:
    """Chroma id of a clause's ``unit``-th vector: ``"<school>:<clause_id>:<unit>"``."""
    return f"{clause.school}:{clause.clause_id}:{unit}"


def clause_id_of_vector(vector_id: str) -> str:
    """The clause id inside a `vector_id` (clause ids and unit numbers never hold a colon)."""
    return vector_id.rsplit(":", 2)[1]


def _unit_records(clause: Clause, model_id: str) -> list[tuple[str, str, dict]]:
    """(id, embedded text, metadata) of each vector of one clause."""
    out = []
    for n, text in enumerate(embedding_units(clause)):
        key = hashlib.sha1(f"{model_id}\x1f{text}".encode()).hexdigest()
        meta = {"school": clause.school, "document": clause.document, "clause_id": clause.clause_id, "unit": n, "embed_key": key}
        out.append((vector_id(clause, n), text, meta))
    return out


def _old_school_vectors(
    previous: Generation | None, previous_manifest: dict, school: str, keys_only: bool = False
) -> dict[str, list[float]]:
    """One school's vectors in the previous generation, keyed by embedding-text hash.

    Read school by school, so memory holds one school's vectors at a time however many
    schools there are. An unreadable previous generation (``previous_manifest`` empty) only
    costs re-embedding. With ``keys_only`` the values are None (only the keys are read).
    """
    if previous is None:
        return {}
    include = ["metadatas"] if keys_only else ["embeddings", "metadatas"]
    try:
        client = generation_client(previous, previous_manifest)
        if previous_manifest.get("layout") == LAYOUT:
            got = client.get_collection(school_collection_name(previous.name, school)).get(include=include)
        else:
            got = client.get_collection(COLLECTION).get(where={"school": school}, include=include)
    except Exception as exc:
        log.info("no reusable vectors for %s in %s: %s", school, previous.name, exc)
        return {}
    if keys_only:
        return dict.fromkeys(meta["embed_key"] for meta in got["metadatas"])
    return {meta["embed_key"]: vec for meta, vec in zip(got["metadatas"], got["embeddings"], strict=True)}


def _write_generation(generation: Generation, clauses, manifest_schools, texts, embeddings, previous, progress) -> tuple[int, int]:
    """Write a complete generation: per-school collections, texts, clause records, manifest last.

    Returns ``(embedded, reused)`` vector counts. The pointer is not touched.
    """
    remote = isinstance(generation, RemoteGeneration)
    if not remote:
        generation.mkdir(parents=True)
        for (school_id, doc_id), text in texts.items():
            target = generation / document_text_file(school_id, doc_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    previous_manifest: dict = {}  # read once: the per-school reads below would each read it again
    if previous is not None:
        with contextlib.suppress(IndexCorruptError):
            previous_manifest = read_manifest(previous)

    by_school: dict[str, list[Clause]] = {}
    for c in clauses:
        by_school.setdefault(c.school, []).append(c)
    total = sum(len(embedding_units(c)) for c in clauses)
    done = embedded = 0
    if progress:
        progress(0, total)
    client = generation_client(generation)
    # 1. Per school: the vectors the previous generation already holds, and the texts it lacks.
    records_of: dict[str, list[tuple[str, str, dict]]] = {}
    needed: Counter[str] = Counter()  # text -> vectors of this generation that need it embedded
    for school, school_clauses in by_school.items():
        records = records_of[school] = [r for c in school_clauses for r in _unit_records(c, embeddings.model_id)]
        old_keys = _old_school_vectors(previous, previous_manifest, school, keys_only=True)
        for _, text, meta in records:
            if meta["embed_key"] in old_keys:
                done += 1
            else:
                needed[text] += 1
    if progress:
        progress(done, total)
    # 2. Embed the missing texts of every school together, shortest first, so each model batch
    # holds texts of similar length and pads little. Measured on 2 cores: 13.7 texts/s against
    # 8.4 when batched in document order (bundled corpus, cold cache); per-school sorting was
    # not enough at 1,000 schools, where each school adds only ~43 new texts (7.9 texts/s).
    fresh: dict[str, np.ndarray] = {}
    pending = sorted(needed, key=len)
    for start in range(0, len(pending), EMBED_CHUNK):
        chunk = pending[start : start + EMBED_CHUNK]
        for text, vec in zip(chunk, embeddings.embed_documents(chunk), strict=True):
            fresh[text] = np.asarray(vec, dtype=np.float32)
        done += sum(needed[t] for t in chunk)
        if progress:
            progress(done, total)
    embedded = sum(needed.values())
    # 3. One school at a time: its old vectors and the fresh ones into its own collection.
    for school, records in records_of.items():
        old = _old_school_vectors(previous, previous_manifest, school)
        # A previous generation readable in step 1 but not now (a Chroma server blip) only costs embedding.
        lost = list(dict.fromkeys(text for _, text, meta in records if meta["embed_key"] not in old and text not in fresh))
        if lost:
            for text, vec in zip(lost, embeddings.embed_documents(lost), strict=True):
                fresh[text] = np.asarray(vec, dtype=np.float32)
            embedded += len(lost)
        vectors = [old[meta["embed_key"]] if meta["embed_key"] in old else fresh[text] for _, text, meta in records]
        collection = client.create_collection(
            school_collection_name(generation.name, school),
            configuration=school_collection_configuration(len(records)),
            metadata={"school": school, "generation": generation.name},
            embedding_function=None,
        )
        for start in range(0, len(records), 512):
            part = records[start : start + 512]
            collection.add(
                ids=[r[0] for r in part],
                embeddings=np.asarray(vectors[start : start + 512], dtype=np.float32),
                documents=[r[1] for r in part],
                metadatas=[r[2] for r in part],
            )

    manifest = {
        "generation": generation.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": embeddings.model_id,
        "pipeline_version": PIPELINE_VERSION,
        "layout": LAYOUT,
        "store_format": STORE_FORMAT,
        "schools": manifest_schools,
    }
    manifest_text = json.dumps(manifest, indent=2, ensure_ascii=False)
    if remote:
        _write_remote_meta(client, generation, by_school, texts, manifest_text)
    else:
        (generation / "clauses").mkdir()
        for school, found in by_school.items():
            with (generation / school_clauses_file(school)).open("w", encoding="utf-8") as fh:
                for c in found:
                    fh.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
        _write_atomic(generation / "manifest.json", manifest_text)
    return embedded, total - embedded


#: Bytes of stored text per request to the Chroma server (its default payload limit is 40 MB).
_META_BATCH_BYTES = 4_000_000


def _write_remote_meta(client, generation: RemoteGeneration, by_school, texts, manifest_text: str) -> None:
    """Store a generation's texts and clause records on the server, then its manifest (the
    record that marks the generation finished). Records carry a 1-d placeholder vector:
    Chroma stores no record without one, and nothing searches this collection."""
    meta = client.create_collection(
        meta_collection_name(generation.name), metadata={"generation": generation.name, "created": time.time()}, embedding_function=None
    )
    records = [(f"text:{document_text_file(s, d)}", text) for (s, d), text in texts.items()]
    records += [
        (f"clauses:{school}", "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in found))
        for school, found in by_school.items()
    ]
    batch: list[tuple[str, str]] = []
    size = 0
    for record in [*records, ("manifest", manifest_text)]:
        if record[0] == "manifest" or (batch and size + len(record[1].encode()) > _META_BATCH_BYTES):
            if batch:
                meta.add(ids=[r[0] for r in batch], documents=[r[1] for r in batch], embeddings=[[0.0]] * len(batch))
            batch, size = [], 0
        batch.append(record)
        size += len(record[1].encode())
    meta.add(ids=[r[0] for r in batch], documents=[r[1] for r in batch], embeddings=[[0.0]] * len(batch))


def _switch_pointer(index_dir: Path, generation: Generation, previous: Generation | None) -> None:
    """Serve ``generation``: rename ``CURRENT`` atomically, or (server mode) update the
    server's pointer collection and stamp the superseded generation's ``superseded`` time."""
    if not isinstance(generation, RemoteGeneration):
        _write_atomic(index_dir / POINTER, generation.name + "\n")
        return
    client = chroma_client()
    pointer = client.get_or_create_collection(SERVER_POINTER, embedding_function=None)
    pointer.modify(metadata={"current": generation.name, "switched": time.time()})
    if isinstance(previous, RemoteGeneration):
        with contextlib.suppress(Exception):
            old = client.get_collection(meta_collection_name(previous.name))
            old.modify(metadata={**(old.metadata or {}), "superseded": time.time()})


#: A superseded generation is kept this long (seconds) after its last change, so a server
#: that has not yet switched to the new one (it checks every second) never loses its files.
GENERATION_GRACE_SECONDS = 600


def _collect_old_generations(index_dir: Path, keep: set[str]) -> None:
    """Delete generations other than the served one and the one before it, once they are
    older than `GENERATION_GRACE_SECONDS` (folders by modification time; server
    generations by the time they were superseded) and no live server leases them
    (`leased_generations`: a server may still serve a generation two ingests old, issue 17)."""
    cutoff = time.time() - GENERATION_GRACE_SECONDS
    keep = keep | leased_generations(index_dir)
    if server_address():
        with contextlib.suppress(Exception):  # collecting garbage never fails an ingest
            client = chroma_client()
            for name in _remote_generation_names() - keep:
                try:
                    meta = client.get_collection(meta_collection_name(name)).metadata or {}
                except Exception:
                    meta = {}
                if float(meta.get("superseded", meta.get("created", 0))) < cutoff:
                    _delete_generation(index_dir, RemoteGeneration(name))
        return
    for gen in index_dir.glob("gen-*"):
        if gen.is_dir() and gen.name not in keep and gen.stat().st_mtime < cutoff:
            shutil.rmtree(gen, ignore_errors=True)


# --- leases: a live server's generations are never deleted (issue 17) ------------------------------

#: Folder in the index folder where each running server keeps its lease file.
LEASES_DIR = ".leases"
#: Seconds between a server's refreshes of its lease (a background thread; no request needed).
LEASE_REFRESH_SECONDS = 30.0
#: A lease not refreshed for this long belongs to a server that is gone (or frozen), and no longer holds.
LEASE_TTL_SECONDS = 300.0
#: A generation a server swapped out stays in its lease this long, for requests still answering from it.
LEASE_LINGER_SECONDS = 60.0


class GenerationLease:
    """A running server's claim on the index generations it serves, which ingest never deletes.

    The lease is a small JSON file, ``<index>/.leases/<host>-<pid>-<id>.json``, naming the
    generation served, one being loaded, and (for `LEASE_LINGER_SECONDS`) the one swapped
    out. It is rewritten on every change and every `LEASE_REFRESH_SECONDS` by one background
    thread per process, so it holds while the server lives, whether or not requests arrive
    or it ever reloads; a server that dies leaves a lease that goes stale after
    `LEASE_TTL_SECONDS` (or at once, when ingest runs on the same host and the pid is gone).
    `leased_generations` is what ingest's cleanup honours. Embedded index folders only: in
    Chroma server mode (``CHROMA_HOST``) the lease is not written.

    Args:
        index_dir: the index folder the server reads (the one holding ``CURRENT``).
    """

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LEASES_DIR / f"{_host()}-{os.getpid()}-{os.urandom(4).hex()}.json"
        self._serving: str | None = None
        self._loading: str | None = None
        self._lingering: dict[str, float] = {}  # generation name -> time.time() until which it is held
        self._lock = threading.Lock()
        self._warned = False
        self._write_lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _remove_quietly, self.path)
        _LEASE_REFRESHER.add(self)

    @property
    def generations(self) -> set[str]:
        """The generation names this lease holds now."""
        now = time.time()
        with self._lock:
            held = {name for name, until in self._lingering.items() if until > now}
            held |= {name for name in (self._serving, self._loading) if name}
        return held

    def serve(self, generation: Generation, loading: Generation | None = None) -> None:
        """Hold ``generation`` (served now) and ``loading`` (being loaded, if any); a generation
        served before lingers for `LEASE_LINGER_SECONDS`. Writes the lease file at once."""
        with self._lock:
            if self._serving and self._serving != generation.name:
                self._lingering[self._serving] = time.time() + LEASE_LINGER_SECONDS
            self._serving = generation.name
            self._loading = loading.name if loading is not None else None
        self.refresh()

    def refresh(self) -> None:
        """Rewrite the lease file (atomically), renewing it. A folder the server cannot write to
        is logged once: ingest then falls back on `GENERATION_GRACE_SECONDS` alone."""
        if server_address() or self._serving is None:
            return
        now = time.time()
        with self._lock:
            self._lingering = {name: until for name, until in self._lingering.items() if until > now}
        record = {
            "index_dir": str(self.index_dir.resolve()),
            "host": _host(),
            "pid": os.getpid(),
            "generations": sorted(self.generations),
            "refreshed": now,
        }
        try:
            with self._write_lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                _write_atomic(self.path, json.dumps(record) + "\n")
        except OSError as exc:
            if not self._warned:
                log.warning(
                    "cannot write the generation lease %s (%s): an ingest may delete a generation this server still serves", self.path, exc
                )
                self._warned = True

    def release(self) -> None:
        """Remove the lease (the server is stopping)."""
        _LEASE_REFRESHER.discard(self)
        _remove_quietly(self.path)


def _host() -> str:
    import socket

    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:60] or "host"


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class _LeaseRefresher:
    """One daemon thread per process that refreshes every live `GenerationLease`."""

    def __init__(self) -> None:
        self._leases: weakref.WeakSet[GenerationLease] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, lease: GenerationLease) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="generation-lease", daemon=True)
                self._thread.start()

    def discard(self, lease: GenerationLease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _run(self) -> None:
        while True:
            time.sleep(LEASE_REFRESH_SECONDS)
            with self._lock:
                leases = list(self._leases)
            for lease in leases:
                try:
                    lease.refresh()
                except Exception as exc:  # a refresher that dies would let leases go stale
                    log.warning("cannot refresh the generation lease %s: %s", lease.path, exc)


_LEASE_REFRESHER = _LeaseRefresher()


def _pid_gone(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: someone else's live process
        return False
    return False


def leased_generations(index_dir: Path) -> set[str]:
    """Names of the generations that live servers hold through their leases (`GenerationLease`).

    A lease counts while it was refreshed within `LEASE_TTL_SECONDS`, was written for this
    index folder (not a copy of it), and, when written on this host, its process still runs.
    Leases that no longer count are removed.
    """
    folder = Path(index_dir) / LEASES_DIR
    if not folder.is_dir():
        return set()
    held: set[str] = set()
    here, now = str(Path(index_dir).resolve()), time.time()
    for path in folder.glob("*.json"):
        try:
            age = now - path.stat().st_mtime
            record = json.loads(path.read_text(encoding="utf-8"))
            names = [str(n) for n in record["generations"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # vanished, or not a lease (lease files are replaced atomically)
        live = age <= LEASE_TTL_SECONDS and record.get("index_dir") == here
        if live and record.get("host") == _host() and _pid_gone(record.get("pid")):
            live = False
        if live:
            held.update(names)
        elif record.get("index_dir", here) == here or age > LEASE_TTL_SECONDS:
            _remove_quietly(path)
    return held


def open_generation(index_dir: Path) -> Generation:
    """The served generation (folder, or `RemoteGeneration` in server mode).

    Raises:
        IndexNotFoundError: no index has been built at ``index_dir`` (or on the server).
        IndexCorruptError: ``CURRENT`` names no finished generation.
        IndexUnavailableError: (server mode) the Chroma server cannot be reached.
    """
    index_dir = Path(index_dir)
    gen = current_generation(index_dir)
    if gen is not None:
        return gen
    if server_address():
        raise IndexNotFoundError(
            f"no index on the Chroma server at {server_address()}: build it with `python ingest.py` (CHROMA_HOST/CHROMA_PORT set)"
        )
    pointer = index_dir / POINTER
    if pointer.exists():
        try:
            named = pointer.read_text(encoding="utf-8").strip()[:60]
        except (OSError, UnicodeDecodeError):
            named = "?"
        raise IndexCorruptError(
            f"the index at {index_dir.resolve()} is corrupt ({POINTER} names {named!r}, not a finished generation): "
            "rebuild it with `python ingest.py`"
        )
    raise IndexNotFoundError(f"no index at {index_dir.resolve()}: build it with `python ingest.py`")
