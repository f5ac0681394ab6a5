"""Web server settings: command-line flags override ``ASSISTANT_*`` environment variables.

| variable | flag | default | meaning |
| --- | --- | --- | --- |
| ASSISTANT_HOST | ``--host`` | ``127.0.0.1`` | interface to listen on (``0.0.0.0`` for every interface) |
| ASSISTANT_PORT | ``--port`` | ``7860`` | TCP port |
| ASSISTANT_INDEX_DIR | ``--index-dir`` | ``./index`` | the index built by ``python ingest.py`` |
| ASSISTANT_WIDGET_ORIGINS | ``--widget-origins`` | ``*`` | comma-separated origins (``https://www.school.sch.uk``) allowed to embed the parent widget and call the API from a browser; ``*`` allows any site |
| ASSISTANT_RELOAD_INTERVAL | ``--reload-interval`` | ``1.0`` | seconds between checks for a newly ingested index (0 turns the check off) |
| ASSISTANT_SERVE_EXAMPLES | ``--no-examples`` | ``true`` | serve ``examples/school-site.html`` at ``/examples/school-site.html`` |
| ASSISTANT_LOG_LEVEL | ``--log-level`` | ``info`` | uvicorn log level |
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
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
    widget_origins: Annotated[list[str], NoDecode] = ["*"]
    reload_interval: float = Field(default=1.0, ge=0)
    serve_examples: bool = True
    log_level: str = "info"

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
        if not origins:
            raise ValueError("list at least one origin, or * for any site")
        cleaned = []
        for origin in origins:
            origin = origin.rstrip("/")
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://www.school.sch.uk (or *)")
            cleaned.append(origin)
        return cleaned

    @property
    def any_origin(self) -> bool:
        """True when any site may embed the widget."""
        return "*" in self.widget_origins
