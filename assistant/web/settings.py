"""Web server settings: command-line flags override ``ASSISTANT_*`` environment variables.

| variable | flag | default | meaning |
| --- | --- | --- | --- |
| ASSISTANT_HOST | ``--host`` | ``127.0.0.1`` | interface to listen on (``0.0.0.0`` for every interface) |
| ASSISTANT_PORT | ``--port`` | ``7860`` | TCP port |
| ASSISTANT_INDEX_DIR | ``--index-dir`` | ``./index`` | the index built by ``python ingest.py`` |
| ASSISTANT_WIDGET_ORIGINS | ``--widget-origins`` | (none) | comma-separated origins (``https://www.school.sch.uk``) allowed, for every school, to embed the parent widget and call the API from a browser, on top of each school's ``widget_origins`` in ``school.toml``; ``*`` lets any site embed any school's widget (see `assistant.web.origins`) |
| ASSISTANT_RELOAD_INTERVAL | ``--reload-interval`` | ``1.0`` | seconds between checks for a newly ingested index (0 turns the check off) |
| ASSISTANT_SERVE_EXAMPLES | ``--no-examples`` | ``true`` | serve ``examples/school-site.html`` at ``/examples/school-site.html`` |
| ASSISTANT_LOG_LEVEL | ``--log-level`` | ``info`` | uvicorn log level |
| ASSISTANT_RATE_LIMIT | | ``30/minute`` | questions (and, separately, widget/page loads) per client IP, in the ``limits`` library's notation (``10/second``, ``500/hour``); ``off`` disables it |
| ASSISTANT_MAX_BODY_BYTES | | ``262144`` | largest request body accepted (413 above it) |
| ASSISTANT_QUESTION_LOG | | ``<index dir's parent>/data/questions.sqlite3`` | SQLite file of asked questions (redacted, no IPs); ``off`` disables the log |
| ASSISTANT_LOG_RETENTION_DAYS | | ``90`` | logged questions older than this are deleted |
| ASSISTANT_ADMIN_TOKEN | | (unset) | bearer token (or HTTP Basic password) for ``/admin/*``; unset turns the admin endpoints off |
| ASSISTANT_WORKERS | ``--workers`` | ``1`` | uvicorn worker processes sharing the index (each loads the models) |
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


class WebSettings(BaseSettings):
    """Settings of the web product (staff chat, policy viewer, parent widget, HTTP API).

    Every field can be set by ``ASSISTANT_<FIELD>`` in the environment; `app.py` flags
    override the environment. Raises pydantic ``ValidationError`` for a malformed value
    (e.g. a widget origin that is not ``scheme://host[:port]``).
    """

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=1, le=65535)
    index_dir: Path = Path("index")
    widget_origins: Annotated[list[str], NoDecode] = []
    reload_interval: float = Field(default=1.0, ge=0)
    serve_examples: bool = True
    log_level: str = "info"
    #: Worker processes (scale issue): each loads the models and serves the same index.
    workers: int = Field(default=1, ge=1, le=64)

    @field_validator("widget_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept ``"https://a.sch.uk, https://b.sch.uk"`` as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("widget_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        cleaned = []
        for origin in origins:
            origin = origin.rstrip("/")
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://www.school.sch.uk (or *)")
            cleaned.append(origin)
        return cleaned

    @property
    def any_origin(self) -> bool:
        """True when ``*`` lets any site embed every school's widget (overriding the schools' lists)."""
        return "*" in self.widget_origins

    # --- hardening (issue 6): rate limit, body size, question log, admin token -------------
    rate_limit: str = "30/minute"
    max_body_bytes: int = Field(default=262_144, ge=1024)
    question_log: str | None = None
    log_retention_days: float = Field(default=90.0, gt=0)
    admin_token: SecretStr | None = None

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
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError(
                "ASSISTANT_ADMIN_TOKEN must be at least 16 characters (use e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`)"
            )
        return value

    def question_log_path(self) -> Path | None:
        """Where questions are logged: ``question_log``, or ``<index_dir>/../data/questions.sqlite3``; None when ``off``.

        The default sits beside the index folder, never inside an index generation (those are replaced by ingest).
        """
        from assistant.question_log import resolve_log_path

        return resolve_log_path(self.question_log, self.index_dir)
