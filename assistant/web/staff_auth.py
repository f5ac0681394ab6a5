"""Staff sign-in: the staff chat (Gradio, everything it serves) needs the deployment's staff password.

The staff chat is for a school's staff, and answering costs CPU and writes to the question
log, so nobody may use it (or Gradio's own endpoints behind it: ``/gradio_api/queue/join``,
``/config``, ``/gradio_api/upload``, …) without signing in. One mechanism, chosen for a
deployment with no SSO of its own: a **staff password per deployment**.

- ``ASSISTANT_STAFF_PASSWORD`` (12+ characters) is the password. Unset, the server uses the one
  in ``data/staff-password`` beside the index folder (``<index dir's parent>/data/``, like the
  question log), creating it at first start with a random password (file mode 600);
  `main` prints it (``make demo`` does).
- ``/staff/sign-in`` shows a password form; a right password sets ``pa_staff``, an HMAC-signed
  session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS, ``ASSISTANT_STAFF_SESSION_HOURS``,
  default 12) and returns to the page asked for. Changing the password ends every session.
  ``/staff/sign-out`` ends one. Sign-in attempts count against ``ASSISTANT_RATE_LIMIT`` per
  client, in their own bucket.
- Every path Gradio serves needs the cookie: a browser opening a page is sent to the form
  (303), anything else gets 401 with a JSON ``detail`` saying to sign in. The HTTP API, the
  widget, the policy viewer, ``/docs``, ``/healthz`` and ``/admin`` (its own token) are not
  Gradio's and are unaffected.
- File uploads are off for everyone (the chat takes typed questions only): Gradio's upload
  and file-serving endpoints answer 403 with a JSON ``detail``, so no file is stored under
  ``/tmp/gradio`` and no server path is ever returned.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount

from .limits import RateLimiter
from .pages import render_page

log = logging.getLogger(__name__)

#: The session cookie's name.
STAFF_COOKIE = "pa_staff"
#: Where the sign-in form lives.
SIGN_IN_PATH = "/staff/sign-in"
SIGN_OUT_PATH = "/staff/sign-out"
#: Shortest staff password accepted.
MIN_PASSWORD_CHARS = 12
#: Gradio paths refused to everyone: uploads and the files it would serve back.
_NO_UPLOAD_PREFIXES = (
    "/gradio_api/upload",
    "/gradio_api/file=",
    "/gradio_api/file/",
    "/gradio_api/process_recording",
    "/gradio_api/stream/",
    "/gradio_api/vibe",
    "/upload",
    "/file=",
)
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def staff_password_file(index_dir: str | Path) -> Path:
    """Where a generated staff password is kept: ``<index dir's parent>/data/staff-password``."""
    return Path(index_dir).resolve().parent / "data" / "staff-password"


def resolve_staff_password(configured: str | None, index_dir: str | Path) -> tuple[str, Path | None]:
    """The staff password: ``configured`` (``ASSISTANT_STAFF_PASSWORD``), else the generated one.

    The generated one is kept in `staff_password_file`, created (random, mode 600) if absent.
    Returns (password, the file or None).

    Several worker processes starting at once agree: the file is created exclusively, and the
    others read it.

    Raises:
        ValueError: ``configured`` or the file's password is shorter than `MIN_PASSWORD_CHARS`.
        OSError: the file cannot be created or read (the message names it and says to set the variable).
    """
    if configured:
        if len(configured) < MIN_PASSWORD_CHARS:
            raise ValueError(f"ASSISTANT_STAFF_PASSWORD must be at least {MIN_PASSWORD_CHARS} characters")
        return configured, None
    path = staff_password_file(index_dir)
    try:
        password = _read_or_create(path)
    except OSError as exc:
        raise OSError(
            f"{path}: cannot create or read the staff password file ({exc.strerror or exc}); set ASSISTANT_STAFF_PASSWORD instead"
        ) from exc
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"{path}: the staff password in it must be at least {MIN_PASSWORD_CHARS} characters")
    return password, path


