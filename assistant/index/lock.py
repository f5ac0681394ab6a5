"""The ingest lock and the generation leases that keep a live server's generations from deletion.

One ingest at a time writes to an index folder (`ingest_lock`, an ``flock`` the kernel drops
if the process dies). Old generations are deleted only when no live server leases them
(`GenerationLease`, `leased_generations`): a server that has not reloaded yet keeps the
generation it serves (issue 17).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import threading
import time
import weakref
from pathlib import Path

from .chroma import server_address
from .store import Generation, write_atomic

log = logging.getLogger(__name__)


class IngestBusyError(RuntimeError):
    """Another ingest is writing to the same index folder (it holds ``.ingest.lock``)."""


LOCK_FILE = ".ingest.lock"


@contextlib.contextmanager
def ingest_lock(index_dir: Path):
    """Hold the index folder's ingest lock (an ``flock``; the kernel drops it if the process dies).

    Raises:
        IngestBusyError: another ingest holds it.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK_FILE).open("a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise IngestBusyError(f"another ingest is running on {index_dir} (pid {holder}); wait for it to finish") from exc
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --- leases: a live server's generations are never deleted (issue 17) ------------------------------

#: Folder in the index folder where each running server keeps its lease file.
LEASES_DIR = ".leases"
#: Seconds between a server's refreshes of its lease (a background thread; no request needed).
LEASE_REFRESH_SECONDS = 30.0
#: A lease not refreshed for this long belongs to a server that is gone (or frozen), and no longer holds.
LEASE_TTL_SECONDS = 300.0
#: A generation a server swapped out stays in its lease this long, for requests still answering from it.
LEASE_LINGER_SECONDS = 60.0


class GenerationLease:
    """A running server's claim on the index generations it serves, which ingest never deletes.

    The lease is a small JSON file, ``<index>/.leases/<host>-<pid>-<id>.json``, naming the
    generation served, one being loaded, and (for `LEASE_LINGER_SECONDS`) the one swapped
    out. It is rewritten on every change and every `LEASE_REFRESH_SECONDS` by one background
    thread per process, so it holds while the server lives, whether or not requests arrive
    or it ever reloads; a server that dies leaves a lease that goes stale after
    `LEASE_TTL_SECONDS` (or at once, when ingest runs on the same host and the pid is gone).
    `leased_generations` is what ingest's cleanup honours. Embedded index folders only: in
    Chroma server mode (``CHROMA_HOST``) the lease is not written.

    Args:
        index_dir: the index folder the server reads (the one holding ``CURRENT``).
    """

    def __init__(self, index_dir: str | Path) -> None:
        """Start holding nothing; `serve` names the generations (the refresher thread starts now)."""
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LEASES_DIR / f"{_host()}-{os.getpid()}-{os.urandom(4).hex()}.json"
        self._serving: str | None = None
        self._loading: str | None = None
        self._lingering: dict[str, float] = {}  # generation name -> time.time() until which it is held
        self._lock = threading.Lock()
        self._warned = False
        self._write_lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _remove_quietly, self.path)
        _LEASE_REFRESHER.add(self)

    @property
    def generations(self) -> set[str]:
        """The generation names this lease holds now."""
        now = time.time()
        with self._lock:
            held = {name for name, until in self._lingering.items() if until > now}
            held |= {name for name in (self._serving, self._loading) if name}
        return held

    def serve(self, generation: Generation, loading: Generation | None = None) -> None:
        """Hold ``generation`` (served now) and ``loading`` (being loaded, if any).

        A generation served before lingers for `LEASE_LINGER_SECONDS`. Writes the lease file at once.
        """
        with self._lock:
            if self._serving and self._serving != generation.name:
                self._lingering[self._serving] = time.time() + LEASE_LINGER_SECONDS
            self._serving = generation.name
            self._loading = loading.name if loading is not None else None
        self.refresh()

    def refresh(self) -> None:
        """Rewrite the lease file (atomically), renewing it.

        A folder the server cannot write to is logged once: ingest then falls back on
        `GENERATION_GRACE_SECONDS` alone.
        """
        if server_address() or self._serving is None:
            return
        now = time.time()
        with self._lock:
            self._lingering = {name: until for name, until in self._lingering.items() if until > now}
        record = {
            "index_dir": str(self.index_dir.resolve()),
            "host": _host(),
            "pid": os.getpid(),
            "generations": sorted(self.generations),
            "refreshed": now,
        }
        try:
            with self._write_lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, json.dumps(record) + "\n")
        except OSError as exc:
            if not self._warned:
                log.warning(
                    "cannot write the generation lease %s (%s): an ingest may delete a generation this server still serves", self.path, exc
                )
                self._warned = True

    def release(self) -> None:
        """Remove the lease (the server is stopping)."""
        _LEASE_REFRESHER.discard(self)
        _remove_quietly(self.path)


def _host() -> str:
    import socket

    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:60] or "host"


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class _LeaseRefresher:
    """One daemon thread per process that refreshes every live `GenerationLease`."""

    def __init__(self) -> None:
        self._leases: weakref.WeakSet[GenerationLease] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, lease: GenerationLease) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="generation-lease", daemon=True)
                self._thread.start()

    def discard(self, lease: GenerationLease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _run(self) -> None:
        while True:
            time.sleep(LEASE_REFRESH_SECONDS)
            with self._lock:
                leases = list(self._leases)
            for lease in leases:
                try:
                    lease.refresh()
                except Exception as exc:  # a refresher that dies would let leases go stale
                    log.warning("cannot refresh the generation lease %s: %s", lease.path, exc)


_LEASE_REFRESHER = _LeaseRefresher()


def _pid_gone(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: someone else's live process
        return False
    return False


def leased_generations(index_dir: Path) -> set[str]:
    """Names of the generations that live servers hold through their leases (`GenerationLease`).

    A lease counts while it was refreshed within `LEASE_TTL_SECONDS`, was written for this
    index folder (not a copy of it), and, when written on this host, its process still runs.
    Leases that no longer count are removed.
    """
    folder = Path(index_dir) / LEASES_DIR
    if not folder.is_dir():
        return set()
    held: set[str] = set()
    here, now = str(Path(index_dir).resolve()), time.time()
    for path in folder.glob("*.json"):
        try:
            age = now - path.stat().st_mtime
            record = json.loads(path.read_text(encoding="utf-8"))
            names = [str(n) for n in record["generations"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # vanished, or not a lease (lease files are replaced atomically)
        live = age <= LEASE_TTL_SECONDS and record.get("index_dir") == here
        if live and record.get("host") == _host() and _pid_gone(record.get("pid")):
            live = False
        if live:
            held.update(names)
        elif record.get("index_dir", here) == here or age > LEASE_TTL_SECONDS:
            _remove_quietly(path)
    return held
