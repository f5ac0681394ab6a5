"""Text extraction for every file format a school publishes its policies in.

`extract(path)` turns a ``.pdf``, ``.docx``, ``.html``/``.htm``, ``.md`` or ``.txt`` file
into the markdown-like text the clause chunker reads:

* headings become ``#`` headings by level (DOCX heading styles and outline levels, HTML
  ``h1``–``h6``, PDF lines set larger than the body text or bold in a heading face);
  a whole paragraph in bold becomes ``**…**`` (the chunker decides if it is a heading);
* list items become ``- `` or ``1. `` lines (the number restored from the document's
  numbering), indented four spaces per nesting level, one line per item;
* paragraphs are separated by blank lines, each on one line;
* table rows of short cells (signature blocks, review dates) become tab-separated lines,
  which the chunker leaves out; tables of long text become paragraphs.

For PDFs it also returns the offset in that text where each page starts, so a clause
can be cited with its page. Text files are decoded as UTF-8 or, failing that, in the
legacy encoding ``charset-normalizer`` detects (reported as a note).

Every problem is a `CorpusError` naming the file and the reason: too large, empty,
content that does not match the extension, corrupt or truncated, password-protected,
or a PDF with no text layer (OCR is not supported).

The 20 MB file limit does not bound what a file unpacks to (issue 17): a 9 KB PDF can
inflate to gigabytes, a 100 KB DOCX to a billion bytes of XML. So `ExtractLimits` also caps,
per file, what it may unpack to: a DOCX's zip members (declared sizes and compression ratio,
checked before anything is inflated), its XML elements and paragraphs (counted by a streaming
pass before the document is parsed), a PDF's page count (read from the page tree before any
page is parsed), the bytes its streams decode to (counted while they inflate, which stops at
the limit), the characters and shapes one page draws, and the characters extracted from any
file. Each refusal is a `CorpusError` naming the file and the limit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import re
import statistics
import threading
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusError

#: Part of every document fingerprint: bump it when extraction output changes, so the next ingest re-serves every document.
EXTRACTOR_VERSION = "1"
#: File suffixes ingest reads, by format.
FORMAT_OF_SUFFIX = {".txt": "text", ".md": "text", ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(FORMAT_OF_SUFFIX)
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_MB = 1024 * 1024


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
    max_pdf_decoded_bytes: int = 64 * _MB
    max_page_objects: int = 100_000
    max_unpacked_bytes: int = 128 * _MB
    max_part_bytes: int = 64 * _MB
    max_compression_ratio: int = 100
    max_zip_members: int = 5_000
    max_xml_elements: int = 2_000_000
    max_paragraphs: int = 100_000
    max_html_tags: int = 250_000


#: The limits `extract` applies unless given others.
DEFAULT_LIMITS = ExtractLimits()

_FORMAT_NAMES = {
    "pdf": "a PDF document",
    "docx": "a Word (.docx) document",
    "html": "a web page (HTML)",
    "text": "plain text",
    "doc": "a Word 97-2003 (.doc) document",
    "zip": "a ZIP archive",
    "odt": "an OpenDocument text (.odt) file",
    "image": "an image",
    "rtf": "an RTF document",
}
_SUFFIX_FOR = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "text": ".txt"}
#: Legacy encodings preferred when charset-normalizer finds several equally likely.
_WESTERN = ("cp1252", "iso8859_15", "latin_1")


@dataclass(frozen=True)
class Extracted:
    """What `extract` read from one file.

    Attributes:
        text: markdown-like text for the chunker (see the module docstring).
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


def _megabytes(n: int) -> str:
    """A file size for people: ``"21.0 MB"``, or ``"20 KB"`` below a megabyte."""
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def sniff(raw: bytes) -> str:
    """The format ``raw`` content is in, judged by its bytes, not its name.

    Returns one of ``pdf``, ``docx``, ``odt``, ``zip``, ``doc``, ``rtf``, ``image``, ``html``
    or ``text`` (anything else that is not clearly binary).
    """
    head = raw[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"PK\x05\x06"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(raw)).namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return "zip"
        if "word/document.xml" in names:
            return "docx"
        if "content.xml" in names and "mimetype" in names:
            return "odt"
        return "zip"
    if raw.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"
    if raw.startswith(b"{\\rtf"):
        return "rtf"
    if raw.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")):
        return "image"
    probe = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if probe.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in raw[:4096].lower():
        return "html"
    return "text"


