"""Clause chunking: split a policy document into the quotable rules a person would cite.

The chunker follows the document's own structure rather than a character budget:

* headings in any of the styles school policies use — markdown ``#`` headings, whole-line
  bold, ALL-CAPS lines, short standalone title lines, lettered/numbered section headings
  (``E. Safeguarding…``, ``1. Scope``) and ``Appendix N`` — build a section path;
* each paragraph, bullet or numbered item becomes one clause;
* a paragraph or bullet ending in ``:`` is a *lead-in*: the items under it carry it, so
  "Bring the School into disrepute;" reads "Staff must not … in a manner which may: Bring
  the School into disrepute;" on its own;
* signature/date lines, tables, link-only stubs and empty headings yield no clause;
* a passage the document repeats verbatim (the same words, lead-in included, whatever the
  whitespace, case or emphasis) yields one clause; a clause that differs by a word ("may not"
  for "may", "£50" for "£5", "Key Stage 2" for "Key Stage 1") is another rule and is kept.

Character offsets point into the original text, so a viewer can highlight the clause.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .text import split_sentences, words
from .types import Clause, PolicyDocument

SECTION_SEPARATOR = " › "

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*•●▪◦–]|\d{1,2}[.)]|[a-z][.)]|\([a-z0-9]{1,3}\))\s+(?P<body>\S.*)$")
_FAMILY = re.compile(
    r"^(?:(?P<appendix>appendix|annex|schedule|part)\s+[0-9ivxA-Z]+\b|(?P<letter>[A-Z])[.)]\s|(?P<number>\d{1,2})[.)]\s)",
    re.IGNORECASE,
)
_ADMIN_LINE = re.compile(
    r"^(signed|signature|print name|full name|name|date|job title|authori[sz]ed by|approved by|"
    r"last reviewed|next review|review dates?|agreed|reviewed|adopted)\b",
    re.IGNORECASE,
)
_ACKNOWLEDGEMENT = re.compile(r"^(i (agree|have read|understand and agree)|please (sign|read))\b|\bsign below\b", re.IGNORECASE)
_FILL_IN = re.compile(r"_{3,}|\.{4,}|…{2,}")
_TABLE_RULE = re.compile(r"^[\s|:+-]*-{3,}[\s|:+-]*$")
_MD_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_URL = re.compile(r"<?https?://\S+>?|www\.\S+")
_TERMINAL = ".!?;:)\"'”’"
_ROOT_FAMILIES = frozenset({"appendix", "annex", "schedule", "part"})
_MODAL = re.compile(r"\b(must|should|will|shall|may|can|cannot|are not|is not|do not|never)\b", re.IGNORECASE)


def clean_markup(text: str) -> str:
    r"""Strip markdown/HTML emphasis and escapes from a span of policy text.

    ``**bold**``, ``*italic*``, ``__x__``, ``<u>x</u>``, ``\_`` and markdown links
    (``[text](url)`` → ``text``) are reduced to their words; whitespace is collapsed.
    """
    text = _MD_LINK.sub(lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"</?(u|b|i|em|strong)>", "", text, flags=re.IGNORECASE)
    text = text.replace("**", "").replace("__", "")
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\\([\\_*#`\[\]()<>-])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def normalise_for_match(text: str) -> str:
    """Lower-case, drop markdown ``*``, ``#`` and backticks, collapse whitespace.

    The normalisation question banks use to compare a citation with a gold quote.
    """
    text = re.sub(r"[*#`]", "", text.lower())
    text = re.sub(r"\\(.)", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


#: Words a heading may share with the school name or document title and still be a section of its own.
_TITLE_FILLER = frozenset({"policy", "the", "of", "on", "and", "for", "school"})


def _words(text: str) -> set[str]:
    return set(words(text, letters_only=True))


def _similar_title(heading: str, names: list[str]) -> bool:
    """True when ``heading`` restates the school name or document title (not a real section)."""
    heading_words = _words(heading) - _TITLE_FILLER
    if not heading_words:
        return True
    for name in names:
        name_words = _words(name) - _TITLE_FILLER
        if name_words and len(heading_words & name_words) / len(heading_words | name_words) >= 0.85:
            return True
    return False


@dataclass
class _Line:
    start: int
    end: int
    raw: str

    @property
    def stripped(self) -> str:
        return self.raw.strip()


@dataclass
class _Block:
    """A paragraph or list item: one or more source lines."""

    kind: str  # "para" | "item"
    start: int
    end: int
    text: str  # cleaned text
    indent: int = 0


@dataclass
class _Heading:
    text: str
    style: str  # "md" | "bold" | "caps" | "plain"
    level: int  # markdown level, 0 for other styles
    family: str | None
    has_content: bool = False


def _split_lines(text: str) -> list[_Line]:
    lines, pos = [], 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        lines.append(_Line(pos, pos + len(body), body))
        pos += len(raw)
    return lines


def _family(text: str) -> str | None:
    m = _FAMILY.match(text)
    if not m:
        return None
    if m.group("appendix"):
        return m.group("appendix").lower()
    return "letter" if m.group("letter") else "number"


def _is_admin_line(text: str) -> bool:
    """Signature, date and form lines, tables and rules: never clauses."""
    if "\t" in text or _TABLE_RULE.match(text) or _FILL_IN.search(text):
        return True
    plain = clean_markup(text)
    if len(plain) <= 70 and _ADMIN_LINE.match(plain):
        return True
    return bool(len(plain) <= 200 and _ACKNOWLEDGEMENT.search(plain))


def _is_link_stub(text: str) -> bool:
    """A line that is only a link or a reference to one (fewer than four words of its own)."""
    without_links = _URL.sub(" ", _MD_LINK.sub(lambda m: m.group(1), text))
    return len(words(without_links, letters_only=True)) < 4 and bool(_URL.search(text) or _MD_LINK.search(text))


def _reads_as_rule(text: str) -> bool:
    """A line with a modal verb ("iPads must not be used at home.") is a rule, not a title."""
    return len(text.split()) >= 4 and bool(_MODAL.search(text))


def _heading_of(line: str, prev_blank: bool, next_blank: bool) -> _Heading | None:
    """Classify a line as a heading, or None when it is body text."""
    s = line.strip()
    m = _MD_HEADING.match(s)
    if m:
        text = clean_markup(m.group(2))
        if not text or (text.endswith(".") and _reads_as_rule(text)):
            return None
        return _Heading(text.rstrip(":").strip(), "md", len(m.group(1)), _family(text))
    m = re.match(r"^\*\*(.+?)\*\*$", s)
    if m and "**" not in m.group(1):
        inner = clean_markup(m.group(1))
        if inner and not inner.endswith((":", ":-", ".")) and len(inner) <= 100 and not _reads_as_rule(inner):
            return _Heading(inner, "bold", 0, _family(inner))
        return None
    if _LIST_ITEM.match(line) and not (prev_blank and next_blank):
        return None
    text = clean_markup(s)
    letters = [c for c in text if c.isalpha()]
    if not letters or len(text) > 120:
        return None
    if sum(c.isupper() for c in letters) / len(letters) >= 0.9 and len(letters) >= 3 and not text.endswith("."):
        return _Heading(text, "caps", 0, _family(text))
    if (
        prev_blank
        and next_blank
        and len(text) <= 80
        and len(text.split()) <= 12
        and text[-1] not in ".;!?,:"
        and (text[0].isupper() or text[0].isdigit())
        and not _reads_as_rule(text)
    ):
        return _Heading(text, "plain", 0, _family(text))
    return None


class _SectionStack:
    """The current heading path, with the rules that decide nesting between heading styles."""

    def __init__(self) -> None:
        self.entries: list[_Heading] = []

    def push(self, h: _Heading) -> None:
        stack = self.entries
        if h.family in _ROOT_FAMILIES:  # "Appendix 5" starts a new top-level part
            stack.clear()
        elif h.family and any(e.family == h.family for e in stack):
            while stack and stack[-1].family != h.family:
                stack.pop()
            stack.pop()
        elif h.style == "md":
            while (
                stack
                and stack[-1].family not in _ROOT_FAMILIES
                and (
                    (stack[-1].style == "md" and stack[-1].level >= h.level)
                    or (stack[-1].style != "md" and not (stack[-1].family and not stack[-1].has_content))
                )
            ):
                stack.pop()
        else:
            same = [i for i, e in enumerate(stack) if e.style == h.style and e.family not in _ROOT_FAMILIES]
            if same:
                deepest = stack[same[-1]]
                # "Part A" followed by "Mobile Device Policy": a title under the part
                if not (deepest.family and not deepest.has_content and not h.family):
                    del stack[same[-1] :]
        stack.append(h)

    def mark_content(self) -> None:
        for entry in self.entries:
            entry.has_content = True

    @property
    def path(self) -> str:
        return SECTION_SEPARATOR.join(e.text for e in self.entries)


def _last_sentence(text: str) -> str:
    parts = split_sentences(text)
    return parts[-1].strip() if parts else text


def _is_lead_in(text: str) -> bool:
    return text.rstrip().endswith((":", ":-", "：", "—"))


def _tokenise(lines: list[_Line]) -> list[tuple[str, object]]:
    """Turn lines into a stream of ("heading", _Heading) | ("block", _Block) | ("break", None)."""
    out: list[tuple[str, object]] = []
    n = len(lines)
    i = 0
    current: _Block | None = None

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
        heading = _heading_of(line.raw, prev_blank, next_blank)
        if heading is not None:
            flush()
            out.append(("heading", heading))
            i += 1
            continue
        m = _LIST_ITEM.match(line.raw)
        body_start = line.start + (line.raw.index(s) if s else 0)
        if m:
            flush()
            indent = len(m.group("indent").expandtabs(4))
            current = _Block("item", line.start + m.start("body"), line.end, m.group("body"), indent)
        elif current is not None:
            current.text += " " + s
            current.end = line.end
        else:
            md = _MD_HEADING.match(s)  # a "#### rule sentence." line is body text
            offset = s.index(md.group(2)) if md and md.group(2) else 0
            current = _Block("para", body_start + offset, line.end, s[offset:])
        i += 1
    flush()
    return out


def _merge_continuations(stream: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Join a block broken across a blank line (page-break artefacts in converted documents)."""
    merged: list[tuple[str, object]] = []
    last_block: _Block | None = None
    for kind, value in stream:
        if kind == "block":
            block = value
            assert isinstance(block, _Block)
            if last_block is not None and block.kind == "para" and merged and merged[-1][0] in ("break", "block"):
                prev = clean_markup(last_block.text)  # "**A bold paragraph.**" ends with ".", not "*"
                starts_lower = block.text[:1].islower()
                unfinished = prev and prev[-1] not in _TERMINAL and len(prev) >= 100
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


