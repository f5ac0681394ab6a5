"""Compare training recipes for the trained stage out of fold, on a lent GPU (issue 16).

Run on the device machine from the bundle (`training/gpu/bundle.py` copies this file there):

    python -m training.gpu.bundle          # here: writes training/.gpu/ (~50 MiB)
    # device run, carry ["training/.gpu"]:
    #   pip install --target /tmp/site training/.gpu/whl/*.whl; PYTHONPATH=/tmp/site \
    #   BUDGET=420 python3 training/.gpu/recipes.py

The checkout travels with the bundle, and its 86 MiB trained encoder alone is over the device
tool's 64 MiB: for the call, move ``assistant/trained/encoder/model.onnx`` outside the checkout
and leave a symbolic link in its place (a link travels as a link; the app here still reads the
file through it), then move it back.

Every recipe trains five fold models (the folds of ``make train``: two schools each, grouped
by school) and scores the held-out schools' questions against the hybrid retriever's top 30,
so each number is about schools the model never saw. Recipes (``PLAN``): the shipped
bi-encoder recipe (MultipleNegativesRankingLoss, one hard negative, 35 % fold samples) and
variants with full folds, more epochs and more negatives; a cross-encoder reranker
(binary cross-entropy on the gold clause, the retriever's best non-gold clauses and, for
not_covered questions, their retrieved clauses) on 6 or 4 MiniLM layers; and a
cross-encoder verdict classifier on (question, gold clause).

Writes to ``$OUT``: ``results.jsonl`` (per recipe: hit@1 by rerank depth × rank-prior weight,
the retriever's hit@1 / recall@5 / recall@30, ROC AUC of the best score for answerable vs
not_covered and for a right vs wrong top clause, verdict accuracy on gold clauses),
``scores.jsonl`` (every question's 30 scores per recipe, for calibration work here) and
``log.txt``. ``BUDGET`` (seconds) stops starting new recipes; ``ONLY=4,0`` runs some, in that order;
``SMOKE=1`` runs a tiny sample on CPU to check the script.

Run on an H200 on 2026-11-28 (steps 4, 3, 5, 9, 10; results in ``training/README.md``): no
cross-encoder reranker learned to rank on this data, and the verdict cross-encoder beat the
shipped classifier by 3.4 points on gold clauses. The recipes are too slow for 2 CPU cores (a
6-layer cross-encoder fold ~2 h); a chosen recipe must still train within ``make train``'s 90
minutes on 2 cores.
"""

import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).parent
OUT = Path(os.environ.get("OUT", "/tmp/out"))
OUT.mkdir(parents=True, exist_ok=True)
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SMOKE = os.environ.get("SMOKE") == "1"
BUDGET = float(os.environ.get("BUDGET", "480"))
T0 = time.time()
torch.backends.cuda.matmul.allow_tf32 = True

data = json.loads((HERE / "data.json").read_text())
items = data["items"]
passages = data["passages"]
if SMOKE:
    items = [i for n, i in enumerate(items) if n % int(os.environ.get("SMOKE_N", "60")) == 0]
