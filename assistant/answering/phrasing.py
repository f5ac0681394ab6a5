"""The answer's wording: the verdict and condition, then what the school's policy says (issue 18).

One plain-English sentence per answer ("No — Glais's Social Media Policy says parents must
not …."): `plain_answer`, with the policy's title shortened by `short_title`. The clause
itself is quoted once, in the citation, not here.
"""

from __future__ import annotations

import re

from ..text import split_sentences
from .verdict import Modality


def _condition_phrase(condition: str) -> str:
    c = condition.strip().rstrip(".;,")
    low = c.lower()
    if low.startswith("unless "):
        return "only if " + c[7:]
    if low.startswith("without "):
        return "only with " + c[8:]
    return c[0].lower() + c[1:] if c else c


#: Policy titles longer than this are shortened in the answer's sentence (the citation card keeps the full title).
MAX_TITLE_CHARS = 40
_TITLE_BREAK = re.compile(r"\s+(?:and|&|incorporating|including|for|–|—|-)\s+|\s*[:(]\s*", re.IGNORECASE)
#: A lead-in that introduces a list rather than starting the rule ("… mindful of the following procedures:").
_PREAMBLE_LEAD_IN = re.compile(r"\b(following|as follows|below|these|procedures?|guidelines?|points?|rules?)\s*:?\s*$", re.IGNORECASE)


def short_title(title: str) -> str:
    """``title`` shortened for a sentence ("Social Media Policy and Use of Mobile Phones … Policy" → "Social Media Policy").

    A title of at most `MAX_TITLE_CHARS` characters is kept; a longer one is cut before its first
    " and ", " & ", " for ", dash, colon or bracket when at least two words remain.
    """
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    head = _TITLE_BREAK.split(title, maxsplit=1)[0].strip()
    return head if len(head.split()) >= 2 else title


def _statement(sentence: str, lead_in: str) -> str:
    """The key sentence as the body of "… says <statement>".

    No quote marks, a lead-in that only introduces a list ("… the following procedures:")
    dropped, "should: Not disclose" joined as "should not disclose", the first letter
    lower-cased unless it starts an acronym or "I".
    """
    text = " ".join(sentence.split()).rstrip(" ;,:")
    leads = [" ".join(lead_in.split())]
    leads.append(split_sentences(leads[0], at_semicolons=True)[-1])  # the key sentence may hold only the lead-in's last sentence
    lead = next((lead for lead in leads if lead and text.startswith(lead)), "")
    if lead.endswith(":"):
        rest = text[len(lead) :].strip()
        if _PREAMBLE_LEAD_IN.search(lead) and len(rest.split()) >= 4:
            text = rest
        elif rest:
            text = f"{lead[:-1].rstrip()} {_lower_first(rest)}"
    text = text.strip("“”\"' ")
    if re.match(r"I\b", text):  # a signed agreement ("I will not disclose …"): to the reader
        text = _FIRST_PERSON.sub(_to_reader, text)
    return _lower_first(text).rstrip(".") + "."


_TO_READER = {"i": "you", "i'm": "you're", "me": "you", "my": "your", "mine": "yours", "myself": "yourself"}
_FIRST_PERSON = re.compile(r"\b(I'm|I|me|my|mine|myself)\b", re.IGNORECASE)


def _to_reader(match: re.Match) -> str:
    word = _TO_READER[match.group(0).lower()]
    starts = match.start() == 0 or re.search(r"[.!?]\s+$", match.string[: match.start()])
    return word[0].upper() + word[1:] if starts else word


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if not first or first == "I" or (len(first) > 1 and first[:2].isupper()) or first.startswith("I'"):
        return text
    return text[0].lower() + text[1:]


def plain_answer(verdict: str, mod: Modality, sentence: str, school_name: str, document_title: str, lead_in: str = "") -> str:
    """The answer as one plain-English sentence (issue 18).

    The verdict, then what the school's policy says, unquoted ("No — Glais's Social Media
    Policy says parents must not …."). The clause itself is quoted once, in the citation
    (`Answer.citations`), not here.

    Args:
        verdict: yes / no / conditional / info.
        mod: the key sentence's `Modality` (its condition; `assistant.answering.verdict.modality`).
        sentence: the clause's key sentence (`assistant.answering.verdict.key_sentence`).
        school_name: whose policy (display name).
        document_title: the policy's title (shortened by `short_title`).
        lead_in: the clause's lead-in.

    Returns:
        the answer text.
    """
    says = f"{school_name}'s {short_title(document_title)} says {_statement(sentence, lead_in)}"
    if verdict == "yes":
        return f"Yes — {says}"
    if verdict == "no":
        return f"No — {says}"
    if verdict == "conditional":
        phrase = _condition_phrase(mod.condition) if mod.condition else (f"only {mod.only}" if mod.only else "")
        lead = phrase[0].upper() + phrase[1:] if phrase else "Only in the circumstances the policy sets out"
        return f"{lead.rstrip('.')} — {says}"
    return says[0].upper() + says[1:]
