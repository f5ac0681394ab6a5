"""`ChromaServerStore`: generations as collections on a Chroma server (``CHROMA_HOST``/``CHROMA_PORT``).

The server-mode implementation of `assistant.index.store.GenerationStore`; the layout of a
generation on the server is described in `assistant.index.layout`.
"""

from __future__ import annotations

import contextlib
import time

from ..errors import IndexCorruptError, IndexNotFoundError
from .chroma import chroma_client, collection_names, raise_if_unreachable, server_address
from .layout import SERVER_POINTER, STORE_FORMAT, Generation, RemoteGeneration, meta_collection_name

#: Bytes of stored text per request to the Chroma server (its default payload limit is 40 MB).
_META_BATCH_BYTES = 4_000_000


class ChromaServerStore:
    """Generations as collections on the Chroma server that ``CHROMA_HOST``/``CHROMA_PORT`` name.

    Texts, clause records and the manifest are records of the generation's meta collection
    (`meta_collection_name`); the served generation is named by `SERVER_POINTER`'s metadata.
    Every call may raise `IndexUnavailableError` when the server cannot be reached.
    """

    probes_collections = True

    def where(self, generation: Generation) -> str:
        """The generation's location, for error messages."""
        return f"generation {generation.name} on the Chroma server at {server_address()}"

    def corrupt(self, generation: Generation, what: str) -> IndexCorruptError:
        """The error saying ``generation`` is damaged (``what``), with the rebuild instruction."""
        return IndexCorruptError(f"the index at {self.where(generation)} is corrupt ({what}): rebuild it with `python ingest.py`")

    def generation(self, name: str) -> RemoteGeneration:
        """The generation called ``name`` in this store (it need not exist yet)."""
        return RemoteGeneration(name)

    def current(self) -> RemoteGeneration | None:
        """The served generation, or None when none is (or the pointer names no finished one)."""
        client = chroma_client()
        try:
            pointer = client.get_collection(SERVER_POINTER)
        except Exception as exc:
            raise_if_unreachable(exc)
            return None  # never built on this server
        name = (pointer.metadata or {}).get("current")
        if not name:
            return None
        generation = RemoteGeneration(str(name))
        return generation if self.is_finished(generation) else None

    def missing_error(self) -> Exception:
        """The error for an index with no served generation (`IndexNotFoundError` or `IndexCorruptError`)."""
        return IndexNotFoundError(
            f"no index on the Chroma server at {server_address()}: build it with `python ingest.py` (CHROMA_HOST/CHROMA_PORT set)"
        )

    def record(self, generation: Generation, record_id: str) -> str | None:
        """One stored text of a generation's meta collection (None when absent)."""
        try:
            got = chroma_client().get_collection(meta_collection_name(generation.name)).get(ids=[record_id], include=["documents"])
        except Exception as exc:
            raise_if_unreachable(exc)
            return None
        return got["documents"][0] if got["ids"] else None

    def generation_names(self) -> set[str]:
        """Names of every generation in the store, finished or not."""
        return {name.split(".", 1)[0] for name in collection_names(chroma_client()) if name.startswith("gen-")}

    def is_finished(self, generation: Generation) -> bool:
        """Whether the generation's manifest (written last) is there."""
        return self.record(generation, "manifest") is not None

    def last_changed(self, generation: Generation) -> float:
        """When the generation last changed or was superseded (seconds since the epoch)."""
        try:
            meta = chroma_client().get_collection(meta_collection_name(generation.name)).metadata or {}
        except Exception:
            meta = {}
        return float(meta.get("superseded", meta.get("created", 0)))

    def create(self, generation: Generation) -> None:
        """Prepare an empty generation for writing."""
        return None

    def client(self, generation: Generation, store_format: int = STORE_FORMAT):
        """The Chroma client of the generation's vectors (``store_format``: the manifest's)."""
        return chroma_client()

    def has_vector_store(self, generation: Generation) -> bool:
        """Whether the generation's vector store exists at all."""
        return True

    def read_manifest_text(self, generation: Generation) -> str:
        """The manifest's JSON text; raises `IndexCorruptError` when it is missing."""
        text = self.record(generation, "manifest")
        if text is None:
            raise self.corrupt(generation, "it has no manifest")
        return text

    def read_text(self, generation: Generation, rel: str) -> str | None:
        """A text stored at ``rel`` inside the generation, or None if absent."""
        return self.record(generation, f"text:{rel}")

    def has_school_clauses(self, generation: Generation) -> bool:
        """Whether clause records are stored per school (store format 2, or any server generation)."""
        return True

    def read_school_clauses_text(self, generation: Generation, school: str) -> tuple[str, str]:
        """``(JSON lines, name for errors)`` of one school's clause records; raises `IndexCorruptError`."""
        text = self.record(generation, f"clauses:{school}")
        if text is None:
            raise self.corrupt(generation, f"no clause records for {school}")
        return text, f"the clause records of {school}"

    def read_legacy_clauses_text(self, generation: Generation) -> str:
        """Store format 1's single ``clauses.jsonl``; raises `IndexCorruptError`."""
        raise self.corrupt(generation, "it has no clause records")  # never written: every server generation is per school

    def write_records(self, generation: Generation, texts: dict[str, str], clauses: dict[str, str], manifest_text: str) -> None:
        """Store the records in the meta collection in requests of at most `_META_BATCH_BYTES`, the manifest last.

        Records carry a 1-d placeholder vector: Chroma stores no record without one, and
        nothing searches this collection.
        """
        meta = chroma_client().create_collection(
            meta_collection_name(generation.name), metadata={"generation": generation.name, "created": time.time()}, embedding_function=None
        )
        records = [(f"text:{rel}", text) for rel, text in texts.items()]
        records += [(f"clauses:{school}", lines) for school, lines in clauses.items()]
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

    def check_present(self, generation: Generation) -> None:
        """Raise `IndexCorruptError` when the generation's manifest or vector store is gone."""
        if not self.is_finished(generation):
            raise self.corrupt(generation, "it has no manifest")

    def verify_clause_records(self, generation: Generation, schools) -> None:
        """Raise `IndexCorruptError` when a school's clause file is missing or cut short (cheap)."""
        return None

    def switch_to(self, generation: Generation, previous: Generation | None) -> None:
        """Update the server's pointer collection and stamp the superseded generation's ``superseded`` time."""
        client = chroma_client()
        pointer = client.get_or_create_collection(SERVER_POINTER, embedding_function=None)
        pointer.modify(metadata={"current": generation.name, "switched": time.time()})
        if previous is not None:
            with contextlib.suppress(Exception):
                old = client.get_collection(meta_collection_name(previous.name))
                old.modify(metadata={**(old.metadata or {}), "superseded": time.time()})

    def delete(self, generation: Generation) -> None:
        """Remove the generation and everything it holds (best effort)."""
        with contextlib.suppress(Exception):  # best effort: a leftover is removed by the next ingest
            client = chroma_client()
            for name in collection_names(client):
                if name.startswith(generation.name + "."):
                    client.delete_collection(name)

    def remove_temp_files(self) -> None:
        """Remove temporary files a killed ingest left (pointer files being written)."""
        return None
