"""Metadata a policy document states about itself: its dates and its title.

Used where ``school.toml`` gives no title or date for a document (``school.toml`` wins):
labelled lines ("Next Review November 2018", "Agreed: March 2016"), sentences ("first drawn
up and agreed by governors in November 2015") and the title block at the top of the text.
"""

from __future__ import annotations

import re

#: The policy dates a document can have, as ``school.toml`` and `PolicyDocument` name them.
DATE_FIELDS = ("adopted", "last_reviewed", "next_review")

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATE_FORMS = [
    rf"(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+(?P<year>(?:19|20)\d{{2}})",
    rf"{_MONTH}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d{{2}})",
    rf"{_MONTH}\.?,?\s+(?P<year>(?:19|20)\d{{2}})",
    r"(?P<year>(?:19|20)\d{2})-(?P<mon>\d{2})(?:-(?P<day>\d{2}))?",
    r"(?P<day>\d{1,2})[/.](?P<mon>\d{1,2})[/.](?P<year>(?:19|20)?\d{2})\b",
    r"(?P<mon>\d{1,2})/(?P<year>(?:19|20)\d{2})",
    r"(?:(?:spring|summer|autumn|winter)(?:\s+term)?\s+)?(?P<year>(?:19|20)\d{2})",
]
_DATE_ALTS = [re.compile(f, re.IGNORECASE) for f in _DATE_FORMS]
_LEAD = r"(?:^|\n)[ \t>*_#-]*(?:(?:this\s+)?policy\s+)?"  # start of a line, after any markdown markup
_SEP = r"[\s*_:–—-]*(?:(?:date|due|on|in|by)\b[\s:–—-]*)*"
_LABELS: list[tuple[str, re.Pattern]] = [
    (
        "next_review",
        re.compile(
            _LEAD
            + r"(?:next\s+review(?:\s+date)?|date\s+of\s+next\s+review|review\s+due|due\s+for\s+review|to\s+be\s+reviewed|review\s+date)"
            + _SEP,
            re.IGNORECASE,
        ),
    ),
    (
        "last_reviewed",
        re.compile(
            _LEAD + r"(?:last\s+reviewed|last\s+review(?:\s+date)?|date\s+of\s+(?:last\s+)?review|(?:date\s+)?reviewed)" + _SEP,
            re.IGNORECASE,
        ),
    ),
    (
        "adopted",
        re.compile(
            _LEAD
            + r"(?:(?:date\s+)?(?:agreed|adopted|approved|ratified)(?:\s+by\s+[^\n\t:]{1,60}?)?|policy\s+date|date\s+of\s+(?:issue|approval|adoption))"
            + _SEP,
            re.IGNORECASE,
        ),
    ),
]
_SENTENCES: list[tuple[str, re.Pattern]] = [
    ("next_review", re.compile(r"\bwill\s+(?:next\s+)?be\s+reviewed\s+(?:again\s+)?(?:in|by|on|before|during)\s+", re.IGNORECASE)),
    (
        "adopted",
        re.compile(
            r"\b(?:drawn\s+up\s+and\s+)?(?:agreed|adopted|approved|ratified)\s+by\s+(?:the\s+)?(?:full\s+)?"
            r"(?:governors|governing\s+body|board\s+of\s+governors|trustees|trust\s+board)\s+(?:in|on)\s+",
            re.IGNORECASE,
        ),
    ),
    ("last_reviewed", re.compile(r"\b(?:was\s+)?last\s+reviewed\s+(?:in|on)\s+", re.IGNORECASE)),
]
# "Approved by  M Pyper  Chair of Governors" on one line, "Date 21/11/17" on the next.
_SIGNED_THEN_DATE = re.compile(
    _LEAD + r"(?:approved|agreed|adopted|ratified|authori[sz]ed)\s+by\b[^\n]*\n(?:[ \t]*\n)?[ \t>*_#-]*date\b[\s:–—-]*", re.IGNORECASE
)