def _read_or_create(path: Path) -> str:
    """The password in ``path``, written there first (random, mode 600) if the file does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(12) + "\n")
    password = ""
    for _ in range(50):  # another worker may have created it and not yet written it
        password = path.read_text(encoding="utf-8").strip()
        if password:
            break
        time.sleep(0.1)
    return password


class StaffSignIn:
    """The staff password check, the session cookie, the sign-in pages and the gate in front of Gradio.

    Args:
        password: the deployment's staff password.
        limiter: counts sign-in attempts per client (bucket ``sign-in``); None: not limited.
        session_hours: how long a session cookie is valid.
        clock: seconds since the epoch (tests may pass a fake).
    """

    def __init__(
        self, password: str, limiter: RateLimiter | None = None, session_hours: float = 12.0, clock: Callable[[], float] = time.time
    ) -> None:
        """Keep digests of ``password`` only (the arguments are described in the class docstring)."""
        if session_hours <= 0:
            raise ValueError(f"session_hours must be positive, not {session_hours}")
        self._password_digest = hashlib.sha256(password.encode("utf-8")).digest()
        self._key = hashlib.sha256(b"policy-assistant staff session\0" + password.encode("utf-8")).digest()
        self.limiter = limiter if limiter is not None and limiter.enabled else None
        self.session_seconds = int(session_hours * 3600)
        self._clock = clock

    # --- password and session ---------------------------------------------------------------

    def check_password(self, attempt: str) -> bool:
        """True when ``attempt`` is the staff password (compared in constant time)."""
        return hmac.compare_digest(hashlib.sha256(attempt.encode("utf-8", "replace")).digest(), self._password_digest)

    def issue(self) -> str:
        """A new session token: ``<expiry>.<nonce>.<HMAC>``."""
        body = f"{int(self._clock()) + self.session_seconds}.{secrets.token_urlsafe(12)}"
        return f"{body}.{self._sign(body)}"

    def valid(self, token: str | None) -> bool:
        """True when ``token`` was issued with this password and has not expired."""
        if not token or token.count(".") != 2:
            return False
        body, _, signature = token.rpartition(".")
        if not hmac.compare_digest(self._sign(body), signature):
            return False
        expiry = body.split(".", 1)[0]
        return expiry.isdigit() and int(expiry) > self._clock()

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode("utf-8"), hashlib.sha256).hexdigest()

    def signed_in(self, cookie_header: str | None) -> bool:
        """True when a ``Cookie`` header carries a valid session."""
        for part in (cookie_header or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == STAFF_COOKIE and self.valid(value):
                return True
        return False

    # --- the sign-in pages ------------------------------------------------------------------

    def router(self) -> APIRouter:
        """``GET``/``POST`` `SIGN_IN_PATH` and ``GET``/``POST`` `SIGN_OUT_PATH` (include it before Gradio is mounted)."""
        router = APIRouter(include_in_schema=False)

        @router.get(SIGN_IN_PATH, response_class=HTMLResponse)
        def sign_in_form(next: str = "/") -> HTMLResponse:
            """The staff password form."""
            return HTMLResponse(sign_in_page(_safe_next(next)), headers=_PAGE_HEADERS)

        @router.post(SIGN_IN_PATH)
        async def sign_in(request: Request) -> Response:
            """Check the password; right: set the session cookie and go on to ``next``; wrong: 401 with the form again."""
            client = request.client.host if request.client else "unknown"
            if self.limiter is not None:
                wait = self.limiter.hit("sign-in", client)
                if wait is not None:
                    seconds = math.ceil(wait)
                    message = f"Too many sign-in attempts from your connection. Please try again in {seconds} seconds."
                    headers = {**_PAGE_HEADERS, "Retry-After": str(seconds)}
                    return HTMLResponse(sign_in_page("/", message), status_code=429, headers=headers)
            form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
            password = (form.get("password") or [""])[0]
            next_path = _safe_next((form.get("next") or ["/"])[0])
            if not self.check_password(password):
                log.warning("staff sign-in refused: wrong password")
                message = "That is not the staff password." if password else "Please type the staff password."
                return HTMLResponse(sign_in_page(next_path, message), status_code=401, headers=_PAGE_HEADERS)
            response = RedirectResponse(next_path, status_code=303, headers={"Cache-Control": "no-store"})
            response.set_cookie(
                STAFF_COOKIE,
                self.issue(),
                max_age=self.session_seconds,
                path="/",
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
            )
            return response

        @router.api_route(SIGN_OUT_PATH, methods=["GET", "POST"])
        def sign_out() -> Response:
            """End this browser's session and show the sign-in form."""
            response = RedirectResponse(SIGN_IN_PATH, status_code=303, headers={"Cache-Control": "no-store"})
            response.delete_cookie(STAFF_COOKIE, path="/")
            return response

        return router

    # --- the gate -----------------------------------------------------------------------------

    def gate(self, app) -> Callable:
        """An ASGI app that passes requests on to ``app`` (Gradio) only with a valid session, and never uploads."""

        async def gated(scope, receive, send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            path = scope.get("path", "")
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
            if scope["type"] == "http" and path.startswith(_NO_UPLOAD_PREFIXES):
                await _send_json(send, 403, "file uploads are turned off: the staff chat takes typed questions only")
                return
            if self.signed_in(headers.get("cookie")):
                await app(scope, receive, send)
                return
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            wants_page = scope.get("method") in ("GET", "HEAD") and "text/html" in headers.get("accept", "")
            if wants_page:
                query = scope.get("query_string", b"").decode("latin-1")
                target = path + (f"?{query}" if query else "")
                location = f"{SIGN_IN_PATH}?next={quote(target, safe='')}"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 303,
                        "headers": [(b"location", location.encode()), (b"cache-control", b"no-store"), (b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            await _send_json(send, 401, f"the staff chat needs sign-in: open {SIGN_IN_PATH} and enter the staff password")

        return gated

    def protect(self, app: FastAPI) -> FastAPI:
        """Put `gate` in front of the Gradio app mounted in ``app`` (call after ``gr.mount_gradio_app``); returns ``app``.

        Raises:
            RuntimeError: ``app`` has no mounted Gradio app.
        """
        from gradio.routes import App as GradioApp

        for route in app.router.routes:
            if isinstance(route, Mount) and isinstance(getattr(route, "_base_app", None), GradioApp):
                route.app = self.gate(route.app)
                return app
        raise RuntimeError("no Gradio app is mounted: call protect() after gr.mount_gradio_app")


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _safe_next(target: str) -> str:
    """``target`` if it is a path on this site ("/?school=glais"), else ``/`` (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or any(ord(ch) < 32 for ch in target):
        return "/"
    return target


def sign_in_page(next_path: str = "/", message: str = "") -> str:
    """The staff sign-in page (``templates/sign_in.html``).

    Args:
        next_path: where a right password leads (a path on this site, already checked by `_safe_next`).
        message: why the last try failed, shown above the form (escaped); "" for none.

    Returns:
        The page's HTML.
    """
    return render_page("sign_in.html", action=SIGN_IN_PATH, next_path=next_path, message=message)


def install_staff_sign_in(app: FastAPI, settings, limiter: RateLimiter | None) -> StaffSignIn:
    """Add the sign-in pages to ``app`` (before Gradio is mounted).

    The password comes from `resolve_staff_password`.

    Args:
        app: the FastAPI app, Gradio not yet mounted.
        settings: a `WebSettings` (``staff_password``, ``staff_session_hours``, ``index_dir``).
        limiter: counts sign-in attempts per client; None: not limited.

    Returns:
        The `StaffSignIn` whose `StaffSignIn.protect` then guards the chat.
    """
    configured = settings.staff_password.get_secret_value() if settings.staff_password else None
    password, path = resolve_staff_password(configured, settings.index_dir)
    if path is not None:
        log.warning("the staff chat's password is the generated one in %s (set ASSISTANT_STAFF_PASSWORD to choose one)", path)
    staff = StaffSignIn(password, limiter, settings.staff_session_hours)
    app.include_router(staff.router())
    return staff


def main() -> int:
    """Print the staff password the server will use, generating it if needed.

    ``make demo`` runs it: ``python -c "from assistant.web.staff_auth import main; main()"``.

    Returns:
        The exit status (0).
    """
    from .settings import get_settings

    settings = get_settings()
    configured = settings.staff_password.get_secret_value() if settings.staff_password else None
    password, path = resolve_staff_password(configured, settings.index_dir)
    where = f"kept in {path}" if path else "from ASSISTANT_STAFF_PASSWORD"
    print(f"Staff chat password: {password}  ({where}; set ASSISTANT_STAFF_PASSWORD to choose your own)")
    return 0
