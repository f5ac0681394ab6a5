"""Is this question a possible child-protection concern (issue 18)?

A question that discloses or asks about a possible safeguarding concern (a pupil messaging
a member of staff privately, an adult contacting a child online, indecent images, bullying
or threats, self-harm, abuse, neglect, exploitation, radicalisation, FGM, …) is never
answered "not covered": the answer first names the school's Designated Safeguarding Lead
and how to reach them now (`assistant.contacts.safeguarding_message`), then quotes the policy.

The detector is a logistic regression over two views of the question, trained by
``python -m training.safeguarding`` on questions written for this project
(``training/safeguarding/``; results in ``training/README.md``):

- the all-MiniLM-L6-v2 sentence vector (384 numbers; the ensemble's first model, so a served
  question costs one small forward pass, memoised like every query vector);
- hashed character 3–5-grams of each word and hashed words and word pairs (`ngram_features`),
  which catch typos and slang ("dmin", "nudes", "self harmin") the sentence vector may miss.

Serving needs only NumPy: the weights are ``assistant/trained/safeguarding/weights.npz`` and
the decision threshold (chosen by cross-validation on the training questions only) is in
its ``manifest.json`` with the held-out metrics.
"""

from __future__ import annotations

import itertools
import json
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .text import words

#: Where the trained detector lives.
MODEL_DIR = Path(__file__).parent / "trained" / "safeguarding"
#: Hash buckets of the n-gram view.
NGRAM_BUCKETS = 1 << 15
#: Size of an all-MiniLM-L6-v2 vector.
MINILM_DIM = 384
_CHAR_NGRAMS = (3, 4, 5)


def normalise(text: str) -> str:
    """Lower-case, curly quotes made straight, anything but letters, digits and ``'`` a space."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    return " ".join(words(text))


def _bucket(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) % NGRAM_BUCKETS


def ngram_features(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The hashed n-gram view of ``text`` as a sparse vector: ``(bucket indices, values)``.

    Features: character 3–5-grams of each word padded with spaces, each word, and each pair
    of neighbouring words; values are ``1 + log(count)``, the vector scaled to unit length.
    """
    tokens = normalise(text).split()
    counts: dict[int, int] = {}

    def add(feature: str) -> None:
        key = _bucket(feature)
        counts[key] = counts.get(key, 0) + 1

    for word in tokens:
        padded = f" {word} "
        for n in _CHAR_NGRAMS:
            for i in range(max(1, len(padded) - n + 1)):
                add("c:" + padded[i : i + n])
        add("w:" + word)
    for first, second in itertools.pairwise(tokens):
        add(f"b:{first} {second}")
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    return index, (values / np.linalg.norm(values)).astype(np.float32)


_own_encoder = None
_own_lock = threading.Lock()


def minilm_vectors(texts: list[str], embeddings=None) -> np.ndarray:
    """Unit all-MiniLM-L6-v2 vectors of ``texts`` (one row each).

    With ``embeddings`` (the assistant's ensemble) whose first model is MiniLM, its memoised
    light query vector is used; otherwise MiniLM is loaded once on the configured backend.
    """
    models = getattr(embeddings, "models", None)
    if models and models[0][0] == "minilm" and hasattr(embeddings, "embed_query_light"):
        return np.stack([np.asarray(embeddings.embed_query_light(t), dtype=np.float32)[:MINILM_DIM] for t in texts])
    global _own_encoder
    with _own_lock:
        if _own_encoder is None:
            from .config import get_settings
            from .embedding import _BATCH_THREADS, _load_encoder

            settings = get_settings()
            _own_encoder = _load_encoder("minilm", settings.embedding_backend, settings.embedding_threads or _BATCH_THREADS)
    return np.asarray(_own_encoder.encode(list(texts), 32), dtype=np.float32)


@dataclass(frozen=True)
class SafeguardingDetector:
    """The trained detector: weights of both views, bias and the decision threshold.

    Build with `SafeguardingDetector.load`; `probability` and `is_concern` are thread-safe.
    """

    embedding_weights: np.ndarray
    ngram_weights: np.ndarray
    bias: float
    threshold: float
    manifest: dict

    @classmethod
    def load(cls, model_dir: str | Path = MODEL_DIR) -> SafeguardingDetector:
        """Read ``weights.npz`` and ``manifest.json`` from ``model_dir``.

        Raises:
            FileNotFoundError: the detector has not been trained (``python -m training.safeguarding``).
        """
        model_dir = Path(model_dir)
        manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
        with np.load(model_dir / "weights.npz") as weights:
            embedding, ngram, bias = weights["embedding"], weights["ngram"], float(weights["bias"])
        if embedding.shape != (MINILM_DIM,) or ngram.shape != (NGRAM_BUCKETS,):
            raise ValueError(f"{model_dir / 'weights.npz'} does not match this code's features: retrain it")
        return cls(embedding.astype(np.float32), ngram.astype(np.float32), bias, float(manifest["threshold"]), manifest)

    def scores(self, texts: list[str], embeddings=None) -> np.ndarray:
        """P(concern) for each of ``texts``."""
        if not texts:
            return np.zeros(0)
        dense = minilm_vectors(texts, embeddings) @ self.embedding_weights
        sparse = []
        for text in texts:
            index, values = ngram_features(text)
            sparse.append(float(values @ self.ngram_weights[index]) if index.size else 0.0)
        logits = dense.astype(np.float64) + np.asarray(sparse) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def probability(self, text: str, embeddings=None) -> float:
        """P(``text`` discloses or asks about a possible child-protection concern)."""
        return float(self.scores([text], embeddings)[0])

    def is_concern(self, text: str, embeddings=None) -> bool:
        """True when `probability` reaches the trained threshold."""
        return self.probability(text, embeddings) >= self.threshold


_shared: SafeguardingDetector | None = None
_shared_lock = threading.Lock()


def shared_detector() -> SafeguardingDetector:
    """The committed detector, loaded once per process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SafeguardingDetector.load()
        return _shared


def is_concern(question: str, embeddings=None) -> bool:
    """True when ``question`` discloses or asks about a possible child-protection concern."""
    return shared_detector().is_concern(question, embeddings)
