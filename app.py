"""Run the Policy Assistant web product: ``python app.py [--host 127.0.0.1] [--port 7860]``.

One server (FastAPI + uvicorn, Gradio mounted) serves the staff chat, the policy viewer,
the parent widget and the HTTP API. Flags override ``ASSISTANT_*`` environment variables
(see `assistant.config`). Build the index first with ``python ingest.py``.

``--workers N`` runs N uvicorn worker processes on the one port (each builds the app with
`assistant.web.server.app_factory` and loads the models); with ``CHROMA_HOST``/``CHROMA_PORT``
set, the index is read from that Chroma server. A missing, corrupt or unreachable index is
one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


#: The `assistant.config.Settings` fields that app.py takes as command-line flags. Each flag's
#: type, default (the environment's value) and help come from the field (`_add_flag`).
FLAG_FIELDS = (
    "host",
    "port",
    "index_dir",
    "widget_origins",
    "reload_interval",
    "serve_examples",
    "log_level",
    "workers",
    "forwarded_allow_ips",
    "allowed_hosts",
)
#: Flags not spelt ``--<field-name>``: ``--no-examples`` turns ``serve_examples`` off.
_FLAG_SPELLINGS = {"serve_examples": "--no-examples"}


def flag_of(field: str) -> str:
    """The command-line flag of a settings field: ``"index_dir"`` → ``"--index-dir"`` (``serve_examples`` → ``--no-examples``)."""
    return _FLAG_SPELLINGS.get(field, "--" + field.replace("_", "-"))


def environment_variable(field: str) -> str:
    """The environment variable of a settings field: ``"index_dir"`` → ``"ASSISTANT_INDEX_DIR"``."""
    from assistant.config import Settings

    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else "ASSISTANT_" + field.upper()


def _as_text(value) -> str:
    """A setting's value as an environment variable (and a flag's default) writes it: lists comma-joined, booleans lower-case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _add_flag(parser: argparse.ArgumentParser, field: str, current) -> None:
    """Add ``field``'s flag to ``parser``, defaulting to ``current`` (the environment's or the field's default).

    A boolean field becomes a switch that sets the opposite of its default (``--no-examples``);
    a list field takes a comma-separated string; other fields take their own type (int, float,
    Path; anything else as a string), so argparse names a malformed number itself.
    """
    from assistant.config import Settings

    info = Settings.model_fields[field]
    description = (info.description or field.replace("_", " ")).replace("%", "%%")
    where = f"env {environment_variable(field)}"
    if info.annotation is bool:
        parser.add_argument(
            flag_of(field),
            dest=field,
            action="store_false" if info.default else "store_true",
            default=current,
            help=f"{'do not ' if info.default else ''}{description} ({where}={_as_text(not info.default)})",
        )
        return
    is_list = isinstance(current, list)
    shown = (_as_text(current) or "none").replace("%", "%%")
    parser.add_argument(
        flag_of(field),
        dest=field,
        type=info.annotation if info.annotation in (int, float, Path) else str,
        default=_as_text(current) if is_list else current,
        help=f"{description} (default: {shown}; {where})",
    )


def parse_args(argv: list[str] | None = None):
    """Flags → `assistant.config.Settings` (unset flags keep the environment's or the default value).

    Args:
        argv: the command line without the program name (default: ``sys.argv[1:]``).

    Returns:
        The settings with the flags applied (the other fields as `assistant.config.get_settings` reads them).

    Raises:
        SystemExit: a bad flag or value (argparse prints the usage and the flag's problem; status 2).
    """
    from pydantic import ValidationError

    from assistant.config import Settings, get_settings

    defaults = get_settings()
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the Policy Assistant staff chat, parent widget and HTTP API.")
    for field in FLAG_FIELDS:
        _add_flag(parser, field, getattr(defaults, field))
    args = parser.parse_args(argv)
    try:
        return Settings(**{field: getattr(args, field) for field in FLAG_FIELDS})
    except ValidationError as exc:
        problems = [
            f"--{'-'.join(str(part) for part in e['loc'][:1]).replace('_', '-')}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        parser.error("; ".join(problems))


def flag_environment(settings) -> dict[str, str]:
    """The flags' values as ``ASSISTANT_*`` variables, so that worker processes (and `get_settings`) read the same settings.

    Folders are made absolute (a worker may start elsewhere).
    """
    return {
        environment_variable(field): _as_text(Path(value).resolve() if isinstance(value, Path) else value)
        for field, value in ((field, getattr(settings, field)) for field in FLAG_FIELDS)
    }


def main(argv: list[str] | None = None) -> int:
    """Load the index, print the URLs, serve until interrupted. Returns the exit code.

    A missing, corrupt or unreachable index is one line on stderr and exit status 1.
    """
    settings = parse_args(argv)
    # One settings object for the process: `get_settings` (read by the assistant, the web
    # layer and every worker process) now returns what the flags chose.
    from assistant.config import get_settings

    os.environ.update(flag_environment(settings))
    get_settings.cache_clear()

    import uvicorn

    from assistant import IndexNotFoundError
    from assistant.errors import IndexUnavailableError

    if settings.workers > 1:
        return _serve_workers(settings)
    from assistant.web import create_app

    try:
        app = create_app(settings)
    except (IndexNotFoundError, IndexUnavailableError) as exc:  # IndexCorruptError is an IndexNotFoundError
        print(f"app.py: {exc}", file=sys.stderr)
        return 1
    holder = app.state.holder
    _print_urls(settings, sorted(holder.school_ids()), holder.generation.name)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, **uvicorn_limits(settings))
    return 0


