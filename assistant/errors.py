"""Exceptions with messages meant for the person who caused them."""

from __future__ import annotations

from pathlib import Path


class CorpusError(Exception):
    """A corpus file or folder that cannot be ingested.

    Attributes:
        path: the offending file or folder; reason: what is wrong with it, in plain words.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexNotFoundError(Exception):
    """No usable index at the configured location (run ``python ingest.py`` first)."""


class IndexCorruptError(IndexNotFoundError):
    """The index folder (or server) exists but its served generation cannot be read: a
    pointer naming no finished generation, a truncated manifest or clause file, or a
    missing vector store. The message names the place and says to rebuild with ingest."""


class IndexUnavailableError(RuntimeError):
    """The vector store cannot be reached right now (a Chroma server down or restarting).

    Transient: the web app answers 503 and recovers by itself once the store is back.
    """


class UnknownSchoolError(ValueError):
    """A school id the index does not serve (a `ValueError`, so callers may catch either).

    Attributes:
        school: the id asked for; known: the ids served.
    """

    def __init__(self, school: object, known: list[str]) -> None:
        self.school = school
        self.known = known
        super().__init__(f"unknown school {school!r} (known schools: {', '.join(known)})")
