"""Where index generations live: a ``gen-*`` folder (`LocalStore`) or a Chroma server (`ChromaServerStore`).

What lives where inside a generation is `assistant.index.layout`. Both stores implement
`GenerationStore`; `store_of` and `index_store` pick one, so the code above them never asks
which kind of generation it holds. ``tests/test_store_contract.py`` runs the same tests
against both.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Protocol

from ..config import get_settings
from ..errors import IndexCorruptError, IndexNotFoundError
from .chroma import chroma_client, server_address
from .layout import (
    DOCUMENTS_DIR,
    POINTER,
    SERVER_POINTER,
    STORE_FORMAT,
    Generation,
    RemoteGeneration,
    document_text_file,
    meta_collection_name,
    school_clauses_file,
    school_collection_name,
    write_atomic,
)
from .server_store import ChromaServerStore

__all__ = [
    "DOCUMENTS_DIR",
    "POINTER",
    "SERVER_POINTER",
    "STORE_FORMAT",
    "ChromaServerStore",
    "Generation",
    "GenerationStore",
    "LocalStore",
    "RemoteGeneration",
    "document_text_file",
    "index_store",
    "meta_collection_name",
    "same_generation",
    "school_clauses_file",
    "school_collection_name",
    "store_of",
    "write_atomic",
]


class GenerationStore(Protocol):
    """What ingest and serving need from the place generations are kept.

    ``probes_collections``: whether a health probe (`assistant.index.generation.check_generation`)
    lists the vector store's collections (a server) or stats files (a folder).
    """

    probes_collections: bool

    def where(self, generation: Generation) -> str:
        """The generation's location, for error messages."""

    def corrupt(self, generation: Generation, what: str) -> IndexCorruptError:
        """The error saying ``generation`` is damaged (``what``), with the rebuild instruction."""

    def generation(self, name: str) -> Generation:
        """The generation called ``name`` in this store (it need not exist yet)."""

    def current(self) -> Generation | None:
        """The served generation, or None when none is (or the pointer names no finished one)."""

    def missing_error(self) -> Exception:
        """The error for an index with no served generation (`IndexNotFoundError` or `IndexCorruptError`)."""

    def generation_names(self) -> set[str]:
        """Names of every generation in the store, finished or not."""

    def is_finished(self, generation: Generation) -> bool:
        """Whether the generation's manifest (written last) is there."""

    def last_changed(self, generation: Generation) -> float:
        """When the generation last changed or was superseded (seconds since the epoch)."""

    def create(self, generation: Generation) -> None:
        """Prepare an empty generation for writing."""

    def client(self, generation: Generation, store_format: int = STORE_FORMAT):
        """The Chroma client of the generation's vectors (``store_format``: the manifest's)."""

    def has_vector_store(self, generation: Generation) -> bool:
        """Whether the generation's vector store exists at all."""

    def read_manifest_text(self, generation: Generation) -> str:
        """The manifest's JSON text; raises `IndexCorruptError` when it is missing."""

    def read_text(self, generation: Generation, rel: str) -> str | None:
        """A text stored at ``rel`` inside the generation, or None if absent."""

    def has_school_clauses(self, generation: Generation) -> bool:
        """Whether clause records are stored per school (store format 2, or any server generation)."""

    def read_school_clauses_text(self, generation: Generation, school: str) -> tuple[str, str]:
        """``(JSON lines, name for errors)`` of one school's clause records; raises `IndexCorruptError`."""

    def read_legacy_clauses_text(self, generation: Generation) -> str:
        """Store format 1's single ``clauses.jsonl``; raises `IndexCorruptError`."""

    def write_records(self, generation: Generation, texts: dict[str, str], clauses: dict[str, str], manifest_text: str) -> None:
        """Store texts (path → text), clause records (school → JSON lines), then the manifest."""

    def check_present(self, generation: Generation) -> None:
        """Raise `IndexCorruptError` when the generation's manifest or vector store is gone."""

    def verify_clause_records(self, generation: Generation, schools) -> None:
        """Raise `IndexCorruptError` when a school's clause file is missing or cut short (cheap)."""

    def switch_to(self, generation: Generation, previous: Generation | None) -> None:
        """Serve ``generation`` (atomically), ``previous`` being the one served until now."""

    def delete(self, generation: Generation) -> None:
        """Remove the generation and everything it holds (best effort)."""

    def remove_temp_files(self) -> None:
        """Remove temporary files a killed ingest left (pointer files being written)."""


