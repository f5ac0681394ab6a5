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
| ASSISTANT_STAFF_PASSWORD | | (generated) | the staff chat's sign-in password (12+ characters); unset: a random one kept in ``data/staff-password`` beside the index folder (see `assistant.web.staff_auth`) |
| ASSISTANT_STAFF_SESSION_HOURS | | ``12`` | how long a staff sign-in lasts |
| ASSISTANT_LOG_MAX_ROWS | | ``100000`` | rows the question log keeps at most (the oldest go first) |
| ASSISTANT_LOG_QUESTIONS | | ``checked`` | what of a question the log keeps: ``checked`` (the redacted text unless it may still name someone), ``clause`` (verdict and clause only), ``redacted`` (every redacted text) |
| ASSISTANT_FORWARDED_ALLOW_IPS | ``--forwarded-allow-ips`` | ``127.0.0.1,::1`` | addresses (or networks, ``172.28.0.0/24``) of the reverse proxy whose ``X-Forwarded-For``/``-Proto`` are believed: the rate limit counts the address it names; give only the proxy's own address (``*`` trusts any sender, which lets a client choose its own address) |
| ASSISTANT_ALLOWED_HOSTS | ``--allowed-hosts`` | (loopback) | comma-separated host names (``policies.example.org``, optionally ``:port``) the assistant is reached at; a browser page is the assistant's own only at ``<scheme>://<one of these>`` with the request's own scheme. Unset: ``localhost``, ``127.0.0.1`` and ``[::1]`` on any port |
| ASSISTANT_HEADER_TIMEOUT | | ``10`` | seconds a connection has to send a complete request head (slowloris) before it is closed |
| ASSISTANT_KEEP_ALIVE_TIMEOUT | | ``5`` | seconds an idle keep-alive connection is kept open |
| ASSISTANT_LIMIT_CONCURRENCY | | ``1000`` | open connections and requests at once per worker; over it a request is answered 503 |
| ASSISTANT_SHUTDOWN_TIMEOUT | | ``10`` | seconds a graceful shutdown waits for open requests (a staff chat's event stream) before it closes them |
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_HOST = re.compile(r"^([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$")


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
    # --- on the open internet (issue 17): proxy trust, own host names, connection limits -----
    forwarded_allow_ips: Annotated[list[str], NoDecode] = ["127.0.0.1", "::1"]
    allowed_hosts: Annotated[list[str], NoDecode] = []
    header_timeout: float = Field(default=10.0, gt=0, le=300)
    keep_alive_timeout: int = Field(default=5, ge=1, le=300)
    limit_concurrency: int = Field(default=1000, ge=8)
    shutdown_timeout: int = Field(default=10, ge=1, le=600)

    @field_validator("forwarded_allow_ips", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Accept a comma-separated string as well as a list."""
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
    corpus_dir: Path = Path("corpus")  # issue 18: where each school's own question bank (questions.jsonl) is kept
    log_retention_days: float = Field(default=90.0, gt=0)
    admin_token: SecretStr | None = None
    # --- issue 17: staff sign-in, question log cap and what it keeps ---------------------------
    staff_password: SecretStr | None = None
    staff_session_hours: float = Field(default=12.0, gt=0, le=720)
    log_max_rows: int = Field(default=100_000, ge=1)
    log_questions: Literal["checked", "clause", "redacted"] = "checked"

    @field_validator("staff_password")
    @classmethod
    def _check_staff_password(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty password means none set (a generated one is used); a short one is refused."""
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < 12:
            raise ValueError(
                "ASSISTANT_STAFF_PASSWORD must be at least 12 characters (use e.g. `python -c 'import secrets; print(secrets.token_urlsafe(12))'`)"
            )
        return value

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
