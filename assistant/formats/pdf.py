"""PDF policies: the text layer, read line by line with its fonts, through pdfplumber.

`read_pdf` opens the file with pdfminer's decoders bounded (`assistant.formats.pdf_limits`),
lays the pages out one at a time, groups words into printed lines (`PdfLine`), drops
running headers, footers and page numbers, and describes each line (font, size, colour,
list marker, table cells); `assistant.formats.pdf_layout` turns the lines into blocks.
The text records where each page starts, so a clause can be cited with its page.
OCR is not supported: a page with no text layer is left out and named.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

from ..errors import CorpusError
from .base import DEFAULT_LIMITS, Extracted, ExtractLimits, characters_reason, find_limit_exceeded
from .pdf_layout import PdfLine, write_blocks
from .pdf_limits import bounded_pdf_streams, counting_layout_classes, declared_pages, pages_reason
from .writer import BlockWriter, plausible_title

_BULLETS = set("•●▪◦○■□◆◇►▸‣⁃∙·➢➤✓✔❖")
_DASH_BULLETS = set("-–—*")
_NUMBER_MARKER = re.compile(r"^(\d{1,2}[.)]|[a-zA-Z][.)]|[ivxIVX]{1,4}[.)]|\(\d{1,2}\)|\([a-z]\)|\([ivx]{1,4}\))$")
_PAGE_NUMBER = re.compile(r"^(page\s*)?[-–(]?\s*\d{1,4}\s*[-–)]?(\s*(of|/)\s*\d{1,4})?$", re.IGNORECASE)
_LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st", "\u00ad": ""}
_PASSWORD_REASON = "is password-protected (encrypted): save a copy without a password and add that"


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


def read_pdf(path: Path, raw: bytes, sha256: str, limits: ExtractLimits = DEFAULT_LIMITS) -> Extracted:
    """Read a PDF's text layer: printed lines with their fonts become headings, paragraphs, list items and rows.

    Running headers, footers and page numbers are dropped; pages that are only images
    (scanned) are left out and named in ``notes``.

    Args:
        path: the file, for messages.
        raw: the whole file (sniffed as a PDF).
        sha256: hex SHA-256 of ``raw``.
        limits: pages, decoded stream bytes, objects drawn per page, and characters.

    Returns:
        An `Extracted` of format ``"pdf"`` with the offset where each page starts and the
        title from the document's metadata.

    Raises:
        CorpusError: truncated (no end-of-file marker), corrupt, password-protected, no text
            layer at all (scanned), or over a limit (the message names it).
    """
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
        over = find_limit_exceeded(exc)
        if over is not None:
            return CorpusError(path, over.reason)
        return CorpusError(path, f"is corrupt or truncated: {what} ({type(exc).__name__}: {exc})")

    with bounded_pdf_streams(limits):
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


class _PdfReader:
    """Printed lines with their fonts → blocks (headings, paragraphs, list items, table rows).

    This class reads the pages and describes each printed line (font, size, colour, list
    marker, cells); `write_blocks` decides the blocks. The body text style is the (size, face,
    colour) most characters are set in. A line is a heading when it is set larger than that,
    or in another face that is bold, italic or coloured, or in a coloured bold; heading levels
    follow size, then boldness. A line in the body face that is all bold becomes ``**…**``.
    Lines join into a paragraph while they stay aligned with no paragraph gap; a bullet glyph
    or ``1.``/``a)`` starts a list item, nested by its indent; words separated by a gap wider
    than 1.5 font sizes on a short line are table cells.
    """

    def __init__(self, pdf, path: Path, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
        self.pdf = pdf
        self.path = path
        self.limits = limits
        self.writer = BlockWriter(limits)
        self.notes: list[str] = []
        self.heights: list[float] = []

    def _pages(self):
        """The PDF's pages one at a time (pdfplumber's ``pdf.pages`` builds them all at once).

        Each is laid out by a device that stops at `ExtractLimits.max_page_objects`; at most
        `ExtractLimits.max_pages`, whatever the page tree declares.
        """
        from pdfminer.pdfpage import PDFPage
        from pdfplumber.page import Page

        declared = declared_pages(self.pdf)
        if declared is not None and declared > self.limits.max_pages:
            raise CorpusError(self.path, pages_reason(f"{declared:,}", self.limits))
        for number, _ in enumerate(PDFPage.create_pages(self.pdf.doc), start=1):  # a tree may lie about its count
            if number > self.limits.max_pages:
                raise CorpusError(self.path, pages_reason(f"more than {self.limits.max_pages:,}", self.limits))
        aggregator, interpreter = counting_layout_classes()
        doctop = 0.0
        for number, page_obj in enumerate(PDFPage.create_pages(self.pdf.doc), start=1):
            page = Page(self.pdf, page_obj, page_number=number, initial_doctop=doctop)
            doctop += page.height
            device = aggregator(self.pdf.rsrcmgr, pageno=number, laparams=self.pdf.laparams, max_objects=self.limits.max_page_objects)
            interpreter(self.pdf.rsrcmgr, device).process_page(page_obj)
            page._layout = device.get_result()  # pdfplumber reads a page's layout from here (Page.layout)
            yield number, page

    @staticmethod
    def _page_lines(page, number: int) -> list[PdfLine]:
        words = page.extract_words(x_tolerance=1.5, y_tolerance=3, extra_attrs=["fontname", "size", "non_stroking_color"])
        words = [w for w in words if w["text"].strip() and w.get("upright", True)]
        lines: list[PdfLine] = []
        for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
            mid = (w["top"] + w["bottom"]) / 2
            for line in reversed(lines[-3:]):
                if line.top - 1 <= mid <= line.bottom + 1:
                    line.words.append(w)
                    line.top, line.bottom = min(line.top, w["top"]), max(line.bottom, w["bottom"])
                    break
            else:
                lines.append(PdfLine(number, w["top"], w["bottom"], [w]))
        for line in lines:
            line.words.sort(key=lambda w: w["x0"])
            line.x0, line.x1 = line.words[0]["x0"], line.words[-1]["x1"]
        lines.sort(key=lambda ln: (ln.top, ln.x0))
        return lines

    def _strip_running_lines(self, pages: list[list[PdfLine]]) -> None:
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
    def _describe(line: PdfLine) -> None:
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
        pages: list[list[PdfLine]] = []
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
                raise CorpusError(self.path, characters_reason(self.limits))
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
            write_blocks(lines, self.writer)
        try:
            title = plausible_title((self.pdf.metadata or {}).get("Title"), self.path)
        except Exception:  # undecodable metadata: no title
            title = None
        text = self.writer.text()
        starts = list(self.writer.page_starts)
        starts += [len(text)] * (len(pages) - len(starts))
        return Extracted(text, sha256, "pdf", tuple(starts), title, tuple(self.notes))
