"""Which sites may embed a school's widget and call the API for it from a browser.

The rule (README, "Each school only on its own site"):

1. A school lists its sites in ``corpus/<school>/school.toml``:
   ``widget_origins = ["https://www.school.sch.uk", "https://school.sch.uk"]``.
2. ``ASSISTANT_WIDGET_ORIGINS`` (deployment-wide) adds origins allowed for **every** school
   (e.g. a trust's portal), on top of each school's list.
3. A school that lists no origins may be embedded by the deployment-wide origins only, or by
   any site when that setting is empty too (the behaviour before per-school lists).
4. ``ASSISTANT_WIDGET_ORIGINS=*`` lets any site embed every school's widget, overriding the
   lists (for development; a warning is logged at start-up).

The assistant's own origin is always allowed (its example page, and the widget page's own
calls to ``/api/ask``). A page is the assistant's own only when its origin is exactly
``<scheme>://<Host>`` of the request, with the request's own scheme (after a trusted
proxy's ``X-Forwarded-Proto``), and that host is one of ``ASSISTANT_ALLOWED_HOSTS`` (by
default the loopback names): an ``http://`` page is not the ``https://`` assistant, and a
site whose name merely resolves to the assistant (DNS rebinding) is not the assistant.
The lists are enforced as:

- ``/widget?school=X``: ``Content-Security-Policy: frame-ancestors 'self' <X's origins>``, so a
  browser refuses to show the widget framed by any other site.
- CORS: `SchoolCors` answers a preflight (``OPTIONS``) for an origin allowed for the school
  named in the query (``?school=``), or, with no school in the query, for any school; it adds
  ``Access-Control-Allow-Origin`` to responses on the same terms.
- ``/api/ask`` and ``/api/search`` then refuse with 403 a browser request (one carrying
  ``Origin``) whose origin is not allowed for the school in its body, so one school's site
  cannot use the assistant for another school. Requests without ``Origin`` (server-to-server
  clients, curl) are not browser requests and are not restricted by origin.

Where the lists are read: the ``school.toml`` beside the school's documents in the corpus the
served index was built from (re-read when the file changes, so no re-ingest is needed); if
that file is not on the server, a ``widget_origins`` entry in the index manifest (when the
ingest recorded one); else the school lists none.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from assistant import Assistant
from assistant.loading import read_widget_origins
from assistant.school_files import SchoolFileReader

from .holder import AssistantHolder

log = logging.getLogger(__name__)

#: The assistant's own host names when ``ASSISTANT_ALLOWED_HOSTS`` is unset (any port).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _without_default_port(host: str, scheme: str) -> str:
    default = {"http": ":80", "https": ":443"}.get(scheme.lower())
    return host.removesuffix(default) if default else host


#: Methods and request headers a browser may use cross-origin.
ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = {"content-type"}
PREFLIGHT_MAX_AGE = "600"


class OriginPolicy:
    """The sites allowed for each school (see the module docstring for the rule).

    Args:
        holder: the served assistant (schools and the manifest come from it).
        deployment_origins: ``ASSISTANT_WIDGET_ORIGINS`` (already validated origins, or ``*``).
        own_hosts: ``ASSISTANT_ALLOWED_HOSTS``, the host names the assistant is reached at (None or
            empty: the loopback names).
    """

    def __init__(self, holder: AssistantHolder, deployment_origins: list[str], own_hosts: list[str] | None = None) -> None:
        """Read the schools' lists from ``holder`` as needed (the arguments are described in the class docstring)."""
        self.holder = holder
        self.any_site = "*" in deployment_origins
        self.extra = tuple(o for o in deployment_origins if o != "*")
        self.own_hosts = frozenset(h.lower() for h in own_hosts) if own_hosts else LOOPBACK_HOSTS
        # A malformed list allows no other site until it is fixed ("'none'").
        self._listed = SchoolFileReader(read_widget_origins, ("'none'",), "the school's widget is allowed on no other site")
        self._warned: set[str] = set()

    def is_own(self, origin: str, host: str | None, scheme: str | None) -> bool:
        """Is ``origin`` the assistant's own page: ``<scheme>://<host>`` of this request, ``host`` allowed?

        Args:
            origin: the request's ``Origin``.
            host: its ``Host``.
            scheme: its scheme (``http``/``https``).
        """
        if not host or not scheme:
            return False
        host = _without_default_port(host.lower(), scheme)
        if origin.lower().rstrip("/") != f"{scheme.lower()}://{host}":
            return False
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if host in self.own_hosts or name in self.own_hosts:
            return True
        if host not in self._warned and len(self._warned) < 100:
            self._warned.add(host)
            log.warning(
                "a page at %s was not trusted as the assistant's own: %r is not in ASSISTANT_ALLOWED_HOSTS "
                "(add it if the assistant is reached at that name)",
                origin[:200],
                host[:200],
            )
        return False

    def school_listed(self, assistant: Assistant, school: str) -> tuple[str, ...]:
        """The origins ``school`` lists itself (``school.toml``, else the manifest); ``()`` if none."""
        meta = assistant.manifest.schools.get(school)
        listed = self._listed.value(meta)
        if listed is not None:
            return listed
        return meta.widget_origins if meta is not None else ()

    def allowed(self, school: str, assistant: Assistant | None = None) -> tuple[str, ...] | None:
        """The origins allowed for ``school`` besides the assistant's own; None means any site."""
        if self.any_site:
            return None
        assistant = assistant or self.holder.get()
        listed = self.school_listed(assistant, school)
        if "*" in listed or (not listed and not self.extra):
            return None
        return tuple(dict.fromkeys((*self.extra, *(o for o in listed if o != "'none'"))))

    def allowed_for_any(self) -> tuple[str, ...] | None:
        """Origins allowed for at least one school; None when some school allows any site."""
        assistant = self.holder.get()
        out: dict[str, None] = {}
        for school in sorted(self.holder.school_ids(assistant)):
            origins = self.allowed(school, assistant)
            if origins is None:
                return None
            out.update(dict.fromkeys(origins))
        return tuple(out)

    def permits(self, origin: str, school: str | None, host: str | None, scheme: str | None = None) -> bool:
        """May a browser page at ``origin`` use ``school`` (or, when None, some school)?

        ``host`` and ``scheme`` are the request's: a page of the assistant itself (`is_own`) is always allowed.
        """
        if self.is_own(origin, host, scheme):
            return True
        known = school is not None and school in self.holder.school_ids()
        origins = self.allowed(school) if known else self.allowed_for_any()
        return origins is None or origin in origins

    def frame_ancestors(self, school: str | None) -> str:
        """The CSP ``frame-ancestors`` source list for the widget page of ``school`` (``'self'`` only when unknown)."""
        if school is None or school not in self.holder.school_ids():
            return "'self'"
        origins = self.allowed(school)
        return "*" if origins is None else " ".join(["'self'", *origins])

    def warn_if_overridden(self) -> None:
        """Log once at start-up when ``*`` overrides the schools' own lists."""
        if not self.any_site:
            return
        assistant = self.holder.get()
        listing = [s for s in sorted(self.holder.school_ids(assistant)) if self.school_listed(assistant, s)]
        if listing:
            log.warning(
                "ASSISTANT_WIDGET_ORIGINS=* lets any site embed the widget of every school, "
                "overriding the widget_origins of %s; unset it to enforce the schools' lists",
                ", ".join(listing),
            )


