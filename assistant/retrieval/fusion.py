"""Scoring one school's clauses: BM25, z-score standardisation, weighted fusion, the similarity floor.

Dense scores come from `assistant.retrieval.hybrid.HybridRetriever`; this module turns them and
the BM25 scores into one ranking (`fuse`), and holds the floor below which the policies are
taken not to cover a question (`should_abstain`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import bm25_tokenize
from ..types import Clause

#: Fusion weights (z-score units), measured on the project's banks (README, "Retrieval").
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.2
#: Added (z-score units) for clauses addressed to the asker's audience or to everyone.
AUDIENCE_BOOST = 0.15
#: Score given to clauses the dense search did not return (below any returned one).
UNRETRIEVED = -1.0

#: Below this cosine similarity between the query and its best clause (ensemble
#: embedding, best of the clause's vectors) the policies are taken not to cover the
#: question. Fit on evals/banks/starter+policy_bank (abstain F1), checked on holdout;
#: a query-term coverage feature and an out-of-vocabulary feature added nothing (README).
MIN_DENSE = 0.40


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
        """Index ``texts``, one per clause (tokenised by `assistant.text.bm25_tokenize`).

        Args:
            clauses: the school's clauses.
            texts: the text indexed for each clause, index-aligned with ``clauses``.
        """
        import bm25s

        self.clauses = clauses
        self._bm25 = bm25s.BM25()
        tokens = bm25_tokenize(texts)
        self._bm25.index(tokens, show_progress=False)
        self._vocab = tokens.vocab

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every clause (index-aligned with ``clauses``) for ``query``."""
        q = bm25_tokenize([query], return_ids=False)[0]
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


def should_abstain(top: Candidate) -> bool:
    """True when the best clause does not answer the question (the policies don't cover it).

    That is, when its dense similarity is below `MIN_DENSE`.
    """
    return top.dense < MIN_DENSE


def fuse(clauses: list[Clause], queries: list[QueryScores], audience: str | None) -> list[Candidate]:
    """Fuse dense and BM25 scores of one school's clauses, over one or more query texts.

    Args:
        clauses: the school's clauses.
        queries: per-query scores, index-aligned with ``clauses``.
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
