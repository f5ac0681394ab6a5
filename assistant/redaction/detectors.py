"""The detectors `redact` adds to scrubadub's own: names with a cue, UK-shaped phones, dates, addresses, NHS numbers, health.

Each is a scrubadub detector yielding its own filth type, whose placeholder the redacted text
carries (``{{NAME}}``, ``{{PHONE}}``, ``{{DATE}}``, ``{{ADDRESS}}``, ``{{NHS_NUMBER}}``,
``{{HEALTH}}``). Patterns, not a model: see the `assistant.redaction` docstring for why.
"""

from __future__ import annotations

import re
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

    Patterns, not a model (see the `assistant.redaction` docstring for why); a pattern's name group is
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


# --- dates, street addresses, NHS numbers, health (issue 17) ---------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|"
    r"nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_DATE_PATTERNS = (
    # 12/03/2015, 12.3.15, 12-03-2015, 2015-03-12, 2015/3/12
    re.compile(r"(?<![\d/.-])(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}[/.-]\d{1,2}[/.-]\d{1,2})(?![\d/-]|\.\d)"),
    # 3rd March 2015, 3 of march, 03 Mar '15
    re.compile(rf"(?i)\b{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+(?:{_YEAR}|'\d\d))?\b"),
    # March 3rd, 2015 / March 2015 / March 3
    re.compile(rf"(?i)\b{_MONTH}\s+(?:{_DAY}(?:,?\s+{_YEAR})?|{_YEAR})\b"),
    # born in 2015, DOB: 2015, date of birth 12 March (the cue and the year)
    re.compile(rf"(?i)\b(?:born|birthday|d\.?o\.?b\.?|date\s+of\s+birth)\s*(?:[:\-]\s*)?(?:(?:on|in)\s+)?{_YEAR}\b"),
)


class DateFilth(scrubadub.filth.Filth):
    """A date (placeholder ``{{DATE}}``): a date of birth names a child as surely as a name does."""

    type = "date"


class DateDetector(scrubadub.detectors.Detector):
    """Dates: numeric (``12/03/2015``, ``2015-03-12``), day and month (``3rd March 2015``), month and day or year (``March 3``, ``March 2015``), a year after "born"/"DOB"."""

    name = "date"
    filth_cls = DateFilth

    def iter_filth(self, text: str, document_name: str | None = None) -> Iterator[scrubadub.filth.Filth]:
        """Yield a `DateFilth` for each date in ``text``."""
        for pattern in _DATE_PATTERNS:
            for match in pattern.finditer(text):
                if re.search(r"\bmay\b", match.group()):
                    continue  # "may" the verb ("pupils under 5 may …"); the month is written "May"
                yield DateFilth(
                    beg=match.start(), end=match.end(), text=match.group(), detector_name=self.name, document_name=document_name
                )


_STREET = (
    r"(?:street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|way|court|ct|crescent|cres|place|pl|grove|gardens|gdns|terrace|"
    r"hill|park|row|square|sq|walk|mews|view|rise|green|parade|vale|wharf|yard|boulevard|approach|croft|meadows?|fold|chase|"
    r"gate|hollow|wynd|brow|heights|end)"
)
#: Words that never stand between a house number and a street name ("in year 2 on the way home").
_NOT_STREET_WORDS = (
    r"(?:on|in|at|to|the|a|an|of|and|or|my|his|her|their|our|your|is|are|was|be|by|for|from|with|into|onto|per|each|every|"
    r"since|until|till|before|after|then|when|while|as|so|but|it|this|that|these|those|we|they|he|she|i|you|me|us|them|"
    r"days?|weeks?|months?|years?|times?|hours?|hrs?|mins?|minutes?|secs?|seconds?|miles?|km|metres?|meters?|yards?|steps?|"
    r"laps?|pupils?|children|kids|staff|parents?|mums?|dads?|people|more|less|other|new|old|big|small|long|short)"
)
_ADDRESS = re.compile(
    rf"(?i)(?<!year\s)(?<!years\s)(?<!yr\s)(?<!age\s)(?<!aged\s)(?<!class\s)(?<!form\s)(?<!room\s)(?<!group\s)(?<!ks)"
    rf"\b(?:(?:flat|apartment|apt|unit|house)\s+\d{{1,4}}[a-z]?\b,?\s*)?"
    rf"\d{{1,4}}[a-z]?,?\s+(?:(?!{_NOT_STREET_WORDS}\b)[a-z][a-z'’-]*\s+){{1,3}}{_STREET}\b\.?"
    rf"|\b(?:flat|apartment|apt)\s+\d{{1,4}}[a-z]?\b"
)


