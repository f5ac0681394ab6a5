"""The policy viewer: a whole policy document as readable HTML with an anchor per clause.

``/policies/<school>/<document>#<clause_id>`` opens the document, scrolls to the clause
and highlights it (``static/viewer.js``). The source text is rendered line by line —
markdown headings, bullet and numbered items, paragraphs, tab-separated rows — and each
clause's character span (`Clause.start`/`Clause.end`) is wrapped in
``<span class="pa-clause" id="<clause_id>">``. Every piece of document text is escaped.

When the source file no longer matches the indexed one (edited since the last ingest,
or moved), the clause offsets would point at the wrong words, so the viewer shows the
indexed clauses section by section instead, with a note.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
from dataclasses import dataclass

from assistant import Assistant, Clause

from .pages import render_page
from .render import text_html

_HEADING = re.compile(r"^(#{1,6})[ \t]+")
_HEADING_TAIL = re.compile(r"[ \t]+#+[ \t]*$")
_LIST_ITEM = re.compile(r"^([ \t]*)([-*•●▪◦–]|\d{1,2}[.)]|[a-zA-Z][.)]|\([a-z0-9]{1,3}\))[ \t]+(?=\S)")
_TABLE_RULE = re.compile(r"^[\s|:+-]*-{3,}[\s|:+-]*$")
_EMPHASIS_TAG = re.compile(r"&lt;/?(u|b|i|em|strong)&gt;", re.IGNORECASE)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
_BACKSLASH = re.compile(r"\\+([\\_*#`\[\]()<>.!-])")
_BULLETS = frozenset("-*•●▪◦–")


@dataclass(frozen=True, slots=True)
class _Line:
    kind: str  # heading, item, para, tabular, blank, rule
    start: int  # content start offset (after any marker)
    end: int  # content end offset
    level: int = 0  # heading level or item indent
    marker: str = ""


def _lines(text: str) -> list[_Line]:
    out = []
    offset = 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        start, end = offset, offset + len(line)
        offset += len(raw)
        if not line.strip():
            out.append(_Line("blank", start, end))
        elif m := _HEADING.match(line):
            tail = _HEADING_TAIL.search(line)
            out.append(_Line("heading", start + m.end(), start + (tail.start() if tail else len(line)), len(m.group(1))))
        elif _TABLE_RULE.match(line):
            out.append(_Line("rule", start, end))
        elif m := _LIST_ITEM.match(line):
            indent = len(m.group(1).expandtabs(4)) // 2
            out.append(_Line("item", start + m.end(), end, min(indent, 3), m.group(2)))
        elif "\t" in line.strip():
            out.append(_Line("tabular", start, end))
        else:
            lead = len(line) - len(line.lstrip())
            out.append(_Line("para", start + lead, end))
    return out


def _inline(raw: str) -> str:
    """Escape a span of policy text, then apply the little markdown policies use (bold, links)."""
    text = html.escape(raw, quote=True)
    text = _EMPHASIS_TAG.sub("", text)

    def link(m: re.Match) -> str:
        label = m.group(1) or m.group(2)
        url = _BACKSLASH.sub(r"\1", m.group(2))
        if url.startswith(("http://", "https://")):
            return f'<a href="{url}" rel="noopener noreferrer">{label}</a>'
        return label

    text = _LINK.sub(link, text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = text.replace("**", "")
    return _BACKSLASH.sub(r"\1", text)


class _ClauseSpans:
    """Clause spans of one document, for wrapping line content in clause anchors.

    Lines are rendered in document order, so the spans are walked once: a pointer into the
    clauses sorted by start, and the few clauses open at the current line. Rendering a
    document is linear in its lines and clauses (it used to scan every clause for every line).
    """

    def __init__(self, clauses: list[Clause]) -> None:
        self.clauses = sorted(clauses, key=lambda c: c.start)
        self.anchored: set[str] = set()
        self._next = 0  # first clause not yet taken into `_open`
        self._open: list[Clause] = []  # clauses starting before the current line's end, in start order
        self._orphan_next = 0  # first clause not yet checked by `orphans_before`

    def _overlapping(self, start: int, end: int) -> list[Clause]:
        """Clauses overlapping ``[start, end)`` (in start order); calls must come in document order."""
        while self._next < len(self.clauses) and self.clauses[self._next].start < end:
            self._open.append(self.clauses[self._next])
            self._next += 1
        self._open = [c for c in self._open if c.end > start]
        return self._open

    def render(self, text: str, start: int, end: int) -> str:
        """``text[start:end]`` as inline HTML, clause parts wrapped in spans."""
        overlapping = self._overlapping(start, end)
        cuts = {start, end}
        for c in overlapping:
            cuts.update(p for p in (c.start, c.end) if start < p < end)
        points = sorted(cuts)
        out = []
        for a, b in itertools.pairwise(points):
            piece = _inline(text[a:b])
            clause = next((c for c in overlapping if c.start <= a < c.end), None)
            if clause is None:
                out.append(piece)
                continue
            cid = html.escape(clause.clause_id)
            anchor = "" if clause.clause_id in self.anchored else f' id="{cid}"'
            self.anchored.add(clause.clause_id)
            out.append(f'<span class="pa-clause" data-clause="{cid}"{anchor}>{piece}</span>')
        return "".join(out)

    def orphans_before(self, end: int) -> str:
        """Empty anchors for clauses starting before ``end`` that no rendered text carried."""
        out = []
        while self._orphan_next < len(self.clauses) and self.clauses[self._orphan_next].start < end:
            c = self.clauses[self._orphan_next]
            self._orphan_next += 1
            if c.clause_id not in self.anchored:
                self.anchored.add(c.clause_id)
                cid = html.escape(c.clause_id)
                out.append(f'<span class="pa-clause pa-anchor" data-clause="{cid}" id="{cid}"></span>')
        return "".join(out)


def document_html(text: str, clauses: list[Clause]) -> str:
    """The body of a policy: ``text`` rendered as HTML, each clause of ``clauses`` anchored.

    Args:
        text: the document's source text (the one the clause offsets point into).
        clauses: the document's clauses; every clause id appears exactly once as an ``id``.
    """
    spans = _ClauseSpans(clauses)
    out: list[str] = []
    open_block: str | None = None  # "p" or "ul"

    def close() -> None:
        nonlocal open_block
        if open_block:
            out.append(f"</{open_block}>")
            open_block = None

    for line in _lines(text):
        if line.kind in ("blank", "rule"):
            close()
            continue
        orphans = spans.orphans_before(line.start)
        body = orphans + spans.render(text, line.start, line.end)
        if line.kind == "heading":
            close()
            level = min(line.level + 1, 6)
            out.append(f'<h{level} class="pa-heading">{body}</h{level}>')
        elif line.kind == "item":
            if open_block != "ul":
                close()
                out.append('<ul class="pa-list">')
                open_block = "ul"
            marker = "•" if line.marker in _BULLETS else html.escape(line.marker)
            out.append(f'<li class="pa-indent-{line.level}"><span class="pa-marker" aria-hidden="true">{marker}</span> {body}</li>')
        elif line.kind == "tabular":
            close()
            out.append(f'<p class="pa-tabular">{body}</p>')
        else:
            if open_block == "p":
                out.append("<br>")
            else:
                close()
                out.append("<p>")
                open_block = "p"
            out.append(body)
    close()
    out.append(spans.orphans_before(len(text) + 1))
    return "\n".join(out)


def indexed_clauses_html(clauses: list[Clause]) -> str:
    """Fallback body: the indexed clauses section by section (when the source text has changed)."""
    out: list[str] = []
    section = None
    for c in clauses:
        if c.section != section:
            section = c.section
            if out:
                out.append("</ul>")
            out.append(f'<h2 class="pa-heading">{html.escape(section or "Introduction")}</h2><ul class="pa-list">')
        cid = html.escape(c.clause_id)
        out.append(f'<li><span class="pa-clause" data-clause="{cid}" id="{cid}">{text_html(c.display_text)}</span></li>')
    if out:
        out.append("</ul>")
    return "\n".join(out)


def _source_matches(text: str, sha256: str | None) -> bool:
    if not sha256:
        return True
    data = text.encode("utf-8")
    return sha256 in (hashlib.sha256(data).hexdigest(), hashlib.sha256(b"\xef\xbb\xbf" + data).hexdigest())


def policy_page(assistant: Assistant, school: str, document: str) -> str:
    """The full HTML page of one policy document (``templates/policy.html``).

    Args:
        assistant: the served assistant.
        school: the school id.
        document: the document id.

    Returns:
        The page's HTML: the document with an anchor per clause, or its indexed clauses with a
        note when the source file no longer matches the index.

    Raises:
        ValueError: unknown school or document (the message names which).
    """
    school_name = assistant.school_name(school)
    meta = assistant.manifest.schools[school].documents.get(document)
    if meta is None:
        raise ValueError(f"unknown document {document!r} for school {school!r}")
    clauses = assistant.clauses(school, document)
    try:
        text = assistant.document_text(school, document)
    except OSError:
        text = None
    # A source edited or moved since the ingest: the clause offsets would point at the wrong words.
    source_changed = text is None or not _source_matches(text, meta.sha256)
    dates = [
        f"{label} {getattr(meta, key)}"
        for key, label in (("adopted", "Adopted"), ("last_reviewed", "Last reviewed"), ("next_review", "Next review"))
        if getattr(meta, key)
    ]
    return render_page(
        "policy.html",
        title=meta.title,
        school_name=school_name,
        dates=dates,
        source_changed=source_changed,
        body=indexed_clauses_html(clauses) if source_changed else document_html(text, clauses),
    )