def _parse_date_at(text: str, pos: int) -> str | None:
    """The date that starts at ``text[pos]`` as YYYY, YYYY-MM or YYYY-MM-DD, or None."""
    window = text[pos : pos + 40]
    for form in _DATE_ALTS:
        m = form.match(window)
        if not m:
            continue
        parts = m.groupdict()
        year = int(parts["year"])
        if year < 100:
            year += 2000 if year < 70 else 1900
        month = None
        if parts.get("month"):
            month = _MONTHS[parts["month"].lower()[:3]]
        elif parts.get("mon"):
            month = int(parts["mon"])
        day = int(parts["day"]) if parts.get("day") else None
        if month is not None and not 1 <= month <= 12:
            continue
        if day is not None and not 1 <= day <= 31:
            continue
        if month is None:
            return f"{year:04d}"
        return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")
    return None


def dates_from_text(text: str) -> dict[str, str]:
    """Policy dates a document states about itself.

    Recognises labelled lines ("Next Review November 2018", "Last Reviewed: Nov 2016",
    "Agreed: March 2016", "Reviewed: March 2017", "Approved by … / Date 21/11/17") and
    sentences ("first drawn up and agreed by governors in November 2015", "will be
    reviewed in September 2019"). Dates may be "November 2018", "21 November 2017",
    "21/11/17" (UK day-first), "2018-11", "11/2018" or a year.

    Returns:
        a dict with any of ``adopted`` (earliest found), ``last_reviewed`` and
        ``next_review`` (latest found), each YYYY, YYYY-MM or YYYY-MM-DD.
    """
    found: dict[str, list[str]] = {key: [] for key in DATE_FIELDS}
    for key, pattern in [*_LABELS, *_SENTENCES, ("adopted", _SIGNED_THEN_DATE)]:
        for m in pattern.finditer(text):
            date = _parse_date_at(text, m.end())
            if date:
                found[key].append(date)
    out = {}
    for key, dates in found.items():
        if dates:
            out[key] = min(dates) if key == "adopted" else max(dates)
    return out


_TITLE_WORDS = re.compile(
    r"\b(polic(y|ies)|code of conduct|procedures?|guidance|agreement|statement|protocol|charter|handbook|guidelines)\b", re.I
)
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with", "&"}
_COMMON_SHORT = {"use", "all", "our", "its", "new", "who", "how", "any", "are", "was", "not", "out", "off", "one", "two"}


def _tidy_caps(title: str) -> str:
    """``"ACCEPTABLE USE POLICY & CODE OF CONDUCT FOR ICT"`` → ``"Acceptable Use Policy & Code of Conduct for ICT"``."""
    letters = [c for c in title if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) / len(letters) < 0.9:
        return title
    words = []
    for i, word in enumerate(title.split()):
        low = word.lower()
        if i and low in _SMALL_WORDS:
            words.append(low)
        elif len(word) <= 3 and word.isalpha() and low not in _COMMON_SHORT and low not in _SMALL_WORDS:
            words.append(word)  # an acronym: ICT, PE, SEN
        else:
            words.append(word[:1] + word[1:].lower())
    return " ".join(words)


def title_from_text(text: str) -> str | None:
    """The policy's title as the document heads it, or None.

    The title block is the headings, bold and ALL-CAPS lines before the first paragraph of
    body text; the title is the first of them that names a policy ("… Policy", "Code of
    Conduct", …). An ALL-CAPS title is set in title case (short acronyms kept).
    """
    from ..chunking import clean_markup

    for line in [ln.strip() for ln in text.splitlines() if ln.strip()][:40]:
        if "\t" in line:
            continue  # a signature or date table
        heading = re.match(r"^#{1,6}\s+(.*)$", line) or re.match(r"^\*\*(.+)\*\*$", line)
        plain = clean_markup(heading.group(1) if heading else line)
        letters = [c for c in plain if c.isalpha()]
        caps = bool(letters) and sum(c.isupper() for c in letters) / len(letters) >= 0.9
        if not (heading or caps or len(plain) <= 80):
            return None  # body text: the title block is over
        if (heading or caps) and len(plain) <= 120 and _TITLE_WORDS.search(plain):
            return _tidy_caps(plain.rstrip(":."))
    return None


def title_from_id(doc_id: str) -> str:
    """The last-resort title made from a document id: ``"anti-bullying"`` → ``"Anti bullying"``."""
    return doc_id.replace("-", " ").replace("_", " ").strip().capitalize()
