"""Clause assembly: the token stream of a document to its clauses, with lead-ins, section paths and ids.

Each paragraph, bullet or numbered item becomes one clause. A paragraph or item ending in
``:`` is a *lead-in*: the items under it carry it, so "Bring the School into disrepute;"
reads "Staff must not … in a manner which may: Bring the School into disrepute;" on its
own. Exact repeats, cut-off copies and table-of-contents items are dropped.
"""

from __future__ import annotations

import hashlib
import re

from ..text import split_sentences, words
from ..types import Clause, PolicyDocument
from .blocks import TERMINAL, Block, Token, merge_continuations, split_lines, tokenise
from .headings import Heading, SectionStack, family_of, similar_title
from .markup import clean_markup, is_link_stub, normalise_for_match


def _last_sentence(text: str) -> str:
    parts = split_sentences(text)
    return parts[-1].strip() if parts else text


def _is_lead_in(text: str) -> bool:
    return text.rstrip().endswith((":", ":-", "：", "—"))


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
    stream = merge_continuations(tokenise(split_lines(doc.text)))
    # A list of "A. …", "B. …" items that restates the section headings is a table of contents.
    toc_keys = {_toc_key(v.text) for k, v in stream if k == "heading" and isinstance(v, Heading) and v.family} - {None}
    sections = SectionStack()
    positions: dict[str, int] = {}
    clauses: list[Clause] = []
    seen: set[str] = set()  # normalised lead-in + text of every clause emitted so far
    para_lead_in = ""
    item_stack: list[tuple[int, str]] = []  # (indent, lead-in text or "") of open items

    def emit(block: Block, lead_in: str) -> None:
        text = clean_markup(block.text)
        if not text or is_link_stub(block.text) or len(words(text, letters_only=True)) < (1 if lead_in else 2):
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
            assert isinstance(heading, Heading)
            para_lead_in, item_stack = "", []
            # The document's own title block (school name, policy title) is not a section.
            names = title_names if not clauses else title_names[:1]
            if similar_title(heading.text, names) and not heading.family:
                continue
            sections.push(heading)
        elif kind == "block":
            block = value
            assert isinstance(block, Block)
            text = clean_markup(block.text)
            if block.kind == "para":
                item_stack = []
                next_is_item = _next_block_kind(stream, idx) == "item"
                if _is_lead_in(text) and not next_is_item and len(text.split()) <= 6:
                    # "Policy Breaches:" followed by a paragraph is a label: a heading.
                    para_lead_in = ""
                    sections.push(Heading(text.rstrip(":-— ").strip(), "plain", 0, family_of(text)))
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
    if text.rstrip().endswith(tuple(TERMINAL)):
        return False
    padded = f" {norm} "
    return any(padded in f" {earlier} " for earlier in seen)


def _next_block_kind(stream: list[Token], idx: int) -> str | None:
    for kind, value in stream[idx + 1 :]:
        if kind == "break":
            continue
        if kind == "heading":
            return "heading"
        assert isinstance(value, Block)
        return value.kind
    return None
