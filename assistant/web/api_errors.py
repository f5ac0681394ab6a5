"""The HTTP API's error answers: 422 for invalid input, 404 for an unknown school or answer, 403 for a foreign site.

`validation_error_handler` and `http_error_handler` are the app's exception handlers (see
`assistant.web.server`); the helpers raise the `fastapi.HTTPException` a route answers with,
so every route says the same thing in the same words.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import Assistant
from assistant.feedback import AnswerRow, FeedbackStore

from .holder import AssistantHolder
from .origins import OriginPolicy, refuse_foreign_origin

#: Longest field name a 422 repeats (a longer unknown key is cut, with "…").
MAX_FIELD_NAME_CHARS = 64
#: Most problems a 422 lists (the rest are counted in ``message``).
MAX_PROBLEMS = 20


def _short(name: str) -> str:
    return name if len(name) <= MAX_FIELD_NAME_CHARS else name[: MAX_FIELD_NAME_CHARS - 1] + "…"


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 for invalid input: ``detail`` lists each problem with its field; ``message`` sums them up.

    The rejected input is not echoed back, and field names are cut to `MAX_FIELD_NAME_CHARS`
    (an unknown key is the client's own text: a 200 KB key must not make a 600 KB answer);
    at most `MAX_PROBLEMS` problems are listed.

    Args:
        request: the request (unused; the handler's signature).
        exc: pydantic's errors for the request's body, query or path.

    Returns:
        A 422 whose JSON is ``{"detail": [{"field", "loc", "msg", "type"}, ...], "message": str}``.
    """
    problems = []
    errors = exc.errors()
    for error in errors[:MAX_PROBLEMS]:
        loc = [_short(str(part)) for part in error.get("loc", ())]
        field = ".".join(loc[1:] if loc[:1] in (["body"], ["query"], ["path"]) else loc) or "body"
        if error.get("type") == "json_invalid":
            field = "body"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown field: this endpoint does not take it"
        problems.append({"field": field, "loc": loc, "msg": message, "type": error.get("type", "value_error")})
    summary = "; ".join(f"{p['field']}: {p['msg']}" for p in problems)
    if len(errors) > MAX_PROBLEMS:
        summary += f"; and {len(errors) - MAX_PROBLEMS} more problems"
    return JSONResponse(status_code=422, content={"detail": problems, "message": summary})


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's handler, except that a body it could not decode (not UTF-8) is a 422 naming ``body``, like malformed JSON.

    Args:
        request: the request that failed.
        exc: the HTTP error a route or Starlette raised.

    Returns:
        The 422 for an undecodable body; otherwise FastAPI's JSON ``{"detail": ...}`` with the error's status.
    """
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        problem = {"field": "body", "loc": ["body"], "msg": "the body is not valid UTF-8 JSON", "type": "json_invalid"}
        return JSONResponse(status_code=422, content={"detail": [problem], "message": f"body: {problem['msg']}"})
    return await http_exception_handler(request, exc)


def rejected(exc: ValueError) -> HTTPException:
    """The 422 for input refused by the code behind a route (its own checks, after pydantic's), with its message.

    Args:
        exc: the refusal; its message is the 422's ``detail``.

    Returns:
        The exception to raise (``raise rejected(exc) from None``).
    """
    return HTTPException(status_code=422, detail=str(exc))


def known_school(holder: AssistantHolder, school: str) -> Assistant:
    """The served assistant, when it serves ``school``.

    Args:
        holder: the served assistant.
        school: a school id from the request.

    Returns:
        The `Assistant` that knows ``school`` (use it, not ``holder.get()`` again: an ingest may swap
        in a new generation meanwhile).

    Raises:
        HTTPException: 404 ``unknown school '<id>'``.
    """
    assistant = holder.get()
    if school not in holder.school_ids(assistant):
        raise HTTPException(status_code=404, detail=f"unknown school {school!r}")
    return assistant


def check_origin(origins: OriginPolicy | None, http: Request, school: str) -> None:
    """Refuse a browser page of a site not allowed to call for ``school`` (`origins.refuse_foreign_origin`).

    Args:
        origins: which sites may call for which school from a browser (None: no check).
        http: the request, for its ``Origin`` and ``Host`` headers and scheme.
        school: the school the request is about.

    Raises:
        HTTPException: 403 saying why the site is refused.
    """
    if origins is None:
        return
    message = refuse_foreign_origin(origins, http.headers.get("origin"), school, http.headers.get("host"), http.url.scheme)
    if message:
        raise HTTPException(status_code=403, detail=message)


def known_answer(store: FeedbackStore, answer_id: str) -> AnswerRow:
    """The kept answer ``answer_id`` (an ``answer_id`` of ``/api/ask``).

    Args:
        store: where answers are kept for feedback.
        answer_id: the id from the request.

    Returns:
        The answer's row (school, question, citations, ...).

    Raises:
        HTTPException: 404 ``unknown or expired answer_id``.
    """
    found = store.answer(answer_id)
    if found is None:
        raise HTTPException(status_code=404, detail="unknown or expired answer_id")
    return found