FOLDS = sorted({i["fold"] for i in items})
PRIOR_WEIGHTS = (0.0, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
DEPTHS = (4, 8, 12, 30)


def log(*a):
    print(f"[{time.time() - T0:6.0f}s]", *a, flush=True)


def hf_base(layers=None):
    """A plain HF folder of MiniLM (no sentence-transformers modules), fp32, optionally truncated."""
    d = Path(tempfile.mkdtemp())
    src = HERE / "minilm"
    for name in ("config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(src / name, d / name)
    from safetensors.torch import load_file, save_file

    t = load_file(src / "model.safetensors")
    cfg = json.loads((src / "config.json").read_text())
    if layers:
        t = {k: v for k, v in t.items() if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < layers}
        cfg["num_hidden_layers"] = layers
    (d / "config.json").write_text(json.dumps(cfg))
    save_file({k: v.float().contiguous() for k, v in t.items()}, d / "model.safetensors", metadata={"format": "pt"})
    return d


def st_base():
    d = Path(tempfile.mkdtemp())
    shutil.copytree(HERE / "minilm", d, dirs_exist_ok=True)
    from safetensors.torch import load_file, save_file

    t = load_file(d / "model.safetensors")
    save_file({k: v.float().contiguous() for k, v in t.items()}, d / "model.safetensors", metadata={"format": "pt"})
    return d


def negatives(item, n):
    return [c for c in item["ranked"] if c not in item["gold"]][:n]


def evaluate(name, test, scores_of, verdict_pred=None, extra=None):
    """scores_of[id] = np.array of scores for item['ranked'] (all 30)."""
    ans = [i for i in test if i["gold"]]
    nc = [i for i in test if not i["gold"]]
    res = {"config": name, "n_answerable": len(ans), "n_not_covered": len(nc)}
    ranks = np.arange(30)
    prior = -np.log2(1 + ranks)
    grid = {}
    for d in DEPTHS:
        for w in PRIOR_WEIGHTS:
            hit = 0
            for i in ans:
                s = scores_of[i["id"]][:d] + w * prior[:d]
                hit += i["ranked"][int(np.argmax(s))] in i["gold"]
            grid[f"{d}/{w}"] = round(hit / max(1, len(ans)), 4)
    res["hit1_grid"] = grid
    res["retriever_hit1"] = round(sum(i["ranked"][0] in i["gold"] for i in ans) / max(1, len(ans)), 4)
    res["retriever_r5"] = round(sum(any(c in i["gold"] for c in i["ranked"][:5]) for i in ans) / max(1, len(ans)), 4)
    res["retriever_r30"] = round(sum(any(c in i["gold"] for c in i["ranked"][:30]) for i in ans) / max(1, len(ans)), 4)
    # abstention signal: max raw score over top 12, answerable vs not_covered (ROC AUC)
    try:
        from sklearn.metrics import roc_auc_score

        y = [1] * len(ans) + [0] * len(nc)
        s = [float(np.max(scores_of[i["id"]][:12])) for i in ans + nc]
        res["abstain_auc_max12"] = round(roc_auc_score(y, s), 4)
        # right-top-clause vs wrong among answerable (depth 12, w 0.04)
        yy, ss = [], []
        for i in ans:
            sc = scores_of[i["id"]][:12] + 0.04 * prior[:12]
            k = int(np.argmax(sc))
            yy.append(int(i["ranked"][k] in i["gold"]))
            ss.append(float(sc.max()))
        res["right_top_auc_max"] = round(roc_auc_score(yy, ss), 4) if len(set(yy)) > 1 else None
    except Exception as e:
        res["auc_error"] = repr(e)
    if verdict_pred is not None:
        ok = [verdict_pred[i["id"]] == i["verdict"] for i in ans if i["id"] in verdict_pred]
        res["verdict_acc_gold"] = round(sum(ok) / max(1, len(ok)), 4)
    if extra:
        res.update(extra)
    best = max(grid, key=grid.get)
    res["best"] = [best, grid[best]]
    res["seconds"] = round(time.time() - T0)
    log(
        name,
        "best",
        best,
        grid[best],
        "retriever",
        res["retriever_hit1"],
        "d4/0.04",
        grid.get("4/0.04"),
        "d30/0.0",
        grid.get("30/0.0"),
        "auc",
        res.get("abstain_auc_max12"),
        res.get("right_top_auc_max"),
        res.get("verdict_acc_gold"),
    )
    with open(OUT / "results.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")
    return res


def save_scores(name, scores_of):
    with open(OUT / "scores.jsonl", "a") as f:
        for k, v in scores_of.items():
            f.write(json.dumps({"config": name, "id": k, "s": [round(float(x), 4) for x in v]}) + "\n")


def trainer_arguments(epochs, batch, lr, seed):
    """Training arguments every recipe shares (a 10 % warm-up, no checkpoints, no reporting)."""
    return {
        "output_dir": tempfile.mkdtemp(),
        "num_train_epochs": epochs,
        "per_device_train_batch_size": batch,
        "learning_rate": lr,
        "warmup_steps": 0.1,
        "seed": seed,
        "save_strategy": "no",
        "logging_steps": 1000,
        "report_to": "none",
        "dataloader_num_workers": 0,
        "use_cpu": DEVICE == "cpu",
    }


# ---------------------------------------------------------------- bi-encoder
def listwise_columns(train, n_neg, seed, first):
    """(question, gold clause, ``n_neg`` hard negatives) rows for MultipleNegativesRankingLoss, shuffled,
    as a ``datasets.Dataset`` whose first column is named ``first``; answerable questions only."""
    from datasets import Dataset

    cols = {first: [], "positive": [], **{f"negative_{k}": [] for k in range(n_neg)}}
    for i in train:
        negs = negatives(i, n_neg)
        if not i["gold"] or len(negs) < n_neg:
            continue
        for g in i["gold"]:
            cols[first].append(i["query"])
            cols["positive"].append(passages[g])
            for k in range(n_neg):
                cols[f"negative_{k}"].append(passages[negs[k]])
    order = list(range(len(cols[first])))
    random.Random(seed).shuffle(order)
    return Dataset.from_dict({k: [v[j] for j in order] for k, v in cols.items()})


def train_bi(train, epochs, n_neg, lr=3e-5, batch=32, seed=13, max_len=96):
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    torch.manual_seed(seed)
    model = SentenceTransformer(str(BI_BASE), device=DEVICE, local_files_only=True)
    model.max_seq_length = max_len
    cols = listwise_columns(train, n_neg, seed, "anchor")
    args = SentenceTransformerTrainingArguments(**trainer_arguments(epochs, batch, lr, seed), batch_sampler=BatchSamplers.NO_DUPLICATES)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=cols, loss=MultipleNegativesRankingLoss(model)).train()
    return model


def score_bi(model, test):
    need = sorted({c for i in test for c in i["ranked"]})
    vec = dict(zip(need, model.encode([passages[c] for c in need], batch_size=256, normalize_embeddings=True), strict=True))
    q = model.encode([i["query"] for i in test], batch_size=256, normalize_embeddings=True)
    return {i["id"]: np.array([vec[c] @ qq for c in i["ranked"]]) for i, qq in zip(test, q, strict=True)}


def run_bi(name, epochs, n_neg, sample=1.0, **kw):
    scores = {}
    for f in FOLDS:
        train = [i for i in items if i["fold"] != f]
        if sample < 1.0:
            train = random.Random(13 + f).sample(train, round(sample * len(train)))
        test = [i for i in items if i["fold"] == f]
        model = train_bi(train, epochs, n_neg, **kw)
        scores.update(score_bi(model, test))
        del model
        torch.cuda.empty_cache()
    save_scores(name, scores)
    return evaluate(name, items, scores, extra={"kind": "bi", "epochs": epochs, "n_neg": n_neg, "sample": sample, **kw})


# ---------------------------------------------------------------- cross-encoder
def ce_arguments(epochs, batch, lr, seed, bf16=True):
    """The cross-encoder recipes' training arguments (bf16 on a GPU unless asked not to, a 10 % warm-up)."""
    from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments

    return CrossEncoderTrainingArguments(**trainer_arguments(epochs, batch, lr, seed), bf16=bf16 and DEVICE == "cuda")


def train_ce(train, epochs, n_neg, nc_neg, layers=None, lr=5e-5, batch=32, seed=13, max_len=192, loss="bce", pos_weight=False, bf16=True):
    """BCE on (question, clause) pairs; ``pos_weight`` weighs positives by ``n_neg`` (the ratio of negatives),
    the remedy sentence-transformers' MS MARCO BCE example uses; ``loss="mnrl"`` trains listwise instead
    (softmax over the gold clause, ``n_neg`` hard negatives and in-batch negatives), which needs no
    balancing and skips not_covered questions."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss, MultipleNegativesRankingLoss

    torch.manual_seed(seed)
    base = hf_base(layers)
    model = CrossEncoder(str(base), num_labels=1, max_length=max_len, device=DEVICE, local_files_only=True)
    args = ce_arguments(epochs, batch, lr, seed, bf16)
    if loss == "mnrl":
        ds = listwise_columns(train, n_neg, seed, "query")
        CrossEncoderTrainer(model=model, args=args, train_dataset=ds, loss=MultipleNegativesRankingLoss(model, num_negatives=4)).train()
        shutil.rmtree(base, ignore_errors=True)
        return model, len(ds) * (1 + n_neg)
    rows = []
    for i in train:
        if i["gold"]:
            for g in i["gold"]:
                rows.append((i["query"], passages[g], 1.0))
            for c in negatives(i, n_neg):
                rows.append((i["query"], passages[c], 0.0))
        else:
            for c in i["ranked"][:nc_neg]:
                rows.append((i["query"], passages[c], 0.0))
    random.Random(seed).shuffle(rows)
    ds = Dataset.from_dict({"query": [r[0] for r in rows], "passage": [r[1] for r in rows], "label": [r[2] for r in rows]})
    weight = torch.tensor(float(n_neg)) if pos_weight else None
    CrossEncoderTrainer(model=model, args=args, train_dataset=ds, loss=BinaryCrossEntropyLoss(model, pos_weight=weight)).train()
    shutil.rmtree(base, ignore_errors=True)
    return model, len(rows)


def score_ce(model, test, depth=30):
    pairs = [(i["query"], passages[c]) for i in test for c in i["ranked"][:depth]]
    s = model.predict(pairs, batch_size=256, activation_fn=torch.nn.Identity(), show_progress_bar=False)
    out, k = {}, 0
    for i in test:
        n = len(i["ranked"][:depth])
        out[i["id"]] = np.asarray(s[k : k + n], dtype=np.float64)
        k += n
    return out


def run_ce(name, epochs, n_neg, nc_neg, layers=None, **kw):
    scores, n_rows = {}, 0
    for f in FOLDS:
        train = [i for i in items if i["fold"] != f]
        test = [i for i in items if i["fold"] == f]
        model, n = train_ce(train, epochs, n_neg, nc_neg, layers, **kw)
        n_rows += n
        scores.update(score_ce(model, test))
        del model
        torch.cuda.empty_cache()
    save_scores(name, scores)
    return evaluate(
        name,
        items,
        scores,
        extra={
            "kind": "ce",
            "epochs": epochs,
            "n_neg": n_neg,
            "nc_neg": nc_neg,
            "layers": layers,
            "pairs_per_fold": n_rows // len(FOLDS),
            **kw,
        },
    )


# ---------------------------------------------------------------- verdict cross-encoder
VERDICTS = ["yes", "no", "conditional", "info"]


def run_verdict(name, epochs, layers=None, lr=5e-5, max_len=192, seed=13):
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer
    from sentence_transformers.cross_encoder.losses import CrossEntropyLoss

    pred = {}
    for f in FOLDS:
        train = [i for i in items if i["fold"] != f and i["gold"] and i["verdict"] in VERDICTS]
        test = [i for i in items if i["fold"] == f and i["gold"]]
        torch.manual_seed(seed)
        base = hf_base(layers)
        model = CrossEncoder(str(base), num_labels=4, max_length=max_len, device=DEVICE, local_files_only=True)
        ds = Dataset.from_dict(
            {
                "query": [i["query"] for i in train],
                "passage": [passages[i["gold"][0]] for i in train],
                "label": [VERDICTS.index(i["verdict"]) for i in train],
            }
        )
        args = ce_arguments(epochs, 32, lr, seed)
        CrossEncoderTrainer(model=model, args=args, train_dataset=ds, loss=CrossEntropyLoss(model)).train()
        logits = model.predict([(i["query"], passages[i["gold"][0]]) for i in test], batch_size=256, show_progress_bar=False)
        for i, lg in zip(test, logits, strict=True):
            pred[i["id"]] = VERDICTS[int(np.argmax(lg))]
        # Each fold's accuracy and predictions are kept as they come, so a run cut short still reports.
        log(name, "fold", f, "verdict acc", round(sum(pred[i["id"]] == i["verdict"] for i in test) / max(1, len(test)), 4))
        (OUT / f"verdicts-{name}.json").write_text(json.dumps(pred))
        shutil.rmtree(base, ignore_errors=True)
        del model
        torch.cuda.empty_cache()
    (OUT / f"verdicts-{name}.json").write_text(json.dumps(pred))
    ans = [i for i in items if i["gold"]]
    acc = sum(pred[i["id"]] == i["verdict"] for i in ans) / len(ans)
    by_school = {}
    for s in sorted({i["school"] for i in ans}):
        xs = [i for i in ans if i["school"] == s]
        by_school[s] = round(sum(pred[i["id"]] == i["verdict"] for i in xs) / len(xs), 3)
    res = {
        "config": name,
        "kind": "verdict_ce",
        "epochs": epochs,
        "layers": layers,
        "lr": lr,
        "verdict_acc_gold": round(acc, 4),
        "by_school": by_school,
        "seconds": round(time.time() - T0),
    }
    log(name, "verdict acc", res["verdict_acc_gold"])
    with open(OUT / "results.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")


BI_BASE = st_base()
log("device", DEVICE, torch.cuda.get_device_name(0) if DEVICE == "cuda" else "", "items", len(items))
#: The recipes, cheapest first, so a short lease still measures the bi-encoder variants.
PLAN = [
    lambda: run_bi("bi-1ep-1neg-s35", 1, 1, sample=0.35),
    lambda: run_bi("bi-1ep-1neg-full", 1, 1),
    lambda: run_bi("bi-3ep-3neg-full", 3, 3),
    lambda: run_verdict("verdict-ce6-3ep", 3),
    lambda: run_ce("ce6-2ep-7neg", epochs=2, n_neg=7, nc_neg=4, batch=64),
    lambda: run_ce("ce4-1ep-3neg", epochs=1, n_neg=3, nc_neg=2, layers=4),
    lambda: run_bi("bi-2ep-1neg-full", 2, 1),
    lambda: run_ce("ce6-3ep-15neg", epochs=3, n_neg=15, nc_neg=6, batch=64),
    # CPU-sized (~9.5 min a fold on 2 cores, ~48 min in all): does a small cross-encoder read verdicts better than the classifier?
    lambda: run_verdict("verdict-ce4-2ep-128", 2, layers=4, max_len=128),
    # 2026-11-28 on an H200: steps 4 and 5 collapsed to the positive rate (mean logit = log odds of
    # 1 positive in 8 or 4 rows; ce4 ranked at chance). These two remedies, CPU-sized (128 tokens, 1 epoch):
    lambda: run_ce("ce6-1ep-3neg-pw-fp32", epochs=1, n_neg=3, nc_neg=2, lr=2e-5, max_len=128, pos_weight=True, bf16=False),
    lambda: run_ce("ce6-1ep-3neg-mnrl", epochs=1, n_neg=3, nc_neg=0, lr=2e-5, max_len=128, loss="mnrl", bf16=False),
]
# ONLY=4,3 runs those steps in that order (the most informative first on a short lease).
order = [int(n) for n in os.environ["ONLY"].split(",")] if os.environ.get("ONLY") else range(len(PLAN))
for n in order:
    step = PLAN[n]
    if time.time() - T0 > BUDGET:
        log("budget spent; skipping step", n)
        continue
    try:
        step()
    except Exception as e:
        import traceback

        traceback.print_exc()
        log("step", n, "failed", repr(e))
log("done")