class SchoolCors:
    """ASGI middleware: CORS by school (see the module docstring).

    Preflights are answered here (200 with the ``Access-Control-Allow-*`` headers, or 403
    with a JSON ``detail`` for an origin that is not allowed). Other responses to an allowed
    origin get ``Access-Control-Allow-Origin`` and ``Vary: Origin``.
    """

    def __init__(self, app, policy: OriginPolicy) -> None:
        """Wrap the ASGI app ``app`` with the CORS rules of ``policy``."""
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send) -> None:
        """Handle a preflight, or pass the request on and add the CORS headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        origin = headers.get("origin")
        if not origin:
            await self.app(scope, receive, send)
            return
        school = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("school") or [None])[0]
        allowed = self.policy.permits(origin, school, headers.get("host"), scope.get("scheme", "http"))
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(send, origin, allowed, headers)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return
        value = "*" if self.policy.any_site else origin

        async def with_cors(message):
            if message["type"] == "http.response.start":
                extra = [(b"access-control-allow-origin", value.encode("latin-1")), (b"vary", b"Origin")]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _preflight(self, send, origin: str, allowed: bool, headers: dict[str, str]) -> None:
        method = headers.get("access-control-request-method", "").upper()
        wanted = {h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()}
        if allowed and method in ("GET", "POST") and wanted <= ALLOWED_HEADERS:
            response_headers = [
                (b"access-control-allow-origin", ("*" if self.policy.any_site else origin).encode("latin-1")),
                (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                (b"access-control-allow-headers", b"Content-Type"),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
                (b"vary", b"Origin"),
                (b"content-length", b"2"),
                (b"content-type", b"text/plain; charset=utf-8"),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": response_headers})
            await send({"type": "http.response.body", "body": b"OK"})
            return
        reason = "this site is not allowed to use the assistant" if not allowed else "method or headers not allowed"
        body = ('{"detail": "CORS preflight refused: ' + reason + '"}').encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"vary", b"Origin")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def refuse_foreign_origin(policy: OriginPolicy, origin: str | None, school: str, host: str | None, scheme: str | None = None) -> str | None:
    """The 403 message when a browser page at ``origin`` may not use ``school``'s assistant, else None."""
    if origin is None or policy.permits(origin, school, host, scheme):
        return None
    return f"This site ({origin}) is not allowed to ask about {school!r}'s policies."


__all__ = ["OriginPolicy", "SchoolCors", "refuse_foreign_origin"]
