"""Audience tagging: whom a clause addresses (staff, parents, pupils, visitors, governors).

A clause addresses the people named as the subject of its rule ("Parents must not …",
"Staff, visitors, volunteers and students are not permitted …") and the people its
section is written for ("PUPIL CODE OF CONDUCT", "Guidance for staff …"). A clause that
names nobody addresses its document's default audience (``audiences`` in the school's
metadata), else everyone.
"""

from __future__ import annotations

import re

from .types import CLAUSE_AUDIENCES

_TERMS: dict[str, tuple[str, ...]] = {
    "staff": (
        "staff",
        "employee",
        "employees",
        "teacher",
        "teachers",
        "teaching staff",
        "headteacher",
        "headmaster",
        "member of staff",
        "members of staff",
        "colleague",
        "colleagues",
        "adults working",
        "school representatives",
        "volunteer",
        "volunteers",
        "line manager",
    ),
    "parent": ("parent", "parents", "carer", "carers", "parent/carer", "parents/carers", "guardian", "guardians", "families"),
    "pupil": ("pupil", "pupils", "student", "students", "children", "child", "user", "users", "ipad", "learners"),
    "visitor": ("visitor", "visitors", "third parties", "partners"),
    "governor": ("governor", "governors", "governing body", "chair of governors"),
}
_PATTERNS = {aud: re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\b", re.IGNORECASE) for aud, terms in _TERMS.items()}
#: How many leading words of a clause count as its subject.
SUBJECT_WORDS = 14


def _mentioned(text: str) -> list[str]:
    found = []
    for audience, pattern in _PATTERNS.items():
        m = pattern.search(text)
        if m:
            found.append((m.start(), audience))
    return [aud for _, aud in sorted(found)]


def tag_audiences(text: str, section: str, lead_in: str = "", default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Tag one clause with the audiences it addresses.

    Args:
        text: the clause body.
        section: the clause's section path.
        lead_in: its lead-in (its subject often sits there).
        default: the document's default audiences.

    Returns:
        a sorted tuple drawn from `CLAUSE_AUDIENCES`; ``("everyone",)`` when nothing
        names an audience and the document has no default.
    """
    subject = " ".join(f"{lead_in} {text}".split()[:SUBJECT_WORDS])
    tags = set(_mentioned(subject)) | set(_mentioned(section))
    if not tags:  # a clause naming no audience (a pupil pledge's "I will…" too) takes the document's
        tags = set(default) or {"everyone"}
    return tuple(sorted(t for t in tags if t in CLAUSE_AUDIENCES))
