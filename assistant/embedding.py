"""Sentence embeddings behind LangChain's `Embeddings` interface: one model or an ensemble.

The default is an ensemble of all-MiniLM-L6-v2 and all-mpnet-base-v2: each text is
embedded by both, each vector is L2-normalised and scaled by the square root of its
model's weight, and the concatenation is normalised again. The cosine similarity of two
ensemble vectors is then the weighted mean of the models' cosine similarities, so one
Chroma collection performs the score fusion of both models. On the project's question
banks this beat either model alone (README, "Retrieval").

Weights come from `Settings.dense_models`; the model files from `assistant.models`. The
models run on ONNX Runtime by default (`assistant.onnx_encoder`), or on PyTorch through
sentence-transformers with ``ASSISTANT_EMBEDDING_BACKEND=torch``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import ClassVar

import numpy as np
from langchain_core.embeddings import Embeddings

from .config import get_settings, parse_dense_models
from .models import model_path

#: Sentence-transformers' default batch size, which suits CPU inference here.
BATCH_SIZE = 32
#: Recent full queries whose first-model vector is kept for a light query of the same text.
RECENT_HEADS = 1024
#: Inputs up to this many texts are encoded on one thread (see `EnsembleEmbeddings._embed`).
SMALL_BATCH = 4
_BATCH_THREADS = max(1, os.cpu_count() or 1)


class EnsembleEmbeddings(Embeddings):
    """LangChain `Embeddings` over one or more local sentence-transformers models.

    Args:
        models: ``[(name, weight), …]`` with names from `assistant.models.MODELS`
            (default: ``get_settings().dense_models``).
        backend: ``"onnx"`` (ONNX Runtime) or ``"torch"`` (sentence-transformers); default
            ``get_settings().embedding_backend``. Both give the same vectors (cosine ≥ 0.9999).

    Vectors are lists of floats of length `dimension` (the models' sizes summed), unit
    length. Query embeddings are memoised (LRU, 4,096 entries), so chat follow-ups and
    repeated questions do not pay for the models twice.

    Raises:
        ModelUnavailableError: a model's package is not installed.
        EncoderExportError: the ONNX export of a model failed (use backend ``"torch"``).
    """

    def __init__(self, models: list[tuple[str, float]] | None = None, backend: str | None = None) -> None:
        """Load the models (see the class docstring for the arguments)."""
        settings = get_settings()
        self.models = models or parse_dense_models(settings.dense_models)
        self.backend = backend or settings.embedding_backend
        threads = settings.embedding_threads or _BATCH_THREADS
        self._encoders = [_load_encoder(name, self.backend, threads) for name, _ in self.models]
        total = sum(w for _, w in self.models)
        self._scales = [float(np.sqrt(w / total)) for _, w in self.models]
        self.dimension = sum(int(e.get_embedding_dimension()) for e in self._encoders)
        self._lock = threading.Lock()  # one forward pass at a time per process: 2 cores
        self._embed_query_cached = lru_cache(maxsize=4096)(self._embed_query_uncached)
        self._embed_query_light_cached = lru_cache(maxsize=1024)(self._embed_query_light_uncached)
        # The first model's vector of each recent full query: a light query of the same text
        # (the safeguarding check embeds the question as asked, which is often the retrieval
        # query too) takes it instead of running the model again (~11 ms a question here).
        self._recent_heads: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def model_id(self) -> str:
        """Identifies the models and weights, e.g. ``"minilm:0.5+mpnet:1"`` (stored in the manifest)."""
        return "+".join(f"{name}:{weight:g}" for name, weight in self.models)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self._embed_parts(texts)[0]

    def _embed_parts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble vectors of ``texts`` and the first model's own unit vectors of them."""
        with self._lock:
            heads = [encoder.encode(texts, BATCH_SIZE) for encoder in self._encoders]
        joined = np.concatenate([scale * part for part, scale in zip(heads, self._scales, strict=True)], axis=1)
        return joined / np.linalg.norm(joined, axis=1, keepdims=True), heads[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages; returns one unit vector per text, in order.

        Vectors are looked up in the persistent `EmbeddingCache` first; only texts never
        embedded by this model configuration are run through the models.
        """
        if not texts:
            return []
        texts = list(texts)
        cache = EmbeddingCache.for_model(self.model_id, self.dimension)
        found = cache.get_many(texts)
        missing = [i for i, vec in enumerate(found) if vec is None]
        if missing:
            fresh = self._embed([texts[i] for i in missing])
            cache.put_many([texts[i] for i in missing], fresh)
            for i, vec in zip(missing, fresh, strict=True):
                found[i] = vec
        return [np.asarray(v, dtype=np.float32).tolist() for v in found]

    def _embed_query_uncached(self, text: str) -> np.ndarray:
        # Kept as float32 (4.6 KB for 1,152 dimensions), not a tuple of Python floats (~37 KB):
        # a full cache of 4,096 queries then holds ~19 MB, not ~150 MB (the soak measured the latter).
        joined, head = self._embed_parts([text])
        vector = joined[0].astype(np.float32)
        vector.flags.writeable = False
        with self._lock:
            self._recent_heads[text] = head[0]
            if len(self._recent_heads) > RECENT_HEADS:
                self._recent_heads.popitem(last=False)
        return vector

    def embed_query(self, text: str) -> list[float]:
        """Embed one query; returns a unit vector."""
        return self._embed_query_cached(text).tolist()

    @property
    def light_scale(self) -> float:
        """The first model's share of an ensemble vector (the square root of its weight share).

        The cosine similarity of an `embed_query_light` vector and a passage vector is
        this times the first model's own cosine similarity of the two texts.
        """
        return self._scales[0]

    def _embed_query_light_uncached(self, text: str) -> np.ndarray:
        with self._lock:
            head = self._recent_heads.get(text)
            if head is None:
                head = self._encoders[0].encode([text], BATCH_SIZE)[0]
        vector = np.zeros(self.dimension, dtype=np.float32)
        vector[: head.shape[0]] = head
        vector.flags.writeable = False
        return vector

    def embed_query_light(self, text: str) -> list[float]:
        """Embed one query with the ensemble's first model only.

        That model is the lightest by convention: all-MiniLM-L6-v2 in the default
        ``minilm:0.5,mpnet:1``.

        Returns:
            A unit vector of length `dimension` that is zero outside the first model's part,
            so it searches the same collection as full query vectors; divide a cosine
            similarity by `light_scale` to get the first model's own similarity.
        """
        return self._embed_query_light_cached(text).tolist()


class _TorchEncoder:
    """sentence-transformers behind the `OnnxSentenceEncoder` interface (``encode``, dimension)."""

    def __init__(self, model_dir: str, threads: int) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
        self._threads = threads

    def get_embedding_dimension(self) -> int:
        return int(self._model.get_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        # One intra-op thread for a query or two: on a busy 2-core machine two threads per
        # request oversubscribe the cores (measured: 1.2 s vs 0.07 s per mpnet query under
        # load). Ingest batches use every configured thread.
        wanted = 1 if len(texts) <= SMALL_BATCH else self._threads
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
        return self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def _load_encoder(name: str, backend: str, threads: int):
    """An encoder for model ``name``: ONNX Runtime or sentence-transformers (``backend``)."""
    if backend == "torch":
        return _TorchEncoder(model_path(name), threads)
    if backend != "onnx":
        raise ValueError(f"unknown embedding backend {backend!r} (use onnx or torch)")
    from .models import onnx_model_path
    from .onnx_encoder import OnnxSentenceEncoder

    return OnnxSentenceEncoder(model_path(name), onnx_model_path(name), threads)


class EmbeddingCache:
    """Content-addressed store of passage vectors: SQLite keyed by SHA-1 of the text.

    One file per model configuration under the model cache folder
    (``ASSISTANT_MODEL_CACHE``). Embedding is deterministic, so re-ingesting a school,
    a format test or a fresh index folder reuses every vector already computed.
    """

    _instances: ClassVar[dict[str, EmbeddingCache]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path, dimension: int) -> None:
        """Open (or create) the cache file ``path`` (a `Path`) for vectors of ``dimension`` floats."""
        import sqlite3

        path.parent.mkdir(parents=True, exist_ok=True)
        self.dimension = dimension
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()

    @classmethod
    def for_model(cls, model_id: str, dimension: int) -> EmbeddingCache:
        """The shared cache of one model configuration."""
        from .models import model_cache_dir

        safe = "".join(ch if ch.isalnum() else "_" for ch in model_id)
        with cls._guard:
            if safe not in cls._instances:
                cls._instances[safe] = cls(model_cache_dir() / f"embeddings-{safe}.sqlite3", dimension)
            return cls._instances[safe]

    @staticmethod
    def _key(text: str) -> str:
        import hashlib

        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def get_many(self, texts: list[str]) -> list[np.ndarray | None]:
        """Cached vectors for ``texts`` (None where absent), in order."""
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                for key, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape[0] == self.dimension:
                        found[key] = vec
        return [found.get(k) for k in keys]

    def put_many(self, texts: list[str], vectors: np.ndarray) -> None:
        """Store vectors for ``texts``."""
        rows = [(self._key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors, strict=True)]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)


_shared: dict[str, EnsembleEmbeddings] = {}
_shared_lock = threading.Lock()


def shared_embeddings(models: list[tuple[str, float]] | None = None) -> EnsembleEmbeddings:
    """One ensemble per configuration per process: loading the models costs seconds and ~600 MB."""
    settings = get_settings()
    models = models or parse_dense_models(settings.dense_models)
    key = repr((models, settings.embedding_backend))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = EnsembleEmbeddings(models, settings.embedding_backend)
        return _shared[key]