class AddressFilth(scrubadub.filth.AddressFilth):
    """A street address with a house number (placeholder ``{{ADDRESS}}``)."""


class StreetAddressDetector(scrubadub.detectors.RegexDetector):
    """A house number and street (``12 Acacia Avenue``, ``221b Baker St``, ``Flat 3, 45 High Street``), or a flat number."""

    name = "street_address"
    filth_cls = AddressFilth
    regex = _ADDRESS


class NhsNumberFilth(scrubadub.filth.Filth):
    """An NHS number, or any other 10-digit number (placeholder ``{{NHS_NUMBER}}``)."""

    type = "nhs_number"


class NhsNumberDetector(scrubadub.detectors.RegexDetector):
    """Any 10-digit number, as NHS numbers are written (``943 476 5919``, ``943-476-5919``, ``9434765919``), checksum or not."""

    name = "nhs_number"
    filth_cls = NhsNumberFilth
    regex = re.compile(r"(?<![\d+])\d{3}[\s-]?\d{3}[\s-]?\d{4}(?!\d)")


#: Health and medical conditions, disabilities and their medicines: special-category data about a child.
#: Matched as whole words, any case; a trailing ``*`` matches any ending ("autis*": autism, autistic).
HEALTH_TERMS = (
    "autis*",
    "asd",
    "asperger*",
    "adhd",
    "dyslexi*",
    "dyspraxi*",
    "dyscalculi*",
    "tourette*",
    "ocd",
    "ptsd",
    "bipolar",
    "schizophreni*",
    "psychosis",
    "psychotic",
    "depression",
    "depressed",
    "anxiety disorder",
    "panic attacks",
    "self-harm*",
    "self harm*",
    "suicid*",
    "eating disorder",
    "anorexi*",
    "bulimi*",
    "epilep*",
    "seizures",
    "seizure",
    "diabet*",
    "insulin",
    "asthma*",
    "inhaler",
    "allerg*",
    "anaphyla*",
    "epipen*",
    "epi-pen*",
    "coeliac",
    "celiac",
    "cancer",
    "leukaemia",
    "leukemia",
    "tumour",
    "tumor",
    "chemo*",
    "cerebral palsy",
    "down syndrome",
    "down's syndrome",
    "downs syndrome",
    "spina bifida",
    "cystic fibrosis",
    "muscular dystrophy",
    "sickle cell",
    "hiv",
    "hepatitis",
    "tuberculosis",
    "measles",
    "chickenpox",
    "chicken pox",
    "mumps",
    "scarlet fever",
    "head lice",
    "impetigo",
    "conjunctivitis",
    "tonsillitis",
    "pregnan*",
    "miscarriage",
    "deaf",
    "hearing impair*",
    "visually impaired",
    "visual impairment",
    "wheelchair",
    "disabilit*",
    "disabled",
    "ehcp",
    "ritalin",
    "methylphenidate",
    "antidepressant*",
    "medication",
    "medicines",
    "mental illness",
    "mental health condition",
    "diagnosed",
    "diagnosis",
    "stammer",
    "stutter",
    "incontinen*",
    "glue ear",
    "eczema",
    "migraines",
    "migraine",
    "concussion",
    "covid",
    "covid-19",
)
_HEALTH = re.compile(
    r"(?i)(?<![\w-])(?:"
    + "|".join(
        re.escape(t.rstrip("*")).replace(r"\ ", r"\s+") + (r"[\w-]*" if t.endswith("*") else "")
        for t in sorted(HEALTH_TERMS, key=len, reverse=True)
    )
    + r")(?![\w-])"
)


class HealthFilth(scrubadub.filth.Filth):
    """A health or medical condition, disability or medicine (placeholder ``{{HEALTH}}``)."""

    type = "health"


class HealthDetector(scrubadub.detectors.RegexDetector):
    """The terms of `HEALTH_TERMS`, as whole words in any case."""

    name = "health"
    filth_cls = HealthFilth
    regex = _HEALTH
