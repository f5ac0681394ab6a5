"""`extract`: check one policy file, then hand it to the reader registered for its format.

The reader registry, `READERS`, maps each format ingest reads to the function that reads
it. Every reader takes ``(path, raw, sha256, limits)`` (the file's path for messages, its
bytes, their hex SHA-256 and the `ExtractLimits` to apply) and returns an `Extracted`, or
raises `CorpusError` naming the file and the reason. To read a new format, write a reader
module, register its function here under a format name, and map the format's suffixes to
that name in `FORMAT_OF_SUFFIX` (and teach `sniff` to recognise its bytes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from ..errors import CorpusError
from .base import DEFAULT_LIMITS, DEFAULT_MAX_BYTES, Extracted, ExtractLimits, megabytes
from .docx import read_docx
from .html import read_html
from .pdf import read_pdf
from .sniffing import check_content_matches
from .text import read_text

#: A reader: ``(path, raw bytes, hex sha256, limits) -> Extracted``; raises `CorpusError`.
Reader = Callable[[Path, bytes, str, ExtractLimits], Extracted]

#: The reader for each format ingest reads, by the format name `sniff` returns.
READERS: dict[str, Reader] = {"pdf": read_pdf, "docx": read_docx, "html": read_html, "text": read_text}

#: File suffixes ingest reads, and the format (a key of `READERS`) each promises.
FORMAT_OF_SUFFIX = {".txt": "text", ".md": "text", ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}
#: File suffixes ingest reads, in a fixed order (for messages and folder scans).
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(FORMAT_OF_SUFFIX)


def extract(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, limits: ExtractLimits | None = None) -> Extracted:
    """Read one policy file and return its text for the chunker.

    Args:
        path: a ``.pdf``, ``.docx``, ``.html``/``.htm``, ``.md`` or ``.txt`` file.
        max_bytes: files larger than this are refused before being read.
        limits: what the file may unpack to (default `DEFAULT_LIMITS`): pages, decoded and
            unpacked bytes, paragraphs, characters.

    Returns:
        An `Extracted` (text, sha256, format, PDF page starts, declared title, notes).

    Raises:
        CorpusError: the file is unreadable, over the size limit, empty, of an unsupported
            type, its content does not match its extension, it is corrupt or truncated,
            password-protected, has no text layer (scanned PDF), yields no text, or would
            unpack to more than ``limits`` allow (the message names the limit).
    """
    path = Path(path)
    limits = limits or DEFAULT_LIMITS
    suffix = path.suffix.lower()
    fmt = FORMAT_OF_SUFFIX.get(suffix)
    if fmt is None:
        raise CorpusError(path, f"has an unsupported file type {path.suffix!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorpusError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if size > max_bytes:
        raise CorpusError(
            path,
            f"is {megabytes(size)}, over the {megabytes(max_bytes)} limit for one policy file "
            "(raise ASSISTANT_MAX_FILE_MB if it really is one policy)",
        )
    if size == 0:
        raise CorpusError(path, "is empty (0 bytes)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(path, f"cannot be read ({exc.strerror or exc})") from exc
    check_content_matches(path, fmt, raw)
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        result = READERS[fmt](path, raw, sha256, limits)
    except MemoryError as exc:  # never "corrupt: unknown error" (issue 17): say what happened
        raise CorpusError(path, f"ran out of memory while being read ({megabytes(size)} on disk): is it a decompression bomb?") from exc
    if not result.text.strip():
        raise CorpusError(path, "contains no text")
    return result
