"""`create_app`: the one ASGI app — HTTP API, policy viewer, parent widget and staff chat.

Routes (all served by one FastAPI app; Gradio is mounted last, at ``/``):

| path | what |
| --- | --- |
| ``/`` | staff chat (Gradio) |
| ``/policies/<school>/<document>#<clause_id>`` | policy viewer, clause highlighted |
| ``/widget?school=<id>`` | parent widget page (for the iframe) |
| ``/widget.js`` | the embed script a school pastes into its site |
| ``/api/ask``, ``/api/search``, ``/api/schools``, ``/healthz`` | JSON API (OpenAPI docs at ``/docs``) |
| ``/examples/school-site.html`` | an example school page embedding the widget (``serve_examples``) |

The index is loaded once, when the app is created; an `AssistantHolder` swaps in a new
generation after an ingest without a restart.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported anywhere

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from assistant import Assistant

from .api import api_router, validation_error_handler
from .chat import build_chat, chat_theme
from .holder import AssistantHolder
from .settings import WebSettings
from .viewer import policy_page
from .widget import STATIC_DIR, WIDGET_JS, not_found_page, widget_page

log = logging.getLogger(__name__)

#: The example school page in a source checkout (absent from an installed wheel).
EXAMPLE_PAGE = Path(__file__).resolve().parents[2] / "examples" / "school-site.html"
_WIDGET_SRC = re.compile(r'src="[^"]*/widget\.js"')

API_DESCRIPTION = """Cited answers to staff and parent questions from a school's own policies.

Every answer names its verdict (`yes`, `no`, `conditional`, `info`, `not_covered`) and quotes
the clauses it rests on, each with a `url` into the policy viewer. Questions are answered only
from the named school's policies. Invalid input is a 422 naming the field; an unknown school is a 404.
"""


def _page_headers(frame_ancestors: str) -> dict[str, str]:
    """Security headers for the HTML pages this module renders (not Gradio's)."""
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            f"base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def create_app(settings: WebSettings | None = None, assistant: Assistant | None = None, holder: AssistantHolder | None = None) -> FastAPI:
    """Build the web product.

    Args:
        settings: web settings (default: from ``ASSISTANT_*`` environment variables).
        assistant: an already loaded `Assistant` over ``settings.index_dir`` (tests reuse one);
            default: load the index now.
        holder: a ready `AssistantHolder` (overrides ``assistant``).

    Returns:
        the FastAPI app, Gradio mounted at ``/``; serve it with uvicorn.

    Raises:
        IndexNotFoundError: no index at ``settings.index_dir`` (run ``python ingest.py``).
    """
    settings = settings or WebSettings()
    holder = holder or AssistantHolder(settings.index_dir, assistant=assistant, reload_interval=settings.reload_interval)
    _warm_up(holder)

    app = FastAPI(
        title="Policy Assistant API",
        version="1.0",
        description=API_DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.holder = holder
    app.state.settings = settings
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if settings.any_origin else settings.widget_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error: the problem has been logged"})

    app.include_router(api_router(holder))

    frame_widget = "*" if settings.any_origin else " ".join(["'self'", *settings.widget_origins])
    widget_headers = _page_headers(frame_widget)
    page_headers = _page_headers("'self'")

    @app.get("/policies/{school}/{document}", response_class=HTMLResponse, include_in_schema=False)
    def policy(school: str, document: str) -> HTMLResponse:
        """The policy viewer page; 404 page for an unknown school or document."""
        assistant = holder.get()
        if school not in holder.school_ids(assistant):
            return HTMLResponse(not_found_page(f"There is no school {school!r} here."), status_code=404, headers=page_headers)
        try:
            page = policy_page(assistant, school, document)
        except ValueError:
            return HTMLResponse(not_found_page(f"{assistant.school_name(school)} has no policy {document!r}."), 404, headers=page_headers)
        return HTMLResponse(page, headers=page_headers)

    @app.get("/widget", response_class=HTMLResponse, include_in_schema=False)
    def widget(school: str | None = None) -> HTMLResponse:
        """The parent widget page for ``?school=<id>``."""
        assistant = holder.get()
        if not school or school not in holder.school_ids(assistant):
            message = f"There is no school {school!r} here." if school else "The widget needs ?school=<school id>."
            return HTMLResponse(not_found_page(message), status_code=404, headers=widget_headers)
        return HTMLResponse(widget_page(school, assistant.school_name(school)), headers=widget_headers)

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> FileResponse:
        """The embed script (see `widget`)."""
        return FileResponse(
            WIDGET_JS,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin"},
        )

    if settings.serve_examples:

        @app.get("/examples/school-site.html", response_class=HTMLResponse, include_in_schema=False)
        def example_school_site(request: Request) -> Response:
            """The example school page, its widget tag pointed at this server."""
            if not EXAMPLE_PAGE.exists():
                return HTMLResponse(not_found_page("The example page is only in a source checkout."), status_code=404)
            base = str(request.base_url).rstrip("/")
            page = _WIDGET_SRC.sub(f'src="{base}/widget.js"', EXAMPLE_PAGE.read_text(encoding="utf-8"))
            return HTMLResponse(page)

    app.mount("/pa-static", StaticFiles(directory=STATIC_DIR), name="pa-static")

    chat = build_chat(holder)
    chat.queue(default_concurrency_limit=4)
    return gr.mount_gradio_app(
        app,
        chat,
        path="/",
        theme=chat_theme(),
        css_paths=[STATIC_DIR / "answer.css", STATIC_DIR / "chat.css"],
        footer_links=[],
        run_history=False,
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        pwa=False,
    )


def _warm_up(holder: AssistantHolder) -> None:
    """Run one search so the first real question does not pay for lazy model initialisation."""
    assistant = holder.get()
    ids = sorted(holder.school_ids(assistant))
    if ids:
        assistant.search("Can I use my mobile phone?", ids[0], k=1)
