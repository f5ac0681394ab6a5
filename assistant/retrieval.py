"""Hybrid retrieval over one school's clauses: dense + BM25, fused by weighted z-scores.

Pipeline for a question (always scoped to one school, the tenant, before any ranking):

1. Query building: first person becomes the asker's role ("can I…" from a pupil →
   "can pupils…", `role_query`); a chat's previous question is read with the current
   one (`query_plan`).
2. Dense: the query's ensemble embedding (MiniLM + mpnet, see `assistant.embedding`)
   against the school's own Chroma collection (one per tenant); a clause's score is the
   best of its vectors (whole clause and each sentence). A follow-up's secondary query
   text is embedded by MiniLM alone (`PlannedQuery.light`).
3. Lexical: stemmed BM25 (bm25s + PyStemmer) over the school's clauses, the query
   expanded with everyday-to-policy vocabulary (`QUERY_EXPANSIONS`).
4. Fusion: each score list is standardised over the school's clauses (z-scores) and
   summed with weights (`DENSE_WEIGHT`, `LEXICAL_WEIGHT`), a convex-combination fusion
   (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS
   2023, found it more accurate than reciprocal rank fusion when one retriever is
   stronger; here it measured 0.59 vs 0.51 hit@1 on evals/banks/policy_bank.jsonl).
   Clauses addressed to the asker's audience get a small additive boost; it reorders,
   it never removes a clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .types import Clause

#: Fusion weights (z-score units), measured on the project's banks (README, "Retrieval").
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.2
#: Added (z-score units) for clauses addressed to the asker's audience or to everyone.
AUDIENCE_BOOST = 0.15
#: Score given to clauses the dense search did not return (below any returned one).
UNRETRIEVED = -1.0

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

_WORD = re.compile(r"[a-z0-9']+")
_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|what about|how about|what if|what abt|and if|same|so|then|ok(ay)?|if so|even if|does that|is that|would that)\b",
    re.IGNORECASE,
)
_ANAPHORA = re.compile(r"\b(it|them|they|that|this|those|these|one|there|same|instead|too|either)\b", re.IGNORECASE)


#: How a role refers to itself in policies ("Staff must…", "Parents should…").
ROLE_NOUNS: dict[str, str] = {"staff": "staff", "parent": "parents", "pupil": "pupils", "visitor": "visitors", "governor": "governors"}
_FIRST_PERSON = re.compile(r"\b(I|me|myself|we|us|ourselves)\b|\b(I'm|I've|I'd|I'll|we're|we've)\b", re.IGNORECASE)
_FIRST_PERSON_POSSESSIVE = re.compile(r"\b(my|our|mine|ours)\b", re.IGNORECASE)


def role_query(question: str, audience: str | None) -> str:
    """Rewrite first person into the asker's role: policies state rules about roles.

    "Can I go on social media at school?" asked by a pupil → "Can pupils go on social
    media at school?"; "my" → "their". Without an audience the question is unchanged.
    """
    if not audience or audience not in ROLE_NOUNS:
        return question
    noun = ROLE_NOUNS[audience]
    text = _FIRST_PERSON.sub(noun, question)
    return _FIRST_PERSON_POSSESSIVE.sub("their", text)


def expand_query(text: str) -> str:
    """Append the policy vocabulary for everyday words found in ``text``."""
    words = _WORD.findall(text.lower())
    extra = [QUERY_EXPANSIONS[w] for w in words if w in QUERY_EXPANSIONS]
    return f"{text} {' '.join(extra)}" if extra else text


def is_follow_up(question: str) -> bool:
    """True when a question leans on the chat before it ("and what about videos?")."""
    words = question.split()
    return bool(_FOLLOW_UP_START.match(question)) or (len(words) <= 12 and bool(_ANAPHORA.search(question)))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A clause scored for one question.

    Attributes:
        clause: the clause; score: fused score (z-score units, higher is better);
        dense: best cosine similarity to the query (-1..1; -1 when not retrieved);
        lexical: BM25 score (≥ 0).
    """

    clause: Clause
    score: float
    dense: float
    lexical: float


class LexicalIndex:
    """Stemmed BM25 over one school's clauses (bm25s, Lucene variant, k1=1.5, b=0.75)."""

    def __init__(self, clauses: list[Clause], texts: list[str]) -> None:
        import bm25s
        import Stemmer

        self.clauses = clauses
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25()
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)
        self._bm25.index(tokens, show_progress=False)
        self._vocab = tokens.vocab

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every clause (index-aligned with ``clauses``) for ``query``."""
        import bm25s

        q = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)[0]
        q = [t for t in q if t in self._vocab]
        if not q:
            return np.zeros(len(self.clauses), dtype=np.float32)
        return self._bm25.get_scores(q)


def standardise(scores: np.ndarray) -> np.ndarray:
    """z-scores of one score list (mean 0, unit variance); all-equal scores give zeros."""
    spread = float(scores.std())
    return (scores - scores.mean()) / spread if spread > 1e-9 else np.zeros_like(scores)


@dataclass(frozen=True, slots=True)
class QueryScores:
    """Scores of every clause of a school for one query text, index-aligned with the clauses.

    Attributes:
        dense: best cosine similarity over each clause's vectors (-1 where not retrieved);
        lexical: BM25 score; weight: this query's weight in the fusion.
    """

    dense: np.ndarray
    lexical: np.ndarray
    weight: float = 1.0


#: Fusion weights of the bare question vs. the question read with the chat's last question.
FOLLOW_UP_WEIGHTS = (0.5, 1.0)
NEW_TOPIC_WEIGHTS = (1.0, 0.35)


class PlannedQuery(NamedTuple):
    """One query text of a question: its fusion weight, and whether it is a secondary
    query embedded by the ensemble's first (lightest) model only (see `query_plan`)."""

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


def fuse(clauses: list[Clause], queries: list[QueryScores], audience: str | None) -> list[Candidate]:
    """Fuse dense and BM25 scores of one school's clauses, over one or more query texts.

    Args:
        clauses: the school's clauses; queries: per-query scores, index-aligned with them.
        audience: the asker's role; clauses tagged with it (or "everyone") get `AUDIENCE_BOOST`.

    Returns:
        every clause as a candidate, best first; ``dense``/``lexical`` on a candidate
        are the best over the query texts.
    """
    total = np.zeros(len(clauses), dtype=np.float64)
    for q in queries:
        total += q.weight * (DENSE_WEIGHT * standardise(q.dense) + LEXICAL_WEIGHT * standardise(q.lexical))
    total /= sum(q.weight for q in queries)
    if audience:
        total += AUDIENCE_BOOST * np.array([audience in c.audiences or "everyone" in c.audiences for c in clauses], dtype=np.float64)
    dense = np.max(np.stack([q.dense for q in queries]), axis=0)
    lexical = np.max(np.stack([q.lexical for q in queries]), axis=0)
    order = sorted(range(len(clauses)), key=lambda i: (-total[i], clauses[i].start))
    return [Candidate(clauses[i], float(total[i]), float(dense[i]), float(lexical[i])) for i in order]
