"""Trained stage after retrieval: a domain-tuned reranker, two pair heads and a calibrated confidence.

The confidence picks one of three answer bands (issue 16).

The hybrid retriever (`assistant.retrieval`) ranks every clause of the asker's school. This
stage first adds an in-domain channel to that fusion: the cosine of the question and every
clause under all-MiniLM-L6-v2 fine-tuned on this domain's questions (``training/``, ``make
train``), z-scored like the retriever's own channels and weighted by the manifest's
``trained_fusion_weight`` (`fuse_in_domain`); the clause vectors are stored at ingest, so this
costs one question encoding, which the stage pays anyway. It then rereads the first
`RERANK_DEPTH` clauses of that order: the cosine plus a small vote for their rank
(`fused_relevance`) reorders them. Two logistic
regressions then read the question's and the best clause's vectors
(`assistant.verdict_features`): the verdict classifier (yes / no / conditional / info, also
given the deontic rules' verdict and, where the index's embeddings are the ones it was trained
with, the retriever's general vectors of the question and the clause) and the relevance head (P(the clause answers the question),
trained with near misses). The pair model for verdicts (`assistant.pair_verdict`) reads the question
and the best clause together, as one input; the verdict is the most probable class of the weighted
mean of its and the classifier's probabilities (the manifest's ``pair_verdict_weight``, chosen out
of fold). The confidence is the probability that the answer is right, its
clause and its verdict: a logistic regression over four `confidence_signals` (the best
clause's `top_share`, the verdict's probability, whether the hybrid retriever alone ranked it
first too, its relevance), mapped by isotonic regression onto how often such answers were right on
held-out schools' questions (never on an evaluation bank). With the retriever's similarity
floor it picks the band:

* ``not_covered``: the retriever's best clause is below the similarity floor
  (`assistant.retrieval.should_abstain`), or the near-miss model finds the question more likely
  not covered than covered (`Calibration.not_covered_probability`: the relevance head's highest
  probability among the reread clauses, Platt-scaled on held-out schools' questions that the
  floor lets through): no citation, handover to the school office;
* ``answer``: otherwise, when the confidence is at or above ``answer_threshold`` (at or above
  ``yes_threshold`` when the verdict is "yes", and then only when the classifier, the pair model
  and the deontic rules each allow a "yes": `yes_agreed`): verdict + the clause;
* ``unsure``: otherwise: the top three clauses, no verdict.

A "yes" has its own, higher threshold because a wrong "yes" (the policy forbids it, or does
not cover it) is the answer that does the most harm, and an "unsure" that shows the clauses
costs the asker less (`Calibration.answers`).

(``band_source = "calibrated"`` in the manifest lets the confidence decide not_covered too,
below ``covered_threshold``.) The manifest says whether answers take the classifier's verdict
or the deontic rules' (whichever was right more often on held-out schools).

The encoder and the pair model are committed as ONNX under ``assistant/trained/encoder/`` and
``assistant/trained/pair/`` (weights stored in fp16, computed in fp32) with ``verdict.json``,
``relevance.json``, ``calibration.json`` and ``manifest.json`` (training-data hash, base model,
seed, settings, out-of-fold metrics). It runs on ONNX Runtime through `assistant.onnx_encoder`,
so serving never imports torch. Ingest stores every clause's vector with the index
(`assistant.trained_vectors`); a clause without a stored vector that fits is encoded on its
first rereading and kept.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .pair_verdict import PairModelError, PairVerdictModel, mix_verdict_probabilities
from .retrieval.fusion import Candidate, standardise
from .retrieval.query import is_follow_up
from .types import ANSWER_VERDICTS, Clause
from .verdict_features import RULE_SLOTS, general_features, relevance_features, rule_verdict, verdict_features

#: Where the trained models live (``ASSISTANT_TRAINED_DIR`` overrides, e.g. for a fold's models).
TRAINED_DIR = Path(__file__).resolve().parent / "trained"
#: Answer bands, most to least certain.
BANDS: tuple[str, ...] = ("answer", "unsure", "not_covered")
#: Verdict classes of the verdict classifier, in its output order.
VERDICT_CLASSES: tuple[str, ...] = ANSWER_VERDICTS
#: Section headings kept in front of a clause (the last two, as the dense index embeds it).
_SECTION_SEPARATOR = " › "


def rank_prior(ranks: np.ndarray) -> np.ndarray:
    """The retriever's vote in the final score: ``-log2(1 + rank)`` for 0-based retrieval ranks.

    That is 0 for its first clause, -1 for its second, -1.58 for its third …: the discount of DCG
    (Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques", TOIS 2002).
    """
    return -np.log2(1.0 + np.asarray(ranks, dtype=np.float64))


#: Softmax temperature of `top_share`: MultipleNegativesRankingLoss trains the encoder so that
#: softmax(20 · cosine) over candidates is the probability of the right one (its default
#: ``scale=20.0``, sentence-transformers' losses/MultipleNegativesRankingLoss.py).
SHARE_SCALE = 20.0


def top_share(scores: np.ndarray, scale: float = SHARE_SCALE) -> float:
    """The best score's share of ``softmax(scale · scores)`` over the reread clauses (1/n–1).

    How far the best clause stands above the others it was reread with. On the training data's
    held-out folds it told right top clauses from wrong ones better than the top score itself
    (ROC AUC 0.77 vs 0.67, training/README.md), and it moves less between models trained on
    more or less data, since it compares the model's scores with each other.
    """
    z = scale * np.asarray(scores, dtype=np.float64)
    z = np.exp(z - z.max())
    return float(z.max() / z.sum())


def fused_relevance(logits: np.ndarray, prior_weight: float) -> np.ndarray:
    """Final scores of clauses in retrieval order: the encoder's cosines plus ``prior_weight`` × `rank_prior`.

    The scores are the fine-tuned encoder's cosines (``logits``) plus ``prior_weight`` times
    `rank_prior` (the weight is chosen on held-out schools by ``make train``; 0 ranks by the
    encoder alone).
    """
    return np.asarray(logits, dtype=np.float64) + prior_weight * rank_prior(np.arange(len(logits)))


def fuse_in_domain(retrieval_scores: np.ndarray, cosines: np.ndarray, weight: float) -> np.ndarray:
    """The retriever's fused scores plus ``weight`` × the z-scored fine-tuned cosines, shape ``(n,)``.

    Args:
        retrieval_scores: `assistant.retrieval.fuse`'s scores of one school's clauses (z-score units).
        cosines: the fine-tuned encoder's cosine of the question and each clause, index-aligned.
        weight: the in-domain channel's weight (``trained_fusion_weight``; 0 leaves the scores as they are).

    The channel is standardised over the clauses given, as `assistant.retrieval.fuse` standardises
    the general encoders' and BM25's, so its weight is in the same units as theirs. Out of fold
    (training questions of schools the encoder never saw, 2026-11-28) weight 1.0, the general
    dense channel's own weight, raised recall@5 from 0.850 to 0.883 and hit@1 after the rereading
    from 0.617 to 0.628 (training/README.md, "The in-domain channel").
    """
    scores = np.asarray(retrieval_scores, dtype=np.float64)
    if weight == 0.0 or len(scores) < 2:
        return scores
    return scores + weight * standardise(np.asarray(cosines, dtype=np.float64))


def in_domain_order(retrieval_scores: np.ndarray, cosines: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """The order the trained stage rereads from: indices, best first, and the `fuse_in_domain` scores.

    Stable, so clauses the channel cannot tell apart keep the retriever's order; serving
    (`TrainedJudge`) and training's held-out scoring (`training.train.predict`) both order by it.
    """
    fused = fuse_in_domain(retrieval_scores, cosines, weight)
    return np.argsort(-fused, kind="stable"), fused


class TrainedModelError(RuntimeError):
    """The trained models are missing or damaged (names the file and what to run)."""


def trained_dir() -> Path:
    """The folder of the trained models: ``ASSISTANT_TRAINED_DIR`` or the packaged ``assistant/trained``."""
    from .config import get_settings

    return get_settings().trained_dir or TRAINED_DIR


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


#: What the confidence reads about an answer, in the order of the calibration's weights.
CONFIDENCE_SIGNALS: tuple[str, ...] = ("top_share", "verdict_probability", "retriever_agrees", "relevance")
#: What the near-miss model reads (`Calibration.not_covered_probability`).
NOT_COVERED_SIGNAL = "best_relevance"
#: Probabilities are clipped to [ε, 1 − ε] before their log-odds are taken.
_LOGIT_EPSILON = 1e-4


def sigmoid(z: np.ndarray | float) -> np.ndarray:
    """The logistic function ``1 / (1 + e^-z)``, elementwise (shape of ``z``), with ``z`` clipped to ±60 so ``exp`` cannot overflow."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))


def log_odds(p: float) -> float:
    """The log-odds ``log(p / (1 - p))`` of a probability, clipped to [`_LOGIT_EPSILON`, 1 − it] first (so finite)."""
    p = min(max(float(p), _LOGIT_EPSILON), 1.0 - _LOGIT_EPSILON)
    return float(np.log(p / (1.0 - p)))


def confidence_signals(share: float, verdict_probability: float, retriever_agrees: bool, relevance: float) -> np.ndarray:
    """The `CONFIDENCE_SIGNALS` of one answer as the calibration reads them: shape ``(4,)``, float64.

    Args:
        share: the best clause's `top_share` (1/depth–1).
        verdict_probability: the verdict classifier's softmax probability of its verdict (0–1).
        retriever_agrees: the reranked first clause is also the hybrid retriever's own first,
            before the trained stage: the general encoders and BM25 agree with the fine-tuned
            one. (Agreement with the order the stage rereads from, which the in-domain channel
            already leans towards the fine-tuned encoder, is nearly always true: out of fold
            (2026-11-28) the confidence's ROC AUC for a right answer was 0.709 with it and 0.730
            with this; training/README.md, "The in-domain channel".)
        relevance: the relevance head's P(the clause answers the question) (0–1).

    The three probabilities enter as log-odds (clipped at ``1e-4`` from 0 and 1), so the
    calibration's logistic regression adds evidence as Platt scaling does (Platt, "Probabilistic
    outputs for support vector machines", 1999).
    """
    return np.array([log_odds(share), log_odds(verdict_probability), float(bool(retriever_agrees)), log_odds(relevance)])


@dataclass(frozen=True, slots=True)
class Calibration:
    """The confidence: P(an answer's clause and verdict are both right), and the band thresholds.

    A logistic regression's linear score over the `confidence_signals` (``weights``, ``bias``)
    is mapped to a probability by an isotonic fit (``x`` scores → ``y`` probabilities, applied
    by linear interpolation between its breakpoints as scikit-learn's
    `IsotonicRegression.predict` does). Both are fitted by ``training/train.py`` on out-of-fold
    predictions (folds grouped by school) and stored in ``calibration.json``.

    ``answer_threshold``: the probability from which an answer shows its verdict;
    ``yes_threshold`` (≥ ``answer_threshold``): the same for a "yes" (`answers`);
    ``yes_needs_agreement``: a "yes" is shown only when the pair's readers agree (`yes_agreed`);
    ``covered_threshold``: below it, "not covered" (``band_source = "calibrated"`` only).

    The **near-miss model** (``not_covered_weight``, ``not_covered_bias``,
    ``not_covered_threshold``): P(the policies do not cover a question the similarity floor let
    through) by Platt scaling of the log-odds of the relevance head's highest probability among
    the reread clauses (`not_covered_probability`); at or above the threshold the question is
    "not covered" (`decide_band`). Fitted out of fold by ``training/evaluate.py``.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    answer_threshold: float
    covered_threshold: float
    weights: tuple[float, ...]
    bias: float
    yes_threshold: float
    not_covered_weight: float
    not_covered_bias: float
    not_covered_threshold: float
    yes_needs_agreement: bool = False

    def score(self, signals: np.ndarray) -> float:
        """The linear score of an answer's `confidence_signals` (shape ``(len(CONFIDENCE_SIGNALS),)``)."""
        return float(self.bias + np.dot(self.weights, signals))

    def probability(self, score: float) -> float:
        """Calibrated probability (0–1) of a `score`."""
        return float(np.interp(score, self.x, self.y))

    def not_covered_probability(self, best_relevance: float) -> float:
        """P(not covered), 0–1, of a question the similarity floor let through.

        ``best_relevance``: the relevance head's highest P(the clause answers the question)
        among the reread clauses (0–1).
        """
        return float(sigmoid(self.not_covered_weight * log_odds(best_relevance) + self.not_covered_bias))

    def says_not_covered(self, best_relevance: float) -> bool:
        """Whether the near-miss model calls a question the floor let through "not covered" (`not_covered_probability` ≥ its threshold)."""
        return self.not_covered_probability(best_relevance) >= self.not_covered_threshold

    def answers(self, probability: float, verdict: str, agreed: bool = True) -> bool:
        """Whether an answer of this calibrated probability shows ``verdict`` (the "answer" band).

        A "yes" needs ``yes_threshold``, every other verdict ``answer_threshold``; with
        ``yes_needs_agreement``, a "yes" also needs ``agreed`` (`yes_agreed` of the pair).
        """
        if verdict == "yes" and self.yes_needs_agreement and not agreed:
            return False
        return probability >= (self.yes_threshold if verdict == "yes" else self.answer_threshold)

    def band(self, probability: float, verdict: str, agreed: bool = True) -> str:
        """The answer band (one of `BANDS`) of a calibrated probability and the verdict the answer would show (``agreed``: as for `answers`)."""
        if self.answers(probability, verdict, agreed):
            return "answer"
        if probability >= self.covered_threshold:
            return "unsure"
        return "not_covered"

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        """Build from the JSON object of ``calibration.json`` (as `training.evaluate.fit_calibration` writes it).

        Raises:
            ValueError, KeyError, TypeError: a field is missing or malformed, or of an older shape.
        """
        x, y = tuple(float(v) for v in data["x"]), tuple(float(v) for v in data["y"])
        if len(x) != len(y) or len(x) < 2:
            raise ValueError("x and y must be equally long, with 2 or more breakpoints")
        if tuple(data["signals"]) != CONFIDENCE_SIGNALS:
            raise ValueError(f"signals {data['signals']} are not {list(CONFIDENCE_SIGNALS)}")
        weights = tuple(float(v) for v in data["weights"])
        if len(weights) != len(CONFIDENCE_SIGNALS):
            raise ValueError(f"{len(weights)} weights for {len(CONFIDENCE_SIGNALS)} signals")
        answer_threshold, yes_threshold = float(data["answer_threshold"]), float(data["yes_threshold"])
        if yes_threshold < answer_threshold:
            raise ValueError(f"yes_threshold {yes_threshold} is below answer_threshold {answer_threshold}")
        near_miss = data["not_covered"]
        if near_miss["signal"] != NOT_COVERED_SIGNAL:
            raise ValueError(f"not_covered reads {near_miss['signal']!r}, not {NOT_COVERED_SIGNAL!r}")
        return cls(
            x,
            y,
            answer_threshold,
            float(data["covered_threshold"]),
            weights,
            float(data["bias"]),
            yes_threshold,
            float(near_miss["weight"]),
            float(near_miss["bias"]),
            float(near_miss["threshold"]),
            bool(data.get("yes_needs_agreement", False)),
        )

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read ``calibration.json``. Raises TrainedModelError when missing or malformed (or of an older shape)."""
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TrainedModelError(f"{path} is missing or malformed ({exc}); rebuild with `make train`") from exc


def yes_agreed(classifier_verdict: str, pair_verdict: str | None, rules_verdict: str) -> bool:
    """Whether the readers of a (question, clause) pair allow a "yes" (`Calibration.yes_needs_agreement`).

    A "yes" is the most harmful answer when wrong, so it needs every reader: the verdict
    classifier's own most probable verdict is "yes", the pair model's too (None: no pair model),
    and the deontic rules (`assistant.verdict_features.rule_verdict`) do not read "no". The mixed
    verdict alone can say "yes" when one model is sure of it and the other is not.
    """
    return classifier_verdict == "yes" and pair_verdict in (None, "yes") and rules_verdict != "no"


def decide_band(
    calibration: Calibration,
    probability: float,
    verdict: str,
    outside: bool,
    band_source: str,
    best_relevance: float,
    agreed: bool = True,
) -> str:
    """The band (one of `BANDS`) of an answer: how `TrainedJudge.judge` decides it, and training's reports too.

    Args:
        calibration: the thresholds.
        probability: the answer's calibrated confidence (0–1).
        verdict: the verdict the answer would show (a "yes" needs ``yes_threshold``).
        outside: the retriever's similarity floor says the policies do not cover the question.
        band_source: the manifest's: "floor_and_confidence" (the floor, then the near-miss
            model, decide not_covered, the confidence answer or unsure) or "calibrated" (the
            confidence decides all three).
        best_relevance: the relevance head's highest probability among the reread clauses
            (0–1), which the near-miss model reads (`Calibration.not_covered_probability`).
        agreed: whether the pair's readers allow a "yes" (`yes_agreed`); read only for a "yes"
            when the calibration's ``yes_needs_agreement`` is on.
    """
    if band_source == "calibrated":
        return calibration.band(probability, verdict, agreed)
    if outside or calibration.says_not_covered(best_relevance):
        return "not_covered"
    return "answer" if calibration.answers(probability, verdict, agreed) else "unsure"


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the trained stage concluded for one question.

    Attributes:
        candidates: the school's clauses, the reranked ones first (best first), then the rest
            in retrieval order; ``score`` on a reranked candidate is its `fused_relevance`.
        confidence: calibrated P(the first candidate and the verdict are right), 0–1 (`Calibration`).
        band: one of `BANDS`.
        verdict: the trained verdict for the first candidate (one of `VERDICT_CLASSES`): the
            classifier's probabilities mixed with the pair model's (`TrainedJudge.verdicts_of`).
        verdict_probability: the mixed probability of that verdict, 0–1.
        use_classifier: whether the answer takes ``verdict`` (the manifest's ``verdict_source``,
            chosen by training on held-out schools) or the deontic rules' verdict.
        general_view: whether the classifier also read the general embeddings' vectors
            (`assistant.verdict_features.general_features`); False when they were not at hand.
        not_covered_probability: the near-miss model's P(the policies do not cover the
            question) from the reread clauses' relevance (`Calibration.not_covered_probability`), 0–1.
    """

    candidates: list[Candidate]
    confidence: float
    band: str
    verdict: str
    verdict_probability: float
    use_classifier: bool = True
    general_view: bool = False
    not_covered_probability: float = 0.0


