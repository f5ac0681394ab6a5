"""From a PDF's printed lines to blocks: which lines are headings, list items, table rows or paragraphs.

`PdfLine` is one printed line with the features that decide its role (set by
`assistant.formats.pdf`). `write_blocks` finds the body text style, ranks the heading
styles, then walks the lines in reading order: `_BodyText` judges each line against the
body text, and `_BlockBuilder` gathers lines into the block being built (a `PdfBlock`)
and writes it out when the next block starts.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from .writer import BlockWriter

_URLISH = re.compile(r"https?://|www\.|@\w+\.\w")
_ENDS_SENTENCE = ".!?:;"


@dataclass
class PdfLine:
    """One printed line of a PDF page with the features that decide its role.

    Positions are in PDF points from the page's top-left corner; ``size`` in points.
    """

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


@dataclass
class PdfBlock:
    """The block being built from one or more printed lines.

    Attributes:
        kind: ``heading``, ``para``, ``bold`` (a paragraph all in bold), ``item`` or ``row``.
        pieces: the block's text as (fragment, page number) pairs, one per line joined.
        last: the last line joined.
        x0: where the first line starts.
        level: ``heading`` only: its level, 1–6.
        style: ``heading`` only: (size, family, bold, italic, colour); a line in the same style
            continues the heading.
        marker: ``item`` only: ``-`` or the item's number as printed (``1.``, ``a)``).
        depth: ``item`` only: its nesting level, from 0.
        text_x0: ``item`` only: where the item's text starts; its wrapped lines align there.
        indented: ``row`` only: the row starts right of the body text (a continuation cell).
    """

    kind: str
    pieces: list[tuple[str, int]]
    last: PdfLine
    x0: float
    level: int = 0
    style: tuple | None = None
    marker: str = ""
    depth: int = 0
    text_x0: float = 0.0
    indented: bool = False


@dataclass(frozen=True)
class _BodyText:
    """The style and column of the body text, and the judgements made against it."""

    size: float
    family: str
    color: tuple
    left: float  # the commonest left edge of body lines
    right: float  # the 90th percentile of their right edges (the right margin)
    width: float

    @classmethod
    def of(cls, lines: list[PdfLine]) -> _BodyText:
        """The body text of a document: the (size, family, colour) most characters are set in."""
        weight: Counter[tuple] = Counter()
        for ln in lines:
            weight[(ln.size, ln.family, ln.color)] += len(ln.full)
        (size, family, color), _ = weight.most_common(1)[0]
        body = [ln for ln in lines if ln.size == size and ln.family == family]
        xs = sorted(ln.x0 for ln in body)
        left = Counter(round(x) for x in xs).most_common(1)[0][0]
        right = statistics.quantiles([ln.x1 for ln in body], n=10)[-1] if len(body) >= 10 else max(ln.x1 for ln in body)
        return cls(size, family, color, left, right, max(right - left, 1.0))

    def heading_like(self, ln: PdfLine) -> bool:
        """Whether ``ln`` is set like a heading: larger, or another face in bold/italic/colour, or coloured bold."""
        if ln.cells or ln.marker == "-" or len(ln.full) > 200 or not any(c.isalpha() for c in ln.full) or _URLISH.search(ln.full):
            return False
        if ln.size >= self.size + 0.9:
            return True
        coloured = ln.color != self.color
        if ln.family != self.family and (ln.bold or ln.italic or coloured):
            return True
        return ln.bold and coloured

    def is_row(self, ln: PdfLine, prev_cells: list[float] | None) -> bool:
        """Whether ``ln`` is a table row, given the cell positions of the row above (None if none)."""
        if ln.cells and ((ln.x1 - ln.x0) < 0.9 * self.width or len(ln.cells) >= 2 or ln.gap_ratio > 4):
            return True
        # a wrapped cell of the row above: starts under one of its columns, right of the text
        return bool(prev_cells and ln.marker is None and ln.x0 > self.left + 20 and any(abs(ln.x0 - c) <= 3 for c in prev_cells))


class _BlockBuilder:
    """Builds one `PdfBlock` at a time and writes each, marked up, to a `BlockWriter`."""

    def __init__(self, writer: BlockWriter) -> None:
        self.writer = writer
        self.block: PdfBlock | None = None

    def start(self, kind: str, ln: PdfLine, text: str, **extra) -> None:
        """Write the block being built, and start a ``kind`` block with ``ln`` (``extra``: `PdfBlock` fields)."""
        self.finish()
        self.block = PdfBlock(kind=kind, pieces=[(text, ln.page)], last=ln, x0=ln.x0, **extra)

    def append(self, ln: PdfLine, text: str) -> None:
        """Join ``ln`` (its ``text``) to the block being built."""
        block = self.block
        assert block is not None
        last = block.pieces[-1][0]
        if last.endswith("-") and len(last) >= 2 and last[-2].isalpha() and text[:1].isalpha():
            block.pieces.append((text, ln.page))  # a hyphenated compound split at the line end
        else:
            block.pieces.append((" " + text, ln.page))
        block.last = ln

    def finish(self) -> None:
        """Write the block being built, if any, with its markup: ``#``, ``**…**``, marker, or a leading tab."""
        block = self.block
        if block is None:
            return
        pieces, kind = block.pieces, block.kind
        text = "".join(t for t, _ in pieces)
        if kind == "heading" and len(text) <= 200:
            pieces = [("#" * block.level + " ", pieces[0][1]), *pieces]
        elif kind == "bold":
            if not text.rstrip().endswith(":"):
                pieces = [("**", pieces[0][1]), *pieces, ("**", pieces[-1][1])]
        elif kind == "item":
            pieces = [("    " * block.depth + block.marker + " ", pieces[0][1]), *pieces]
        elif kind == "row" and block.indented:
            pieces = [("\t", pieces[0][1]), *pieces]
        self.writer.block("para" if kind in ("bold", "heading") else kind, text, pieces=pieces)
        self.block = None


