"""Redact personal data from a question before it is stored: emails, phone numbers, UK postcodes and names.

Parents type things like "my son Tom Jones (tom@example.com, 07911 123456, SW1A 1AA) lost
his phone — who do I tell?". Before such a question is written to the question log,
`redact` replaces each piece of personal data with a placeholder:
``"my son {{NAME}} ({{EMAIL}}, {{PHONE}}, {{POSTALCODE}}) lost his phone — who do I tell?"``.

How (checked on this machine, offline):

- **scrubadub** (a maintained-enough PII scrubber, pure Python, no model download) finds
  emails, phone numbers (Google's ``phonenumbers``, UK locale), UK postcodes, URLs,
  National Insurance numbers, credit-card numbers, vehicle plates and credentials.
- **Names** need a named-entity model, and none runs offline here: Presidio and
  ``scrubadub_spacy`` need a spaCy English pipeline, which Explosion publishes only on
  GitHub (not PyPI); the PyPI copies are unofficial re-uploads, and scrubadub's TextBlob
  name detector downloads NLTK corpora at run time. So names are found by the documented
  patterns of `NameDetector` (a title before a surname, a name after "my son/daughter/child…",
  after "named"/"called", after "my name is"), tested in ``tests/test_question_log.py``.
  A bare name with no such cue ("Can Tom bring his phone?") is **not** found.
- Phone numbers ``phonenumbers`` rejects as unallocated (e.g. Ofcom's drama ranges
  ``07700 900xxx``) are caught by `UkPhoneShapeDetector`, which redacts any UK-shaped number.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import scrubadub
import scrubadub.detectors
import scrubadub.filth

#: Honorifics before a surname: "Mrs Smith", "Mr. O'Neill", "Miss Jones-Hall", "Dr Patel".
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Sir|Dame|Prof|Professor|Master|Madam|Mme|Rev|Revd|Father|Sister)"
#: Kin and other people a parent names: "my son Tom", "our daughter Amelia-Rose", "my child's friend Jack".
_KIN = (
    r"(?:son|daughter|child|kid|boy|girl|baby|toddler|stepson|stepdaughter|step-son|step-daughter|grandson|granddaughter|"
    r"grandchild|nephew|niece|brother|sister|twin|twins|husband|wife|partner|friend|teacher|carer|nanny|childminder|cousin)"
)
_POSSESSIVE = r"(?:my|our|his|her|their|your|the)"
#: A capitalised name word (letters, apostrophes, hyphens): Tom, O'Neill, Amelia-Rose, Zoë.
_NAME_WORD = r"(?:[A-ZÀ-Ý][a-zà-ÿ]+|[A-ZÀ-Ý]['’][A-ZÀ-Ý][a-zà-ÿ]+)(?:[A-ZÀ-Ý][a-zà-ÿ]+)*(?:-[A-ZÀ-Ý][a-zà-ÿ]+)*"
#: Words that follow a kin word but are not names ("my son Year 6", "my daughter I think").
_NOT_NAMES = frozenset(
    re.findall(
        r"\S+",
        "i im i'm is was has had will can could would should must may might does did do or but if when who what why how where "
        "year reception nursery class form yes no ok okay please thanks thank the a an in at on to from for with of "
        "she he they we you it his her their our my your",
    )
)
#: Joins two names ("Amelia and Jack"); kept inside a name span only when a name follows.
_CONNECTORS = frozenset(("and", "&"))

_PATTERNS = (
    # "Mrs Smith", "Mr. John Smith" → the name words after the title.
    re.compile(rf"\b{_TITLE}\.?\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?)"),
    # "my son Tom", "our daughter, Amelia Smith", "my child's friend Jack" → the capitalised words after the kin word.
    re.compile(
        rf"\b(?i:{_POSSESSIVE}\s+(?:\w+(?:'s|’s)?\s+)?{_KIN}(?:'s|’s)?),?\s+"
        rf"(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?(?:\s+(?:and|&)\s+{_NAME_WORD}(?:\s+{_NAME_WORD})?)?)"
    ),
    # "named tom", "called Amelia Smith", "goes by Tom" → the next one or two words, whatever their case.
    re.compile(r"\b(?i:named|called|goes by|known as)\s+(?P<name>[A-Za-zÀ-ÿ'’-]+(?:\s+[A-Z][A-Za-zÀ-ÿ'’-]+)?)"),
    # "my name is Sarah Jones", "my name's sarah", "I'm Sarah Jones, Tom's mum" → the name.
    re.compile(r"\b(?i:my\s+name(?:\s+is|'s|’s))\s+(?P<name>[A-Za-zÀ-ÿ'’-]+(?:\s+[A-Za-zÀ-ÿ'’-]+)?)"),
    re.compile(
        rf"\b(?:I'm|I’m|I am|this is)\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?),?\s+(?:\w+(?:'s|’s)\s+)?(?:mum|mom|dad|mother|father|parent|carer|grandma|grandad|gran|nan)\b"
    ),
    # "Tom's mum", "Amelia's dad" → the child's name before a possessive parent word.
    re.compile(rf"\b(?P<name>{_NAME_WORD})(?:'s|’s)\s+(?:mum|mom|dad|mother|father|parents?|carer|grandma|grandad|gran|nan|teacher)\b"),
)


class NameFilth(scrubadub.filth.NameFilth):
    """A person's name found by `NameDetector` (placeholder ``{{NAME}}``)."""


