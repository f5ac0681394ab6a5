"""Reading and checking a served generation, whichever store holds it (`assistant.index.store`).

Ingest never modifies the served generation: it builds a new one beside it and switches
the pointer only when the new one is complete (`assistant.index.build`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import IndexCorruptError, IndexUnavailableError
from ..types import Clause
from .chroma import collection_names, raise_if_unreachable
from .manifest import COLLECTION, LAYOUT, Manifest, read_manifest
from .store import STORE_FORMAT, Generation, index_store, school_collection_name, store_of


def _shape(manifest: Manifest | Mapping) -> tuple[int, bool, Iterable[str]]:
    """``(store format, per-school collections?, school ids)`` of a `Manifest` or of its parsed JSON.

    Either form is accepted (`read_manifest_dict` gives the JSON); a
    health probe reads these three things on every call, so the JSON is not parsed into a `Manifest`.
    """
    if isinstance(manifest, Manifest):
        return manifest.store_format, manifest.per_school_collections, manifest.schools
    return manifest.get("store_format", 1), manifest.get("layout") == LAYOUT, manifest["schools"]


def current_generation(index_dir: Path) -> Generation | None:
    """The served generation, or None when the index has never been built (or its pointer names no finished generation).

    Embedded: the ``gen-*`` folder ``index_dir/CURRENT`` names. Server mode: the
    `RemoteGeneration` the server's pointer names (``index_dir`` is not read).

    Raises:
        IndexUnavailableError: (server mode) the Chroma server cannot be reached.
    """
    return index_store(index_dir).current()


def open_generation(index_dir: Path) -> Generation:
    """The served generation (folder, or `RemoteGeneration` in server mode).

    Raises:
        IndexNotFoundError: no index has been built at ``index_dir`` (or on the server).
        IndexCorruptError: ``CURRENT`` names no finished generation.
        IndexUnavailableError: (server mode) the Chroma server cannot be reached.
    """
    store = index_store(index_dir)
    gen = store.current()
    if gen is None:
        raise store.missing_error()
    return gen


def generation_client(generation: Generation, manifest: Manifest | Mapping | None = None):
    """The Chroma client of a generation's vectors (the server, or the folder's store; see `LocalStore.client`).

    Args:
        generation: the generation.
        manifest: its manifest, if already read; a generation without a readable one is
            taken as one this code is writing (the current store format).
    """
    if manifest is None:
        with contextlib.suppress(IndexCorruptError):
            manifest = read_manifest(generation)
    store_format = _shape(manifest)[0] if manifest is not None else STORE_FORMAT
    return store_of(generation).client(generation, store_format)


def _parse_clauses(generation: Generation, text: str, what: str) -> list[Clause]:
    try:
        return [Clause.from_dict(json.loads(line)) for line in text.splitlines() if line.strip()]
    except (ValueError, KeyError, TypeError) as exc:
        raise store_of(generation).corrupt(generation, f"{what} is truncated") from exc


def read_school_clauses(generation: Generation, school: str) -> list[Clause]:
    """One school's clause records, in document order, reading only that school's records.

    Only for generations with per-school records (store format 2, or on a server); for
    format 1 (one ``clauses.jsonl``) use `read_clauses`.

    Raises:
        IndexCorruptError: the school's clause records are missing or truncated.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    text, what = store_of(generation).read_school_clauses_text(generation, school)
    return _parse_clauses(generation, text, what)


def read_clauses(generation: Generation) -> list[Clause]:
    """Every clause record of a generation, school by school (sorted by id), each in document order.

    Raises:
        IndexCorruptError: the clause records are missing or truncated.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    store = store_of(generation)
    if store.has_school_clauses(generation):
        return [c for school in sorted(read_manifest(generation).schools) for c in read_school_clauses(generation, school)]
    return _parse_clauses(generation, store.read_legacy_clauses_text(generation), "clauses.jsonl")


def read_generation_text(generation: Generation, rel: str) -> str | None:
    """A text a generation stored (``documents/<school>/<document>.txt``, ``trained-vectors/<school>.json``), or None if absent.

    Raises:
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    return store_of(generation).read_text(generation, rel)


def verify_generation(generation: Generation, manifest: Manifest | Mapping | None = None) -> None:
    """Check that a generation's vector store holds a collection for every school it serves.

    Cheap (one listing of collection names); used before serving so a deleted or emptied
    store is a clear start-up error rather than a failure on the first question.

    Raises:
        IndexCorruptError: the store or a school's collection is missing.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    store_format, per_school, schools = _shape(manifest if manifest is not None else read_manifest(generation))
    store = store_of(generation)
    if not store.has_vector_store(generation):
        raise store.corrupt(generation, "its chroma/ vector store is missing")
    try:
        names = set(collection_names(store.client(generation, store_format)))
    except IndexUnavailableError:
        raise
    except Exception as exc:
        raise_if_unreachable(exc)
        raise store.corrupt(generation, f"its vector store cannot be opened ({type(exc).__name__})") from exc
    if not per_school:
        if COLLECTION not in names:
            raise store.corrupt(generation, f"its vector store has no {COLLECTION!r} collection")
        return
    missing = [s for s in schools if school_collection_name(generation.name, s) not in names]
    if missing:
        raise store.corrupt(generation, f"no vectors for {len(missing)} school(s), e.g. {missing[0]}")


def verify_clause_records(generation: Generation, manifest: Manifest | Mapping) -> None:
    """Check, without parsing them, that every school's clause records are there and complete.

    Cheap at start-up (one stat and one byte per school); the records themselves are parsed on
    a school's first question (`read_school_clauses`). A file cut short by a crash or a full
    disk does not end with a newline. Generations of store format 1 (one ``clauses.jsonl``)
    and server generations are checked when read.

    Raises:
        IndexCorruptError: a school's clause file is missing, empty or cut short.
    """
    store_of(generation).verify_clause_records(generation, _shape(manifest)[2])


def check_generation(generation: Generation, manifest: Manifest | Mapping) -> None:
    """Check that a served generation is all still there (``/healthz``).

    A folder: its manifest, its vector store and every school's clause records
    (`verify_clause_records`); on a Chroma server, its manifest record and every school's
    collection (`verify_generation`). Cheap (stats, or one listing of collections): it never
    loads a school, so it can check them all on every probe, where a search checks only one
    school already in memory.

    Raises:
        IndexCorruptError: something the generation serves from is gone or cut short.
        IndexUnavailableError: (server mode) the Chroma server cannot be reached.
    """
    store = store_of(generation)
    store.check_present(generation)
    if store.probes_collections:
        verify_generation(generation, manifest)
    else:
        verify_clause_records(generation, manifest)