#: The general embeddings' vectors of the question and of one clause, shapes ``(D,)`` and ``(1, D)``
#: as `assistant.retrieval.HybridRetriever.general_vectors` returns them, or None when the store
#: lacks them. Called by `TrainedJudge.judge` for the clause it cites only.
GeneralVectors = Callable[[Clause], "tuple[np.ndarray, np.ndarray] | None"]


#: Clauses reread per question (default; the manifest's ``rerank_depth`` wins). Chosen on the training data's held-out
#: folds (recall of the gold clause in the retriever's top N vs. cost), see training/README.md.
RERANK_DEPTH = 12


class TrainedJudge:
    """The fine-tuned encoder, verdict classifier and calibration, loaded from `trained_dir`.

    Args:
        folder: the trained-models folder (default `trained_dir()`).
        threads: ONNX Runtime threads (default 1: web workers share 2 cores).
        calibrated: False to load without ``calibration.json`` (training scores folds so).

    Raises:
        TrainedModelError: a model file, the verdict classifier or the calibration is missing or damaged.
    """

    #: Clause vectors kept per process (~1.5 KB each); the cache is emptied when full.
    MAX_CACHED_CLAUSES = 50_000

    def __init__(self, folder: Path | None = None, threads: int = 1, calibrated: bool = True) -> None:
        """Load the encoder, verdict classifier, calibration and training settings from ``folder``; args as on the class."""
        from .onnx_encoder import EncoderExportError, OnnxSentenceEncoder

        folder = folder or trained_dir()
        self.folder = folder
        encoder_dir = folder / "encoder"
        if not (encoder_dir / "model.onnx").is_file():
            raise TrainedModelError(
                f"{encoder_dir / 'model.onnx'} is missing: the trained models ship with the repository (rebuild with `make train`)"
            )
        try:
            self.encoder = OnnxSentenceEncoder(encoder_dir, encoder_dir / "model.onnx", threads)
            verdict = json.loads((folder / "verdict.json").read_text(encoding="utf-8"))
            self._verdict_labels = list(verdict["labels"])
            if not set(self._verdict_labels) <= set(VERDICT_CLASSES):
                raise ValueError(f"verdict labels {self._verdict_labels} are not among {list(VERDICT_CLASSES)}")
            self._coef = np.asarray(verdict["coef"], dtype=np.float32)
            self._intercept = np.asarray(verdict["intercept"], dtype=np.float32)
            if self._coef.shape != (len(self._verdict_labels), 3 * self.encoder.dimension + len(RULE_SLOTS)):
                raise ValueError(
                    f"verdict coefficients of shape {self._coef.shape} do not fit {self.encoder.dimension}-d vectors"
                    f" and {len(RULE_SLOTS)} rule slots (`assistant.verdict_features`)"
                )
            # The classifier that also reads the retriever's general vectors, and the embeddings
            # (`EnsembleEmbeddings.model_id`) whose vectors it was fitted on; absent in older models.
            general = verdict.get("general")
            self.general_embeddings: str | None = None
            if general:
                self.general_embeddings = str(general["embeddings"])
                self._general_dimension = int(general["dimension"])
                self._general_coef = np.asarray(general["coef"], dtype=np.float32)
                self._general_intercept = np.asarray(general["intercept"], dtype=np.float32)
                width = 3 * self.encoder.dimension + len(RULE_SLOTS) + 3 * self._general_dimension
                if self._general_coef.shape != (len(self._verdict_labels), width):
                    raise ValueError(
                        f"general verdict coefficients of shape {self._general_coef.shape} do not fit"
                        f" {self._general_dimension}-d general vectors (`assistant.verdict_features.general_features`)"
                    )
            relevance = json.loads((folder / "relevance.json").read_text(encoding="utf-8"))
            self._relevance_coef = np.asarray(relevance["coef"], dtype=np.float32)
            self._relevance_intercept = float(relevance["intercept"])
            if self._relevance_coef.shape != (4 * self.encoder.dimension,):
                raise ValueError(
                    f"relevance coefficients of shape {self._relevance_coef.shape} do not fit {self.encoder.dimension}-d vectors"
                    " (`assistant.verdict_features.relevance_features`)"
                )
        except (OSError, ValueError, KeyError, TypeError, EncoderExportError) as exc:
            raise TrainedModelError(
                f"{folder}: the encoder, verdict.json or relevance.json cannot be read ({exc}); rebuild with `make train`"
            ) from exc
        self.calibration = Calibration.load(folder / "calibration.json") if calibrated else None
        try:
            settings = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("settings", {}) if calibrated else {}
        except (OSError, ValueError) as exc:
            raise TrainedModelError(f"{folder / 'manifest.json'} is missing or malformed ({exc}); rebuild with `make train`") from exc
        self.depth = int(settings.get("rerank_depth", RERANK_DEPTH))
        self.prior_weight = float(settings.get("rank_prior_weight", 0.0))
        # Models trained before the in-domain channel name no weight: they rerank the retriever's order.
        self.fusion_weight = float(settings.get("trained_fusion_weight", 0.0))
        self.use_classifier = settings.get("verdict_source", "classifier") == "classifier"
        # "floor_and_confidence": not covered when the retriever's similarity floor says so
        # (`judge`'s ``outside``), else answer or unsure by the calibrated confidence;
        # "calibrated": the confidence alone picks all three bands (training/README.md).
        self.band_source = settings.get("band_source", "floor_and_confidence")
        if self.band_source not in ("floor_and_confidence", "calibrated"):
            raise TrainedModelError(f"{folder / 'manifest.json'}: unknown band_source {self.band_source!r}; rebuild with `make train`")
        # The pair model for verdicts (`assistant.pair_verdict`) and the weight of its
        # probabilities against the classifier's, chosen out of fold; absent in older models.
        self.pair_weight = float(settings.get("pair_verdict_weight", 0.0))
        self.pair_model: PairVerdictModel | None = None
        # Serving loads it only when the manifest mixes it in (~170 MB per process); training
        # (``calibrated`` False) scores with whatever pair model the fold folder has.
        if self.pair_weight or (not calibrated and (folder / "pair").is_dir()):
            try:
                self.pair_model = PairVerdictModel(folder / "pair", threads)
            except PairModelError as exc:
                raise TrainedModelError(str(exc)) from exc
        self._clause_vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._encoder_id: str | None = None

    @property
    def encoder_id(self) -> str:
        """Identity of the encoder's weights: ``"sha256:"`` and the first 32 hex digits of a SHA-256.

        The digest is of ``encoder/model.onnx`` (hashed once, ~0.3 s for its 90 MB). Stored clause
        vectors are used only when made by the same weights.
        """
        if self._encoder_id is None:
            digest = hashlib.sha256()
            with (self.folder / "encoder" / "model.onnx").open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            self._encoder_id = f"sha256:{digest.hexdigest()[:32]}"
        return self._encoder_id

    def _vectors(self, clauses: list[Clause], stored: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Unit vectors of the clauses' pair passages, shape ``(len(clauses), dimension)``.

        Taken from ``stored`` (the index's, by clause id) where it has them, else kept from an
        earlier call, else encoded in one batch and kept.
        """
        found = {c.clause_id: stored[c.clause_id] for c in clauses if stored and c.clause_id in stored}
        with self._lock:
            found.update(
                {
                    c.clause_id: self._clause_vectors[c.clause_id]
                    for c in clauses
                    if c.clause_id not in found and c.clause_id in self._clause_vectors
                }
            )
        missing = list({c.clause_id: c for c in clauses if c.clause_id not in found}.values())
        if missing:
            fresh = dict(zip((c.clause_id for c in missing), self.encoder.encode([pair_passage(c) for c in missing]), strict=True))
            found.update(fresh)
            with self._lock:
                if len(self._clause_vectors) + len(fresh) > self.MAX_CACHED_CLAUSES:
                    self._clause_vectors.clear()
                self._clause_vectors.update(fresh)
        return np.stack([found[c.clause_id] for c in clauses])

    def verdicts_of(
        self,
        query_vectors: np.ndarray,
        clause_vectors: np.ndarray,
        rule_verdicts: list[str],
        general: tuple[np.ndarray, np.ndarray] | None = None,
        pair_texts: tuple[list[str], list[str]] | None = None,
    ) -> tuple[list[str], np.ndarray]:
        """The verdict for each row pair (question vector, clause vector, rules' verdict), and its probability.

        ``rule_verdicts``, ``general``: as for `classifier_probabilities`. ``pair_texts``: the
        pairs' `pair_query` and `pair_passage` texts; with them, and a pair model of non-zero
        ``pair_weight``, the probabilities are the weighted mean of the classifier's and the pair
        model's (`assistant.pair_verdict.mix_verdict_probabilities`).
        Returns the verdicts (each one of `VERDICT_CLASSES`) and their probabilities, shape ``(n,)``.

        Raises:
            ValueError: as `classifier_probabilities`, or ``pair_texts`` has another number of pairs.
        """
        probs = self.verdict_distributions(query_vectors, clause_vectors, rule_verdicts, general, pair_texts)[2]
        best = np.argmax(probs, axis=1)
        return [VERDICT_CLASSES[i] for i in best], probs[np.arange(len(best)), best]

    def verdict_distributions(
        self,
        query_vectors: np.ndarray,
        clause_vectors: np.ndarray,
        rule_verdicts: list[str],
        general: tuple[np.ndarray, np.ndarray] | None = None,
        pair_texts: tuple[list[str], list[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """The classifier's, the pair model's and the mixed probabilities of each row pair.

        Each is ``(n, 4)`` over `VERDICT_CLASSES`; args as for `verdicts_of`. The pair model's is
        None (and the mix the classifier's) without ``pair_texts`` or a pair model of non-zero weight.

        Raises:
            ValueError: as `classifier_probabilities`, or ``pair_texts`` has another number of pairs.
        """
        classifier = self.classifier_probabilities(query_vectors, clause_vectors, rule_verdicts, general)
        if pair_texts is None or self.pair_model is None or not self.pair_weight:
            return classifier, None, classifier
        if len(pair_texts[0]) != len(classifier):
            raise ValueError(f"{len(pair_texts[0])} pair texts for {len(classifier)} pairs")
        pair = self.pair_model.probabilities(*pair_texts)
        return classifier, pair, mix_verdict_probabilities(classifier, pair, self.pair_weight)

    def classifier_probabilities(
        self,
        query_vectors: np.ndarray,
        clause_vectors: np.ndarray,
        rule_verdicts: list[str],
        general: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """The verdict classifier's probabilities for each row pair, shape ``(n, 4)``, columns in `VERDICT_CLASSES` order.

        ``rule_verdicts``: the rules' verdict on each pair (`assistant.verdict_features.rule_verdict`).
        ``general``: the general embeddings' question and clause vectors of the same pairs, each
        of shape ``(n, D)`` (`general_features`); read by the classifier fitted with them when
        this judge has one (`general_embeddings` not None), else ignored. A class the classifier
        never saw in training has probability 0.

        Raises:
            ValueError: the row counts or widths do not fit (`verdict_features`, `general_features`),
                or the general vectors are not ``D``-wide.
        """
        features = verdict_features(query_vectors, clause_vectors, rule_verdicts)
        if general is not None and self.general_embeddings is not None:
            extra = general_features(*general)
            if extra.shape[1] != 3 * self._general_dimension or len(extra) != len(features):
                raise ValueError(
                    f"general vectors of width {extra.shape[1] // 3} for {len(extra)} pairs; the classifier reads {self._general_dimension}"
                )
            logits = np.concatenate([features, extra], axis=1) @ self._general_coef.T + self._general_intercept
        else:
            logits = features @ self._coef.T + self._intercept
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        out = np.zeros((len(probs), len(VERDICT_CLASSES)), dtype=np.float32)
        for column, label in enumerate(self._verdict_labels):
            out[:, VERDICT_CLASSES.index(label)] = probs[:, column]
        return out

    def relevance_of(self, query_vectors: np.ndarray, clause_vectors: np.ndarray) -> np.ndarray:
        """The relevance head's P(the clause answers the question) for each row pair, shape ``(n,)``."""
        z = relevance_features(query_vectors, clause_vectors) @ self._relevance_coef + self._relevance_intercept
        return sigmoid(z)

    def _scored(
        self,
        question: str,
        history: list[str] | None,
        audience: str | None,
        candidates: list[Candidate],
        stored: dict[str, np.ndarray] | None = None,
    ) -> tuple[list[Candidate], np.ndarray, np.ndarray, float, bool]:
        """Reranked candidates, question vector, the reread clauses' vectors, `top_share`, retriever's agreement.

        The vectors are in the reranked order, shape ``(depth, d)``. The last says whether the
        retriever (``candidates``' order, before this stage) ranked the new first clause first
        too. The order reread from is the retriever's fused with the in-domain channel
        (`fuse_in_domain`), over all of ``candidates``; its first `depth` are reread.
        """
        query = self.encoder.encode([pair_query(question, history, audience)])[0]
        retrievers_first = candidates[0].clause.clause_id
        if self.fusion_weight:
            every = self._vectors([c.clause for c in candidates], stored)
            order, fused = in_domain_order(np.array([c.score for c in candidates]), every @ query, self.fusion_weight)
            candidates = [Candidate(candidates[i].clause, float(fused[i]), candidates[i].dense, candidates[i].lexical) for i in order]
            vectors = every[order[: self.depth]]
        else:
            vectors = self._vectors([c.clause for c in candidates[: self.depth]], stored)
        head = candidates[: self.depth]
        scores = fused_relevance(vectors @ query, self.prior_weight)
        order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
        reranked = [Candidate(head[i].clause, float(scores[i]), head[i].dense, head[i].lexical) for i in order]
        # The clauses not reread keep their retrieval order, scored just below the reread ones so
        # that scores still fall with rank (retrieval's z-scores are on another scale).
        floor = float(scores.min())
        rest = [Candidate(c.clause, floor - 0.001 * n, c.dense, c.lexical) for n, c in enumerate(candidates[self.depth :], start=1)]
        return reranked + rest, query, vectors[order], top_share(scores), reranked[0].clause.clause_id == retrievers_first

    def rerank(
        self,
        question: str,
        history: list[str] | None,
        audience: str | None,
        candidates: list[Candidate],
        stored: dict[str, np.ndarray] | None = None,
    ) -> list[Candidate]:
        """The candidates with the first `depth` reordered, the rest after them in retrieval order.

        The reordered candidates' ``score`` becomes their `fused_relevance`. ``stored``: clause
        vectors by clause id that the index holds (`assistant.trained_vectors`); others are encoded.
        """
        return self._scored(question, history, audience, candidates, stored)[0] if candidates else []

    def judge(
        self,
        question: str,
        history: list[str] | None,
        audience: str | None,
        candidates: list[Candidate],
        outside: bool = False,
        stored: dict[str, np.ndarray] | None = None,
        general: GeneralVectors | None = None,
    ) -> Judgement:
        """Rerank the first `depth` candidates, calibrate the best one's `top_share`, classify its verdict.

        Args:
            question: the question as asked.
            history: the chat's earlier questions, oldest first (a follow-up is read after the last; see `pair_query`).
            audience: the asker's role, or None (see `pair_query`).
            candidates: one school's clauses as the hybrid retriever ranked them (non-empty).
            outside: the retriever's similarity floor says the policies do not cover the
                question (`Assistant.outside_policies`); decides ``not_covered`` unless the
                manifest's ``band_source`` is "calibrated".
            stored: clause vectors by clause id that the index holds (as for `rerank`).
            general: the general embeddings' vectors of the question and a clause (`GeneralVectors`);
                pass it only when the index's embeddings are `general_embeddings`.

        Raises:
            ValueError: no candidates, or the judge was loaded without its calibration.
        """
        if not candidates:
            raise ValueError("no candidates to rerank")
        if self.calibration is None:
            raise ValueError("this judge was loaded without its calibration (calibrated=False)")
        reranked, query, reread, share, agrees = self._scored(question, history, audience, candidates, stored)
        top = reread[0]
        rules = rule_verdict(question, history, audience, reranked[0].clause.display_text)
        view = general(reranked[0].clause) if general is not None and self.general_embeddings is not None else None
        pair = (view[0][None, :], view[1]) if view is not None else None
        texts = [pair_query(question, history, audience)], [pair_passage(reranked[0].clause)]
        classifiers, pairs, mixes = self.verdict_distributions(query[None, :], top[None, :], [rules], pair, texts)
        classifier, pair_probs, mixed = classifiers[0], None if pairs is None else pairs[0], mixes[0]
        verdict = VERDICT_CLASSES[int(np.argmax(mixed))]
        relevance = self.relevance_of(np.repeat(query[None, :], len(reread), axis=0), reread)
        signals = confidence_signals(share, float(mixed.max()), agrees, float(relevance[0]))
        confidence = self.calibration.probability(self.calibration.score(signals))
        shown = verdict if self.use_classifier else rules  # the verdict the answer would show
        best_relevance = float(relevance.max())
        agreed = yes_agreed(
            VERDICT_CLASSES[int(np.argmax(classifier))], None if pair_probs is None else VERDICT_CLASSES[int(np.argmax(pair_probs))], rules
        )
        band = decide_band(self.calibration, confidence, shown, outside, self.band_source, best_relevance, agreed)
        return Judgement(
            reranked,
            confidence,
            band,
            verdict,
            float(mixed.max()),
            self.use_classifier,
            pair is not None,
            self.calibration.not_covered_probability(best_relevance),
        )


_judges: dict[str, TrainedJudge] = {}
_judges_lock = threading.Lock()


def shared_judge() -> TrainedJudge:
    """One `TrainedJudge` per trained-models folder per process (loading costs ~0.3 s and ~100 MB)."""
    key = str(trained_dir())
    with _judges_lock:
        if key not in _judges:
            _judges[key] = TrainedJudge(Path(key))
        return _judges[key]
