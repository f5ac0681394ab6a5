"""The trained encoder's clause vectors, computed at ingest and stored with the index generation.

The trained stage (`assistant.rerank`) compares a question with its school's first clauses
through the fine-tuned encoder. Encoding a clause costs ~10–30 ms on these 2 cores, and doing
it on a clause's first rereading made the first questions after every start or re-ingest the
slow ones (README, "Latency": ``ask`` p95 250 ms with the stage against 132 ms without, under
load). Ingest now encodes every clause once and stores one record per school beside its
clause records; serving reads it with the school's clauses. A generation built without the
trained models, or by another encoder (``make train`` since), has no record that fits: serving
then encodes a clause on its first rereading, as before, so answers never depend on it.

A record is one JSON text per school (``trained-vectors/<school>.json`` in a local generation,
a ``text:`` record of the meta collection on a Chroma server)::

    {"encoder": "<TrainedJudge.encoder_id>", "dimension": 384,
     "clauses": [["<clause id>", "<passage key>"], ...],
     "vectors": "<base64 of little-endian float32, clauses × dimension, row-major>"}

The passage key (`passage_key`) lets the next ingest reuse a vector whose clause text did not
change, as the index reuses the general encoders' vectors.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable

import numpy as np

from .embedding import EmbeddingCache
from .rerank import TrainedJudge, pair_passage
from .types import Clause

#: Folder, inside a generation, of the per-school records.
TRAINED_VECTORS_DIR = "trained-vectors"
#: Passages encoded per ONNX call at ingest (the encoder sorts each call's texts by length).
ENCODE_CHUNK = 64


def trained_vectors_file(school: str) -> str:
    """Path, inside a generation, of ``school``'s trained clause vectors."""
    return f"{TRAINED_VECTORS_DIR}/{school}.json"


def passage_key(clause: Clause) -> str:
    """SHA-256 (first 32 hex digits) of the text the trained encoder reads for ``clause`` (`pair_passage`)."""
    return hashlib.sha256(pair_passage(clause).encode("utf-8")).hexdigest()[:32]


def encode_record(encoder_id: str, clauses: list[Clause], vectors: np.ndarray) -> str:
    """One school's record (the JSON text described in the module docstring).

    Args:
        encoder_id: `TrainedJudge.encoder_id` of the encoder that made ``vectors``.
        clauses: the school's clauses, in the order of ``vectors``' rows.
        vectors: float array of shape ``(len(clauses), dimension)``.

    Raises:
        ValueError: ``vectors`` has another number of rows than there are clauses.
    """
    matrix = np.ascontiguousarray(vectors, dtype="<f4")
    if matrix.ndim != 2 or matrix.shape[0] != len(clauses):
        raise ValueError(f"{matrix.shape} vectors for {len(clauses)} clauses")
    return json.dumps(
        {
            "encoder": encoder_id,
            "dimension": int(matrix.shape[1]),
            "clauses": [[c.clause_id, passage_key(c)] for c in clauses],
            "vectors": base64.b64encode(matrix.tobytes()).decode("ascii"),
        },
        separators=(",", ":"),
    )


def decode_record(text: str, encoder_id: str) -> dict[str, tuple[str, np.ndarray]]:
    """A record's vectors by clause id, each with its passage key: ``{clause_id: (key, vector)}``.

    Returns an empty mapping when the record was made by another encoder (its vectors would
    not be comparable with this encoder's questions).

    Raises:
        ValueError: the text is not a well-formed record (truncated, wrong sizes).
    """
    try:
        record = json.loads(text)
        if record["encoder"] != encoder_id:
            return {}
        dimension = int(record["dimension"])
        ids = [(str(clause_id), str(key)) for clause_id, key in record["clauses"]]
        matrix = np.frombuffer(base64.b64decode(record["vectors"], validate=True), dtype="<f4")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a trained-vectors record ({type(exc).__name__}: {exc})") from exc
    if dimension <= 0 or matrix.size != len(ids) * dimension:
        raise ValueError(f"{matrix.size} numbers for {len(ids)} clauses of dimension {dimension}")
    matrix = matrix.reshape(len(ids), dimension).astype(np.float32)
    return {clause_id: (key, matrix[n]) for n, (clause_id, key) in enumerate(ids)}


def school_records(
    judge: TrainedJudge,
    by_school: dict[str, list[Clause]],
    previous_record: Callable[[str], str | None],
) -> dict[str, str]:
    """Each school's record, reusing the previous generation's vectors of unchanged clauses.

    Args:
        judge: the trained stage whose encoder makes the vectors.
        by_school: each school's clauses in document order.
        previous_record: a school's record in the previous generation, or None (a record
            that does not decode is ignored: its clauses are encoded again).

    Returns:
        ``{school: record text}`` for every school of ``by_school``. Vectors come from the
        previous generation, else the persistent embedding cache, else the encoder (the
        passages not found are encoded together), so a re-ingest that changes one document
        encodes only its changed clauses.
    """
    reusable: dict[str, np.ndarray] = {}
    for school in by_school:
        text = previous_record(school)
        if text:
            try:
                reusable.update(dict(decode_record(text, judge.encoder_id).values()))
            except ValueError:
                continue
    keys = {c.clause_id: passage_key(c) for clauses in by_school.values() for c in clauses}
    passages = {keys[c.clause_id]: c for clauses in by_school.values() for c in clauses if keys[c.clause_id] not in reusable}
    missing = list(passages)
    # Then the persistent embedding cache (`assistant.embedding.EmbeddingCache`, one file per
    # encoder): a fresh index folder of the same policies (a test, a format check) encodes nothing.
    cache = EmbeddingCache.for_model(f"trained-{judge.encoder_id}", judge.encoder.dimension)
    texts = [pair_passage(passages[k]) for k in missing]
    cached = cache.get_many(texts)
    reusable.update((k, v) for k, v in zip(missing, cached, strict=True) if v is not None)
    todo = [(k, t) for k, t, v in zip(missing, texts, cached, strict=True) if v is None]
    for start in range(0, len(todo), ENCODE_CHUNK):
        chunk = todo[start : start + ENCODE_CHUNK]
        fresh = judge.encoder.encode([t for _, t in chunk])
        cache.put_many([t for _, t in chunk], fresh)
        reusable.update(zip((k for k, _ in chunk), fresh, strict=True))
    return {
        school: encode_record(judge.encoder_id, clauses, np.stack([reusable[keys[c.clause_id]] for c in clauses]))
        for school, clauses in by_school.items()
        if clauses
    }


def clause_vectors(text: str, encoder_id: str, clauses: Iterable[Clause]) -> dict[str, np.ndarray]:
    """The stored vectors of ``clauses`` that fit: same encoder, same passage text.

    Returns:
        ``{clause_id: vector}``; clauses the record lacks or whose text changed are left
        out (the reranker encodes those on first use).

    Raises:
        ValueError: the record is malformed (see `decode_record`).
    """
    stored = decode_record(text, encoder_id)
    return {c.clause_id: stored[c.clause_id][1] for c in clauses if c.clause_id in stored and stored[c.clause_id][0] == passage_key(c)}