def clause_id_for(school: str, document: str, lead_in: str, text: str) -> str:
    """Stable clause id: the first 12 hex digits of SHA-1 over school, document and wording.

    Same school, document and (normalised) wording → same id on every ingest.
    """
    key = "\x1f".join([school, document, normalise_for_match(lead_in), normalise_for_match(text)])
    return "c" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def chunk_document(doc: PolicyDocument, school_name: str = "", page_starts: list[int] | None = None) -> list[Clause]:
    """Split one policy document into clauses.

    Args:
        doc: the document (its ``text`` is chunked; offsets refer to it).
        school_name: the school's display name; headings that merely restate it or the
            document title are left out of section paths.
        page_starts: for paginated sources, the character offset where each page starts
            (ascending); each clause then gets the 1-based page of its start.

    Returns:
        clauses in document order, exact repeats of an earlier clause of the same document
        (same lead-in and text after `normalise_for_match`) removed.
    """
    title_names = [n for n in (school_name, doc.title) if n]
    stream = _merge_continuations(_tokenise(_split_lines(doc.text)))
    # A list of "A. …", "B. …" items that restates the section headings is a table of contents.
    toc_keys = {_toc_key(v.text) for k, v in stream if k == "heading" and isinstance(v, _Heading) and v.family} - {None}
    sections = _SectionStack()
    positions: dict[str, int] = {}
    clauses: list[Clause] = []
    seen: set[str] = set()  # normalised lead-in + text of every clause emitted so far
    para_lead_in = ""
    item_stack: list[tuple[int, str]] = []  # (indent, lead-in text or "") of open items

    def emit(block: _Block, lead_in: str) -> None:
        text = clean_markup(block.text)
        if not text or _is_link_stub(block.text) or len(words(text, letters_only=True)) < (1 if lead_in else 2):
            return
        norm = normalise_for_match(f"{lead_in} {text}")
        # Only an exact repeat is merged: a clause one word away from an earlier one ("may not"
        # for "may", "£50" for "£5") is a different rule, so no similarity threshold is safe here.
        if norm in seen or (block.kind == "item" and _toc_key(text) in toc_keys) or _is_cut_off_copy(text, norm, seen):
            return
        seen.add(norm)
        section = sections.path
        positions[section] = positions.get(section, 0) + 1
        page = None
        if page_starts:
            page = sum(1 for p in page_starts if p <= block.start) or 1
        clauses.append(
            Clause(
                school=doc.school,
                document=doc.document,
                document_title=doc.title,
                section=section,
                position=positions[section],
                clause_id=clause_id_for(doc.school, doc.document, lead_in, text),
                text=text,
                lead_in=lead_in,
                start=block.start,
                end=block.end,
                page=page,
            )
        )
        sections.mark_content()

    for idx, (kind, value) in enumerate(stream):
        if kind == "heading":
            heading = value
            assert isinstance(heading, _Heading)
            para_lead_in, item_stack = "", []
            # The document's own title block (school name, policy title) is not a section.
            names = title_names if not clauses else title_names[:1]
            if _similar_title(heading.text, names) and not heading.family:
                continue
            sections.push(heading)
        elif kind == "block":
            block = value
            assert isinstance(block, _Block)
            text = clean_markup(block.text)
            if block.kind == "para":
                item_stack = []
                next_is_item = _next_block_kind(stream, idx) == "item"
                if _is_lead_in(text) and not next_is_item and len(text.split()) <= 6:
                    # "Policy Breaches:" followed by a paragraph is a label: a heading.
                    para_lead_in = ""
                    sections.push(_Heading(text.rstrip(":-— ").strip(), "plain", 0, _family(text)))
                    continue
                if _is_lead_in(text) and next_is_item:
                    para_lead_in = _last_sentence(text)
                    if para_lead_in != text:  # the lead-in ends a paragraph that says more
                        emit(block, "")
                    continue
                para_lead_in = ""
                emit(block, "")
            else:
                while item_stack and item_stack[-1][0] >= block.indent:
                    item_stack.pop()
                chain = [para_lead_in] + [lead for _, lead in item_stack if lead]
                lead_in = " ".join(part for part in chain if part)
                if _is_lead_in(text) and _next_block_kind(stream, idx) == "item":
                    item_stack.append((block.indent, text))
                    continue
                item_stack.append((block.indent, ""))
                emit(block, lead_in)
    return clauses


