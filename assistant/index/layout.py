"""Where each part of an index generation lives: folder and file names, collection names, the pointer.

Embedded layout (``index/`` by default, ``ASSISTANT_INDEX_DIR`` overrides)::

    index/CURRENT                 # name of the generation being served
    index/gen-<stamp>/chroma/     # Chroma persistent store: one cosine collection per school
    index/gen-<stamp>/clauses/<school>.jsonl              # clause records, one file per school
    index/gen-<stamp>/trained-vectors/<school>.json       # the trained stage's clause vectors
    index/gen-<stamp>/manifest.json                       # written last: a generation without one is unfinished
    index/gen-<stamp>/documents/<school>/<document>.txt   # each document's text as ingested
    index/.ingest.lock                                    # held (flock) while an ingest runs (`assistant.index.lock`)
    index/.leases/<host>-<pid>-<id>.json                  # each running server's lease on what it serves

Server layout (``CHROMA_HOST``/``CHROMA_PORT`` set): the same generation lives on the Chroma
server, so app processes on any machine need only the server::

    collection gen-<stamp>.<school>.<hash>   # one per school, as embedded
    collection gen-<stamp>.meta              # records: manifest (written last), clauses:<school>, text:<path>
    collection policy-assistant.current      # its metadata ``current`` names the served generation

`assistant.index.store` reads and writes these places; nothing else names them.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

POINTER = "CURRENT"
#: On a Chroma server: the collection whose metadata names the served generation.
SERVER_POINTER = "policy-assistant.current"
DOCUMENTS_DIR = "documents"
#: Manifest ``store_format`` of the current layout (see `assistant.index.manifest`).
STORE_FORMAT = 2


@dataclass(frozen=True)
class RemoteGeneration:
    """An index generation stored on the Chroma server (the server-mode counterpart of a ``gen-*`` folder).

    Attributes:
        name: the generation's name, as for a folder (``gen-<stamp>``).
    """

    name: str


#: A served generation: a ``gen-*`` folder (embedded) or a `RemoteGeneration` (server).
Generation = Path | RemoteGeneration


def document_text_file(school: str, document: str) -> str:
    """Where a generation stores a document's extracted text, relative to the generation folder."""
    return f"{DOCUMENTS_DIR}/{school}/{document}.txt"


def school_clauses_file(school: str) -> str:
    """Path, inside a generation folder, of one school's clause records."""
    return f"clauses/{school}.jsonl"


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


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (readers see old or new, never half)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
