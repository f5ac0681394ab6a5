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
- Patterns of `detectors` find **dates** (``12/03/2015``, ``2015-03-12``, ``3rd March 2015``,
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

The package:

- `detectors`: the detectors added to scrubadub's (`NameDetector`, `UkPhoneShapeDetector`,
  `DateDetector`, `StreetAddressDetector`, `NhsNumberDetector`, `HealthDetector`) and their
  filth types.
- `scrub`: the redaction pass: `clean_text` / `strip_invisible`, then `redact`.
- `name_check`: `possible_names` / `might_name_someone`, run on the redacted text.
"""

from .detectors import (
    HEALTH_TERMS,
    AddressFilth,
    DateDetector,
    DateFilth,
    HealthDetector,
    HealthFilth,
    NameDetector,
    NameFilth,
    NhsNumberDetector,
    NhsNumberFilth,
    StreetAddressDetector,
    UkPhoneShapeDetector,
)
from .name_check import EVERYDAY_PROPER_WORDS, might_name_someone, possible_names
from .scrub import clean_text, redact, strip_invisible

__all__ = [
    "EVERYDAY_PROPER_WORDS",
    "HEALTH_TERMS",
    "AddressFilth",
    "DateDetector",
    "DateFilth",
    "HealthDetector",
    "HealthFilth",
    "NameDetector",
    "NameFilth",
    "NhsNumberDetector",
    "NhsNumberFilth",
    "StreetAddressDetector",
    "UkPhoneShapeDetector",
    "clean_text",
    "might_name_someone",
    "possible_names",
    "redact",
    "strip_invisible",
]
