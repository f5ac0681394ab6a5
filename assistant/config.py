"""Settings: every ``ASSISTANT_*`` (and ``CHROMA_*``) environment variable, read once by `get_settings`.

One `Settings` holds them all: the core assistant, ingest, the web product, the question
log and the CLI read it through `get_settings` (built on first use, then cached for the
process). ``app.py``'s flags (column *flag*) are generated from these fields and override
the environment. A malformed value raises pydantic's ``ValidationError`` naming the field.
``tests/test_settings.py`` checks that this table names every field and nothing else.

| variable | flag | default | meaning |
| --- | --- | --- | --- |
| ASSISTANT_INDEX_DIR | ``--index-dir`` | ``index`` | where ingest writes and the assistant reads the index |
| ASSISTANT_CORPUS_DIR | | ``corpus`` | the corpus: one folder per school (and each school's own question bank, ``questions.jsonl``) |
| ASSISTANT_DENSE_MODELS | | ``minilm:0.5,mpnet:1`` | dense models and their weights in the ensemble embedding, ``name:weight,…`` (names in `assistant.models`) |
| ASSISTANT_MAX_QUESTION_CHARS | | ``1000`` | longest question accepted, in characters |
| ASSISTANT_EMBEDDING_BACKEND | | ``onnx`` | ``onnx`` (ONNX Runtime, exported once into the model cache) or ``torch`` (sentence-transformers); same vectors |
| ASSISTANT_EMBEDDING_THREADS | | ``0`` | threads one process uses to embed, 0 = one per CPU core; set cores ÷ workers when running several workers |
| ASSISTANT_COLLECTION_CACHE_SIZE | | ``64`` | schools whose vector graphs one process keeps loaded (least recently asked evicted first) |
| ASSISTANT_MAX_FILE_MB | | ``20.0`` | ingest refuses policy files larger than this (MB) |
| ASSISTANT_RERANK | | ``true`` | run the trained reranker, verdict classifier and confidence bands (``false``: retriever and rules alone) |
| ASSISTANT_TRAINED_DIR | | (the packaged ``assistant/trained``) | the trained models' folder (``make train`` writes it; a fold's models in leave-one-school-out) |
| ASSISTANT_MODEL_CACHE | | ``~/.cache/policy-assistant`` | where assembled model weights, ONNX exports and the embedding cache are kept |
| CHROMA_HOST | | (unset) | a Chroma server (``chroma run``) holding the index; unset: the embedded store in the index folder |
| CHROMA_PORT | | ``8000`` | that server's port |
| ASSISTANT_HOST | ``--host`` | ``127.0.0.1`` | interface the web server listens on (``0.0.0.0`` for every interface) |
| ASSISTANT_PORT | ``--port`` | ``7860`` | the web server's TCP port |
| ASSISTANT_WIDGET_ORIGINS | ``--widget-origins`` | (none) | comma-separated origins (``https://www.school.sch.uk``) allowed, for every school, to embed the parent widget and call the API from a browser, on top of each school's ``widget_origins`` in ``school.toml``; ``*`` lets any site embed any school's widget (see `assistant.web.origins`) |
| ASSISTANT_RELOAD_INTERVAL | ``--reload-interval`` | ``1.0`` | seconds between checks for a newly ingested index (0 turns the check off) |
| ASSISTANT_SERVE_EXAMPLES | ``--no-examples`` | ``true`` | serve ``examples/school-site.html`` at ``/examples/school-site.html`` |
| ASSISTANT_LOG_LEVEL | ``--log-level`` | ``info`` | uvicorn log level |
| ASSISTANT_WORKERS | ``--workers`` | ``1`` | uvicorn worker processes sharing the index (each loads the models) |
| ASSISTANT_FORWARDED_ALLOW_IPS | ``--forwarded-allow-ips`` | ``127.0.0.1,::1`` | addresses (or networks, ``172.28.0.0/24``) of the reverse proxy whose ``X-Forwarded-For``/``-Proto`` are believed: the rate limit counts the address it names; give only the proxy's own address (``*`` trusts any sender, which lets a client choose its own address) |
| ASSISTANT_ALLOWED_HOSTS | ``--allowed-hosts`` | (loopback) | comma-separated host names (``policies.example.org``, optionally ``:port``) the assistant is reached at; a browser page is the assistant's own only at ``<scheme>://<one of these>`` with the request's own scheme. Unset: ``localhost``, ``127.0.0.1`` and ``[::1]`` on any port |
| ASSISTANT_HEADER_TIMEOUT | | ``10.0`` | seconds a connection has to send a complete request head (slowloris) before it is closed |
| ASSISTANT_KEEP_ALIVE_TIMEOUT | | ``5`` | seconds an idle keep-alive connection is kept open |
| ASSISTANT_LIMIT_CONCURRENCY | | ``1000`` | open connections and requests at once per worker; over it a request is answered 503 |
| ASSISTANT_SHUTDOWN_TIMEOUT | | ``10`` | seconds a graceful shutdown waits for open requests (a staff chat's event stream) before it closes them |
| ASSISTANT_RATE_LIMIT | | ``30/minute`` | questions (and, separately, widget/page loads) per client IP, in the ``limits`` library's notation (``10/second``, ``500/hour``); ``off`` disables it |
| ASSISTANT_MAX_BODY_BYTES | | ``262144`` | largest request body accepted (413 above it) |
| ASSISTANT_QUESTION_LOG | | (beside the index: ``<index dir's parent>/data/questions.sqlite3``) | SQLite file of asked questions (redacted, no IPs); ``off`` disables the log |
| ASSISTANT_LOG_RETENTION_DAYS | | ``90.0`` | logged questions older than this are deleted |
| ASSISTANT_LOG_MAX_ROWS | | ``100000`` | rows the question log keeps at most (the oldest go first) |
| ASSISTANT_LOG_QUESTIONS | | ``checked`` | what of a question the log keeps: ``checked`` (the redacted text unless it may still name someone), ``clause`` (verdict and clause only), ``redacted`` (every redacted text) |
| ASSISTANT_ADMIN_TOKEN | | (unset) | bearer token (or HTTP Basic password) for ``/admin/*``, 16+ characters; unset turns the admin endpoints off |
| ASSISTANT_STAFF_PASSWORD | | (generated) | the staff chat's sign-in password (12+ characters); unset: a random one kept in ``data/staff-password`` beside the index folder (see `assistant.web.staff_auth`) |
| ASSISTANT_STAFF_SESSION_HOURS | | ``12.0`` | how long a staff sign-in lasts |

Tests, and a process that changes these variables after the settings were first read,
call ``get_settings.cache_clear()`` so that the next `get_settings` reads them again.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Nothing may reach a model hub or a telemetry endpoint: there is no network here, and a
# school's deployment should not phone home either. Set before chromadb/transformers import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_HOST = re.compile(r"^([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$")


def _default_model_cache() -> Path:
    return Path.home() / ".cache" / "policy-assistant"


def _optional_secret(value: SecretStr | None, variable: str, min_chars: int, generator: str) -> SecretStr | None:
    """``None`` for an empty or blank secret; ``value`` when it has at least ``min_chars`` characters.

    Raises:
        ValueError: a shorter one, naming ``variable`` and a ``python -c`` line that makes one (``generator``).
    """
    if value is None or not value.get_secret_value().strip():
        return None
    if len(value.get_secret_value()) < min_chars:
        raise ValueError(f"{variable} must be at least {min_chars} characters (use e.g. `python -c 'import secrets; print({generator})'`)")
    return value


class Settings(BaseSettings):
    """Every runtime setting; each field is set by ``ASSISTANT_<FIELD>`` in the environment.

    The module docstring's table lists them. Read them with `get_settings` (one object per
    process); construct one directly only to override fields, as ``app.py`` does with its
    flags and tests do to build an app (``Settings(index_dir=…, reload_interval=0)``).
    Instances are frozen: build a new one (``settings.model_copy(update=…)``) to change a field.

    Raises:
        pydantic.ValidationError: a malformed value (e.g. a widget origin that is not
            ``scheme://host[:port]``, or a staff password under 12 characters).
    """

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", frozen=True)

    # --- the assistant and ingest ----------------------------------------------------------
    index_dir: Path = Field(default=Path("index"), description="index folder")
    corpus_dir: Path = Field(default=Path("corpus"), description="corpus folder")
    #: Weights measured on evals/banks (README, "Retrieval").
    dense_models: str = Field(default="minilm:0.5,mpnet:1", description="dense models and their weights, name:weight,…")
    max_question_chars: int = Field(default=1000, description="longest question accepted, in characters")
    #: "onnx" runs the models with ONNX Runtime (~1.8x faster per query here, same vectors);
    #: "torch" runs them with sentence-transformers.
    embedding_backend: Literal["onnx", "torch"] = Field(default="onnx", description="onnx or torch")
    embedding_threads: int = Field(default=0, ge=0, le=64, description="intra-op threads for embedding, 0 = one per CPU core")
    #: Each loaded graph costs ~3.6 MB and 4 open files at ~170 vectors a school; reloading an
    #: evicted one takes ~12 ms (bench/limits.md). Chroma keeps at least ~64 whatever is set
    #: here (its cache is sharded; measured with 2, 64, 128 and 256).
    collection_cache_size: int = Field(
        default=64, ge=2, le=100_000, description="schools whose vector graphs (HNSW) one process keeps loaded"
    )
    #: A bigger file is reported, not read.
    max_file_mb: float = Field(default=20.0, description="largest policy file ingest reads, in MB")
    #: False answers from the hybrid retriever and the rules alone, as before issue 16 (kept
    #: to measure the trained stage against).
    rerank: bool = Field(default=True, description="run the trained reranker, verdict classifier and calibrated bands")
    trained_dir: Path | None = Field(default=None, description="the trained models' folder (unset: the packaged assistant/trained)")
    model_cache: Path = Field(default_factory=_default_model_cache, description="folder of assembled model weights and caches")

    # --- Chroma server mode (scale issue): unprefixed names, as Chroma's own docs use them ---
    #: When set, ingest writes the index to that server and every app process reads it from
    #: there instead of the index folder.
    chroma_host: str | None = Field(default=None, validation_alias="CHROMA_HOST", description="host of a Chroma server")
    chroma_port: int = Field(default=8000, ge=1, le=65535, validation_alias="CHROMA_PORT", description="port of that Chroma server")

    # --- the web server -------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="interface to listen on")
    port: int = Field(default=7860, ge=1, le=65535, description="TCP port")
    widget_origins: Annotated[list[str], NoDecode] = Field(
        default=[], description="comma-separated sites allowed to embed the widget, or *"
    )
    reload_interval: float = Field(default=1.0, ge=0, description="seconds between checks for a new ingest, 0 = never")
    serve_examples: bool = Field(default=True, description="serve /examples/school-site.html")
    log_level: str = Field(default="info", description="uvicorn log level")
    #: Each worker loads the models and serves the same index (scale issue).
    workers: int = Field(default=1, ge=1, le=64, description="worker processes sharing the index, each with its own models")
    # On the open internet (issue 17): proxy trust, own host names, connection limits.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default=["127.0.0.1", "::1"],
        description="comma-separated addresses or networks of the reverse proxy whose X-Forwarded-For is believed; only the proxy's own",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="comma-separated host names the assistant is reached at, e.g. policies.example.org; none: localhost, 127.0.0.1, [::1]",
    )
    header_timeout: float = Field(default=10.0, gt=0, le=300, description="seconds a connection has to send a complete request head")
    keep_alive_timeout: int = Field(default=5, ge=1, le=300, description="seconds an idle keep-alive connection is kept open")
    limit_concurrency: int = Field(default=1000, ge=8, description="open connections and requests at once per worker")
    shutdown_timeout: int = Field(default=10, ge=1, le=600, description="seconds a graceful shutdown waits for open requests")

    # --- hardening (issue 6): rate limit, body size, question log, admin token -------------
    rate_limit: str = Field(default="30/minute", description="questions per client IP (limits notation), or off")
    max_body_bytes: int = Field(default=262_144, ge=1024, description="largest request body accepted, in bytes")
    question_log: str | None = Field(default=None, description="SQLite file of asked questions, or off")
    log_retention_days: float = Field(default=90.0, gt=0, description="days a logged question is kept")
    admin_token: SecretStr | None = Field(default=None, description="bearer token for /admin/*")
    # --- issue 17: staff sign-in, question log cap and what it keeps ---------------------------
    staff_password: SecretStr | None = Field(default=None, description="the staff chat's sign-in password")
    staff_session_hours: float = Field(default=12.0, gt=0, le=720, description="hours a staff sign-in lasts")
    log_max_rows: int = Field(default=100_000, ge=1, description="rows the question log keeps at most")
    log_questions: Literal["checked", "clause", "redacted"] = Field(
        default="checked", description="what of a question the log keeps: checked, clause or redacted"
    )

    @field_validator("trained_dir", "model_cache", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object, info) -> object:
        """An empty variable means unset (not the current folder)."""
        if isinstance(value, str) and not value.strip():
            return None if info.field_name == "trained_dir" else _default_model_cache()
        return value

    @field_validator("widget_origins", "forwarded_allow_ips", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Accept a comma-separated string (``"https://a.sch.uk, https://b.sch.uk"``) as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, proxies: list[str]) -> list[str]:
        """Each entry is an IP address, a network (``10.0.0.0/8``) or ``*``."""
        for proxy in proxies:
            if proxy == "*":
                continue
            try:
                ipaddress.ip_network(proxy, strict=False) if "/" in proxy else ipaddress.ip_address(proxy)
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an IP address or network of the reverse proxy (e.g. 172.28.0.10 or 172.28.0.0/24)"
                ) from None
        return proxies

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, hosts: list[str]) -> list[str]:
        """Each entry is a host name or address, optionally with ``:port`` (no scheme, no path)."""
        cleaned = []
        for host in hosts:
            host = host.lower().rstrip(".")
            if not _HOST.match(host):
                raise ValueError(f"{host!r} is not a host name like policies.example.org (optionally :port; no scheme or path)")
            cleaned.append(host)
        return cleaned

    @field_validator("widget_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        """Each entry is ``scheme://host[:port]`` (a trailing ``/`` is dropped) or ``*``."""
        cleaned = []
        for origin in origins:
            origin = origin.rstrip("/")
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://www.school.sch.uk (or *)")
            cleaned.append(origin)
        return cleaned

    @field_validator("staff_password")
    @classmethod
    def _check_staff_password(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty password means none set (a generated one is used); a short one is refused."""
        return _optional_secret(value, "ASSISTANT_STAFF_PASSWORD", 12, "secrets.token_urlsafe(12)")

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        """``off`` or a rate in the ``limits`` notation (``30/minute``, ``5 per second``)."""
        value = value.strip()
        if value.lower() in ("off", "none", "0"):
            return "off"
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate like 30/minute (or off)") from None
        return value

    @field_validator("admin_token")
    @classmethod
    def _check_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty token means no token (admin endpoints off); a short one is refused."""
        return _optional_secret(value, "ASSISTANT_ADMIN_TOKEN", 16, "secrets.token_urlsafe()")

    @property
    def any_origin(self) -> bool:
        """True when ``*`` lets any site embed every school's widget (overriding the schools' lists)."""
        return "*" in self.widget_origins

    def question_log_path(self) -> Path | None:
        """Where questions are logged: ``question_log``, or ``<index_dir>/../data/questions.sqlite3``; None when ``off``.

        The default sits beside the index folder, never inside an index generation (those are replaced by ingest).
        """
        from assistant.question_log import resolve_log_path

        return resolve_log_path(self.question_log, self.index_dir)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on the first call and then cached.

    Every module reads its settings here, so the environment is parsed and validated once.
    A process (or a test) that changes ``ASSISTANT_*``/``CHROMA_*`` variables after that
    calls ``get_settings.cache_clear()`` for the next call to read them again
    (``tests/conftest.py`` clears it before each test).

    Returns:
        The one `Settings` (frozen: the same object until the cache is cleared).

    Raises:
        pydantic.ValidationError: a malformed variable (not cached: the next call reads again).
    """
    return Settings()


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
