"""Redact personal data from a question before it is stored.

The data: emails, phone numbers, UK postcodes, dates, street addresses, NHS numbers, health
conditions and (some) names.

Parents type things like "my son Tom Jones (tom@example.com, 07911 123456, SW1A 1AA) lost
his phone — who do I tell?". Before such a question is written to the question log,
`redact` replaces each piece of personal data with a placeholder:
``"my son {{NAME}} ({{EMAIL}}, {{PHONE}}, {{POSTALCODE}}) lost his phone — who do I tell?"``.

How (checked on this machine, offline):

- First the text is NFKC-normalised (full-width digits and letters become ASCII) and every
  control, format and private-use character is removed (`strip_invisible`), so a zero-width
  space inside ``tom@\u200bexample.com`` cannot hide an email from the detectors.
- **scrubadub** (a maintained-enough PII scrubber, pure Python, no model download) finds
  emails, phone numbers (Google's ``phonenumbers``, UK locale), UK postcodes, URLs,
  National Insurance numbers, credit-card numbers, vehicle plates and credentials.
- Patterns of this module find **dates** (``12/03/2015``, ``2015-03-12``, ``3rd March 2015``,
  ``March 3``, ``March 2015``, "born in 2015", "DOB 2015": `DateDetector`), **street addresses**
  with a house number (``12 Acacia Avenue``, ``Flat 3b``: `StreetAddressDetector`), **NHS
  numbers** (any 10-digit number, spaced ``943 476 5919`` or not: `NhsNumberDetector`) and
  **health and medical conditions** (autism, ADHD, epilepsy, diabetes, allergies, self-harm,
  pregnancy, … and their medicines: `HealthDetector`, the list is `HEALTH_TERMS`).
- **Names** need a named-entity model, and none runs offline here: Presidio and
  ``scrubadub_spacy`` need a spaCy English pipeline, which Explosion publishes only on
  GitHub (not PyPI); the PyPI copies are unofficial re-uploads, and scrubadub's TextBlob
  name detector downloads NLTK corpora at run time. So names are found by the documented
  patterns of `NameDetector` (a title before a surname, a name after "my son/daughter/child…",
  after "named"/"called", after "my name is"). A bare name with no such cue ("Can Tom bring
  his phone?", "jack smith in year 2 …") is **not** redacted: `might_name_someone` is the
  check the question log runs after redaction to decide whether the question text may be
  stored at all (see `assistant.question_log`).
- Phone numbers ``phonenumbers`` rejects as unallocated (e.g. Ofcom's drama ranges
  ``07700 900xxx``) are caught by `UkPhoneShapeDetector`, which redacts any UK-shaped number.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import cache
from pathlib import Path

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


# --- characters that hide text from the detectors ---------------------------------------------

#: Unicode categories removed by `strip_invisible`: controls, format characters (zero-width
#: spaces and joiners, bidi overrides, soft hyphen, BOM), surrogates, private use, unassigned.
_INVISIBLE_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))
_SPACES = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def strip_invisible(text: str) -> str:
    r"""``text`` without control, format, surrogate, private-use or unassigned characters.

    Tabs and line breaks become spaces; everything else of those categories (``\x00``,
    ``\u200b`` zero-width space, ``\u202e`` right-to-left override, ``\ufeff``, a lone
    surrogate such as ``\ud800``) is dropped.
    """
    return "".join(" " if ch in _SPACES else ch for ch in text if ch in _SPACES or unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)


def clean_text(text: str) -> str:
    """What is checked and stored of a typed question.

    NFKC-normalised (full-width ``０７９１１`` → ``07911``), then `strip_invisible`. A lone
    surrogate (which NFKC cannot encode) is dropped first.
    """
    text = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)
    return strip_invisible(unicodedata.normalize("NFKC", text))


# --- is there still a name in it? ----------------------------------------------------------------

_TEXTBLOB_EN = Path(scrubadub.__file__).resolve().parents[1] / "textblob" / "en"
#: Locales of Faker whose name lists are used (first names and surnames common in UK schools).
_NAME_LOCALES = ("en_GB", "en_US", "en_IE", "en_IN", "en_NG", "en_KE", "en_PK", "en_NZ", "pl_PL", "ga_IE")
#: Given names that are also everyday words often enough to be kept in a question as words.
_GIVEN_NAMES_NOT_WORDS = frozenset(
    ("john", "peter", "william", "jack", "harry", "charlotte", "lucy", "sally", "tom", "maria", "louis", "hugh", "ken")
)
#: Words (and brands) typed in policy questions that the dictionary lacks; a capitalised one is not taken for a name.
EVERYDAY_PROPER_WORDS = frozenset(
    re.findall(
        r"\S+",
        """
    facebook fb insta instagram tiktok tiktoks youtube youtuber snapchat snap whatsapp twitter x linkedin reddit discord
    messenger telegram signal pinterest tumblr threads bereal twitch roblox minecraft fortnite nintendo xbox playstation
    ps5 steam spotify netflix google gmail hotmail outlook yahoo icloud apple iphone ipad ipod imac macbook android
    samsung microsoft windows office teams zoom skype onedrive dropbox sharepoint chromebook chromebooks kindle alexa
    siri chatgpt openai copilot wifi bluetooth airdrop airpods ebay amazon gumtree vinted depop paypal mumsnet blogger
    wordpress animoto canva seesaw tapestry classdojo dojo parentmail parentpay scopay arbor sims bromcom ofsted dfe
    senco sendco dsl dfes kcsie prevent ks1 ks2 ks3 ks4 sats gcse gcses alevels btec pe pta pshe rse re ict it eyfs
    nhs gp cctv dbs gdpr ico covid christmas easter diwali eid ramadan hanukkah halloween monday tuesday wednesday
    thursday friday saturday sunday january february march april may june july august september october november
    december england scotland wales britain uk london st mr mrs ms miss sir dr guy guys sen send sys admin
    """,
    )
)


@cache
def _vocabulary() -> tuple[frozenset[str], frozenset[str]]:
    """(English words, lower case; name words not also everyday words), from TextBlob's and Faker's shipped lists."""
    import importlib

    words: set[str] = set()
    frequency: dict[str, int] = {}
    for line in (_TEXTBLOB_EN / "en-spelling.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith(";"):
            frequency[parts[0]] = int(parts[1])
    lower_case_words = set()
    for line in (_TEXTBLOB_EN / "en-lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[1].startswith("NNP") and parts[0].islower():
            lower_case_words.add(parts[0])
    words = set(frequency) | lower_case_words | EVERYDAY_PROPER_WORDS
    names: set[str] = set()
    for locale in _NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female", "last_names"):
            for full in getattr(provider, attr, ()):
                names.update(part.lower() for part in re.split(r"[\s-]", full) if part.isascii() and part.isalpha())
    everyday = {n for n in names if n in lower_case_words and frequency.get(n, 0) >= 5} - _GIVEN_NAMES_NOT_WORDS
    return frozenset(words), frozenset(names - everyday - EVERYDAY_PROPER_WORDS)


#: A word as a name is written, not `assistant.text.words`: capitals, any script's letters and an
#: inner apostrophe of either kind are kept ("O’Neill", "Zoë"), since case and spelling decide
#: whether a word is taken for a name.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
_SAINT = re.compile(r"\b(?:St|Saint)\.?\s+$")


def possible_names(text: str) -> list[str]:
    """Words of ``text`` (after `redact`) that may be a person's name; empty when none looks like one.

    A word is taken for a name when it is in the first-name or surname lists shipped with
    Faker (``en_GB``, ``en_US``, ``en_IE``, ``en_IN``, ``en_NG``, ``en_KE``, ``en_PK``, ``en_NZ``,
    ``pl_PL``, ``ga_IE``; about 8,000 names) and is not an everyday English word (TextBlob's
    lexicon: "will", "grace", "may", "mark", "green" are kept as words), in any case ("jack smith");
    or when it is capitalised (anywhere) and is no English word (TextBlob's 64,000-word
    dictionary) or common brand (`EVERYDAY_PROPER_WORDS`): "Zephyrine". A rare name typed in lower
    case ("zephyrine") and a name that is also an everyday word ("Grace", "Will") are missed.
    """
    words, names = _vocabulary()
    text = _PLACEHOLDER.sub(" ", text)
    found = []
    for match in _WORD.finditer(text):
        word = match.group()
        low = re.sub(r"['’]s$", "", word.lower())
        if _SAINT.search(text[: match.start()]):
            continue  # "St Michael's", "Saint Margaret's": a school or church, not a person
        if low in names:
            found.append(word)
            continue
        if word[0].isupper() and not word.isupper() and low not in words and word.lower() not in words:
            found.append(word)
    return found


def might_name_someone(text: str) -> bool:
    """True when ``text`` (already redacted) may still name a person: see `possible_names`."""
    return bool(possible_names(text))


_lock = threading.Lock()
_scrubber: scrubadub.Scrubber | None = None


def _get_scrubber() -> scrubadub.Scrubber:
    global _scrubber
    with _lock:
        if _scrubber is None:
            scrubber = scrubadub.Scrubber(locale="en_GB")
            scrubber.add_detector(NameDetector)
            scrubber.add_detector(UkPhoneShapeDetector)
            for detector in (DateDetector, StreetAddressDetector, NhsNumberDetector, HealthDetector):
                scrubber.add_detector(detector)
            _scrubber = scrubber
        return _scrubber


def redact(text: str) -> str:
    """``text`` with personal data replaced by placeholders.

    The placeholders: ``{{EMAIL}}``, ``{{PHONE}}``, ``{{POSTALCODE}}``, ``{{DATE}}``,
    ``{{ADDRESS}}``, ``{{NHS_NUMBER}}``, ``{{HEALTH}}``, ``{{NAME}}``, …

    The text is first passed through `clean_text` (NFKC, no control or format characters), so
    a zero-width space cannot split an email or a phone number. Thread-safe; about 1 ms for a
    question. Overlapping finds are merged into one placeholder.
    """
    text = clean_text(text)
    if not text:
        return text
    scrubber = _get_scrubber()
    with _lock:  # scrubadub's detectors keep no state, but its Scrubber is not documented as thread-safe
        return scrubber.clean(text)