def write_blocks(lines: list[PdfLine], writer: BlockWriter) -> None:
    """Write a document's printed lines to ``writer`` as headings, paragraphs, list items and table rows.

    A line is a heading when it is set larger than the body text, or in another face that
    is bold, italic or coloured, or in a coloured bold; heading levels follow size, then
    boldness, then first use. Lines join into a paragraph while they stay aligned with no
    paragraph gap; a list marker starts an item, nested by its indent.

    Args:
        lines: every line of the document in reading order, described (not empty).
        writer: where the blocks go.

    Raises:
        LimitExceeded: the text grows past the writer's ``max_characters``.
    """
    body = _BodyText.of(lines)
    first_seen: dict[tuple, int] = {}
    for i, ln in enumerate(lines):
        if body.heading_like(ln):
            first_seen.setdefault((ln.size, ln.family, ln.bold, ln.italic, ln.color), i)
    # larger first, then bold; among equals, the style the document uses first ranks higher
    styles = sorted(first_seen, key=lambda s: (-s[0], not s[2], first_seen[s]))
    levels = {style: min(i + 1, 6) for i, style in enumerate(styles)}

    builder = _BlockBuilder(writer)
    list_indents: list[float] = []
    prev: PdfLine | None = None
    prev_cells: list[float] | None = None
    for ln in lines:
        page_break = prev is not None and ln.page != prev.page
        gap = ln.top - prev.bottom if prev is not None and not page_break else None
        if body.is_row(ln, prev_cells if not page_break else None):
            builder.start("row", ln, ln.full, indented=ln.x0 > body.left + 20)
            builder.finish()
            prev, prev_cells = ln, [ln.x0, *ln.cells] if ln.cells or not prev_cells else prev_cells
            continue
        prev_cells = None
        full = ln.full.replace("\t", " ")
        block = builder.block
        continues = (
            block is not None
            and block.kind in ("para", "item", "bold")
            and gap is not None
            and gap <= 0.45 * max(ln.size, 1.0)
            and ln.size <= body.size + 0.5
            and block.last.full.rstrip()[-1:] not in _ENDS_SENTENCE
        )  # a coloured or bold link that wrapped onto its own line is not a heading
        if body.heading_like(ln) and not continues:
            style = (ln.size, ln.family, ln.bold, ln.italic, ln.color)
            if block is not None and block.kind == "heading" and block.style == style and gap is not None and gap < 0.8 * ln.size:
                builder.append(ln, full)
            else:
                list_indents = []
                builder.start("heading", ln, full, level=levels[style], style=style)
            prev = ln
            continue
        if ln.marker is not None:
            while list_indents and list_indents[-1] > ln.x0 + 2:
                list_indents.pop()
            if not list_indents or ln.x0 > list_indents[-1] + 2:
                list_indents.append(ln.x0)
            builder.start("item", ln, ln.text.replace("\t", " "), marker=ln.marker, depth=len(list_indents) - 1, text_x0=ln.text_x0)
            prev = ln
            continue
        bold_line = ln.bold and ln.size <= body.size + 0.5
        if block is not None and block.kind in ("para", "item", "bold"):
            last = block.last
            # an item's lines align with its text; a paragraph's may follow a first-line indent
            aligned = abs(ln.x0 - block.text_x0) <= 3 if block.kind == "item" else block.x0 - 30 <= ln.x0 <= block.x0 + 3
            same_size = abs(ln.size - last.size) <= 0.5
            ended = last.full.rstrip()[-1:] in _ENDS_SENTENCE
            wrapped = last.x1 >= body.right - 0.2 * body.width  # the line ran on to the right margin
            if page_break:
                sentence_over = last.full.rstrip()[-1:] in ".!?"
                joins = aligned and same_size and (ln.text[:1].islower() or (wrapped and not sentence_over))
            else:
                para_gap = gap is not None and gap > 0.45 * max(ln.size, 1.0)
                joins = aligned and same_size and not para_gap and (wrapped or not ended)
            if joins:
                if block.kind == "bold" and not bold_line:
                    block.kind = "para"  # a paragraph that opens in bold
                builder.append(ln, full)
                prev = ln
                continue
        if list_indents and ln.x0 <= list_indents[0] + 2:
            list_indents = []
        builder.start("bold" if bold_line else "para", ln, full)
        prev = ln
    builder.finish()
