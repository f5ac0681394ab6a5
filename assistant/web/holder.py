"""`AssistantHolder`: the one served `Assistant`, swapped for a new one after an ingest.

Ingest writes a new index generation beside the served one and atomically rewrites
``index/CURRENT``. The holder notices that (checking at most once per
``reload_interval`` seconds, on the request path, which costs one small file read),
loads the new generation fully in a background thread while the old `Assistant` keeps
answering, and only then swaps it in. A generation that fails to load is logged and
retried no sooner than ``RETRY_AFTER`` seconds later; the old one keeps serving.

With a Chroma server (``CHROMA_HOST``), the generation pointer is read from the server
instead; while the server is unreachable the check is skipped (and retried later) and
requests get `IndexUnavailableError`, which the web app turns into a 503.

The holder leases what it serves (`GenerationLease`, refreshed by a background thread), so
an ingest never deletes a generation this server still answers from, however many ingests
run before it reloads, or if it never does (``--reload-interval 0``; issue 17). `check`
tells ``/healthz`` whether everything served is still there, not just one cached school.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from assistant import Assistant
from assistant.index import Generation, GenerationLease, check_generation, current_generation, same_generation

log = logging.getLogger(__name__)

#: Seconds before a generation that failed to load is tried again.
RETRY_AFTER = 30.0


class AssistantHolder:
    """Holds the served `Assistant` and hot-swaps it when the index generation changes.

    Args:
        index_dir: the index folder (the one holding ``CURRENT``).
        assistant: an already loaded `Assistant` over ``index_dir`` (default: load it now).
        reload_interval: seconds between generation checks; 0 turns reloading off.
        loader: builds an `Assistant` from a generation folder (default `Assistant`);
            tests may pass a failing loader.

    Raises:
        IndexNotFoundError: (from the default load) no index at ``index_dir``.
    """

    def __init__(
        self,
        index_dir: str | Path,
        assistant: Assistant | None = None,
        reload_interval: float = 1.0,
        loader: Callable[[Generation], Assistant] | None = None,
    ) -> None:
        """Serve the generation ``CURRENT`` points at (the arguments are described in the class docstring)."""
        self.index_dir = Path(index_dir)
        self.reload_interval = reload_interval
        self._loader = loader or (lambda generation: Assistant(generation))
        self._assistant = assistant or Assistant.load(self.index_dir)
        self._lock = threading.Lock()
        self._next_check = time.monotonic() + reload_interval
        self._loading: threading.Thread | None = None
        self._failed: dict[str, float] = {}  # generation name -> monotonic time it may be retried
        self._school_cache: tuple[Assistant, frozenset[str]] | None = None
        self.lease = GenerationLease(self.index_dir)
        self.lease.serve(self._assistant.generation)

    @property
    def generation(self) -> Generation:
        """The generation currently served (a folder, or a `RemoteGeneration` in server mode)."""
        return self._assistant.generation

    def get(self) -> Assistant:
        """The `Assistant` to answer this request with (never blocks on a reload)."""
        if self.reload_interval > 0 and time.monotonic() >= self._next_check:
            self._maybe_reload()
        return self._assistant

    def school_ids(self, assistant: Assistant | None = None) -> frozenset[str]:
        """Ids of the schools ``assistant`` (default: the served one) answers for."""
        assistant = assistant or self.get()
        cached = self._school_cache
        if cached is None or cached[0] is not assistant:
            cached = (assistant, frozenset(s.school for s in assistant.schools()))
            self._school_cache = cached
        return cached[1]

    def _maybe_reload(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next_check:
                return
            self._next_check = now + self.reload_interval
            if self._loading is not None and self._loading.is_alive():
                return
            try:
                latest = current_generation(self.index_dir)
            except Exception as exc:  # a pointer being replaced, a vanished folder, a server down: check again later
                log.warning("cannot read the index pointer for %s: %s", self.index_dir, exc)
                return
            if latest is None or same_generation(latest, self._assistant.generation):
                return
            if now < self._failed.get(latest.name, 0.0):
                return
            self._loading = threading.Thread(target=self._load, args=(latest,), name="assistant-reload", daemon=True)
            self._loading.start()

    def _load(self, generation: Generation) -> None:
        started = time.perf_counter()
        self.lease.serve(self._assistant.generation, loading=generation)
        try:
            fresh = self._loader(generation)
        except Exception as exc:  # keep serving the old generation whatever went wrong
            log.error("index generation %s failed to load; still serving %s: %s", generation.name, self._assistant.generation.name, exc)
            self._failed[generation.name] = time.monotonic() + RETRY_AFTER
            self.lease.serve(self._assistant.generation)
            return
        self._assistant = fresh  # a single reference assignment: requests see old or new, never half
        self.lease.serve(fresh.generation)  # the old one lingers in the lease for requests still on it
        log.info("now serving index generation %s (loaded in %.1fs)", generation.name, time.perf_counter() - started)

    def check(self, assistant: Assistant | None = None) -> None:
        """Check that everything ``assistant`` (default: the served one) answers from is still there.

        That is its generation's manifest, vector store and every school's clause records, not
        only the schools already read into memory (for ``/healthz``; cheap: a few stats).

        Raises:
            IndexCorruptError: a part of the served generation is missing or cut short.
            IndexUnavailableError: (server mode) the Chroma server cannot be reached.
        """
        assistant = assistant or self.get()
        check_generation(assistant.generation, assistant.manifest)

    def close(self) -> None:
        """Give up this holder's generation lease (the server is stopping)."""
        self.lease.release()

    def wait_for_reload(self, timeout: float = 30.0) -> bool:
        """Block until a reload in progress finishes; True if none is left running (for tests and scripts)."""
        thread = self._loading
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # --- admin reload (issue 6) ---------------------------------------------------------

    def reload_now(self, timeout: float = 300.0) -> bool:
        """Load the generation ``CURRENT`` points at now, if it is not the one served; True if it was swapped in.

        Used by ``POST /admin/reload``: unlike the periodic check it ignores ``reload_interval``
        and the retry delay after a failure, and waits (up to ``timeout`` seconds) for the load.

        Raises:
            RuntimeError: the new generation failed to load (the old one keeps serving) or
                took longer than ``timeout``.
            OSError: the index pointer cannot be read.
        """
        self.wait_for_reload(timeout)
        with self._lock:
            latest = current_generation(self.index_dir)
            if latest is None or same_generation(latest, self._assistant.generation):
                return False
            self._failed.pop(latest.name, None)
            self._loading = threading.Thread(target=self._load, args=(latest,), name="assistant-reload", daemon=True)
            self._loading.start()
        if not self.wait_for_reload(timeout):
            raise RuntimeError(f"index generation {latest.name} is still loading after {timeout:.0f}s")
        if not same_generation(self._assistant.generation, latest):
            raise RuntimeError(f"index generation {latest.name} failed to load; still serving {self._assistant.generation.name}")
        return True
