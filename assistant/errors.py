"""Exceptions with messages meant for the person who caused them."""

from __future__ import annotations

from pathlib import Path


def printable(text: str) -> str:
    r"""``text`` with the bytes of a file name that is not UTF-8 written as ``\xNN``.

    On POSIX, ``b"caf\xe9.txt"`` reaches Python as ``"caf\udce9.txt"`` (surrogate-escaped),
    which cannot be printed to a UTF-8 stream, encoded or hashed; this gives ``"caf\xe9.txt"``.
    Any other text comes back unchanged.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name produced: escape it as is
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class CorpusError(Exception):
    r"""A corpus file or folder that cannot be ingested.

    Attributes:
        path: the offending file or folder; reason: what is wrong with it, in plain words.
            Both are `printable`: a name that is not UTF-8 is kept escaped (``caf\xe9.txt``),
            so every report of a bad file can be printed and compared.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        """Record ``path`` and ``reason`` (both made `printable`); the message is ``"{path}: {reason}"``."""
        self.path = Path(printable(str(path)))
        self.reason = printable(reason)
        super().__init__(f"{self.path}: {self.reason}")


class IndexNotFoundError(Exception):
    """No usable index at the configured location (run ``python ingest.py`` first)."""


class IndexCorruptError(IndexNotFoundError):
    """The index folder (or server) exists but its served generation cannot be read.

    For example: a pointer naming no finished generation, a truncated manifest or clause file,
    or a missing vector store. The message names the place and says to rebuild with ingest.
    """


class IndexOutdatedError(IndexCorruptError):
    """The served generation was written by an older ingest (an earlier layout or store format).

    Serving reads only the current format; ``python ingest.py`` upgrades the index by copying
    its vectors into a new generation (no model runs). The message names the place and the format.
    """


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
        """Record ``school`` and ``known``; the message lists the known schools."""
        self.school = school
        self.known = known
        super().__init__(f"unknown school {school!r} (known schools: {', '.join(known)})")