def _toc_key(text: str) -> str | None:
    """``"E. Safeguarding children…"`` → ``"e. safeguarding"``: enumerator plus first word."""
    m = re.match(r"^([A-Z]|\d{1,2})[.)]\s+([A-Za-z]+)", text.strip())
    return f"{m.group(1).lower()}. {m.group(2).lower()}" if m else None


def _is_cut_off_copy(text: str, norm: str, seen: set[str]) -> bool:
    """True for an unfinished fragment (no closing punctuation) found whole in an earlier clause.

    Its words all stand, in order, inside an earlier clause: a copy the document breaks off
    mid-sentence ("The sending of inappropriate text messages between any members of the
    school community is"), which states no rule of its own. A finished sentence is never
    dropped this way, however similar. Scans earlier clauses only for such fragments, so the
    chunker stays linear in practice.
    """
    if text.rstrip().endswith(tuple(_TERMINAL)):
        return False
    padded = f" {norm} "
    return any(padded in f" {earlier} " for earlier in seen)


def _next_block_kind(stream: list[tuple[str, object]], idx: int) -> str | None:
    for kind, value in stream[idx + 1 :]:
        if kind == "break":
            continue
        if kind == "heading":
            return "heading"
        assert isinstance(value, _Block)
        return value.kind
    return None