def uvicorn_limits(settings) -> dict:
    """The uvicorn arguments for a server on the open internet (issue 17).

    They set the proxy it trusts, connection limits, the request-head timeout
    (`HeaderTimeoutProtocol`) and a bounded graceful shutdown (an open staff-chat event
    stream would otherwise hold it forever).

    Also exports ``ASSISTANT_HEADER_TIMEOUT`` (read by the protocol, in every worker) and
    raises this process's open-file limit to its hard limit.
    """
    from assistant.web.limits import HeaderTimeoutProtocol

    os.environ["ASSISTANT_HEADER_TIMEOUT"] = str(settings.header_timeout)
    _raise_open_file_limit()
    if "*" in settings.forwarded_allow_ips:
        print(
            "app.py: warning: --forwarded-allow-ips * believes X-Forwarded-For from any sender, so a client can choose "
            "the address it is rate-limited as; give the reverse proxy's own address instead",
            file=sys.stderr,
        )
    return {
        "proxy_headers": True,
        "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips),
        "http": HeaderTimeoutProtocol,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.limit_concurrency,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
    }


def _raise_open_file_limit() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else max(soft, 65536), hard))
    except (ImportError, ValueError, OSError):
        pass


def _print_urls(settings, school_ids: list[str], generation: str) -> None:
    base = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}:{settings.port}"
    urls = [("Staff chat", f"{base}/"), ("Parent widget", f"{base}/widget?school={school_ids[0]}")]
    if settings.serve_examples:
        urls.append(("Example school", f"{base}/examples/school-site.html"))
    urls += [("API docs", f"{base}/docs"), ("Health", f"{base}/healthz")]
    lines = [f"  {label:<16}  {url}" for label, url in urls]
    extra = [f"  {'Workers':<16}  {settings.workers}"] if settings.workers > 1 else []
    print("\nPolicy Assistant is starting:", *lines, f"  {'Index generation':<16}  {generation}", *extra, "", sep="\n", flush=True)


#: Seconds a worker may take to answer uvicorn's supervisor (see `_serve_workers`).
WORKER_HEALTHCHECK_SECONDS = 60


def _serve_workers(settings) -> int:
    """Run ``settings.workers`` uvicorn worker processes on one port.

    Each builds the app with `assistant.web.server.app_factory` from the environment
    `main` set from the flags. The index is checked here first (without loading models),
    so a missing or corrupt one is one line, not a traceback from every worker.
    """
    import uvicorn

    from assistant import IndexNotFoundError
    from assistant.errors import IndexUnavailableError
    from assistant.index import open_generation, read_clauses, read_manifest, verify_generation

    try:
        generation = open_generation(settings.index_dir)
        manifest = read_manifest(generation)
        verify_generation(generation, manifest)
        read_clauses(generation)
    except (IndexNotFoundError, IndexUnavailableError) as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 1
    # Workers are fresh processes: they read the flags' values from the environment (`main`
    # exported them), each as a single worker.
    os.environ["ASSISTANT_WORKERS"] = "1"
    # N workers each embedding on every core would oversubscribe them: share the cores out.
    os.environ.setdefault("ASSISTANT_EMBEDDING_THREADS", str(max(1, (os.cpu_count() or 1) // settings.workers)))
    _print_urls(settings, sorted(manifest.schools), generation.name)
    uvicorn.run(
        "assistant.web.server:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        # uvicorn kills a worker that does not answer its supervisor's ping within this many
        # seconds (default 5); a worker loading its models on a busy 2-core machine can take
        # longer, and was killed and restarted in a loop (tests/test_workers.py).
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **uvicorn_limits(settings),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
