"""Abuse limits for the public endpoints: per-client rate limits, a body-size cap, control-character stripping.

- `RateLimiter`: ``ASSISTANT_RATE_LIMIT`` (default ``30/minute``, the ``limits`` library's
  notation; ``off`` disables it) per client IP, as a moving window kept in memory by
  `limits`. Questions (``/api/ask``, ``/api/search``) and page loads (``/widget``,
  ``/api/schools``, ``/admin/*``) are counted in separate buckets. Over the limit → 429 with
  ``Retry-After`` (seconds) and a ``detail`` saying when to try again. The client address
  is held in memory for the window only and never written anywhere. Behind a reverse proxy,
  start uvicorn with ``--forwarded-allow-ips`` so the client address is the real one.
- `BodySizeLimit`: a request body over ``ASSISTANT_MAX_BODY_BYTES`` is refused with 413
  before it is read in full (declared ``Content-Length`` or counted while streaming).
- `strip_control`: removes control and invisible formatting characters (C0/C1 controls,
  zero-width and bidirectional overrides, lone surrogates) from typed text; tabs and
  line breaks become spaces.
- `HeaderTimeoutProtocol` (issue 17, slowloris): uvicorn's HTTP protocol, closing a
  connection that has not sent a complete request head within ``ASSISTANT_HEADER_TIMEOUT``
  seconds of opening (or of its previous response). uvicorn itself only times out idle
  keep-alive connections, so half-open connections used to pile up until the server ran out
  of file descriptors. `app.py` runs uvicorn with it.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Callable

from fastapi import HTTPException, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from assistant.config import get_settings

#: Characters removed from questions: C0/C1 controls (but tab, CR, LF become spaces), zero-width
#: and bidi formatting characters, BOM, and lone surrogates (JSON may carry "\ud800").
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]")
_SPACING = re.compile("[\t\n\r\u2028\u2029]")


def strip_control(text: str) -> str:
    """``text`` without control or invisible formatting characters; tabs and line breaks become spaces."""
    return _INVISIBLE.sub("", _SPACING.sub(" ", text))


class RateLimiter:
    """Per-client rate limits from one ``limits`` spec (``"30/minute"`` or ``"30/minute;500/hour"``).

    Args:
        spec: the rate, or ``"off"`` to allow everything.
        clock: seconds since the epoch (tests may pass a fake; default `time.time`).

    Raises:
        ValueError: ``spec`` is not a rate (from ``limits.parse_many``).
    """

    def __init__(self, spec: str, clock: Callable[[], float] = time.time) -> None:
        """Parse ``spec`` (the arguments are described in the class docstring)."""
        self.spec = spec
        self.items: list[RateLimitItem] = [] if spec == "off" else parse_many(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """False when the spec is ``off``."""
        return bool(self.items)

    def hit(self, bucket: str, client: str) -> float | None:
        """Count one request of ``client`` in ``bucket``; None if allowed, else seconds until it would be."""
        for item in self.items:
            if not self._limiter.hit(item, bucket, client):
                reset = self._limiter.get_window_stats(item, bucket, client).reset_time
                return max(1.0, reset - self._clock())
        return None

    def dependency(self, bucket: str, what: str) -> Callable[[Request], None]:
        """A FastAPI dependency that counts a request in ``bucket`` and raises 429 over the limit.

        Args:
            bucket: the limit's name; each bucket counts a client's requests separately.
            what: how the refusal names the requests ("questions", "page loads").
        """

        def check(request: Request) -> None:
            if not self.items:
                return
            client = request.client.host if request.client else "unknown"
            wait = self.hit(bucket, client)
            if wait is not None:
                seconds = math.ceil(wait)
                raise HTTPException(
                    status_code=429,
                    detail=f"Too many {what} from your connection (limit {self.spec.replace('/', ' per ')}). "
                    f"Please try again in {seconds} second{'s' if seconds != 1 else ''}.",
                    headers={"Retry-After": str(seconds)},
                )

        return check


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes`` (declared or streamed).

    Args:
        app: the ASGI app; max_bytes: the largest body accepted.
    """

    def __init__(self, app, max_bytes: int) -> None:
        """Wrap the ASGI app ``app`` (the arguments are described in the class docstring)."""
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        """Pass the request on, refusing it with 413 once its body is known to exceed the limit."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        too_big = False

        async def counted_receive():
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    raise _BodyTooLarge
            return message

        replaced = False

        async def guarded_send(message):
            # The app may turn the aborted read into its own error (FastAPI: 400); send the 413 instead.
            nonlocal replaced
            if too_big:
                if not replaced:
                    replaced = True
                    await self._refuse(send)
                return
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _BodyTooLarge:
            if not replaced:
                await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"detail": f"request body too large: the limit is {self.max_bytes:,} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def header_timeout() -> float:
    """Seconds a connection has to send a complete request head (``ASSISTANT_HEADER_TIMEOUT``, default 10).

    Read from `assistant.config.get_settings` in the process serving the connection (each
    worker reads the environment that app.py passes down).
    """
    return get_settings().header_timeout


class HeaderTimeoutProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol (httptools or h11, as uvicorn picks) with a request-head timeout.

    A timer starts when the connection opens and again when a response completes; if no
    new request head has been parsed when it fires, the connection is closed. A request
    whose head has arrived is not limited by it (its body and response take as long as they
    take), and a connection upgraded to another protocol is left alone. Pass the class as
    uvicorn's ``http`` (``uvicorn.run(app, http=HeaderTimeoutProtocol)``).
    """

    def __init__(self, *args, **kwargs) -> None:
        """Take uvicorn's arguments; the timeout is `header_timeout`."""
        super().__init__(*args, **kwargs)
        self._head_timeout = header_timeout()
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_cycle: object = None

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_cycle = self.cycle
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or transport.get_protocol() is not self:
            return
        if self.cycle is self._head_cycle:  # no request head parsed since the timer started
            transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        """Start the request-head timer."""
        super().connection_made(transport)
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        """The previous request is done: the next head has `header_timeout` seconds too."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Cancel the timer with the connection."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)
