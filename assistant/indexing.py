"""Forwards to `assistant.index`, where the clause index now lives; kept until importers move over.

Every name other modules and tests import from ``assistant.indexing`` is re-exported here
unchanged, except that `read_manifest` here returns the manifest's parsed JSON (a dict), as
it always did: ``assistant.index.read_manifest`` returns the typed `Manifest` and
``assistant.index.read_manifest_dict`` the dict. Setting a constant on this module
(``monkeypatch.setattr(indexing, "GENERATION_GRACE_SECONDS", 0)``) sets it where
``assistant.index`` reads it.
"""

from __future__ import annotations

import sys
import types

from . import index as _index
from .index import (
    COLLECTION,
    DOCUMENTS_DIR,
    EMBED_CHUNK,
    GENERATION_GRACE_SECONDS,
    LAYOUT,
    LEASE_LINGER_SECONDS,
    LEASE_REFRESH_SECONDS,
    LEASE_TTL_SECONDS,
    LEASES_DIR,
    LOCK_FILE,
    MIN_UNIT_CHARS,
    PIPELINE_VERSION,
    POINTER,
    SERVER_POINTER,
    SERVER_TIMEOUT,
    STORE_FORMAT,
    DocumentChange,
    Generation,
    GenerationLease,
    IngestBusyError,
    IngestFailed,
    IngestReport,
    RemoteGeneration,
    build_index,
    check_generation,
    chroma_client,
    chunk_school,
    clause_id_of_vector,
    continues_lead_in,
    current_generation,
    document_text_file,
    embedding_text,
    embedding_units,
    generation_client,
    ingest_lock,
    leased_generations,
    meta_collection_name,
    open_generation,
    read_clauses,
    read_generation_text,
    read_school_clauses,
    same_generation,
    school_clauses_file,
    school_collection_configuration,
    school_collection_name,
    server_address,
    unit_sentences,
    vector_id,
    verify_clause_records,
    verify_generation,
)
from .index import read_manifest_dict as read_manifest
from .index.lock import _host

__all__ = [
    "COLLECTION",
    "DOCUMENTS_DIR",
    "EMBED_CHUNK",
    "GENERATION_GRACE_SECONDS",
    "LAYOUT",
    "LEASES_DIR",
    "LEASE_LINGER_SECONDS",
    "LEASE_REFRESH_SECONDS",
    "LEASE_TTL_SECONDS",
    "LOCK_FILE",
    "MIN_UNIT_CHARS",
    "PIPELINE_VERSION",
    "POINTER",
    "SERVER_POINTER",
    "SERVER_TIMEOUT",
    "STORE_FORMAT",
    "DocumentChange",
    "Generation",
    "GenerationLease",
    "IngestBusyError",
    "IngestFailed",
    "IngestReport",
    "RemoteGeneration",
    "_host",
    "build_index",
    "check_generation",
    "chroma_client",
    "chunk_school",
    "clause_id_of_vector",
    "continues_lead_in",
    "current_generation",
    "document_text_file",
    "embedding_text",
    "embedding_units",
    "generation_client",
    "ingest_lock",
    "leased_generations",
    "meta_collection_name",
    "open_generation",
    "read_clauses",
    "read_generation_text",
    "read_manifest",
    "read_school_clauses",
    "same_generation",
    "school_clauses_file",
    "school_collection_configuration",
    "school_collection_name",
    "server_address",
    "unit_sentences",
    "vector_id",
    "verify_clause_records",
    "verify_generation",
]

_SUBMODULES = ("build", "chroma", "generation", "lock", "manifest", "plan", "store", "units")


class _ForwardingModule(types.ModuleType):
    """This module, with attribute assignment also made in the `assistant.index` modules that define the name."""

    def __setattr__(self, name: str, value) -> None:
        for sub in _SUBMODULES:
            module = getattr(_index, sub)
            if name in vars(module):
                setattr(module, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ForwardingModule
