"""The redaction pass: a typed question cleaned of hiding characters, then its personal data replaced by placeholders.

`clean_text` (NFKC, then `strip_invisible`) is what is checked and stored of a question;
`redact` runs scrubadub's detectors and those of `assistant.redaction.detectors` over it.
"""

from __future__ import annotations

import threading
import unicodedata

import scrubadub

from .detectors import DateDetector, HealthDetector, NameDetector, NhsNumberDetector, StreetAddressDetector, UkPhoneShapeDetector

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


# --- the redaction pass ------------------------------------------------------------------------

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