class LocalStore:
    """Generations as ``gen-*`` folders beside a ``CURRENT`` pointer file, each with an embedded Chroma store.

    Args:
        index_dir: the index folder (the one holding ``CURRENT``).
    """

    probes_collections = False

    def __init__(self, index_dir: Path) -> None:
        """Keep ``index_dir``; nothing is read or created yet."""
        self.index_dir = Path(index_dir)

    def where(self, generation: Generation) -> str:
        """The generation's location, for error messages."""
        return str(Path(generation).resolve())

    def corrupt(self, generation: Generation, what: str) -> IndexCorruptError:
        """The error saying ``generation`` is damaged (``what``), with the rebuild instruction."""
        return IndexCorruptError(f"the index at {self.where(generation)} is corrupt ({what}): rebuild it with `python ingest.py`")

    def generation(self, name: str) -> Path:
        """The generation called ``name`` in this store (it need not exist yet)."""
        return self.index_dir / name

    def current(self) -> Path | None:
        """The served generation, or None when none is (or the pointer names no finished one)."""
        pointer = self.index_dir / POINTER
        if not pointer.exists():
            return None
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            return None
        if not re.fullmatch(r"gen-[A-Za-z0-9-]+", name):
            return None
        gen = self.index_dir / name
        return gen if (gen / "manifest.json").exists() else None

    def missing_error(self) -> Exception:
        """The error for an index with no served generation (`IndexNotFoundError` or `IndexCorruptError`)."""
        pointer = self.index_dir / POINTER
        if pointer.exists():
            try:
                named = pointer.read_text(encoding="utf-8").strip()[:60]
            except (OSError, UnicodeDecodeError):
                named = "?"
            return IndexCorruptError(
                f"the index at {self.index_dir.resolve()} is corrupt ({POINTER} names {named!r}, not a finished generation): "
                "rebuild it with `python ingest.py`"
            )
        return IndexNotFoundError(f"no index at {self.index_dir.resolve()}: build it with `python ingest.py`")

    def generation_names(self) -> set[str]:
        """Names of every generation in the store, finished or not."""
        return {gen.name for gen in self.index_dir.glob("gen-*") if gen.is_dir()}

    def is_finished(self, generation: Generation) -> bool:
        """Whether the generation's manifest (written last) is there."""
        return (Path(generation) / "manifest.json").exists()

    def last_changed(self, generation: Generation) -> float:
        """When the generation last changed or was superseded (seconds since the epoch)."""
        return Path(generation).stat().st_mtime

    def create(self, generation: Generation) -> None:
        """Prepare an empty generation for writing."""
        Path(generation).mkdir(parents=True)

    def client(self, generation: Generation, store_format: int = STORE_FORMAT):
        """The folder's embedded Chroma client.

        A store of the current format keeps at most ``collection_cache_size`` schools' graphs
        loaded (`assistant.config.get_settings`). One of store format 1 keeps Chroma's default:
        its graphs were never written to disk, so Chroma cannot reload a graph it has evicted
        ("Nothing found on disk").
        """
        graph_cache = get_settings().collection_cache_size if store_format >= 2 else None
        return chroma_client(Path(generation) / "chroma", graph_cache=graph_cache)

    def has_vector_store(self, generation: Generation) -> bool:
        """Whether the generation's vector store exists at all."""
        return (Path(generation) / "chroma" / "chroma.sqlite3").exists()

    def read_manifest_text(self, generation: Generation) -> str:
        """The manifest's JSON text; raises `IndexCorruptError` when it is missing."""
        try:
            return (Path(generation) / "manifest.json").read_text(encoding="utf-8")
        except OSError as exc:
            raise self.corrupt(generation, f"manifest.json cannot be read: {exc.strerror}") from exc

    def read_text(self, generation: Generation, rel: str) -> str | None:
        """A text stored at ``rel`` inside the generation, or None if absent."""
        try:
            return (Path(generation) / rel).read_text(encoding="utf-8")
        except OSError:
            return None

    def has_school_clauses(self, generation: Generation) -> bool:
        """Whether clause records are stored per school (store format 2, or any server generation)."""
        return (Path(generation) / "clauses").is_dir()

    def read_school_clauses_text(self, generation: Generation, school: str) -> tuple[str, str]:
        """``(JSON lines, name for errors)`` of one school's clause records; raises `IndexCorruptError`."""
        rel = school_clauses_file(school)
        try:
            return (Path(generation) / rel).read_text(encoding="utf-8"), rel
        except OSError as exc:
            raise self.corrupt(generation, f"{rel} cannot be read: {exc.strerror}") from exc

    def read_legacy_clauses_text(self, generation: Generation) -> str:
        """Store format 1's single ``clauses.jsonl``; raises `IndexCorruptError`."""
        try:
            return (Path(generation) / "clauses.jsonl").read_text(encoding="utf-8")
        except OSError as exc:
            raise self.corrupt(generation, f"clauses.jsonl cannot be read: {exc.strerror}") from exc

    def write_records(self, generation: Generation, texts: dict[str, str], clauses: dict[str, str], manifest_text: str) -> None:
        """Store texts (path → text), clause records (school → JSON lines), then the manifest."""
        folder = Path(generation)
        for rel, text in texts.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
        (folder / "clauses").mkdir()
        for school, lines in clauses.items():
            (folder / school_clauses_file(school)).write_text(lines, encoding="utf-8")
        write_atomic(folder / "manifest.json", manifest_text)

    def check_present(self, generation: Generation) -> None:
        """Raise `IndexCorruptError` when the generation's manifest or vector store is gone."""
        for rel in ("manifest.json", "chroma/chroma.sqlite3"):
            if not (Path(generation) / rel).is_file():
                raise self.corrupt(generation, f"{rel} is missing")

    def verify_clause_records(self, generation: Generation, schools) -> None:
        """Check, without parsing them, that every school's clause file is there and ends with a newline.

        One stat and one byte per school; a file cut short by a crash or a full disk does not
        end with a newline. Store format 1 (one ``clauses.jsonl``) is checked when read.
        """
        if not self.has_school_clauses(generation):
            return
        for school in schools:
            rel = school_clauses_file(school)
            try:
                with (Path(generation) / rel).open("rb") as fh:
                    complete = fh.seek(0, os.SEEK_END) > 0 and fh.seek(-1, os.SEEK_END) >= 0 and fh.read(1) == b"\n"
            except OSError as exc:
                raise self.corrupt(generation, f"{rel} cannot be read: {exc.strerror}") from exc
            if not complete:
                raise self.corrupt(generation, f"{rel} is truncated")

    def switch_to(self, generation: Generation, previous: Generation | None) -> None:
        """Serve ``generation`` (atomically), ``previous`` being the one served until now."""
        write_atomic(self.index_dir / POINTER, Path(generation).name + "\n")

    def delete(self, generation: Generation) -> None:
        """Remove the generation and everything it holds (best effort)."""
        shutil.rmtree(generation, ignore_errors=True)

    def remove_temp_files(self) -> None:
        """Remove temporary files a killed ingest left (pointer files being written)."""
        for tmp in self.index_dir.glob(f".{POINTER}.tmp-*"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def store_of(generation: Generation) -> GenerationStore:
    """The store holding ``generation``: a folder's `LocalStore`, or the `ChromaServerStore`."""
    if isinstance(generation, RemoteGeneration):
        return ChromaServerStore()
    return LocalStore(Path(generation).parent)


def index_store(index_dir: Path) -> GenerationStore:
    """The store ingest writes to and serving reads from: the Chroma server when ``CHROMA_HOST`` is set, else ``index_dir``."""
    return ChromaServerStore() if server_address() else LocalStore(Path(index_dir))


def same_generation(a: Generation | None, b: Generation | None) -> bool:
    """True when ``a`` and ``b`` are the same generation (folders compared resolved)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, RemoteGeneration) or isinstance(b, RemoteGeneration):
        return a == b
    return Path(a).resolve() == Path(b).resolve()
