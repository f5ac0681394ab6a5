"""Headings: which lines are headings, and how they nest into a clause's section path.

School policies mark headings in many styles — markdown ``#`` headings, whole-line bold,
ALL-CAPS lines, short standalone title lines, lettered/numbered section headings
(``E. Safeguarding…``, ``1. Scope``) and ``Appendix N``. `heading_of` recognises them;
`SectionStack` keeps the current path (``"Appendix 5 › Mobile Device Policy"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text import words
from .markup import clean_markup

SECTION_SEPARATOR = " › "

MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LIST_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*•●▪◦–]|\d{1,2}[.)]|[a-z][.)]|\([a-z0-9]{1,3}\))\s+(?P<body>\S.*)$")
_FAMILY = re.compile(
    r"^(?:(?P<appendix>appendix|annex|schedule|part)\s+[0-9ivxA-Z]+\b|(?P<letter>[A-Z])[.)]\s|(?P<number>\d{1,2})[.)]\s)",
    re.IGNORECASE,
)
_ROOT_FAMILIES = frozenset({"appendix", "annex", "schedule", "part"})
_MODAL = re.compile(r"\b(must|should|will|shall|may|can|cannot|are not|is not|do not|never)\b", re.IGNORECASE)

#: Words a heading may share with the school name or document title and still be a section of its own.
_TITLE_FILLER = frozenset({"policy", "the", "of", "on", "and", "for", "school"})


def _words(text: str) -> set[str]:
    return set(words(text, letters_only=True))


def similar_title(heading: str, names: list[str]) -> bool:
    """True when ``heading`` restates the school name or document title (not a real section).

    Args:
        heading: the heading's text.
        names: the school name and/or document title; a heading whose words (less filler
            such as "policy", "school") overlap one of them by 85 % or more restates it.
    """
    heading_words = _words(heading) - _TITLE_FILLER
    if not heading_words:
        return True
    for name in names:
        name_words = _words(name) - _TITLE_FILLER
        if name_words and len(heading_words & name_words) / len(heading_words | name_words) >= 0.85:
            return True
    return False


@dataclass
class Heading:
    """One heading of a document.

    Attributes:
        text: the heading's words, markup stripped.
        style: ``"md"``, ``"bold"``, ``"caps"`` or ``"plain"``: how the document marks it.
        level: the markdown level (1–6), 0 for other styles.
        family: ``"appendix"``/``"annex"``/``"schedule"``/``"part"``, ``"letter"`` (``E. …``),
            ``"number"`` (``1. …``) or None: headings of one family are siblings.
        has_content: whether a clause has been emitted under it yet.
    """

    text: str
    style: str
    level: int
    family: str | None
    has_content: bool = False


def family_of(text: str) -> str | None:
    """The heading family ``text`` starts with (see `Heading.family`), or None."""
    m = _FAMILY.match(text)
    if not m:
        return None
    if m.group("appendix"):
        return m.group("appendix").lower()
    return "letter" if m.group("letter") else "number"


def _reads_as_rule(text: str) -> bool:
    """A line with a modal verb ("iPads must not be used at home.") is a rule, not a title."""
    return len(text.split()) >= 4 and bool(_MODAL.search(text))


def heading_of(line: str, prev_blank: bool, next_blank: bool) -> Heading | None:
    """Classify a line as a heading, or None when it is body text.

    Args:
        line: the raw source line (indentation kept).
        prev_blank: whether the line before it is blank (or it is the first line).
        next_blank: whether the line after it is blank (or it is the last line).
    """
    s = line.strip()
    m = MD_HEADING.match(s)
    if m:
        text = clean_markup(m.group(2))
        if not text or (text.endswith(".") and _reads_as_rule(text)):
            return None
        return Heading(text.rstrip(":").strip(), "md", len(m.group(1)), family_of(text))
    m = re.match(r"^\*\*(.+?)\*\*$", s)
    if m and "**" not in m.group(1):
        inner = clean_markup(m.group(1))
        if inner and not inner.endswith((":", ":-", ".")) and len(inner) <= 100 and not _reads_as_rule(inner):
            return Heading(inner, "bold", 0, family_of(inner))
        return None
    if LIST_ITEM.match(line) and not (prev_blank and next_blank):
        return None
    text = clean_markup(s)
    letters = [c for c in text if c.isalpha()]
    if not letters or len(text) > 120:
        return None
    if sum(c.isupper() for c in letters) / len(letters) >= 0.9 and len(letters) >= 3 and not text.endswith("."):
        return Heading(text, "caps", 0, family_of(text))
    if (
        prev_blank
        and next_blank
        and len(text) <= 80
        and len(text.split()) <= 12
        and text[-1] not in ".;!?,:"
        and (text[0].isupper() or text[0].isdigit())
        and not _reads_as_rule(text)
    ):
        return Heading(text, "plain", 0, family_of(text))
    return None


class SectionStack:
    """The current heading path, with the rules that decide nesting between heading styles."""

    def __init__(self) -> None:
        """An empty path (the document's top level)."""
        self.entries: list[Heading] = []

    def push(self, h: Heading) -> None:
        """Enter heading ``h``: close the headings it is a sibling or parent of, then open it."""
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
        """Record that a clause was emitted under every heading of the current path."""
        for entry in self.entries:
            entry.has_content = True

    @property
    def path(self) -> str:
        """The current section path: heading texts joined by `SECTION_SEPARATOR` ("" at top level)."""
        return SECTION_SEPARATOR.join(e.text for e in self.entries)
