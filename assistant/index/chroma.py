"""Chroma clients and the workarounds this index needs from Chroma's private API, quarantined here.

Everything that reaches into Chroma below its public ``chromadb.PersistentClient`` /
``chromadb.HttpClient`` API lives in this module, each piece marked with the Chroma version it
was written and measured against (**chromadb 1.5.9**, installed under ``pyproject.toml``'s ``chromadb>=1.5,<1.6``
when the index moved to ``assistant.index``). A Chroma upgrade is checked here first;
``tests/test_store.py`` (graph cache) and ``tests/test_chroma_server.py`` (server client)
fail if one of these paths changes.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from ..config import get_settings
from ..errors import IndexUnavailableError

#: Seconds an HTTP call to a Chroma server may take before the store counts as unavailable.
SERVER_TIMEOUT = 10.0

_CLIENT_LOCK = threading.Lock()


def _start_embedded_store(path: str, settings, graphs: int) -> None:
    """Start Chroma's embedded store for ``path`` keeping at most ``graphs`` HNSW graphs loaded.

    Does nothing when this process has already started it (Chroma keeps one store per folder
    per process).

    Private API, written against chromadb 1.5 (checked on 1.5.9): Chroma 1.x's embedded store
    has no setting for this cache: it sizes it as the open-file limit // 5
    (``chromadb.api.rust.RustBindingsAPI.__init__``; a loaded graph holds about four files
    open), and ``chroma_memory_limit_bytes`` / ``chroma_segment_cache_policy`` reach only the
    legacy Python segments. So this does what ``PersistentClient`` does
    (``SharedSystemClient._create_system_if_not_exists``) with the size set before the store
    starts; ``PersistentClient`` then finds the started store and uses it.
    `tests/test_store.py` fails if a Chroma upgrade changes that path.

    Args:
        path: the store's folder, as a string (Chroma's key for its per-folder store).
        settings: the ``chromadb.config.Settings`` the store starts with.
        graphs: how many HNSW graphs the store keeps loaded (least recently used evicted).
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

    With ``CHROMA_HOST`` set (`assistant.config.get_settings`), an ``HttpClient`` to that
    server (``CHROMA_PORT``, default 8000), whatever ``path`` is; otherwise an embedded
    ``PersistentClient`` at ``path``. ``graph_cache`` bounds how many schools' HNSW graphs
    the embedded store keeps loaded, least recently used evicted first (see
    `_start_embedded_store`; None: Chroma's default, one per five allowed open files). It
    applies when this process first opens ``path``: Chroma keeps one store per folder.

    Args:
        path: the embedded store's folder (ignored in server mode).
        graph_cache: the most HNSW graphs the embedded store keeps loaded, or None.

    Returns:
        a ``chromadb`` client (``ClientAPI``).

    Raises:
        ValueError: embedded mode without a ``path``.
        IndexUnavailableError: the Chroma server cannot be reached.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = get_settings()
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
    settings = get_settings()
    return f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else None


def _server_client(host: str, port: int):
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    try:
        client = chromadb.HttpClient(host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as exc:  # the constructor already calls the server
        raise IndexUnavailableError(f"the Chroma server at {host}:{port} is not answering ({type(exc).__name__})") from exc
    # Private API (chromadb 1.5.9: ``FastAPI._session`` is an ``httpx.Client``): chromadb's HTTP
    # session has no timeout setting, and a hung server must not hang every request.
    with contextlib.suppress(AttributeError):
        client._server._session.timeout = httpx.Timeout(SERVER_TIMEOUT)
    return client


def collection_names(client) -> list[str]:
    """Every collection name on a client (chromadb 1.x returns names or objects by version)."""
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def raise_if_unreachable(exc: Exception) -> None:
    """Re-raise a transport failure as `IndexUnavailableError`; let "not found" pass.

    Chroma's HTTP client (1.5.9) raises httpx's exceptions as they are for a server that is down.

    Raises:
        IndexUnavailableError: ``exc`` is one, or a transport failure (connection, timeout).
    """
    import httpx

    if isinstance(exc, IndexUnavailableError):
        raise exc
    if isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError):
        raise IndexUnavailableError(f"the Chroma server at {server_address()} is not answering ({type(exc).__name__})") from exc


def school_collection_configuration(vectors: int) -> dict:
    """Chroma configuration of a school's collection holding ``vectors`` vectors.

    Cosine space, and an HNSW graph built and written to disk by the ingest that adds them.
    Chroma (1.x, measured on 1.5) persists a collection's graph only once ``sync_threshold``
    vectors (default 1,000) have arrived, and purges its write-ahead log only up to a
    persisted graph; a school has fewer vectors than that, so with the defaults every process
    replayed the school's whole log from SQLite on its first question (median 187 ms at 1,000
    schools, ``bench/limits.md``) and the log was never purged. A threshold equal to the
    collection's size persists the graph once, on the last add. Chroma's minimum is 2.

    Args:
        vectors: how many vectors the collection will hold.

    Returns:
        the ``configuration`` argument of ``create_collection``.
    """
    size = max(2, vectors)
    return {"hnsw": {"space": "cosine", "batch_size": size, "sync_threshold": size}}
