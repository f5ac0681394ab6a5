"""Run the Policy Assistant web product: ``python app.py [--host 127.0.0.1] [--port 7860]``.

One server (FastAPI + uvicorn, Gradio mounted) serves the staff chat, the policy viewer,
the parent widget and the HTTP API. Flags override ``ASSISTANT_*`` environment variables
(see `assistant.web.settings`). Build the index first with ``python ingest.py``.

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


def parse_args(argv: list[str] | None = None):
    """Flags → `WebSettings` (unset flags keep the environment's or the default value)."""
    from pydantic import ValidationError

    from assistant.web.settings import WebSettings

    defaults = WebSettings()
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the Policy Assistant staff chat, parent widget and HTTP API.")
    parser.add_argument("--host", default=defaults.host, help="interface to listen on (default: %(default)s; env ASSISTANT_HOST)")
    parser.add_argument("--port", type=int, default=defaults.port, help="TCP port (default: %(default)s; env ASSISTANT_PORT)")
    parser.add_argument(
        "--index-dir", type=Path, default=defaults.index_dir, help="index folder (default: %(default)s; env ASSISTANT_INDEX_DIR)"
    )
    parser.add_argument(
        "--widget-origins",
        default=",".join(defaults.widget_origins),
        help="comma-separated sites allowed to embed the widget, or * (default: %(default)s; env ASSISTANT_WIDGET_ORIGINS)",
    )
    parser.add_argument(
        "--reload-interval",
        type=float,
        default=defaults.reload_interval,
        help="seconds between checks for a new ingest, 0 = never (default: %(default)s; env ASSISTANT_RELOAD_INTERVAL)",
    )
    parser.add_argument("--no-examples", action="store_true", help="do not serve /examples/school-site.html")
    parser.add_argument("--log-level", default=defaults.log_level, help="uvicorn log level (default: %(default)s)")
    parser.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help="worker processes sharing the index, each with its own models (default: %(default)s; env ASSISTANT_WORKERS)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=",".join(defaults.forwarded_allow_ips),
        help="comma-separated addresses or networks of the reverse proxy whose X-Forwarded-For is believed; "
        "only the proxy's own (default: %(default)s; env ASSISTANT_FORWARDED_ALLOW_IPS)",
    )
    parser.add_argument(
        "--allowed-hosts",
        default=",".join(defaults.allowed_hosts),
        help="comma-separated host names the assistant is reached at, e.g. policies.example.org "
        "(default: localhost, 127.0.0.1, [::1]; env ASSISTANT_ALLOWED_HOSTS)",
    )
    args = parser.parse_args(argv)
    try:
        return WebSettings(
            host=args.host,
            port=args.port,
            index_dir=args.index_dir,
            widget_origins=args.widget_origins,
            reload_interval=args.reload_interval,
            serve_examples=defaults.serve_examples and not args.no_examples,
            log_level=args.log_level,
            workers=args.workers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            allowed_hosts=args.allowed_hosts,
        )
    except ValidationError as exc:
        problems = [
            f"--{'-'.join(str(part) for part in e['loc'][:1]).replace('_', '-')}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        parser.error("; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    """Load the index, print the URLs, serve until interrupted. Returns the exit code.

    A missing, corrupt or unreachable index is one line on stderr and exit status 1.
    """
    settings = parse_args(argv)

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
    """uvicorn's arguments for a server on the open internet (issue 17): the proxy it trusts,
    connection limits, the request-head timeout (`HeaderTimeoutProtocol`) and a bounded
    graceful shutdown (an open staff-chat event stream would otherwise hold it forever).

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
    """Run ``settings.workers`` uvicorn worker processes on one port, each building the app
    with `assistant.web.server.app_factory` from the environment this sets from the flags.

    The index is checked here first (without loading models), so a missing or corrupt one
    is one line, not a traceback from every worker.
    """
    import uvicorn

    from assistant import IndexNotFoundError
    from assistant.errors import IndexUnavailableError
    from assistant.indexing import open_generation, read_clauses, read_manifest, verify_generation

    try:
        generation = open_generation(settings.index_dir)
        manifest = read_manifest(generation)
        verify_generation(generation, manifest)
        read_clauses(generation)
    except (IndexNotFoundError, IndexUnavailableError) as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 1
    # Workers are fresh processes: they read the flags' values from the environment.
    os.environ.update(
        {
            "ASSISTANT_HOST": settings.host,
            "ASSISTANT_PORT": str(settings.port),
            "ASSISTANT_INDEX_DIR": str(Path(settings.index_dir).resolve()),
            "ASSISTANT_WIDGET_ORIGINS": ",".join(settings.widget_origins),
            "ASSISTANT_RELOAD_INTERVAL": str(settings.reload_interval),
            "ASSISTANT_SERVE_EXAMPLES": "true" if settings.serve_examples else "false",
            "ASSISTANT_LOG_LEVEL": settings.log_level,
            "ASSISTANT_WORKERS": "1",
            "ASSISTANT_ALLOWED_HOSTS": ",".join(settings.allowed_hosts),
            "ASSISTANT_FORWARDED_ALLOW_IPS": ",".join(settings.forwarded_allow_ips),
        }
    )
    # N workers each embedding on every core would oversubscribe them: share the cores out.
    os.environ.setdefault("ASSISTANT_EMBEDDING_THREADS", str(max(1, (os.cpu_count() or 1) // settings.workers)))
    _print_urls(settings, sorted(manifest["schools"]), generation.name)
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
