"""Query building: whose question, which words, and how a chat's earlier question is read.

The first step of retrieval (`assistant.retrieval`): first person becomes the asker's role
(`role_query`), everyday words gain the policies' vocabulary for BM25 (`expand_query`), and a
chat's previous question is read with the current one (`query_plan`, `is_follow_up`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..text import words

#: Everyday words people type → the vocabulary school policies use. Added to the BM25
#: query (the dense model already relates most of these).
QUERY_EXPANSIONS: dict[str, str] = {
    "fb": "facebook social media networking",
    "facebook": "social media networking",
    "insta": "instagram social media networking",
    "instagram": "social media networking",
    "twitter": "social media networking",
    "tiktok": "social media networking",
    "snapchat": "social media networking",
    "whatsapp": "social media networking messaging",
    "youtube": "social media video",
    "online": "internet social media",
    "pic": "photograph image",
    "pics": "photographs images",
    "photo": "photograph image",
    "photos": "photographs images",
    "picture": "photograph image",
    "pictures": "photographs images",
    "selfie": "photograph image",
    "film": "video record",
    "filming": "video recording",
    "vid": "video",
    "mum": "parent carer",
    "dad": "parent carer",
    "mom": "parent carer",
    "kid": "child pupil",
    "kids": "children pupils",
    "son": "child pupil",
    "daughter": "child pupil",
    "lad": "child pupil",
    "ta": "staff",
    "teacher": "staff",
    "teachers": "staff",
    "head": "headteacher headmaster",
    "phone": "mobile",
    "iphone": "mobile phone",
    "laptop": "computer equipment",
    "pc": "computer equipment",
    "tablet": "ipad device",
    "login": "log-in password",
    "logins": "log-ins passwords",
    "email": "e-mail",
    "emails": "e-mails",
    "friend": "friends friendship",
    "befriend": "friend friendship",
    "share": "post publish",
    "upload": "post publish",
    "slag": "derogatory negative comments",
    "moan": "complaints negative comments",
    "rant": "complaints negative comments",
    "usb": "removable media",
    "stick": "removable media",
    "wifi": "network internet",
}

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|what about|how about|what if|what abt|and if|same|so|then|ok(ay)?|if so|even if|does that|is that|would that)\b",
    re.IGNORECASE,
)
_ANAPHORA = re.compile(r"\b(it|them|they|that|this|those|these|one|there|same|instead|too|either)\b", re.IGNORECASE)


#: How a role refers to itself in policies ("Staff must…", "Parents should…").
ROLE_NOUNS: dict[str, str] = {"staff": "staff", "parent": "parents", "pupil": "pupils", "visitor": "visitors", "governor": "governors"}
#: First-person contractions and the verb each stands for, rewritten before the pronouns:
#: "\b" matches inside "I'm", so the pronoun rule alone turned it into "parents'm".
_CONTRACTIONS: dict[str, str] = {"m": "are", "re": "are", "ve": "have", "d": "would", "ll": "will"}
_FIRST_PERSON_CONTRACTION = re.compile(r"\b(?:I|we)['’](m|re|ve|d|ll)\b", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(I|me|myself|we|us|ourselves)\b", re.IGNORECASE)
_FIRST_PERSON_POSSESSIVE = re.compile(r"\b(my|our|mine|ours)\b", re.IGNORECASE)


def role_query(question: str, audience: str | None) -> str:
    """Rewrite first person into the asker's role: policies state rules about roles.

    "Can I go on social media at school?" asked by a pupil → "Can pupils go on social
    media at school?"; "my" → "their". Without an audience the question is unchanged.
    """
    if not audience or audience not in ROLE_NOUNS:
        return question
    noun = ROLE_NOUNS[audience]
    text = _FIRST_PERSON_CONTRACTION.sub(lambda m: f"{noun} {_CONTRACTIONS[m.group(1).lower()]}", question)
    text = _FIRST_PERSON.sub(noun, text)
    return _FIRST_PERSON_POSSESSIVE.sub("their", text)


def expand_query(text: str) -> str:
    """Append the policy vocabulary for everyday words found in ``text``."""
    extra = [QUERY_EXPANSIONS[w] for w in words(text) if w in QUERY_EXPANSIONS]
    return f"{text} {' '.join(extra)}" if extra else text


def is_follow_up(question: str) -> bool:
    """True when a question leans on the chat before it ("and what about videos?")."""
    short = len(question.split()) <= 12
    return bool(_FOLLOW_UP_START.match(question)) or (short and bool(_ANAPHORA.search(question)))


#: Fusion weights of the bare question vs. the question read with the chat's last question.
FOLLOW_UP_WEIGHTS = (0.5, 1.0)
NEW_TOPIC_WEIGHTS = (1.0, 0.35)


class PlannedQuery(NamedTuple):
    """One query text of a question, with its fusion weight.

    ``light`` marks a secondary query embedded by the ensemble's first (lightest) model
    only (see `query_plan`).
    """

    text: str
    weight: float
    light: bool = False


def query_plan(question: str, history: list[str] | None) -> list[PlannedQuery]:
    """The query texts to retrieve with and their fusion weights.

    Without history: the question alone. With history: the question alone and the
    question prefixed by the previous one; a question that reads as a follow-up leans on
    the latter, a fresh one on the former. Retrieving with both keeps a new topic in a
    long chat answerable and an elliptical follow-up ("who do we tell?") in context.

    The lower-weighted of the two is marked ``light``: its dense scores come from the
    first model of the ensemble only (all-MiniLM-L6-v2 by default, ~7 ms a query here vs
    ~37 ms for all-mpnet-base-v2). On the 25 follow-ups with gold clauses in the three
    banks this gave the same hit@1 (8) and recall@5 (18) as embedding both texts with
    both models, and cut a follow-up's embedding time from ~88 to ~51 ms (README, "Speed").
    """
    if not history:
        return [PlannedQuery(question, 1.0)]
    alone, context = FOLLOW_UP_WEIGHTS if is_follow_up(question) else NEW_TOPIC_WEIGHTS
    return [
        PlannedQuery(question, alone, light=alone < context),
        PlannedQuery(f"{history[-1]} {question}", context, light=context < alone),
    ]


def full_query(plan: list[PlannedQuery]) -> PlannedQuery:
    """The plan's query embedded by every model of the ensemble (the first that is not ``light``).

    `query_plan` marks at most one query light, so every plan has one; the trained stage's
    verdict classifier reads the retriever's vector of it (`HybridRetriever.general_vectors`).

    Raises:
        ValueError: ``plan`` is empty or every query in it is light.
    """
    for query in plan:
        if not query.light:
            return query
    raise ValueError("the query plan has no query embedded by every model")
