"""Lines to a stream of headings, blocks (paragraphs and list items) and breaks.

`tokenise` reads the document line by line: blank lines are breaks, signature/date/form
lines and tables are dropped, headings are recognised (`heading_of`), and the remaining
lines are gathered into paragraphs and list items with their character offsets.
`merge_continuations` then rejoins a paragraph that a page break split in two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .headings import LIST_ITEM, MD_HEADING, heading_of
from .markup import clean_markup

#: Characters a finished sentence or rule ends with.
TERMINAL = ".!?;:)\"'”’"

_ADMIN_LINE = re.compile(
    r"^(signed|signature|print name|full name|name|date|job title|authori[sz]ed by|approved by|"
    r"last reviewed|next review|review dates?|agreed|reviewed|adopted)\b",
    re.IGNORECASE,
)
_ACKNOWLEDGEMENT = re.compile(r"^(i (agree|have read|understand and agree)|please (sign|read))\b|\bsign below\b", re.IGNORECASE)
_FILL_IN = re.compile(r"_{3,}|\.{4,}|…{2,}")
_TABLE_RULE = re.compile(r"^[\s|:+-]*-{3,}[\s|:+-]*$")


@dataclass
class Line:
    """One source line: ``raw`` (without its line break) spans ``start``–``end`` of the document text."""

    start: int
    end: int
    raw: str

    @property
    def stripped(self) -> str:
        """The line without leading and trailing whitespace."""
        return self.raw.strip()


@dataclass
class Block:
    """A paragraph or list item: one or more source lines.

    Attributes:
        kind: ``"para"`` or ``"item"``.
        start, end: character offsets of its body in the document text.
        text: its text (markup kept; lines joined by a space).
        indent: a list item's indentation in columns (tabs count 4); 0 for a paragraph.
    """

    kind: str
    start: int
    end: int
    text: str
    indent: int = 0


#: One token of the stream: ("heading", Heading) | ("block", Block) | ("break", None).
Token = tuple[str, object]


def split_lines(text: str) -> list[Line]:
    """``text`` as `Line`s, with the offsets of each line's text (line breaks excluded)."""
    lines, pos = [], 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        lines.append(Line(pos, pos + len(body), body))
        pos += len(raw)
    return lines


def _is_admin_line(text: str) -> bool:
    """Signature, date and form lines, tables and rules: never clauses."""
    if "\t" in text or _TABLE_RULE.match(text) or _FILL_IN.search(text):
        return True
    plain = clean_markup(text)
    if len(plain) <= 70 and _ADMIN_LINE.match(plain):
        return True
    return bool(len(plain) <= 200 and _ACKNOWLEDGEMENT.search(plain))


def tokenise(lines: list[Line]) -> list[Token]:
    """Turn lines into a stream of ("heading", Heading) | ("block", Block) | ("break", None)."""
    out: list[Token] = []
    n = len(lines)
    i = 0
    current: Block | None = None

    def flush() -> None:
        nonlocal current
        if current is not None:
            out.append(("block", current))
            current = None

    while i < n:
        line = lines[i]
        s = line.stripped
        if not s:
            flush()
            out.append(("break", None))
            i += 1
            continue
        if _is_admin_line(line.raw):
            flush()
            i += 1
            continue
        prev_blank = i == 0 or not lines[i - 1].stripped
        next_blank = i + 1 >= n or not lines[i + 1].stripped
        heading = heading_of(line.raw, prev_blank, next_blank)
        if heading is not None:
            flush()
            out.append(("heading", heading))
            i += 1
            continue
        m = LIST_ITEM.match(line.raw)
        body_start = line.start + (line.raw.index(s) if s else 0)
        if m:
            flush()
            indent = len(m.group("indent").expandtabs(4))
            current = Block("item", line.start + m.start("body"), line.end, m.group("body"), indent)
        elif current is not None:
            current.text += " " + s
            current.end = line.end
        else:
            md = MD_HEADING.match(s)  # a "#### rule sentence." line is body text
            offset = s.index(md.group(2)) if md and md.group(2) else 0
            current = Block("para", body_start + offset, line.end, s[offset:])
        i += 1
    flush()
    return out


def merge_continuations(stream: list[Token]) -> list[Token]:
    """Join a block broken across a blank line (page-break artefacts in converted documents)."""
    merged: list[Token] = []
    last_block: Block | None = None
    for kind, value in stream:
        if kind == "block":
            block = value
            assert isinstance(block, Block)
            if last_block is not None and block.kind == "para" and merged and merged[-1][0] in ("break", "block"):
                prev = clean_markup(last_block.text)  # "**A bold paragraph.**" ends with ".", not "*"
                starts_lower = block.text[:1].islower()
                unfinished = prev and prev[-1] not in TERMINAL and len(prev) >= 100
                if starts_lower or unfinished:
                    last_block.text = last_block.text.rstrip() + " " + block.text
                    last_block.end = block.end
                    continue
            merged.append((kind, block))
            last_block = block
        elif kind == "break":
            merged.append((kind, value))
        else:
            merged.append((kind, value))
            last_block = None
    return merged
