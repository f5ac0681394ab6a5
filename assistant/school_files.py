"""Reading a served school's ``school.toml`` at serving time, re-read when it changes.

Several settings of a school take effect without a re-ingest: the sites allowed to embed its
widget (`assistant.web.origins`), its office and safeguarding contacts (`assistant.contacts`)
and its example questions (`assistant.examples`). Each is read from the ``school.toml``
beside the school's documents (the index manifest records every document's path) through a
`SchoolFileReader`, which caches the parsed value per file and reads it again when the file's
modification time changes.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from .errors import CorpusError

if TYPE_CHECKING:
    from .index import SchoolEntry

log = logging.getLogger(__name__)

#: The file a school folder describes itself in (`assistant.loading.METADATA_FILE`, the same name).
METADATA_FILE = "school.toml"
T = TypeVar("T")


def read_school_toml(meta_path: Path) -> dict:
    """The parsed ``school.toml`` at ``meta_path``.

    Raises:
        CorpusError: the file cannot be read or is not TOML (naming the file).
    """
    try:
        return tomllib.loads(Path(meta_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(meta_path, f"cannot be read as TOML ({exc})") from exc


def school_toml_paths(school: SchoolEntry | None) -> list[Path]:
    """The ``school.toml`` paths beside a school's documents, given its index-manifest entry.

    One per folder its documents are in, in document order; none when no path is recorded
    or ``school`` is None (a school the index does not serve).
    """
    folders: list[Path] = []
    for doc in school.documents.values() if school is not None else ():
        folder = Path(doc.path).parent
        if str(folder) not in ("", ".") and folder not in folders:
            folders.append(folder)
    return [folder / METADATA_FILE for folder in folders]


class SchoolFileReader(Generic[T]):
    """One kind of value read from each served school's ``school.toml``, cached per file.

    Args:
        read: parses the value from a ``school.toml`` path; raises `CorpusError` when it is invalid.
        on_error: the value used while the file is invalid (the error is logged once per change).
        consequence: what an invalid file means for people, for the log line
            ("answers fall back to 'ask the school office'").
    """

    def __init__(self, read: Callable[[Path], T], on_error: T, consequence: str) -> None:
        """Keep the parser and fallback; files are read on first use (args as on the class)."""
        self._read = read
        self._on_error = on_error
        self._consequence = consequence
        self._cache: dict[Path, tuple[int, T]] = {}
        self._lock = threading.Lock()

    def value(self, school_meta: SchoolEntry | None) -> T | None:
        """The value from the first readable ``school.toml`` of the school (`school_toml_paths`).

        It is read again when its modification time changes; None when the school has no such file
        here (an app serving an index without its corpus).
        """
        for path in school_toml_paths(school_meta):
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                continue
            with self._lock:
                cached = self._cache.get(path)
            if cached and cached[0] == mtime:
                return cached[1]
            try:
                found = self._read(path)
            except CorpusError as exc:
                log.error("%s; %s until it is fixed", exc, self._consequence)
                found = self._on_error
            with self._lock:
                self._cache[path] = (mtime, found)
            return found
        return None
