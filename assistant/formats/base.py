"""What every reader shares: the limits a file may unpack to, what extraction returns, and the over-limit error.

`ExtractLimits` caps what one policy file may unpack to (issue 17: decompression bombs);
`Extracted` is what `assistant.formats.extract` returns. A reader that finds a limit
exceeded deep inside a parser raises `LimitExceeded`, which `find_limit_exceeded` digs out
of whatever the parser wrapped it in, so it is reported as the limit rather than as corruption.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorpusError

#: Part of every document fingerprint: bump it when extraction output changes, so the next ingest re-serves every document.
EXTRACTOR_VERSION = "1"
#: Files larger than this (bytes) are refused before they are read (``ASSISTANT_MAX_FILE_MB`` overrides it).
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: One megabyte, in bytes.
MB = 1024 * 1024


@dataclass(frozen=True)
class ExtractLimits:
    """What one policy file may unpack to, beyond its size on disk (issue 17: decompression bombs).

    The defaults are far above any real policy (the seed policies are 3–40 pages, 20–80 KB of
    document XML, compressed 4–14 to 1) and far below what exhausts a 2 GB machine.

    Attributes:
        max_characters: characters of extracted text, any format (~1,500 dense pages).
        max_pages: pages of a PDF, read from its page tree before any page is parsed.
        max_pdf_decoded_bytes: bytes all of a PDF's streams may decode to together (content,
            fonts, object streams), counted while they inflate.
        max_page_objects: characters, lines, shapes and images drawn on one PDF page (a
            form that draws a form ten times, nested, multiplies them).
        max_unpacked_bytes: a DOCX's zip members together, by their declared uncompressed
            sizes (which the zip reader enforces: it never inflates past them).
        max_part_bytes: one DOCX zip member.
        max_compression_ratio: uncompressed to compressed size of a DOCX member over 1 MB
            unpacked (Word's XML compresses 4–15 to 1; a zip bomb ~1,000 to 1).
        max_zip_members: members of a DOCX.
        max_xml_elements: XML elements in a DOCX's ``word/document.xml``.
        max_paragraphs: paragraphs in a DOCX's ``word/document.xml``.
        max_html_tags: tags of a web page, counted (as ``<`` characters) before it is parsed:
            BeautifulSoup keeps ~1 KB per tag, so a 20 MB page of ``<p>`` tags would take GBs.
    """

    max_characters: int = 5_000_000
    max_pages: int = 2_000
    max_pdf_decoded_bytes: int = 64 * MB
    max_page_objects: int = 100_000
    max_unpacked_bytes: int = 128 * MB
    max_part_bytes: int = 64 * MB
    max_compression_ratio: int = 100
    max_zip_members: int = 5_000
    max_xml_elements: int = 2_000_000
    max_paragraphs: int = 100_000
    max_html_tags: int = 250_000


#: The limits `extract` applies unless given others.
DEFAULT_LIMITS = ExtractLimits()


@dataclass(frozen=True)
class Extracted:
    """What `extract` read from one file.

    Attributes:
        text: markdown-like text for the chunker (see the `assistant.formats` docstring).
        sha256: hex SHA-256 of the file's bytes.
        format: ``"text"``, ``"pdf"``, ``"docx"`` or ``"html"``.
        page_starts: PDF only: ascending offsets in ``text`` where pages 1, 2, … start.
        title: the title the file itself declares (DOCX/PDF properties, HTML ``<title>``
            or its first ``h1``), or None.
        notes: things a person should know that did not stop ingest (e.g. a legacy
            encoding, pages without a text layer).
    """

    text: str
    sha256: str
    format: str
    page_starts: tuple[int, ...] | None = None
    title: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


class LimitExceeded(Exception):
    """A file would unpack past one of its `ExtractLimits`.

    Raised deep inside a parser (pdfminer wraps what it raises), so `find_limit_exceeded`
    looks for it along an exception's chain before a parser's error is reported as corruption.

    Attributes:
        reason: the `CorpusError` reason naming the limit, e.g. ``"holds more than 5,000,000 characters …"``.
    """

    def __init__(self, reason: str) -> None:
        """Record ``reason``, the sentence that names the limit."""
        super().__init__(reason)
        self.reason = reason


def find_limit_exceeded(exc: BaseException) -> LimitExceeded | None:
    """The `LimitExceeded` that caused ``exc``, if any.

    Args:
        exc: an exception raised while a parser read a file.

    Returns:
        ``exc`` itself, or the first `LimitExceeded` found along its causes, contexts and
        arguments (cycles skipped); None when there is none.
    """
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        if isinstance(e, LimitExceeded):
            return e
        seen.add(id(e))
        todo += [e.__cause__, e.__context__, *e.args]
    return None


def characters_reason(limits: ExtractLimits) -> str:
    """The `CorpusError` reason for text over ``limits.max_characters``."""
    return (
        f"holds more than {limits.max_characters:,} characters of text, over the limit of "
        f"{limits.max_characters:,} characters for one policy file (split it into one file per policy)"
    )


def check_characters(path: Path, n: int, limits: ExtractLimits) -> None:
    """Refuse ``n`` characters of text when they are over ``limits.max_characters``.

    Raises:
        CorpusError: naming ``path`` and the limit.
    """
    if n > limits.max_characters:
        raise CorpusError(path, characters_reason(limits))


def megabytes(n: int) -> str:
    """A file size in bytes for people: ``"21.0 MB"``, or ``"20 KB"`` below a megabyte."""
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"
