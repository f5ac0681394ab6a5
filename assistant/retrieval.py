"""Hybrid retrieval over one school's clauses: dense + BM25, fused by reciprocal rank fusion.

Pipeline for a question (always scoped to one school, the tenant, before any ranking):

1. Query building: a follow-up ("what about my own child?") is read together with the
   chat's previous question (`contextual_query`).
2. Dense: the question's MiniLM embedding against the school's clauses in Chroma
   (``filter={"school": …}``), cosine similarity.
3. Lexical: stemmed BM25 (bm25s + PyStemmer) over the school's clauses, the query
   expanded with everyday-to-policy vocabulary (`QUERY_EXPANSIONS`).
4. Reciprocal rank fusion of the two rankings (Cormack, Clarke & Büttcher, SIGIR 2009,
   k = 60), then a small boost for clauses addressed to the asker's audience. The boost
   reorders; it never removes a clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .types import Clause

#: RRF constant from Cormack et al. (2009).
RRF_K = 60
#: How many candidates each retriever contributes to fusion.
CANDIDATES = 40
#: Multiplier for clauses addressed to the asker's audience (or to everyone).
AUDIENCE_BOOST = 1.08
#: Weight of the dense ranking relative to BM25 in the fusion.
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0

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


def expand_query(text: str) -> str:
    """Append the policy vocabulary for everyday words found in ``text``."""
    words = _WORD.findall(text.lower())
    extra = [QUERY_EXPANSIONS[w] for w in words if w in QUERY_EXPANSIONS]
    return f"{text} {' '.join(extra)}" if extra else text


def is_follow_up(question: str) -> bool:
    """True when a question leans on the chat before it ("and what about videos?")."""
    words = question.split()
    return bool(_FOLLOW_UP_START.match(question)) or (len(words) <= 12 and bool(_ANAPHORA.search(question)))


def contextual_query(question: str, history: list[str] | None) -> str:
    """The text to retrieve with: a follow-up is prefixed by the previous question."""
    if history and is_follow_up(question):
        return f"{history[-1]} {question}"
    return question


@dataclass(frozen=True, slots=True)
class Candidate:
    """A clause scored for one query.

    Attributes:
        clause: the clause; score: fused score (higher is better);
        dense: cosine similarity to the query (-1..1); lexical: BM25 score (≥ 0);
        dense_rank, lexical_rank: 1-based ranks (0 when not among the candidates).
    """

    clause: Clause
    score: float
    dense: float
    lexical: float
    dense_rank: int
    lexical_rank: int


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


def reciprocal_rank_fusion(rankings: list[tuple[list[int], float]], k: int = RRF_K) -> dict[int, float]:
    """Fuse rankings of item indices: ``score(i) = Σ w / (k + rank_i)`` (Cormack et al., 2009).

    Args:
        rankings: ``(ranked item indices, weight)`` pairs, best first.
        k: the RRF constant.

    Returns:
        item index → fused score.
    """
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def fuse(
    clauses: list[Clause],
    dense: np.ndarray,
    lexical: np.ndarray,
    audience: str | None,
    candidates: int = CANDIDATES,
) -> list[Candidate]:
    """Fuse dense and BM25 scores of one school's clauses into a ranked candidate list.

    Args:
        clauses: the school's clauses; dense, lexical: their scores, index-aligned.
        audience: the asker's role; clauses tagged with it (or "everyone") get `AUDIENCE_BOOST`.

    Returns:
        candidates, best first (at most ``2 * candidates``).
    """
    dense_order = [int(i) for i in np.argsort(-dense)[:candidates]]
    lexical_order = [int(i) for i in np.argsort(-lexical)[:candidates] if lexical[i] > 0]
    fused = reciprocal_rank_fusion([(dense_order, DENSE_WEIGHT), (lexical_order, LEXICAL_WEIGHT)])
    dense_rank = {i: r for r, i in enumerate(dense_order, start=1)}
    lexical_rank = {i: r for r, i in enumerate(lexical_order, start=1)}
    out = []
    for i, score in fused.items():
        clause = clauses[i]
        if audience and (audience in clause.audiences or "everyone" in clause.audiences):
            score *= AUDIENCE_BOOST
        out.append(Candidate(clause, score, float(dense[i]), float(lexical[i]), dense_rank.get(i, 0), lexical_rank.get(i, 0)))
    out.sort(key=lambda c: (-c.score, c.clause.start))
    return out
