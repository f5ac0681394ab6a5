"""The clause index: one Chroma collection per school (dense vectors) plus clause records (for BM25).

A *generation* is one complete, immutable build of the index; ingest builds a new one beside
the served one and switches a pointer to it when it is complete. The package, by stage:

- `units`: what a clause is embedded as (`embedding_units`) and the vector ids the query path reads.
- `manifest`: the typed `Manifest` of a generation (schools, documents, fingerprints, model, format).
- `layout`: where each part of a generation lives (files, collections, the pointer).
- `store`: where generations live: `LocalStore` (a ``gen-*`` folder with an embedded Chroma
  store) or `ChromaServerStore` (`server_store`: a `RemoteGeneration` on a Chroma server),
  one `GenerationStore` protocol.
- `generation`: reading and checking the served generation, whichever store holds it.
- `chroma`: Chroma clients and the private-API workarounds, with the Chroma version they were written for.
- `plan` and `build`: ingest, as `plan_changes` → `embed_missing` → `write_generation`.
- `lock`: the ingest lock and the generation leases of running servers.

Each school's vectors live in their own collection (named by `school_collection_name`), so
a query searches only that school's HNSW graph: latency does not grow with the number of
schools, and a server loads only the collections being asked (measured in
``bench/tenant_store.py``; README "Deployment").
"""

from .build import EMBED_CHUNK, GENERATION_GRACE_SECONDS, build_index, collect_old_generations, embed_missing, write_generation
from .chroma import SERVER_TIMEOUT, chroma_client, school_collection_configuration, server_address
from .generation import (
    check_generation,
    current_generation,
    generation_client,
    open_generation,
    read_clauses,
    read_generation_text,
    read_school_clauses,
    verify_clause_records,
    verify_generation,
)
from .lock import (
    LEASE_LINGER_SECONDS,
    LEASE_REFRESH_SECONDS,
    LEASE_TTL_SECONDS,
    LEASES_DIR,
    LOCK_FILE,
    GenerationLease,
    IngestBusyError,
    ingest_lock,
    leased_generations,
)
from .manifest import COLLECTION, LAYOUT, DocumentEntry, Manifest, ManifestError, SchoolEntry, read_manifest, read_manifest_dict
from .plan import PIPELINE_VERSION, DocumentChange, IngestFailed, IngestReport, Plan, chunk_school, plan_changes
from .store import (
    DOCUMENTS_DIR,
    POINTER,
    SERVER_POINTER,
    STORE_FORMAT,
    ChromaServerStore,
    Generation,
    GenerationStore,
    LocalStore,
    RemoteGeneration,
    document_text_file,
    index_store,
    meta_collection_name,
    same_generation,
    school_clauses_file,
    school_collection_name,
    store_of,
)
from .units import MIN_UNIT_CHARS, clause_id_of_vector, continues_lead_in, embedding_text, embedding_units, unit_sentences, vector_id

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
    "ChromaServerStore",
    "DocumentChange",
    "DocumentEntry",
    "Generation",
    "GenerationLease",
    "GenerationStore",
    "IngestBusyError",
    "IngestFailed",
    "IngestReport",
    "LocalStore",
    "Manifest",
    "ManifestError",
    "Plan",
    "RemoteGeneration",
    "SchoolEntry",
    "build_index",
    "check_generation",
    "chroma_client",
    "chunk_school",
    "clause_id_of_vector",
    "collect_old_generations",
    "continues_lead_in",
    "current_generation",
    "document_text_file",
    "embed_missing",
    "embedding_text",
    "embedding_units",
    "generation_client",
    "index_store",
    "ingest_lock",
    "leased_generations",
    "meta_collection_name",
    "open_generation",
    "plan_changes",
    "read_clauses",
    "read_generation_text",
    "read_manifest",
    "read_manifest_dict",
    "read_school_clauses",
    "same_generation",
    "school_clauses_file",
    "school_collection_configuration",
    "school_collection_name",
    "server_address",
    "store_of",
    "unit_sentences",
    "vector_id",
    "verify_clause_records",
    "verify_generation",
    "write_generation",
]
