"""Admin endpoints: the policy-gap report and an index reload, behind ``ASSISTANT_ADMIN_TOKEN``.

| route | what |
| --- | --- |
| ``GET /admin/report?school=<id>`` | HTML page: the school's most asked questions and the ones its policies did not cover |
| ``GET /admin/report.json?school=<id>`` | the same as JSON (`GapReport.to_dict`) |
| ``POST /admin/reload`` | load the index generation ``CURRENT`` points at now (after an ingest) |

The token is sent as ``Authorization: Bearer <token>``, or, for the report pages only, as
the password of HTTP Basic authentication (any user name), which is what a browser asks for
on the report page. ``POST /admin/reload`` takes the Bearer header only: a browser replays a
saved Basic password on any request to the site, including a form another site submits
(cross-site request forgery), but it never adds a Bearer header by itself. The token is
compared in constant time (`hmac.compare_digest`). With no token configured every admin
route answers 403 saying how to enable them; a missing or wrong token is a 401.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr

from assistant.question_log import GapReport, QuestionLog

from .holder import AssistantHolder
from .limits import RateLimiter
from .pages import render_page

log = logging.getLogger(__name__)

REALM = 'Basic realm="Policy Assistant admin", charset="UTF-8"'


def _presented_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        if request.method not in ("GET", "HEAD"):
            raise HTTPException(
                status_code=401,
                detail="This admin action takes the token as an `Authorization: Bearer <token>` header, "
                "not a browser's saved password (which another site could make your browser send).",
            )
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def token_guard(token: SecretStr | None):
    """A FastAPI dependency admitting only requests that present ``token`` (403 when none is configured, 401 when wrong)."""
    expected = token.get_secret_value().encode("utf-8") if token is not None else None

    def check(request: Request) -> None:
        if expected is None:
            raise HTTPException(
                status_code=403, detail="Admin endpoints are disabled: set ASSISTANT_ADMIN_TOKEN on the server to enable them."
            )
        given = _presented_token(request)
        if given is None or not hmac.compare_digest(given.encode("utf-8"), expected):
            raise HTTPException(status_code=401, detail="Admin token missing or wrong.", headers={"WWW-Authenticate": REALM})

    return check


def report_page(report: GapReport, school_name: str) -> str:
    """The HTML report page of a school's questions (every value escaped).

    Args:
        report: the school's `GapReport`.
        school_name: the school's name, for the title and heading.

    Returns:
        The page's HTML.
    """
    return render_page("admin_report.html", report=report, school_name=school_name)


def admin_router(
    holder: AssistantHolder, token: SecretStr | None, question_log: QuestionLog | None, limiter: RateLimiter | None
) -> APIRouter:
    """The admin routes (hidden from the public OpenAPI schema)."""
    dependencies = [Depends(token_guard(token))]
    if limiter is not None:
        dependencies.insert(0, Depends(limiter.dependency("admin", "admin requests")))
    router = APIRouter(prefix="/admin", dependencies=dependencies, include_in_schema=False)

    def _report(school: str, limit: int) -> tuple[GapReport, str]:
        assistant = holder.get()
        if school not in holder.school_ids(assistant):
            raise HTTPException(status_code=404, detail=f"unknown school {school!r}")
        if question_log is None:
            raise HTTPException(status_code=404, detail="The question log is off (ASSISTANT_QUESTION_LOG=off).")
        return question_log.report(school, limit=max(1, min(limit, 200))), assistant.school_name(school)

    @router.get("/report", response_class=HTMLResponse)
    def report_html(school: str | None = None, limit: int = 20) -> Response:
        """The policy-gap report page of ``school``; without one, the school picker (issue 18: `school_bank_api`)."""
        if not school:
            return RedirectResponse("/admin/school", status_code=303)
        report, name = _report(school, limit)
        return HTMLResponse(report_page(report, name), headers={"Cache-Control": "no-store"})

    @router.get("/report.json")
    def report_json(school: str, limit: int = 20) -> dict:
        """The policy-gap report of ``school`` as JSON."""
        return _report(school, limit)[0].to_dict()

    @router.post("/reload")
    def reload() -> dict:
        """Serve the index generation ``CURRENT`` points at now; says whether it changed."""
        try:
            changed = holder.reload_now()
        except (RuntimeError, OSError) as exc:
            log.error("admin reload failed: %s", exc)
            raise HTTPException(status_code=503, detail="The new index could not be loaded; the previous one is still served.") from None
        return {"reloaded": changed, "generation": holder.generation.name}

    return router
