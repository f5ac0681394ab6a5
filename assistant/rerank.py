"""Trained stages after retrieval: a cross-encoder reranker, a verdict classifier and a
calibrated confidence with three answer bands (issue 16).

The hybrid retriever (`assistant.retrieval`) ranks every clause of the asker's school. This
stage reads the question and each of the first `RERANK_DEPTH` clauses *together* with a
cross-encoder fine-tuned on this domain (``training/``, ``make train``), reorders them by its
relevance logit, and turns the best clause's logit into the probability that the clause
answers the question (isotonic calibration fitted on held-out folds of the training data,
never on an evaluation bank). That probability picks the band:

* ``answer``: at or above ``answer_threshold``: verdict + the clause;
* ``unsure``: between the two thresholds: the top three clauses, no verdict;
* ``not_covered``: below ``covered_threshold``: no citation, handover to the school office.

The same cross-encoder has four more logits that classify the (question, clause) pair as
yes / no / conditional / info, so the verdict of the best clause costs no extra forward pass.

The model is committed as ONNX (int8 dynamically quantised) under ``assistant/trained/``
with ``manifest.json`` (training-data hash, base model, seed, settings, metrics). They run on
ONNX Runtime with the ``tokenizers`` library, so serving never imports torch.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .retrieval import Candidate, is_follow_up
from .types import Clause

#: Where the trained models live (``ASSISTANT_TRAINED_DIR`` overrides, e.g. for a fold's models).
TRAINED_DIR = Path(__file__).resolve().parent / "trained"
#: Answer bands, most to least certain.
BANDS: tuple[str, ...] = ("answer", "unsure", "not_covered")
#: Verdict classes of the verdict classifier, in its output order.
VERDICT_CLASSES: tuple[str, ...] = ("yes", "no", "conditional", "info")
#: Section headings kept in front of a clause (the last two, as the dense index embeds it).
_SECTION_SEPARATOR = " › "


def rank_prior(ranks: np.ndarray) -> np.ndarray:
    """The retriever's vote in the final score: ``-log2(1 + rank)`` for 0-based retrieval ranks
    (0 for its first clause, -1 for its second, -1.58 for its third …), the discount of DCG
    (Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques", TOIS 2002)."""
    return -np.log2(1.0 + np.asarray(ranks, dtype=np.float64))


def fused_relevance(logits: np.ndarray, prior_weight: float) -> np.ndarray:
    """Final scores of clauses in retrieval order: the cross-encoder's relevance logits plus
    ``prior_weight`` times `rank_prior` (the weight is chosen on held-out schools by
    ``make train``; 0 ranks by the cross-encoder alone)."""
    return np.asarray(logits, dtype=np.float64) + prior_weight * rank_prior(np.arange(len(logits)))


class TrainedModelError(RuntimeError):
    """The trained models are missing or damaged (names the file and what to run)."""


def trained_dir() -> Path:
    """The folder of the trained models: ``ASSISTANT_TRAINED_DIR`` or the packaged ``assistant/trained``."""
    return Path(os.environ.get("ASSISTANT_TRAINED_DIR") or TRAINED_DIR)


def pair_query(question: str, history: list[str] | None, audience: str | None) -> str:
    """The question side of a (question, clause) pair, as the models were trained on it.

    The asker's role comes first ("parent: can my son bring his phone?"), since the same
    words ask different things of a pupil and of staff. A follow-up (`is_follow_up`) is read
    after the chat's previous question, so "and on the coach?" carries its topic; a question
    that does not lean on the chat is read alone, so an earlier on-topic question cannot lend
    an off-topic one its relevance.
    """
    who = audience or "someone"
    if history and is_follow_up(question):
        return f"{who}: {history[-1]} … {question}"
    return f"{who}: {question}"


def pair_passage(clause: Clause) -> str:
    """The clause side of a pair: the last two section headings, then the clause with its lead-in."""
    section = _SECTION_SEPARATOR.join(clause.section.split(_SECTION_SEPARATOR)[-2:]) if clause.section else ""
    return f"{section}: {clause.display_text}" if section else clause.display_text


class OnnxCrossEncoder:
    """A BERT-style sequence-pair classifier exported to ONNX, run with ONNX Runtime.

    Args:
        folder: holds ``model.onnx``, ``tokenizer.json`` and ``config.json`` (``max_length``,
            ``labels``) as written by ``training/export.py``.
        threads: ONNX Runtime intra-op threads (≥ 1).

    Raises:
        TrainedModelError: a file is missing or unreadable.
    """

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        for name in ("model.onnx", "tokenizer.json", "config.json"):
            if not (folder / name).is_file():
                raise TrainedModelError(
                    f"{folder / name} is missing: the trained models ship with the repository (rebuild with `make train`)"
                )
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            self.max_length = int(config["max_length"])
            self.labels: list[str] = list(config["labels"])
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # JSON, keys, types, or the tokenizers library's own errors
            raise TrainedModelError(f"{folder}: cannot read the trained model's config or tokenizer ({exc})") from exc
        # Truncate the clause, never the question: the question decides what is relevant.
        tokenizer.enable_truncation(max_length=self.max_length, strategy="only_second")
        tokenizer.enable_padding(pad_id=int(config.get("pad_id", 0)), pad_token=str(config.get("pad_token", "[PAD]")))
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise TrainedModelError(f"{folder / 'model.onnx'} cannot be loaded by ONNX Runtime ({exc})") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()

    def logits(self, pairs: list[tuple[str, str]], batch_size: int = 16) -> np.ndarray:
        """Raw logits of shape ``(len(pairs), len(labels))`` (float32), in input order."""
        out = np.zeros((len(pairs), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            encoded = self._tokenizer.encode_batch([pairs[i] for i in batch])
            feed = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            with self._lock:
                (logits,) = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
            out[batch] = logits.reshape(len(batch), -1)
        return out


@dataclass(frozen=True, slots=True)
class Calibration:
    """Isotonic map from the reranker's top logit to P(the top clause answers the question),
    and the two band thresholds on that probability.

    Fitted by ``training/train.py`` on out-of-fold predictions (folds grouped by school),
    stored in ``calibration.json``; applied by linear interpolation between the isotonic
    fit's breakpoints (scikit-learn's `IsotonicRegression.predict` does the same).
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    answer_threshold: float
    covered_threshold: float

    def probability(self, logit: float) -> float:
        """Calibrated probability (0–1) of a top logit."""
        return float(np.interp(logit, self.x, self.y))

    def band(self, probability: float) -> str:
        """The answer band (one of `BANDS`) of a calibrated probability."""
        if probability >= self.answer_threshold:
            return "answer"
        if probability >= self.covered_threshold:
            return "unsure"
        return "not_covered"

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read ``calibration.json``. Raises TrainedModelError when missing or malformed."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            x, y = tuple(float(v) for v in data["x"]), tuple(float(v) for v in data["y"])
            if len(x) != len(y) or len(x) < 2:
                raise ValueError("x and y must be equally long, with 2 or more breakpoints")
            return cls(x, y, float(data["answer_threshold"]), float(data["covered_threshold"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TrainedModelError(f"{path} is missing or malformed ({exc}); rebuild with `make train`") from exc


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the trained stage concluded for one question.

    Attributes:
        candidates: the school's clauses, the reranked ones first (best first), then the rest
            in retrieval order; ``score`` on a reranked candidate is its `fused_relevance`.
        confidence: calibrated P(the first candidate answers the question), 0–1.
        band: one of `BANDS`.
        verdict: the classifier's verdict for the first candidate (one of `VERDICT_CLASSES`),
            or "" when the rules give verdicts (``use_classifier`` False).
        verdict_probability: the classifier's softmax probability of that verdict (0 with rules).
        use_classifier: whether the answer takes ``verdict`` (the manifest's ``verdict_source``,
            chosen by training on held-out schools) or the deontic rules' verdict.
    """

    candidates: list[Candidate]
    confidence: float
    band: str
    verdict: str
    verdict_probability: float
    use_classifier: bool = True


#: Clauses read by the cross-encoder per question. Chosen on the training data's held-out
#: folds (recall of the gold clause in the retriever's top N vs. cost), see training/README.md.
RERANK_DEPTH = 12


class TrainedJudge:
    """The joint reranker / verdict model and the calibration, loaded from `trained_dir`.

    Args:
        folder: the trained-models folder (default `trained_dir()`).
        threads: ONNX Runtime threads per model (default 1: web workers share 2 cores).

    Raises:
        TrainedModelError: a model file or the calibration is missing or damaged.
    """

    def __init__(self, folder: Path | None = None, threads: int = 1) -> None:
        folder = folder or trained_dir()
        self.folder = folder
        self.model = OnnxCrossEncoder(folder / "model", threads)
        if self.model.labels != ["relevant", *VERDICT_CLASSES]:
            raise TrainedModelError(f"{folder / 'model'}: labels {self.model.labels} are not relevant + {list(VERDICT_CLASSES)}")
        self.calibration = Calibration.load(folder / "calibration.json")
        try:
            settings = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("settings", {})
        except (OSError, ValueError) as exc:
            raise TrainedModelError(f"{folder / 'manifest.json'} is missing or malformed ({exc}); rebuild with `make train`") from exc
        self.depth = int(settings.get("rerank_depth", RERANK_DEPTH))
        self.prior_weight = float(settings.get("rank_prior_weight", 0.0))
        self.use_classifier = settings.get("verdict_source", "classifier") == "classifier"

    def _scored(
        self, question: str, history: list[str] | None, audience: str | None, candidates: list[Candidate]
    ) -> tuple[list[Candidate], np.ndarray]:
        """Reranked candidates and the verdict logits of the new first one."""
        query = pair_query(question, history, audience)
        head = candidates[: self.depth]
        logits = self.model.logits([(query, pair_passage(c.clause)) for c in head])
        scores = fused_relevance(logits[:, 0], self.prior_weight)
        order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
        reranked = [Candidate(head[i].clause, float(scores[i]), head[i].dense, head[i].lexical) for i in order]
        return reranked + candidates[self.depth :], logits[order[0], 1:]

    def rerank(self, question: str, history: list[str] | None, audience: str | None, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates with the first `depth` reordered by the cross-encoder (their ``score``
        becomes their `fused_relevance`), the rest after them in retrieval order."""
        return self._scored(question, history, audience, candidates)[0] if candidates else []

    def judge(self, question: str, history: list[str] | None, audience: str | None, candidates: list[Candidate]) -> Judgement:
        """Rerank the first `depth` candidates, calibrate the best one's logit, classify its verdict.

        Args:
            candidates: one school's clauses as the hybrid retriever ranked them (non-empty).

        Raises:
            ValueError: no candidates.
        """
        if not candidates:
            raise ValueError("no candidates to rerank")
        reranked, verdict_logits = self._scored(question, history, audience, candidates)
        confidence = self.calibration.probability(reranked[0].score)  # calibrated on the same fused score
        probs = np.exp(verdict_logits - verdict_logits.max())
        probs /= probs.sum()
        best = int(np.argmax(probs))
        return Judgement(
            reranked, confidence, self.calibration.band(confidence), VERDICT_CLASSES[best], float(probs[best]), self.use_classifier
        )


_judges: dict[str, TrainedJudge] = {}
_judges_lock = threading.Lock()


def shared_judge() -> TrainedJudge:
    """One `TrainedJudge` per trained-models folder per process (loading costs ~0.3 s)."""
    key = str(trained_dir())
    with _judges_lock:
        if key not in _judges:
            _judges[key] = TrainedJudge(Path(key))
        return _judges[key]


@lru_cache(maxsize=1)
def trained_manifest() -> dict:
    """The committed ``manifest.json`` of the trained models ({} when absent)."""
    path = trained_dir() / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
