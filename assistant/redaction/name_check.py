"""Is there still a name in it? The check the question log runs on a question after `redact`.

Names with no cue around them ("Can Tom bring his phone?") pass the detectors; `possible_names`
finds words that may be one from Faker's name lists and TextBlob's English dictionary, both
shipped with the installed packages (nothing is downloaded).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import scrubadub

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
