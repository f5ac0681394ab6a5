"""The output every reader writes: markdown-like blocks, and the inline helpers they share.

A reader turns its document into blocks (``heading``, ``para``, ``item``, ``row``) and hands
each to a `BlockWriter`, which joins them with the separators the clause chunker expects
(a blank line between blocks; one newline between consecutive list items or table rows),
remembers where each PDF page starts, and stops at ``ExtractLimits.max_characters``.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import DEFAULT_LIMITS, ExtractLimits, LimitExceeded, characters_reason


class BlockWriter:
    """Accumulates blocks into markdown-like text and remembers where pages start.

    Attributes:
        page_starts: offsets in the text where pages 1, 2, … start (only pages that have
            begun; PDF only).
    """

    def __init__(self, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
        """Start an empty text that may grow to ``limits.max_characters``."""
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
            raise LimitExceeded(characters_reason(self.limits))

    def block(self, kind: str, text: str, pieces: list[tuple[str, int]] | None = None) -> None:
        """Add a block; a block of only whitespace is skipped.

        Args:
            kind: ``heading``, ``para``, ``item`` or ``row``.
            text: the block, already marked up (``# …``, ``- …``, tab-separated cells).
            pieces: PDF only: the block's text as (fragment, page number) pairs, written
                instead of ``text`` so that a block running onto the next page records
                where that page starts.

        Raises:
            LimitExceeded: the text has grown past ``max_characters``.
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
        """The text written so far, ending in one newline (empty if nothing was written)."""
        return "".join(self.parts) + ("\n" if self.parts else "")


def clean_inline(text: str) -> str:
    """Collapse runs of spaces (not tabs or newlines), strip each line and drop empty lines."""
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    lines = [re.sub(r"[ \f\v]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)


def as_bold(text: str) -> str:
    """``**text**``, unless ``text`` already holds ``**`` or spans lines."""
    return f"**{text}**" if "**" not in text and "\n" not in text else text


def row_text(cells: list[str]) -> str | None:
    """A table row of short cells as one tab-separated line.

    Returns:
        The cells joined by tabs when each is at most 60 characters; ``""`` when every cell
        is empty; None when a cell holds prose (the caller reads the cells as paragraphs).
    """
    cells = [re.sub(r"\s+", " ", c).strip() for c in cells]
    if not any(cells):
        return ""
    if all(len(c) <= 60 for c in cells):
        return "\t".join(cells)
    return None


def number_in_style(style: str, n: int) -> str:
    """``n`` written in a numbering style (Word ``numFmt`` or HTML ``<ol type>``): 3, c, C, iii, III.

    Args:
        style: ``lowerLetter``/``a``, ``upperLetter``/``A``, ``lowerRoman``/``i``,
            ``upperRoman``/``I``; anything else is decimal.
        n: the item's number, from 1 (letters past 26 fall back to decimal).
    """
    if style in ("lowerLetter", "a") and 1 <= n <= 26:
        return chr(96 + n)
    if style in ("upperLetter", "A") and 1 <= n <= 26:
        return chr(64 + n)
    if style in ("lowerRoman", "i"):
        return _roman(n)
    if style in ("upperRoman", "I"):
        return _roman(n).upper()
    return str(n)


def _roman(n: int) -> str:
    """``n`` in lower-case Roman numerals (``""`` for 0)."""
    out = ""
    for value, sym in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):  # fmt: skip
        while n >= value:
            out += sym
            n -= value
    return out


def plausible_title(title: str | None, path: Path) -> str | None:
    """A title a file declares, with whitespace collapsed, if it reads like a real title.

    Args:
        title: the declared title (document properties, ``<title>``, first ``h1``) or None.
        path: the file: a title that is just its name is no title.

    Returns:
        The title, or None when it is empty, over 150 characters, one word, an application's
        default ("Microsoft Word - …", "Untitled"), or a file name.
    """
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
