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

import base64
import hashlib
import logging
import math
import os
import re
from importlib.resources import files
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported anywhere

import gradio as gr
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import Assistant
from assistant.errors import IndexUnavailableError
from assistant.heap import return_freed_memory

from ..contacts import shared_contact_book
from ..examples import shared_example_book
from .admin import admin_router
from .api import api_router, http_error_handler, validation_error_handler
from .chat import build_chat, chat_theme
from .feedback_api import feedback_router, open_feedback_store
from .holder import AssistantHolder
from .limits import BodySizeLimit, RateLimiter
from .origins import OriginPolicy, SchoolCors
from .school_bank_api import school_bank_router
from .settings import WebSettings, get_settings
from .staff_auth import install_staff_sign_in
from .viewer import policy_page
from .widget import STATIC_DIR, WIDGET_JS, not_found_page, too_many_requests_page, widget_page

log = logging.getLogger(__name__)

#: The example school page in a source checkout (absent from an installed wheel).
EXAMPLE_PAGE = Path(__file__).resolve().parents[2] / "examples" / "school-site.html"
_WIDGET_SRC = re.compile(r'src="[^"]*/widget\.js"')
#: Swagger UI's files, from the fastapi-offline package (served here: no CDN, no third party).
SWAGGER_STATIC = files("fastapi_offline") / "static"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
#: Paths whose responses are pages a person sees (a 429 there is an HTML page, not JSON).
_PAGE_PATHS = ("/widget", "/policies/", "/admin/report", "/admin/school")

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
    settings = settings or get_settings()
    return_freed_memory()  # before the index loads: schools' graphs come and go all day
    holder = holder or AssistantHolder(settings.index_dir, assistant=assistant, reload_interval=settings.reload_interval)
    _warm_up(holder)

    app = FastAPI(
        title="Policy Assistant API",
        version="1.0",
        description=API_DESCRIPTION,
        docs_url=None,  # served below from local files (`api_docs`)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.holder = holder
    app.state.settings = settings
    # --- hardening (issue 6): per-school origins, rate limits, body cap, question log, admin ---
    origins = OriginPolicy(holder, settings.widget_origins, settings.allowed_hosts)
    origins.warn_if_overridden()
    limiter = RateLimiter(settings.rate_limit) if settings.rate_limit != "off" else None
    question_log = _open_question_log(settings)
    app.state.origins, app.state.limiter, app.state.question_log = origins, limiter, question_log
    app.add_middleware(SchoolCors, policy=origins)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, page_error_handler)  # undecodable body → 422 (issue 6); 429 pages (17)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error: the problem has been logged"})

    # --- scale and faults (issues 5, 6): a vector store that is down is a 503; /healthz names the worker ---
    app.add_exception_handler(IndexUnavailableError, index_unavailable_handler)
    app.add_middleware(WorkerPidHeader)

    feedback = open_feedback_store(question_log, settings.log_retention_days)  # issue 18: answers kept for 👍/👎
    app.state.feedback = feedback
    app.include_router(api_router(holder, limiter, origins, question_log, feedback))
    app.include_router(feedback_router(holder, feedback, limiter, origins))
    data_dir = question_log.path.parent if question_log is not None else settings.index_dir.resolve().parent / "data"
    app.include_router(school_bank_router(holder, settings.admin_token, feedback, limiter, settings.corpus_dir, data_dir))
    app.include_router(admin_router(holder, settings.admin_token, question_log, limiter))
    widget_limit = [Depends(limiter.dependency("pages", "requests"))] if limiter else []
    page_headers = _page_headers("'self'")

    @app.get("/policies/{school}/{document}", response_class=HTMLResponse, include_in_schema=False, dependencies=widget_limit)
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

    @app.get("/widget", response_class=HTMLResponse, include_in_schema=False, dependencies=widget_limit)
    def widget(school: str | None = None) -> HTMLResponse:
        """The parent widget page for ``?school=<id>``, framable only by the school's own sites (`origins`)."""
        widget_headers = _page_headers(origins.frame_ancestors(school))
        assistant = holder.get()
        if not school or school not in holder.school_ids(assistant):
            message = f"There is no school {school!r} here." if school else "The widget needs ?school=<school id>."
            return HTMLResponse(not_found_page(message), status_code=404, headers=widget_headers)
        examples = shared_example_book().examples(assistant.manifest.schools[school], "widget")
        office = shared_contact_book().contacts(assistant.manifest.schools[school]).office  # issue 18: for "not reachable"
        page = widget_page(school, assistant.school_name(school), examples=examples, office=office.to_dict() if office else None)
        return HTMLResponse(page, headers=widget_headers)

    @app.get("/api/widget-status", include_in_schema=False, dependencies=widget_limit)
    def widget_status(request: Request, school: str | None = None) -> JSONResponse:
        """May the page asking show ``school``'s widget? ``{"known": bool, "enabled": bool}``.

        For the embed script (`widget.js`), which checks before framing the widget so a person on a
        site the school has not listed reads why, not the browser's "refused to connect" (issue 18).
        Readable from any site: it says only whether the asking site may embed the widget.
        """
        known = bool(school) and school in holder.school_ids()
        origin = request.headers.get("origin")
        permitted = origin is None or origins.permits(origin, school, request.headers.get("host"), request.url.scheme)
        enabled = known and permitted
        headers = {"Cache-Control": "no-store"}
        if not permitted:  # SchoolCors adds Access-Control-Allow-Origin for permitted sites only
            headers["Access-Control-Allow-Origin"] = "*"
        return JSONResponse({"known": known, "enabled": enabled}, headers=headers)

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
        def example_school_site() -> Response:
            """The example school page, its widget tag pointed at this server.

            The tag's URL is relative: the request's ``Host`` is never written into the page.
            """
            if not EXAMPLE_PAGE.exists():
                return HTMLResponse(not_found_page("The example page is only in a source checkout."), status_code=404)
            page = _WIDGET_SRC.sub('src="/widget.js"', EXAMPLE_PAGE.read_text(encoding="utf-8"))
            return HTMLResponse(page)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """The HTTP API reference: Swagger UI from this server's own files, under a CSP allowing nothing else."""
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # Swagger UI would send the schema to validator.swagger.io
        )
        return HTMLResponse(page.body.decode("utf-8"), headers=_docs_headers(page.body.decode("utf-8")))

    app.mount("/docs-static", StaticFiles(directory=str(SWAGGER_STATIC)), name="docs-static")
    app.mount("/pa-static", StaticFiles(directory=STATIC_DIR), name="pa-static")

    staff = install_staff_sign_in(app, settings, limiter)  # issue 17: the staff chat needs sign-in, no uploads
    chat = build_chat(holder, question_log, limiter, feedback)
    chat.queue(default_concurrency_limit=4)
    gr.mount_gradio_app(
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
    return staff.protect(app)


def _docs_headers(page: str) -> dict[str, str]:
    """CSP for the Swagger UI page: its own files, and its one inline script by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode() + "'" for m in _INLINE_SCRIPT.finditer(page)
    )
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
    }


async def page_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """`api.http_error_handler`, except for a 429 on a page a person sees.

    On the widget in a school's iframe, the policy viewer or the admin report, a 429 is a short
    HTML page saying when to try again, with ``Retry-After`` and the page's own framing rules,
    instead of raw JSON.
    """
    path = request.url.path
    if exc.status_code != 429 or not path.startswith(_PAGE_PATHS):
        return await http_error_handler(request, exc)
    retry = (exc.headers or {}).get("Retry-After", "60")
    seconds = int(retry) if str(retry).isdigit() else 60
    frame_ancestors = "'self'"
    if path == "/widget":
        frame_ancestors = request.app.state.origins.frame_ancestors(request.query_params.get("school"))
    headers = {**_page_headers(frame_ancestors), "Retry-After": str(seconds), "Cache-Control": "no-store"}
    return HTMLResponse(too_many_requests_page(math.ceil(seconds)), status_code=429, headers=headers)


def _open_question_log(settings: WebSettings):
    """The question log of ``settings`` (None when off, or when it cannot be opened: answering goes on, and the error is logged)."""
    from assistant.question_log import QuestionLog

    path = settings.question_log_path()
    if path is None:
        return None
    try:
        return QuestionLog(path, settings.log_retention_days, max_rows=settings.log_max_rows, store=settings.log_questions)
    except Exception as exc:
        log.error("the question log %s cannot be opened, so questions are not logged: %s", path, exc)
        return None


def _warm_up(holder: AssistantHolder) -> None:
    """Run one search so the first real question does not pay for lazy model initialisation."""
    assistant = holder.get()
    ids = sorted(holder.school_ids(assistant))
    if ids:
        assistant.search("Can I use my mobile phone?", ids[0], k=1)


# --- scale and faults (issues 5, 6) ----------------------------------------------------------

#: Seconds a client is told to wait (``Retry-After``) when the vector store is unavailable.
UNAVAILABLE_RETRY_AFTER = 5


async def index_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """503 when the vector store (a Chroma server) is not answering.

    The response is a clear message and ``Retry-After``, never the exception; service resumes by
    itself when the store is back.
    """
    log.error("vector store unavailable on %s: %s", request.url.path, exc)
    return JSONResponse(
        status_code=503,
        content={"detail": "the policy index is temporarily unavailable; please try again in a moment"},
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


class WorkerPidHeader:
    """ASGI middleware adding ``X-Worker-Pid`` to ``/healthz`` responses.

    An operator (and the tests) can see which of the ``app.py --workers N`` processes answered.
    Pure ASGI, so Gradio's streamed responses pass through untouched.
    """

    def __init__(self, app) -> None:
        """Wrap the ASGI app ``app``."""
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        """Pass the request on; a ``/healthz`` response gets the header."""
        if scope["type"] != "http" or scope.get("path") != "/healthz":
            await self.app(scope, receive, send)
            return

        async def send_with_pid(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-worker-pid", str(os.getpid()).encode())]}
            await send(message)

        await self.app(scope, receive, send_with_pid)


def app_factory() -> FastAPI:
    """The app for uvicorn worker processes (``app.py --workers N``).

    Settings come from the ``ASSISTANT_*`` environment (app.py sets it from its flags); the index
    is loaded in each worker.

    Raises:
        IndexNotFoundError, IndexUnavailableError: as for `create_app`.
    """
    return create_app(get_settings())