def extract(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, limits: ExtractLimits | None = None) -> Extracted:
    """Read one policy file and return its text for the chunker.

    Args:
        path: a ``.pdf``, ``.docx``, ``.html``/``.htm``, ``.md`` or ``.txt`` file.
        max_bytes: files larger than this are refused before being read.
        limits: what the file may unpack to (default `DEFAULT_LIMITS`): pages, decoded and
            unpacked bytes, paragraphs, characters.

    Returns:
        an `Extracted` (text, sha256, format, PDF page starts, declared title, notes).

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
            f"is {_megabytes(size)}, over the {_megabytes(max_bytes)} limit for one policy file "
            "(raise ASSISTANT_MAX_FILE_MB if it really is one policy)",
        )
    if size == 0:
        raise CorpusError(path, "is empty (0 bytes)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(path, f"cannot be read ({exc.strerror or exc})") from exc
    content = sniff(raw)
    if content != fmt and not (fmt == "html" and content == "text"):  # an HTML fragment has no doctype
        what = _FORMAT_NAMES.get(content, content)
        hint = f": rename it to {_SUFFIX_FOR[content]}" if content in _SUFFIX_FOR else ""
        if content == "zip" and fmt == "docx":
            raise CorpusError(path, "is corrupt: a ZIP file without a Word document inside (is it damaged or truncated?)")
        if content == "text" and fmt in ("pdf", "docx"):
            raise CorpusError(
                path, f"is not {_FORMAT_NAMES[fmt]}: its content is {_describe_text_content(raw)} (is it corrupt or misnamed?)"
            )
        raise CorpusError(path, f"has the extension {path.suffix} but its content is {what}{hint}")
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        if fmt == "pdf":
            result = _extract_pdf(path, raw, sha256, limits)
        elif fmt == "docx":
            result = _extract_docx(path, raw, sha256, limits)
        elif fmt == "html":
            result = _extract_html(path, raw, sha256, limits)
        else:
            text, notes = decode_text(path, raw)
            _check_characters(path, len(text), limits)
            result = Extracted(text, sha256, "text", None, None, notes)
    except MemoryError as exc:  # never "corrupt: unknown error" (issue 17): say what happened
        raise CorpusError(path, f"ran out of memory while being read ({_megabytes(size)} on disk): is it a decompression bomb?") from exc
    if not result.text.strip():
        raise CorpusError(path, "contains no text")
    return result


class _OverLimit(Exception):
    """A file would unpack past one of its `ExtractLimits`; ``reason`` names the limit.

    Raised deep inside a parser (pdfminer wraps what it raises), so `_over_limit` looks for
    it along an exception's chain before a parser's error is reported as corruption.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _over_limit(exc: BaseException) -> _OverLimit | None:
    """The `_OverLimit` that caused ``exc`` (itself, its cause or context, or an argument), if any."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        if isinstance(e, _OverLimit):
            return e
        seen.add(id(e))
        todo += [e.__cause__, e.__context__, *e.args]
    return None


def _check_characters(path: Path, n: int, limits: ExtractLimits) -> None:
    if n > limits.max_characters:
        raise CorpusError(path, _characters_reason(limits))


def _characters_reason(limits: ExtractLimits) -> str:
    return (
        f"holds more than {limits.max_characters:,} characters of text, over the limit of "
        f"{limits.max_characters:,} characters for one policy file (split it into one file per policy)"
    )


def _describe_text_content(raw: bytes) -> str:
    sample = raw[:200]
    if b"\x00" in sample or sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 10:
        return "unrecognised binary data"
    return "plain text"


# --- text files ------------------------------------------------------------------------


def decode_text(path: Path, raw: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode a text file: UTF-8 (BOM dropped), a UTF-16/32 BOM, or a detected legacy encoding.

    Returns:
        ``(text, notes)``; ``notes`` says which legacy encoding was assumed, if any.

    Raises:
        CorpusError: binary content, or text in no encoding that can be detected.
    """
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):  # fmt: skip
        if raw.startswith(bom):
            try:
                return raw.decode(codec), ()
            except UnicodeDecodeError as exc:
                raise CorpusError(path, f"is not valid {codec.upper()} text despite its byte-order mark (offset {exc.start})") from exc
    if b"\x00" in raw:
        raise CorpusError(path, "is a binary file, not text (it contains NUL bytes)")
    try:
        return raw.decode("utf-8"), ()
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    from charset_normalizer import from_bytes

    matches = from_bytes(raw)
    best = matches.best()
    if best is None:
        raise CorpusError(path, f"is not UTF-8 text (undecodable byte at offset {first_bad}) and its encoding cannot be detected")
    text, encoding = str(best), best.encoding
    # Several legacy code pages often decode a file equally cleanly (charset-normalizer's
    # "chaos"), and its language-coherence tie-break is noise on a short English text; an
    # English school's file is far likelier Windows-1252 than Mac Icelandic or Windows-1250.
    tied = [m for m in matches if abs(m.chaos - best.chaos) < 1e-3]
    for preferred in _WESTERN:
        if any(preferred in m.could_be_from_charset for m in tied):
            try:
                text, encoding = raw.decode(preferred), preferred
            except UnicodeDecodeError:
                continue
            break
    if sum(not c.isprintable() and c not in "\t\n\r\f" for c in text) > max(3, len(text) // 100):
        raise CorpusError(
            path,
            f"is not UTF-8 text and its encoding cannot be detected (read as {encoding} it is mostly control characters: a binary file?)",
        )
    return text, (f"{path.name} is not UTF-8; read it as {encoding} (detected by charset-normalizer)",)


# --- shared output builder ------------------------------------------------------------------


class _Writer:
    """Accumulates blocks into markdown-like text and remembers where pages start."""

    def __init__(self, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.last_kind: str | None = None
        self.page_starts: list[int] = []
        self.limits = limits

    def _sep(self, kind: str) -> None:
        if not self.parts:
            return
        tight = kind == self.last_kind and kind in ("item", "row")
        self._put("\n" if tight else "\n\n")

    def _put(self, s: str) -> None:
        self.parts.append(s)
        self.length += len(s)
        if self.length > self.limits.max_characters:
            raise _OverLimit(_characters_reason(self.limits))

    def block(self, kind: str, text: str, pieces: list[tuple[str, int]] | None = None) -> None:
        """Add a block: kind ``heading``/``para``/``item``/``row``; ``text`` already marked up.

        ``pieces`` (PDF): the block's text as (fragment, page) pairs, so a block that runs
        onto the next page records where that page starts.
        """
        text = text.strip("\n")
        if not text.strip():
            return
        self._sep(kind)
        if pieces:
            for fragment, page in pieces:
                self._page(page)
                self._put(fragment)
        else:
            self._put(text)
        self.last_kind = kind

    def _page(self, page: int) -> None:
        while len(self.page_starts) < page:
            self.page_starts.append(self.length)

    def text(self) -> str:
        return "".join(self.parts) + ("\n" if self.parts else "")


def _clean_inline(text: str) -> str:
    """Collapse runs of spaces (not tabs or newlines) and strip each line."""
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    lines = [re.sub(r"[ \f\v]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)


def _bold(text: str) -> str:
    return f"**{text}**" if "**" not in text and "\n" not in text else text


def _row_text(cells: list[str]) -> str | None:
    """A table row of short cells as one tab-separated line (None when cells hold prose)."""
    cells = [re.sub(r"\s+", " ", c).strip() for c in cells]
    if not any(cells):
        return ""
    if all(len(c) <= 60 for c in cells):
        return "\t".join(cells)
    return None


def _number(fmt: str, n: int) -> str:
    """``n`` written in a numbering style (Word ``numFmt`` or HTML ``<ol type>``): 3, c, C, iii, III."""
    if fmt in ("lowerLetter", "a") and 1 <= n <= 26:
        return chr(96 + n)
    if fmt in ("upperLetter", "A") and 1 <= n <= 26:
        return chr(64 + n)
    if fmt in ("lowerRoman", "i"):
        return _roman(n)
    if fmt in ("upperRoman", "I"):
        return _roman(n).upper()
    return str(n)


def _roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):  # fmt: skip
        while n >= value:
            out += sym
            n -= value
    return out


def _plausible_title(title: str | None, path: Path) -> str | None:
    if not title:
        return None
    title = re.sub(r"\s+", " ", title).strip()
    low = title.lower()
    if (
        not title
        or len(title) > 150
        or low.startswith(("microsoft word", "untitled"))
        or re.search(r"\.(docx?|pdf|html?|txt|md|odt)\b", low)
        or low == path.stem.lower()
        or " " not in title
    ):
        return None
    return title


# --- DOCX ----------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _extract_docx(path: Path, raw: bytes, sha256: str, limits: ExtractLimits = DEFAULT_LIMITS) -> Extracted:
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise CorpusError(path, "cannot be read: python-docx is not installed") from exc
    check_docx_package(path, raw, limits)  # before python-docx inflates and parses every part
    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CorpusError(path, f"is corrupt or truncated: not a readable Word document ({type(exc).__name__}: {exc})") from exc
    except MemoryError:
        raise
    except Exception as exc:  # lxml XMLSyntaxError and friends: a damaged part
        raise CorpusError(path, f"is corrupt: a part of the Word document cannot be parsed ({type(exc).__name__}: {exc})") from exc
    try:
        return _DocxReader(document, limits).read(sha256, path)
    except (CorpusError, MemoryError):
        raise
    except Exception as exc:
        over = _over_limit(exc)
        if over is not None:
            raise CorpusError(path, over.reason) from exc
        raise CorpusError(path, f"is corrupt: the Word document's content cannot be read ({type(exc).__name__}: {exc})") from exc


def check_docx_package(path: Path, raw: bytes, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
    """Refuse a Word file that would unpack past ``limits``, before anything of it is parsed.

    First from the zip's central directory alone (nothing inflated): the number of parts,
    each part's declared uncompressed size and compression ratio, and their total. The zip
    reader never inflates a part past its declared size (a part that lies fails its CRC), so
    these bound what python-docx can read. Then one streaming pass over every XML part (each
    element dropped once read, so memory stays flat) counts XML elements, paragraphs and the
    characters of text runs. A package that is not a readable zip is left for python-docx to
    report as corrupt.

    Raises:
        CorpusError: naming the file, what it would unpack to and the limit it is over.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_zip_members:
            raise CorpusError(
                path, f"has {len(members):,} parts, over the limit of {limits.max_zip_members:,} parts for a Word document (a zip bomb?)"
            )
        total = 0
        for info in members:
            size, packed = info.file_size, max(info.compress_size, 1)
            total += size
            if size > limits.max_part_bytes:
                raise CorpusError(
                    path,
                    f"has a part {info.filename} that unpacks to {_megabytes(size)}, over the limit of "
                    f"{_megabytes(limits.max_part_bytes)} for one part of a Word document (a zip bomb?)",
                )
            if size > _MB and size > limits.max_compression_ratio * packed:
                raise CorpusError(
                    path,
                    f"has a part {info.filename} compressed {size / packed:,.0f} to 1 ({_megabytes(packed)} unpacking to "
                    f"{_megabytes(size)}), over the limit of {limits.max_compression_ratio} to 1 for a Word document (a zip bomb?)",
                )
        if total > limits.max_unpacked_bytes:
            raise CorpusError(
                path,
                f"unpacks to {_megabytes(total)}, over the limit of {_megabytes(limits.max_unpacked_bytes)} "
                "for a Word document's unpacked parts (a zip bomb?)",
            )
        counts = {"elements": 0, "paragraphs": 0, "characters": 0}
        for info in members:  # every part, whatever its name: one that is not XML fails at its first bytes
            if not info.is_dir():
                _count_xml_part(path, archive, info, counts, limits)


def _count_xml_part(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, counts: dict[str, int], limits: ExtractLimits) -> None:
    """Add one XML part's elements, paragraphs and text characters to ``counts``, raising at a limit."""
    from lxml import etree

    paragraph, text = f"{_W}p", f"{_W}t"
    try:
        with archive.open(info) as fh:
            events = etree.iterparse(fh, events=("end",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
            for _, el in events:
                counts["elements"] += 1
                if el.tag == paragraph:
                    counts["paragraphs"] += 1
                elif el.tag == text and el.text:
                    counts["characters"] += len(el.text)
                el.clear(keep_tail=False)
                parent = el.getparent()
                while parent is not None and el.getprevious() is not None:
                    del parent[0]
                if counts["elements"] > limits.max_xml_elements:
                    raise CorpusError(
                        path,
                        f"has more than {limits.max_xml_elements:,} XML elements, over the limit of "
                        f"{limits.max_xml_elements:,} for a Word document (a bomb, or many policies in one file?)",
                    )
                if counts["paragraphs"] > limits.max_paragraphs:
                    raise CorpusError(
                        path,
                        f"has more than {limits.max_paragraphs:,} paragraphs, over the limit of "
                        f"{limits.max_paragraphs:,} paragraphs for one policy file (split it into one file per policy)",
                    )
                if counts["characters"] > limits.max_characters:
                    raise CorpusError(path, _characters_reason(limits))
    except CorpusError:
        raise
    except Exception:  # not well-formed XML, a bad CRC, …: python-docx reports it as corrupt
        return


class _DocxReader:
    """Walks a python-docx document body in order, resolving styles and list numbering."""

    def __init__(self, document, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
        self.document = document
        self.writer = _Writer(limits)
        self.styles = {}
        for style in document.styles:
            try:
                self.styles[style.style_id] = style
            except Exception:  # a style python-docx cannot model: skip it
                continue
        self.abstract: dict[str, dict[int, tuple[str, int, str]]] = {}  # abstractNumId → ilvl → (numFmt, start, lvlText)
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}  # numId → (abstractNumId, ilvl → startOverride)
        self.counters: dict[object, dict[int, int]] = {}
        self._read_numbering()

    def _read_numbering(self) -> None:
        try:
            numbering = self.document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        for absn in numbering.iter(f"{_W}abstractNum"):
            levels = {}
            for lvl in absn.iter(f"{_W}lvl"):
                fmt_el = lvl.find(f"{_W}numFmt")
                start_el = lvl.find(f"{_W}start")
                text_el = lvl.find(f"{_W}lvlText")
                ilvl = int(lvl.get(f"{_W}ilvl", "0"))
                levels[ilvl] = (
                    fmt_el.get(f"{_W}val", "decimal") if fmt_el is not None else "decimal",
                    int(start_el.get(f"{_W}val", "1")) if start_el is not None else 1,
                    text_el.get(f"{_W}val", "") if text_el is not None else f"%{ilvl + 1}.",
                )
            self.abstract[absn.get(f"{_W}abstractNumId")] = levels
        for num in numbering.iter(f"{_W}num"):
            abs_el = num.find(f"{_W}abstractNumId")
            overrides = {}
            for ov in num.iter(f"{_W}lvlOverride"):
                so = ov.find(f"{_W}startOverride")
                if so is not None:
                    overrides[int(ov.get(f"{_W}ilvl", "0"))] = int(so.get(f"{_W}val", "1"))
            self.nums[num.get(f"{_W}numId")] = (abs_el.get(f"{_W}val") if abs_el is not None else "", overrides)

    # -- paragraph properties through the style chain

    def _style_chain(self, style_id: str | None):
        seen = 0
        style = self.styles.get(style_id) if style_id else None
        while style is not None and seen < 20:
            yield style
            base = style.base_style
            style = base
            seen += 1

    def _ppr_value(self, p, tag: str):
        ppr = p.find(f"{_W}pPr")
        if ppr is not None and ppr.find(f"{_W}{tag}") is not None:
            return ppr.find(f"{_W}{tag}")
        for style in self._style_chain(self._style_id(p)):
            sppr = style.element.find(f"{_W}pPr")
            if sppr is not None and sppr.find(f"{_W}{tag}") is not None:
                return sppr.find(f"{_W}{tag}")
        return None

    @staticmethod
    def _style_id(p) -> str | None:
        ppr = p.find(f"{_W}pPr")
        if ppr is None:
            return None
        ps = ppr.find(f"{_W}pStyle")
        return ps.get(f"{_W}val") if ps is not None else None

    def _style_name(self, p) -> str:
        style = self.styles.get(self._style_id(p) or "")
        return (style.name or "") if style is not None else ""

    def _heading_level(self, p) -> int | None:
        name = self._style_name(p).lower()
        m = re.match(r"^heading\s*(\d)$", name)
        if m:
            return min(int(m.group(1)), 6)
        if name in ("title",):
            return 1
        if name == "subtitle":
            return 2
        outline = self._ppr_value(p, "outlineLvl")
        if outline is not None:
            level = int(outline.get(f"{_W}val", "9"))
            if level < 9:
                return min(level + 1, 6)
        return None

    def _list_marker(self, p) -> tuple[int, str] | None:
        """``(ilvl, marker)`` for a list paragraph, None otherwise.

        The marker is ``"-"`` for a bullet, else the number as Word shows it: the level's
        ``lvlText`` ("%1.", "(%2)", "%1.%2") filled with the list's counters.
        """
        numpr = self._ppr_value(p, "numPr")
        name = self._style_name(p).lower()
        if numpr is not None:
            ilvl_el = numpr.find(f"{_W}ilvl")
            num_el = numpr.find(f"{_W}numId")
            ilvl = int(ilvl_el.get(f"{_W}val", "0")) if ilvl_el is not None else 0
            num_id = num_el.get(f"{_W}val") if num_el is not None else None
            if num_id is None or num_id == "0":
                return None
            abs_id, overrides = self.nums.get(num_id, ("", {}))
            levels = self.abstract.get(abs_id, {})
            fmt, start, lvl_text = levels.get(ilvl, ("bullet", 1, ""))
            if fmt in ("bullet", "none"):
                return ilvl, "-"
            key: object = num_id if ilvl in overrides else ("abstract", abs_id)
            start = overrides.get(ilvl, start)
            counts = self.counters.setdefault(key, {})
            counts[ilvl] = counts.get(ilvl, start - 1) + 1
            for deeper in [lv for lv in counts if lv > ilvl]:
                del counts[deeper]

            def fill(m: re.Match) -> str:
                level = int(m.group(1)) - 1
                return _number(levels.get(level, ("decimal", 1, ""))[0], counts.get(level, levels.get(level, ("", 1, ""))[1]))

            marker = re.sub(r"%(\d)", fill, lvl_text).strip() or f"{counts[ilvl]}."
            return ilvl, marker
        m = re.match(r"^list (bullet|number|paragraph)\s*(\d)?$", name)
        if m and m.group(1) != "paragraph":
            ilvl = int(m.group(2) or 1) - 1
            if m.group(1) == "bullet":
                return ilvl, "-"
            counts = self.counters.setdefault(("style", name), {})
            counts[ilvl] = counts.get(ilvl, 0) + 1
            return ilvl, f"{counts[ilvl]}."
        return None

    # -- text

    def _text(self, p) -> str:
        out: list[str] = []
        stack = [iter(p)]
        while stack:
            el = next(stack[-1], None)
            if el is None:
                stack.pop()
                continue
            tag = el.tag
            if tag in (_MC_FALLBACK, f"{_W}txbxContent", f"{_W}del", f"{_W}footnoteReference", f"{_W}endnoteReference"):
                continue
            if tag == f"{_W}t":
                out.append(el.text or "")
            elif tag == f"{_W}tab" and el.getparent().tag == f"{_W}r":
                out.append("\t")
            elif tag in (f"{_W}br", f"{_W}cr"):
                out.append("\n")
            elif tag == f"{_W}noBreakHyphen":
                out.append("-")
            else:
                stack.append(iter(el))
        return "".join(out)

    def _all_bold(self, p) -> bool:
        runs = [r for r in p.iter(f"{_W}r") if "".join(t.text or "" for t in r.iter(f"{_W}t")).strip()]
        if not runs:
            return False
        for r in runs:
            rpr = r.find(f"{_W}rPr")
            b = rpr.find(f"{_W}b") if rpr is not None else None
            bold = b is not None and b.get(f"{_W}val", "true") not in ("0", "false")
            if not bold:
                rstyle = rpr.find(f"{_W}rStyle") if rpr is not None else None
                style = self.styles.get(rstyle.get(f"{_W}val")) if rstyle is not None else None
                bold = bool(style is not None and getattr(style.font, "bold", None))
            if not bold:
                pstyle = self.styles.get(self._style_id(p) or "")
                bold = bool(pstyle is not None and getattr(pstyle.font, "bold", None))
            if not bold:
                return False
        return True

    def _paragraph(self, p) -> None:
        text = self._text(p)
        if "\t" in text and len(text.strip()) > 80:
            text = text.replace("\t", " ")
        text = _clean_inline(text)
        if not text:
            return
        level = self._heading_level(p)
        if level is not None:
            numbered = self._list_marker(p)  # "1. Introduction" when the heading style is numbered
            if numbered is not None and numbered[1] != "-":
                text = f"{numbered[1]} {text}"
            self.writer.block("heading", "#" * level + " " + text.replace("\n", " "))
            return
        marker = self._list_marker(p)
        if marker is not None:
            ilvl, mark = marker
            self.writer.block("item", "    " * min(ilvl, 8) + f"{mark} " + text.replace("\n", " "))
            return
        if self._all_bold(p) and "\t" not in text:
            text = _bold(text.replace("\n", " "))
        self.writer.block("para", text)

    def _table(self, tbl) -> None:
        for tr in tbl.findall(f"{_W}tr"):
            cells = [tc for tc in tr if tc.tag == f"{_W}tc"]
            texts = ["\n".join(self._text(p) for p in tc.iter(f"{_W}p")) for tc in cells]
            row = _row_text(texts)
            if row is None:
                for tc in cells:
                    for child in tc:
                        self._element(child)
            elif row:
                self.writer.block("row", row)

    def _element(self, el) -> None:
        if el.tag == f"{_W}p":
            self._paragraph(el)
        elif el.tag == f"{_W}tbl":
            self._table(el)
        elif el.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}smartTag"):
            for child in el:
                self._element(child)

    def read(self, sha256: str, path: Path) -> Extracted:
        for child in self.document.element.body:
            self._element(child)
        try:
            title = _plausible_title(self.document.core_properties.title, path)
        except Exception:
            title = None
        return Extracted(self.writer.text(), sha256, "docx", None, title, ())


# --- HTML ----------------------------------------------------------------------------------

_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "button", "select", "nav", "head", "form", "input"}  # fmt: skip
_CHROME_TAGS = {"header", "footer", "aside"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "blockquote", "ul", "ol", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "pre", "dl", "dt", "dd", "figure", "figcaption", "address", "header", "footer", "aside", "hr", "details", "summary",
    "center", "body", "html", "tr", "td", "th", "tbody", "thead", "tfoot", "caption", "fieldset", "legend",
}  # fmt: skip


def _extract_html(path: Path, raw: bytes, sha256: str, limits: ExtractLimits = DEFAULT_LIMITS) -> Extracted:
    from bs4 import BeautifulSoup

    tags = raw.count(b"<")  # every tag needs one: an upper bound on what BeautifulSoup would build
    if tags > limits.max_html_tags:
        raise CorpusError(
            path,
            f"has {tags:,} tags, over the limit of {limits.max_html_tags:,} tags for one web page "
            "(save the policy itself as its own page or document)",
        )
    try:
        soup = BeautifulSoup(raw, "lxml")
    except Exception as exc:
        raise CorpusError(path, f"is not a readable web page ({type(exc).__name__}: {exc})") from exc
    title_el = soup.find("title")
    root = soup.find("main") or soup.find(attrs={"role": "main"})
    if root is None:
        articles = soup.find_all("article")
        root = articles[0] if len(articles) == 1 else (soup.body or soup)
    reader = _HtmlReader(chrome_root=root, limits=limits)
    try:
        reader.walk(root, 0)
        reader.flush()
    except _OverLimit as exc:
        raise CorpusError(path, exc.reason) from exc
    title = _plausible_title(title_el.get_text(" ", strip=True) if title_el else None, path)
    if title is None:
        h1 = root.find("h1")
        title = _plausible_title(h1.get_text(" ", strip=True) if h1 else None, path)
    return Extracted(reader.writer.text(), sha256, "html", None, title, ())


class _HtmlReader:
    """Turns a BeautifulSoup tree into blocks: inline text gathers until a block element."""

    def __init__(self, chrome_root, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
        self.writer = _Writer(limits)
        self.buffer: list[str] = []
        self.bold_chars = 0
        self.chrome_root = chrome_root
        self.in_pre = False

    def _inline_text(self, node) -> tuple[str, int]:
        """Text of an inline subtree and how many of its characters are bold."""
        from bs4 import NavigableString, Tag

        if isinstance(node, NavigableString):
            if type(node).__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction", "CData"):
                return "", 0
            return (str(node) if self.in_pre else re.sub(r"\s+", " ", str(node))), 0
        if not isinstance(node, Tag) or node.name in _SKIP_TAGS:
            return "", 0
        if node.name == "br":
            return "\n", 0
        if node.name == "img":
            return "", 0
        parts = [self._inline_text(c) for c in node.children]
        text = "".join(t for t, _ in parts)
        bold = sum(b for _, b in parts)
        if node.name in ("strong", "b") or "font-weight:bold" in (node.get("style") or "").replace(" ", ""):
            bold = len(text.strip())
        return text, bold

    def flush(self, kind: str = "para", prefix: str = "") -> None:
        text = _clean_inline(re.sub(r"[ \t\r]*\n[ \t\r]*", "\n", re.sub(r"[ \t\r]+", " ", "".join(self.buffer))))
        bold = self.bold_chars
        self.buffer, self.bold_chars = [], 0
        if not text:
            return
        if kind == "para" and bold >= len(re.sub(r"\s", "", text)) > 0:
            text = _bold(text.replace("\n", " "))
        if kind in ("heading", "item"):
            text = text.replace("\n", " ")
        self.writer.block(kind, prefix + text)

    def walk(self, node, depth: int) -> None:
        from bs4 import NavigableString, Tag

        for child in node.children:
            if isinstance(child, NavigableString):
                text, _ = self._inline_text(child)
                self.buffer.append(text)
                continue
            if not isinstance(child, Tag) or child.name in _SKIP_TAGS:
                continue
            if child.get("hidden") is not None or re.search(r"display\s*:\s*none", child.get("style") or ""):
                continue
            name = child.name
            if name in _CHROME_TAGS and child.parent is not None and child.parent.name == "body" and self.chrome_root.name == "body":
                continue
            if name not in _BLOCK_TAGS:
                text, bold = self._inline_text(child)
                self.buffer.append(text)
                self.bold_chars += bold
                continue
            self.flush()
            if re.fullmatch(r"h[1-6]", name):
                self.buffer.append(self._inline_text(child)[0])
                self.flush("heading", "#" * int(name[1]) + " ")
            elif name in ("ul", "ol"):
                self._list(child, depth)
            elif name == "table":
                self._table(child, depth)
            elif name == "pre":
                self.in_pre = True
                for line in self._inline_text(child)[0].splitlines():
                    self.buffer.append(line)
                    self.flush()
                self.in_pre = False
            elif name == "hr":
                continue
            else:
                self.walk(child, depth)
                self.flush()

    def _list(self, lst, depth: int) -> None:
        from bs4 import Tag

        ordered = lst.name == "ol"
        try:
            n = int(lst.get("start", "1")) - 1
        except ValueError:
            n = 0
        style = lst.get("type", "1")
        for li in lst.children:
            if not isinstance(li, Tag):
                continue
            if li.name in ("ul", "ol"):  # a nested list outside an li (invalid, but common)
                self._list(li, depth + 1)
                continue
            if li.name != "li":
                continue
            n += 1
            if (li.get("value") or "").strip().isdigit():
                n = int(li.get("value"))
            marker = f"{_number(style, n)}." if ordered else "-"
            nested = []
            for child in li.children:
                if isinstance(child, Tag) and child.name in ("ul", "ol"):
                    nested.append(child)
                elif isinstance(child, Tag) and child.name in ("p", "div"):
                    self.buffer.append(" ")
                    self.buffer.append(self._inline_text(child)[0].replace("\n", " "))
                    self.buffer.append(" ")
                else:
                    self.buffer.append(self._inline_text(child)[0])
            self.bold_chars = 0
            self.flush("item", "    " * min(depth, 8) + f"{marker} ")
            for sub in nested:
                self._list(sub, depth + 1)

    def _table(self, table, depth: int) -> None:
        for tr in table.find_all("tr"):
            if tr.find_parent("table") is not table:
                continue
            cells = [c for c in tr.find_all(["td", "th"]) if c.find_parent("tr") is tr]
            row = _row_text([c.get_text(" ", strip=True) for c in cells])
            if row is None:
                for cell in cells:
                    self.walk(cell, depth)
                    self.flush()
            elif row:
                self.writer.block("row", row)


# --- PDF -----------------------------------------------------------------------------------

_BULLETS = set("•●▪◦○■□◆◇►▸‣⁃∙·➢➤✓✔❖")
_DASH_BULLETS = set("-–—*")
_NUMBER_MARKER = re.compile(r"^(\d{1,2}[.)]|[a-zA-Z][.)]|[ivxIVX]{1,4}[.)]|\(\d{1,2}\)|\([a-z]\)|\([ivx]{1,4}\))$")
_PAGE_NUMBER = re.compile(r"^(page\s*)?[-–(]?\s*\d{1,4}\s*[-–)]?(\s*(of|/)\s*\d{1,4})?$", re.IGNORECASE)
_URLISH = re.compile(r"https?://|www\.|@\w+\.\w")
_LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st", "\u00ad": ""}
_ENDS_SENTENCE = ".!?:;"
_PASSWORD_REASON = "is password-protected (encrypted): save a copy without a password and add that"


@dataclass
class _PdfLine:
    """One printed line of a PDF page with the features that decide its role."""

    page: int
    top: float
    bottom: float
    words: list[dict]
    x0: float = 0.0
    x1: float = 0.0
    full: str = ""  # as printed, cells separated by tabs
    text: str = ""  # without its list marker
    size: float = 0.0
    family: str = ""
    bold: bool = False
    italic: bool = False
    color: tuple = ()
    marker: str | None = None  # "-", "1.", "a." … when the line starts a list item
    text_x0: float = 0.0  # where the item's text starts (after its marker)
    cells: list[float] = field(default_factory=list)  # x0 of each cell after a wide gap
    gap_ratio: float = 0.0  # widest gap between words, in font sizes


def _font_family(fontname: str) -> str:
    name = fontname.split("+", 1)[-1]
    return re.split(r"[-,]", name, maxsplit=1)[0].lower()


def _is_bold(fontname: str) -> bool:
    return bool(re.search(r"bold|black|heavy|semibold|demi", fontname, re.IGNORECASE))


def _is_italic(fontname: str) -> bool:
    return bool(re.search(r"italic|oblique", fontname, re.IGNORECASE))


def _rgb(color) -> tuple:
    """A fill colour as a rounded RGB tuple (grey and CMYK converted; unknown → black)."""
    if isinstance(color, (int, float)):
        color = (color,)
    if not isinstance(color, (tuple, list)) or not all(isinstance(c, (int, float)) for c in color):
        return (0.0, 0.0, 0.0)
    if len(color) == 1:
        color = (color[0],) * 3
    elif len(color) == 4:
        c, m, y, k = color
        color = ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
    elif len(color) != 3:
        return (0.0, 0.0, 0.0)
    return tuple(round(float(v), 2) for v in color)


def _extract_pdf(path: Path, raw: bytes, sha256: str, limits: ExtractLimits = DEFAULT_LIMITS) -> Extracted:
    if b"%%EOF" not in raw[-2048:]:
        raise CorpusError(path, "is truncated or corrupt: the PDF has no end-of-file marker (was the download or copy cut short?)")
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    def encrypted(exc: BaseException) -> bool:
        chain = [exc, exc.__cause__, exc.__context__, *getattr(exc, "args", ())]
        return any(isinstance(e, (PDFPasswordIncorrect, PDFEncryptionError)) for e in chain)

    def unreadable(exc: Exception, what: str) -> CorpusError:
        """The `CorpusError` for a failure of pdfplumber: password, a limit, or corrupt (``what``)."""
        if encrypted(exc):
            return CorpusError(path, _PASSWORD_REASON)
        over = _over_limit(exc)
        if over is not None:
            return CorpusError(path, over.reason)
        return CorpusError(path, f"is corrupt or truncated: {what} ({type(exc).__name__}: {exc})")

    with _bounded_pdf_streams(limits):
        try:
            pdf = pdfplumber.open(io.BytesIO(raw))
        except MemoryError:
            raise
        except Exception as exc:
            raise unreadable(exc, "not a readable PDF") from exc
        try:
            try:
                return _PdfReader(pdf, path, limits).read(sha256)
            finally:
                # _PdfReader made, laid out and closed the pages one at a time; pdfplumber's
                # close() would first build every page the tree lists (20,000 pages: 30 s).
                # The stream is our BytesIO, dropped with ``pdf``.
                pdf.flush_cache()
        except (CorpusError, MemoryError):
            raise
        except Exception as exc:
            raise unreadable(exc, "its pages cannot be read") from exc


_PDF_STREAMS_LOCK = threading.Lock()


class _DecodeBudget:
    """Bytes a PDF's streams may still decode to (`ExtractLimits.max_pdf_decoded_bytes`)."""

    def __init__(self, limits: ExtractLimits) -> None:
        self.limit = limits.max_pdf_decoded_bytes
        self.left = self.limit

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise _OverLimit(
                f"has compressed content that unpacks to more than {_megabytes(self.limit)}, over the limit of "
                f"{_megabytes(self.limit)} of decoded streams for one PDF (a decompression bomb?)"
            )


class _BoundedInflater:
    """A ``zlib.decompressobj`` that charges what it inflates to a `_DecodeBudget`."""

    def __init__(self, budget: _DecodeBudget) -> None:
        self.budget = budget
        self._d = zlib.decompressobj()

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        cap = self.budget.left + 1  # one byte more than the budget holds proves it is over
        out = self._d.decompress(data, min(max_length, cap) if max_length else cap)
        self.budget.spend(len(out))
        return out

    def __getattr__(self, name: str):
        return getattr(self._d, name)


class _BoundedZlib:
    """Stands in for the ``zlib`` module inside ``pdfminer.pdftypes`` while a PDF is read: a
    stream inflates incrementally and stops (`_OverLimit`) once the file's streams have decoded
    to more than the budget, instead of allocating whatever the stream says."""

    error = zlib.error

    def __init__(self, budget: _DecodeBudget) -> None:
        self.budget = budget

    def decompressobj(self, *args, **kwargs) -> _BoundedInflater:
        return _BoundedInflater(self.budget)

    def decompress(self, data: bytes, *args, **kwargs) -> bytes:
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, self.budget.left + 1)
        self.budget.spend(len(out))
        if not inflater.eof:
            raise zlib.error("Error -5 while decompressing data: incomplete or truncated stream")
        return out


@contextlib.contextmanager
def _bounded_pdf_streams(limits: ExtractLimits):
    """While a PDF is read, make pdfminer's stream decoders (Flate, LZW, RunLength) stop at the
    file's decode budget. pdfminer inflates a stream whole (``zlib.decompress``), so a 9 KB
    file could allocate gigabytes before any check could run (issue 17). One PDF at a time per
    process: the decoders are pdfminer's module globals."""
    import pdfminer.pdftypes as pdftypes
    from pdfminer.lzw import LZWDecoder

    budget = _DecodeBudget(limits)
    original_rl = pdftypes.rldecode

    def lzwdecode(data: bytes) -> bytes:
        out = []
        for chunk in LZWDecoder(io.BytesIO(data)).run():
            budget.spend(len(chunk))
            out.append(chunk)
        return b"".join(out)

    def rldecode(data: bytes) -> bytes:
        i, n, size = 0, len(data), 0
        while i < n:  # the decoded size first: a run-length stream can expand 128 times
            length = data[i]
            if length == 128:
                break
            if length < 128:
                size, i = size + length + 1, i + length + 2
            else:
                size, i = size + 257 - length, i + 2
        budget.spend(size)
        return original_rl(data)

    with _PDF_STREAMS_LOCK:
        saved = (pdftypes.zlib, pdftypes.lzwdecode, pdftypes.rldecode)
        pdftypes.zlib, pdftypes.lzwdecode, pdftypes.rldecode = _BoundedZlib(budget), lzwdecode, rldecode
        try:
            yield budget
        finally:
            pdftypes.zlib, pdftypes.lzwdecode, pdftypes.rldecode = saved


def _declared_pages(pdf) -> int | None:
    """The page count a PDF's page tree declares (``/Count`` of its root), read before any page is parsed."""
    from pdfminer.pdftypes import resolve1

    try:
        count = resolve1(resolve1(pdf.doc.catalog["Pages"])["Count"])
    except Exception:
        return None
    return count if isinstance(count, int) else None


def _pages_reason(n: int | str, limits: ExtractLimits) -> str:
    return f"has {n} pages, over the limit of {limits.max_pages:,} pages for one policy file (split it into one file per policy)"


@functools.cache
def _counting_layout_classes():
    """A pdfplumber page device and pdfminer interpreter that count what a page draws and stop
    (`_OverLimit`) past `ExtractLimits.max_page_objects`: characters, paths, images and form
    XObjects invoked (a form drawing a form ten times, nested, multiplies them)."""
    from pdfminer.pdfinterp import PDFPageInterpreter
    from pdfplumber.page import PDFPageAggregatorWithMarkedContent

    class CountingAggregator(PDFPageAggregatorWithMarkedContent):
        def __init__(self, *args, max_objects: int, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.max_objects = max_objects
            self.drawn = 0

        def count(self) -> None:
            self.drawn += 1
            if self.drawn > self.max_objects:
                raise _OverLimit(
                    f"page {self.pageno} draws more than {self.max_objects:,} characters, shapes and forms, over the limit of "
                    f"{self.max_objects:,} for one page (a PDF bomb?)"
                )

        def render_char(self, *args, **kwargs) -> float:
            self.count()
            return super().render_char(*args, **kwargs)

        def paint_path(self, *args, **kwargs) -> None:
            self.count()
            return super().paint_path(*args, **kwargs)

        def render_image(self, *args, **kwargs) -> None:
            self.count()
            return super().render_image(*args, **kwargs)

    class CountingInterpreter(PDFPageInterpreter):
        def do_Do(self, xobjid) -> None:  # pdfminer names its operator handlers do_<operator>
            self.device.count()
            return super().do_Do(xobjid)

    return CountingAggregator, CountingInterpreter


class _PdfReader:
    """Printed lines with their fonts → blocks (headings, paragraphs, list items, table rows).

    The body text style is the (size, face, colour) most characters are set in. A line is
    a heading when it is set larger than that, or in another face that is bold, italic or
    coloured, or in a coloured bold; heading levels follow size, then boldness. A line in
    the body face that is all bold becomes ``**…**``. Lines join into a paragraph while
    they stay aligned with no paragraph gap; a bullet glyph or ``1.``/``a)`` starts a list
    item, nested by its indent; words separated by a gap wider than 1.5 font sizes on a
    short line are table cells.
    """

    def __init__(self, pdf, path: Path, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
        self.pdf = pdf
        self.path = path
        self.limits = limits
        self.writer = _Writer(limits)
        self.notes: list[str] = []
        self.heights: list[float] = []

    def _pages(self):
        """The PDF's pages one at a time (pdfplumber's ``pdf.pages`` builds them all at once),
        each laid out by a device that stops at `ExtractLimits.max_page_objects`; at most
        `ExtractLimits.max_pages`, whatever the page tree declares."""
        from pdfminer.pdfpage import PDFPage
        from pdfplumber.page import Page

        declared = _declared_pages(self.pdf)
        if declared is not None and declared > self.limits.max_pages:
            raise CorpusError(self.path, _pages_reason(f"{declared:,}", self.limits))
        for number, _ in enumerate(PDFPage.create_pages(self.pdf.doc), start=1):  # a tree may lie about its count
            if number > self.limits.max_pages:
                raise CorpusError(self.path, _pages_reason(f"more than {self.limits.max_pages:,}", self.limits))
        aggregator, interpreter = _counting_layout_classes()
        doctop = 0.0
        for number, page_obj in enumerate(PDFPage.create_pages(self.pdf.doc), start=1):
            page = Page(self.pdf, page_obj, page_number=number, initial_doctop=doctop)
            doctop += page.height
            device = aggregator(self.pdf.rsrcmgr, pageno=number, laparams=self.pdf.laparams, max_objects=self.limits.max_page_objects)
            interpreter(self.pdf.rsrcmgr, device).process_page(page_obj)
            page._layout = device.get_result()  # pdfplumber reads a page's layout from here (Page.layout)
            yield number, page

    @staticmethod
    def _page_lines(page, number: int) -> list[_PdfLine]:
        words = page.extract_words(x_tolerance=1.5, y_tolerance=3, extra_attrs=["fontname", "size", "non_stroking_color"])
        words = [w for w in words if w["text"].strip() and w.get("upright", True)]
        lines: list[_PdfLine] = []
        for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
            mid = (w["top"] + w["bottom"]) / 2
            for line in reversed(lines[-3:]):
                if line.top - 1 <= mid <= line.bottom + 1:
                    line.words.append(w)
                    line.top, line.bottom = min(line.top, w["top"]), max(line.bottom, w["bottom"])
                    break
            else:
                lines.append(_PdfLine(number, w["top"], w["bottom"], [w]))
        for line in lines:
            line.words.sort(key=lambda w: w["x0"])
            line.x0, line.x1 = line.words[0]["x0"], line.words[-1]["x1"]
        lines.sort(key=lambda ln: (ln.top, ln.x0))
        return lines

    def _strip_running_lines(self, pages: list[list[_PdfLine]]) -> None:
        """Drop page numbers, and headers/footers that repeat on at least half the pages."""
        if len(pages) < 2:
            return
        heights = self.heights
        counts: Counter[str] = Counter()
        keys: dict[int, str] = {}
        for lines in pages:
            seen = set()
            for ln in lines:
                height = heights[ln.page - 1]
                if ln.top < 0.1 * height or ln.bottom > 0.9 * height:
                    key = re.sub(r"\d+", "#", " ".join(w["text"] for w in ln.words).lower())
                    keys[id(ln)] = key
                    seen.add(key)
            counts.update(seen)
        threshold = max(2, (len(pages) + 1) // 2)
        for i, lines in enumerate(pages):
            pages[i] = [
                ln
                for ln in lines
                if id(ln) not in keys
                or not (counts[keys[id(ln)]] >= threshold or _PAGE_NUMBER.match(" ".join(w["text"] for w in ln.words)))
            ]

    @staticmethod
    def _describe(line: _PdfLine) -> None:
        chars: Counter[tuple] = Counter()
        for w in line.words:
            chars[(w["fontname"], round(float(w["size"]), 1), _rgb(w.get("non_stroking_color")))] += len(w["text"])
        (font, size, color), _ = chars.most_common(1)[0]
        line.size, line.family, line.color = size, _font_family(font), color
        wordy = [w for w in line.words if any(c.isalnum() for c in w["text"])] or line.words
        line.bold = all(_is_bold(w["fontname"]) for w in wordy)
        line.italic = all(_is_italic(w["fontname"]) for w in wordy)
        words = line.words
        parts: list[str] = []
        for i, w in enumerate(words):
            if i:
                gap = w["x0"] - words[i - 1]["x1"]
                line.gap_ratio = max(line.gap_ratio, gap / max(size, 1.0))
                if gap > 1.0 * size:
                    parts.append("\t")
                    line.cells.append(w["x0"])
                elif gap > 0.12 * size:
                    parts.append(" ")  # (a smaller gap splits one word set in two fonts)
            parts.append(w["text"])
        text = "".join(parts)
        for lig, rep in _LIGATURES.items():
            text = text.replace(lig, rep)
        line.full = line.text = text
        line.text_x0 = line.x0
        if len(words) < 2:
            return
        glyph, rest = words[0]["text"].strip(), words[1:]
        spaced = rest[0]["x0"] - words[0]["x1"] >= 0.5 * size  # "– which …" is a dash, not a bullet
        private = len(glyph) == 1 and 0xF000 <= ord(glyph) <= 0xF0FF  # Symbol/Wingdings bullets
        other_font = words[0]["fontname"] != rest[0]["fontname"]
        if glyph in _BULLETS or private or (glyph in _DASH_BULLETS and spaced) or (glyph == "o" and other_font and spaced):
            line.marker = "-"
        elif _NUMBER_MARKER.match(glyph):
            line.marker = glyph
        if line.marker is not None:
            line.text_x0 = rest[0]["x0"]
            line.text = re.split(r"[ \t]", text, maxsplit=1)[1] if re.search(r"[ \t]", text) else ""
            if line.cells and abs(line.cells[0] - line.text_x0) < 0.5:
                line.cells.pop(0)  # the gap after a bullet is not a table column

    def read(self, sha256: str) -> Extracted:
        pages: list[list[_PdfLine]] = []
        image_only: list[int] = []
        characters = 0
        for number, page in self._pages():
            lines = self._page_lines(page, number)
            if not lines and page.images:
                image_only.append(number)
            pages.append(lines)
            self.heights.append(float(page.height))
            page.close()  # drop the page's layout and objects: only its lines are kept
            characters += sum(len(w["text"]) for ln in lines for w in ln.words)
            if characters > self.limits.max_characters:
                raise CorpusError(self.path, _characters_reason(self.limits))
        if not pages:
            raise CorpusError(self.path, "has no pages")
        if not any(pages):
            if image_only:
                raise CorpusError(
                    self.path,
                    "has no text layer: it is a scanned image, and OCR is not supported "
                    "(add the original Word file, or a PDF saved from it rather than scanned)",
                )
            raise CorpusError(self.path, "contains no text")
        if image_only:
            self.notes.append(
                f"{self.path.name}: page(s) {', '.join(map(str, image_only))} have no text layer (scanned) and were left out: OCR is not supported"
            )
        self._strip_running_lines(pages)
        lines = [ln for page_lines in pages for ln in page_lines]
        for ln in lines:
            self._describe(ln)
        if lines:
            self._emit(lines)
        try:
            title = _plausible_title((self.pdf.metadata or {}).get("Title"), self.path)
        except Exception:  # undecodable metadata: no title
            title = None
        text = self.writer.text()
        starts = list(self.writer.page_starts)
        starts += [len(text)] * (len(pages) - len(starts))
        return Extracted(text, sha256, "pdf", tuple(starts), title, tuple(self.notes))

    def _emit(self, lines: list[_PdfLine]) -> None:
        weight: Counter[tuple] = Counter()
        for ln in lines:
            weight[(ln.size, ln.family, ln.color)] += len(ln.full)
        (body_size, body_family, body_color), _ = weight.most_common(1)[0]
        body = [ln for ln in lines if ln.size == body_size and ln.family == body_family]
        xs = sorted(ln.x0 for ln in body)
        left = Counter(round(x) for x in xs).most_common(1)[0][0]
        right = statistics.quantiles([ln.x1 for ln in body], n=10)[-1] if len(body) >= 10 else max(ln.x1 for ln in body)
        width = max(right - left, 1.0)

        def heading_like(ln: _PdfLine) -> bool:
            if ln.cells or ln.marker == "-" or len(ln.full) > 200 or not any(c.isalpha() for c in ln.full) or _URLISH.search(ln.full):
                return False
            if ln.size >= body_size + 0.9:
                return True
            coloured = ln.color != body_color
            if ln.family != body_family and (ln.bold or ln.italic or coloured):
                return True
            return ln.bold and coloured

        first_seen: dict[tuple, int] = {}
        for i, ln in enumerate(lines):
            if heading_like(ln):
                first_seen.setdefault((ln.size, ln.family, ln.bold, ln.italic, ln.color), i)
        # larger first, then bold; among equals, the style the document uses first ranks higher
        styles = sorted(first_seen, key=lambda s: (-s[0], not s[2], first_seen[s]))
        levels = {style: min(i + 1, 6) for i, style in enumerate(styles)}

        def is_row(ln: _PdfLine, prev_cells: list[float] | None) -> bool:
            if ln.cells and ((ln.x1 - ln.x0) < 0.9 * width or len(ln.cells) >= 2 or ln.gap_ratio > 4):
                return True
            # a wrapped cell of the row above: starts under one of its columns, right of the text
            return bool(prev_cells and ln.marker is None and ln.x0 > left + 20 and any(abs(ln.x0 - c) <= 3 for c in prev_cells))

        block: dict | None = None
        list_indents: list[float] = []
        prev: _PdfLine | None = None
        prev_cells: list[float] | None = None

        def finish() -> None:
            nonlocal block
            if block is None:
                return
            pieces, kind = block["pieces"], block["kind"]
            text = "".join(t for t, _ in pieces)
            if kind == "heading" and len(text) <= 200:
                pieces = [("#" * block["level"] + " ", pieces[0][1]), *pieces]
            elif kind == "bold":
                if not text.rstrip().endswith(":"):
                    pieces = [("**", pieces[0][1]), *pieces, ("**", pieces[-1][1])]
            elif kind == "item":
                pieces = [("    " * block["depth"] + block["marker"] + " ", pieces[0][1]), *pieces]
            elif kind == "row" and block["indented"]:
                pieces = [("\t", pieces[0][1]), *pieces]
            self.writer.block("para" if kind in ("bold", "heading") else kind, text, pieces=pieces)
            block = None

        def start(kind: str, ln: _PdfLine, text: str, **extra) -> None:
            nonlocal block
            finish()
            block = {"kind": kind, "pieces": [(text, ln.page)], "last": ln, "x0": ln.x0, **extra}

        def append(ln: _PdfLine, text: str) -> None:
            assert block is not None
            last = block["pieces"][-1][0]
            if last.endswith("-") and len(last) >= 2 and last[-2].isalpha() and text[:1].isalpha():
                block["pieces"].append((text, ln.page))  # a hyphenated compound split at the line end
            else:
                block["pieces"].append((" " + text, ln.page))
            block["last"] = ln

        for ln in lines:
            page_break = prev is not None and ln.page != prev.page
            gap = ln.top - prev.bottom if prev is not None and not page_break else None
            if is_row(ln, prev_cells if not page_break else None):
                start("row", ln, ln.full, indented=ln.x0 > left + 20)
                finish()
                prev, prev_cells = ln, [ln.x0, *ln.cells] if ln.cells or not prev_cells else prev_cells
                continue
            prev_cells = None
            full = ln.full.replace("\t", " ")
            continues = (
                block is not None
                and block["kind"] in ("para", "item", "bold")
                and gap is not None
                and gap <= 0.45 * max(ln.size, 1.0)
                and ln.size <= body_size + 0.5
                and block["last"].full.rstrip()[-1:] not in _ENDS_SENTENCE
            )  # a coloured or bold link that wrapped onto its own line is not a heading
            if heading_like(ln) and not continues:
                style = (ln.size, ln.family, ln.bold, ln.italic, ln.color)
                if block is not None and block["kind"] == "heading" and block["style"] == style and gap is not None and gap < 0.8 * ln.size:
                    append(ln, full)
                else:
                    list_indents = []
                    start("heading", ln, full, level=levels[style], style=style)
                prev = ln
                continue
            if ln.marker is not None:
                while list_indents and list_indents[-1] > ln.x0 + 2:
                    list_indents.pop()
                if not list_indents or ln.x0 > list_indents[-1] + 2:
                    list_indents.append(ln.x0)
                start("item", ln, ln.text.replace("\t", " "), marker=ln.marker, depth=len(list_indents) - 1, text_x0=ln.text_x0)
                prev = ln
                continue
            bold_line = ln.bold and ln.size <= body_size + 0.5
            if block is not None and block["kind"] in ("para", "item", "bold"):
                last: _PdfLine = block["last"]
                # an item's lines align with its text; a paragraph's may follow a first-line indent
                aligned = abs(ln.x0 - block["text_x0"]) <= 3 if block["kind"] == "item" else block["x0"] - 30 <= ln.x0 <= block["x0"] + 3
                same_size = abs(ln.size - last.size) <= 0.5
                ended = last.full.rstrip()[-1:] in _ENDS_SENTENCE
                wrapped = last.x1 >= right - 0.2 * width  # the line ran on to the right margin
                if page_break:
                    sentence_over = last.full.rstrip()[-1:] in ".!?"
                    joins = aligned and same_size and (ln.text[:1].islower() or (wrapped and not sentence_over))
                else:
                    para_gap = gap is not None and gap > 0.45 * max(ln.size, 1.0)
                    joins = aligned and same_size and not para_gap and (wrapped or not ended)
                if joins:
                    if block["kind"] == "bold" and not bold_line:
                        block["kind"] = "para"  # a paragraph that opens in bold
                    append(ln, full)
                    prev = ln
                    continue
            if list_indents and ln.x0 <= list_indents[0] + 2:
                list_indents = []
            start("bold" if bold_line else "para", ln, full)
            prev = ln
        finish()