class NameDetector(scrubadub.detectors.Detector):
    """Names with a cue around them: a title ("Mrs Smith"), kin ("my son Tom"), "named/called X", "my name is X", "Tom's mum".

    Patterns, not a model (see the module docstring for why); a pattern's name group is
    only taken when it is not a common word that happens to be capitalised ("my son Year 6").
    """

    name = "pattern_name"
    filth_cls = NameFilth

    def iter_filth(self, text: str, document_name: str | None = None) -> Iterator[scrubadub.filth.Filth]:
        """Yield a `NameFilth` for each name the patterns find in ``text``."""
        for pattern in _PATTERNS:
            for match in pattern.finditer(text):
                start = match.start("name")
                end = start
                # Keep the words up to the first that is not a name ("my son Tom Is …" keeps "Tom").
                for word in re.finditer(r"\S+", match.group("name")):
                    token = word.group().strip(",.").lower()
                    if token in _CONNECTORS:
                        continue
                    if token in _NOT_NAMES:
                        break
                    end = start + word.end()
                if end == start:
                    continue
                yield NameFilth(beg=start, end=end, text=text[start:end], detector_name=self.name, document_name=document_name)


class UkPhoneShapeDetector(scrubadub.detectors.RegexDetector):
    """Any UK-shaped phone number (``07…``, ``01…``, ``02…``, ``+44 …``, 10–11 digits), valid or not."""

    name = "uk_phone_shape"
    filth_cls = scrubadub.filth.PhoneFilth
    regex = re.compile(r"(?<![\w+])(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}(?!\d)")


_lock = threading.Lock()
_scrubber: scrubadub.Scrubber | None = None


def _get_scrubber() -> scrubadub.Scrubber:
    global _scrubber
    with _lock:
        if _scrubber is None:
            scrubber = scrubadub.Scrubber(locale="en_GB")
            scrubber.add_detector(NameDetector)
            scrubber.add_detector(UkPhoneShapeDetector)
            _scrubber = scrubber
        return _scrubber


def redact(text: str) -> str:
    """``text`` with personal data replaced by placeholders (``{{EMAIL}}``, ``{{PHONE}}``, ``{{POSTALCODE}}``, ``{{NAME}}``, …).

    Thread-safe; about 1 ms for a question. Overlapping finds are merged into one placeholder.
    """
    if not text:
        return text
    scrubber = _get_scrubber()
    with _lock:  # scrubadub's detectors keep no state, but its Scrubber is not documented as thread-safe
        return scrubber.clean(text)
