"""Features of the trained pair heads: the verdict classifier's and the relevance head's.

The classifier (`assistant.rerank.TrainedJudge`, trained by ``make train``) is a multinomial
logistic regression over ``[q, c, q * c, rules]``: the fine-tuned encoder's question and clause
vectors, their product (the InferSent pair features, Conneau et al., EMNLP 2017, without
|q - c|) and a one-hot of the rules' verdict on the same pair. Out of fold (each school's
training questions judged by models that never saw it, 3,477 gold clauses, 2026-11-28), the
rules' one-hot lifted the classifier's accuracy from 0.662 to 0.677; the rules alone: 0.630.
The two are right on different questions (the vectors know the topic's usual answer, the rules
read "must not" and "unless"), and the regression learns when to trust which.

**The general view** (2026-11-28, late). Where the retriever's own embeddings are at hand, the
classifier also reads ``[Q, C, Q * C]`` of the general sentence encoders (the index's ensemble,
all-MiniLM-L6-v2 and all-mpnet-base-v2 by default): Q the retriever's vector of the question as
it embedded it with every model (`assistant.retrieval.full_query`), C the vector the index stores
for the clause whole (`assistant.index.embedding_text`). Both are computed by retrieval anyway,
so serving pays only a lookup. Out of fold (3,477 held-out gold clauses, five fold encoders),
mpnet's view of those same texts lifted the classifier from 0.678 to 0.689 (paired standard
error 0.005, every fold gained): the general encoder keeps distinctions ("allowed" against
"required") that fine-tuning for topic ranking flattens. `general_features`.

The relevance head (`relevance_features`) is a binary logistic regression over
``[q, c, q * c, |q - c|]`` (the full InferSent pair features): P(the clause answers the
question). Unlike the cosine, which weighs every dimension alike, it learns which shared
dimensions matter, and it is trained with the near misses (not-covered questions against the
clauses the retriever ranks first), which the ranking loss never sees. Out of fold (2026-11-28)
it told the answerable questions the similarity floor lets through from the near misses with
ROC AUC 0.735, against 0.586 for the reranker's `top_share`.
"""

from __future__ import annotations

import numpy as np

from .types import ANSWER_VERDICTS

#: The rules' verdicts, in the order of their one-hot slots (the classifier's classes too).
RULE_SLOTS: tuple[str, ...] = ANSWER_VERDICTS


def rule_verdict(question: str, history: list[str] | None, audience: str | None, clause_text: str) -> str:
    """The deontic rules' verdict (one of `RULE_SLOTS`) for a question on one clause.

    The clause's key sentence is the one closest in words to the question as the asker's role
    puts it (`role_query`); its modality decides (`assistant.answering.decide_verdict`).
    ``clause_text``: the clause as cited (`Clause.display_text`).
    """
    # Imported here: retrieval → index → trained_vectors → rerank → this module → answering → retrieval.
    from .answering.verdict import decide_verdict, key_sentence
    from .retrieval.query import role_query

    sentence = key_sentence(clause_text, role_query(question, audience))
    return decide_verdict(question, sentence, history)[0]


def verdict_features(query_vectors: np.ndarray, clause_vectors: np.ndarray, rule_verdicts: list[str]) -> np.ndarray:
    """``[q, c, q * c, one-hot(rules)]`` for row pairs: float32, shape ``(n, 3 * d + len(RULE_SLOTS))``.

    Raises:
        ValueError: the row counts differ, or a rule verdict is not one of `RULE_SLOTS`.
    """
    if not len(query_vectors) == len(clause_vectors) == len(rule_verdicts):
        raise ValueError(f"{len(query_vectors)} questions, {len(clause_vectors)} clauses and {len(rule_verdicts)} rule verdicts")
    unknown = sorted(set(rule_verdicts) - set(RULE_SLOTS))
    if unknown:
        raise ValueError(f"rule verdicts {unknown} are not among {list(RULE_SLOTS)}")
    rules = np.zeros((len(rule_verdicts), len(RULE_SLOTS)), dtype=np.float32)
    rules[np.arange(len(rule_verdicts)), [RULE_SLOTS.index(v) for v in rule_verdicts]] = 1.0
    q = np.asarray(query_vectors, dtype=np.float32)
    c = np.asarray(clause_vectors, dtype=np.float32)
    return np.concatenate([q, c, q * c, rules], axis=1)


def relevance_features(query_vectors: np.ndarray, clause_vectors: np.ndarray) -> np.ndarray:
    """``[q, c, q * c, |q - c|]`` for row pairs: float32, shape ``(n, 4 * d)``.

    Raises:
        ValueError: the row counts or the vector widths differ.
    """
    q, c = _paired(query_vectors, clause_vectors, "question vectors")
    return np.concatenate([q, c, q * c, np.abs(q - c)], axis=1)


def _paired(query_vectors: np.ndarray, clause_vectors: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Both as float32 matrices of one shape; ValueError naming ``what`` when they do not pair up."""
    q = np.asarray(query_vectors, dtype=np.float32)
    c = np.asarray(clause_vectors, dtype=np.float32)
    if q.shape != c.shape or q.ndim != 2:
        raise ValueError(f"{what} of shape {q.shape} and clause vectors of shape {c.shape} do not pair up")
    return q, c


def general_features(query_vectors: np.ndarray, clause_vectors: np.ndarray) -> np.ndarray:
    """``[Q, C, Q * C]`` of the general (retrieval) embeddings for row pairs: float32, shape ``(n, 3 * D)``.

    Appended to `verdict_features` by the classifier's general view (module docstring).

    Raises:
        ValueError: the row counts or the vector widths differ.
    """
    q, c = _paired(query_vectors, clause_vectors, "general question vectors")
    return np.concatenate([q, c, q * c], axis=1)
