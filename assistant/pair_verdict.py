"""The pair model for verdicts: the question and the clause read together, as one input.

The verdict classifier of `assistant.rerank` reads the question's and the clause's vectors, each
encoded alone, so it cannot see which words of the question meet which words of the clause ("do
they charge for the office phone?" against "… at no cost"; "is Nutella ok?" against "must not
contain … Nutella"). This model reads ``question [SEP] clause`` (`pair_query`, `pair_passage`,
BERT segment ids) through all-MiniLM-L6-v2 fine-tuned on this domain's questions
(``training/pair_verdict.py``), mean-pools the last hidden states and maps them to logits over
`VERDICT_CLASSES` with a linear head. Serving mixes its probabilities with the classifier's
(``pair_verdict_weight`` in the manifest, chosen out of fold). It reads one pair per answer,
the cited clause (~6 ms on 2 threads, measured 2026-11-29).

Files (``assistant/trained/pair/``): ``model.onnx`` (inputs ``input_ids``, ``attention_mask``,
``token_type_ids``, int64 ``(batch, tokens)``; output ``logits`` ``(batch, 4)``; weights stored in
fp16 and cast to fp32 at load, `assistant.onnx_encoder.store_weights_fp16`), ``tokenizer.json``,
``special_tokens_map.json`` and ``pair.json`` (``labels``: the logits' classes in order,
``max_length``: tokens per pair).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .onnx_encoder import cpu_session_options
from .types import ANSWER_VERDICTS

#: Files a pair-model folder holds.
PAIR_FILES: tuple[str, ...] = ("model.onnx", "tokenizer.json", "special_tokens_map.json", "pair.json")
#: How a pair longer than ``max_length`` is cut, in training and at serving alike: tokens come
#: off the longer side first, so a long clause is cut before the question is.
TRUNCATION = "longest_first"


class PairModelError(RuntimeError):
    """A pair-model folder is missing a file or holds one that cannot be read (names the file and says how to rebuild it)."""


def pair_tokenizer(folder: Path, max_length: int):
    """The folder's ``tokenizer.json`` (``tokenizers`` library), cutting pairs to ``max_length`` tokens.

    Pairs are cut by `TRUNCATION` and each batch is padded to its longest pair.

    Encodes ``(question, clause)`` tuples as BERT does, ``[CLS] q [SEP] c [SEP]`` with segment
    ids 0 then 1, the same ids as transformers' tokenizer with ``truncation="longest_first"``
    (`tests/test_pair_verdict.py` checks it).

    Raises:
        PairModelError: no ``tokenizer.json``, or no pad token in ``special_tokens_map.json``.
    """
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        pad = json.loads((folder / "special_tokens_map.json").read_text(encoding="utf-8")).get("pad_token")
    except Exception as exc:  # OSError, ValueError, and tokenizers' own Exception type
        raise PairModelError(
            f"{folder}: tokenizer.json or special_tokens_map.json cannot be read ({exc}); rebuild with `make train`"
        ) from exc
    pad = pad.get("content") if isinstance(pad, dict) else pad
    if pad is None or tokenizer.token_to_id(pad) is None:
        raise PairModelError(f"{folder}: no pad token in special_tokens_map.json; rebuild with `make train`")
    tokenizer.enable_truncation(max_length=max_length, strategy=TRUNCATION)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad), pad_token=pad)
    return tokenizer


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, k)`` logits, shape ``(n, k)``; rows sum to 1."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class PairVerdictModel:
    """P(yes / no / conditional / info) of (question, clause) pairs from the ONNX pair model.

    Args:
        folder: a pair-model folder (`PAIR_FILES`).
        threads: ONNX Runtime intra-op threads (≥ 1).

    Raises:
        PairModelError: a file is missing or unreadable, or ``pair.json``'s labels are not the
            verdict classes.
    """

    def __init__(self, folder: Path, threads: int = 1) -> None:
        """Open the tokenizer and an ONNX Runtime CPU session; args as on the class."""
        import onnxruntime as ort

        missing = [name for name in PAIR_FILES if not (folder / name).is_file()]
        if missing:
            raise PairModelError(f"{folder}: missing {', '.join(missing)}; rebuild with `make train`")
        try:
            config = json.loads((folder / "pair.json").read_text(encoding="utf-8"))
            self.labels = [str(x) for x in config["labels"]]
            self.max_length = int(config["max_length"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PairModelError(f"{folder / 'pair.json'} cannot be read ({exc}); rebuild with `make train`") from exc
        if sorted(self.labels) != sorted(ANSWER_VERDICTS):
            raise PairModelError(
                f"{folder / 'pair.json'}: labels {self.labels} are not the verdict classes {list(ANSWER_VERDICTS)}; rebuild with `make train`"
            )
        # Columns of the model's logits in `ANSWER_VERDICTS` order.
        self._columns = [self.labels.index(v) for v in ANSWER_VERDICTS]
        self._tokenizer = pair_tokenizer(folder, self.max_length)
        try:
            self._session = ort.InferenceSession(
                str(folder / "model.onnx"), cpu_session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types for a damaged file
            raise PairModelError(f"{folder / 'model.onnx'} cannot be loaded ({exc}); rebuild with `make train`") from exc

    def probabilities(self, queries: list[str], passages: list[str], batch_size: int = 32) -> np.ndarray:
        """P(verdict) of each (query, passage) pair, shape ``(n, 4)``, columns in `ANSWER_VERDICTS` order.

        ``queries``: `assistant.rerank.pair_query` texts; ``passages``: `assistant.rerank.pair_passage`
        texts, as many. Pairs are batched by length so padding stays short.

        Raises:
            ValueError: the two lists differ in length.
        """
        if len(queries) != len(passages):
            raise ValueError(f"{len(queries)} queries for {len(passages)} passages")
        out = np.empty((len(queries), len(ANSWER_VERDICTS)), dtype=np.float32)
        order = sorted(range(len(queries)), key=lambda i: len(queries[i]) + len(passages[i]))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            encoded = self._tokenizer.encode_batch([(queries[i], passages[i]) for i in batch])
            feed = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            (logits,) = self._session.run(None, feed)
            out[batch] = softmax(logits)[:, self._columns]
        return out


def mix_verdict_probabilities(classifier: np.ndarray, pair: np.ndarray | None, weight: float) -> np.ndarray:
    """``weight · pair + (1 − weight) · classifier``, rows over `ANSWER_VERDICTS`, shape ``(n, 4)``.

    ``classifier``: the verdict classifier's probabilities; ``pair``: the pair model's (None, or
    ``weight`` 0: the classifier's alone). A linear pool of two probability distributions
    (Stone, "The opinion pool", 1961); the weight is chosen out of fold by ``make train``.

    Raises:
        ValueError: the shapes differ, or ``weight`` is outside [0, 1].
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"pair verdict weight {weight} is outside [0, 1]")
    if pair is None or weight == 0.0:
        return classifier
    if pair.shape != classifier.shape:
        raise ValueError(f"pair probabilities of shape {pair.shape} against the classifier's {classifier.shape}")
    return weight * pair + (1.0 - weight) * classifier
