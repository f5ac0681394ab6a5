"""Pack what `training/gpu/recipes.py` needs into ``training/.gpu/`` for a lent GPU machine.

    python -m training.gpu.bundle

The device machine (workplace tool ``device``) carries at most 64 MiB and reaches no network,
so the bundle holds: ``data.json`` (every training question with its text as the models read it
(`assistant.rerank.pair_query`), gold clause ids, verdict, fold, and the hybrid retriever's top
30 from ``make train``'s mining; the passages of those clauses, `assistant.rerank.pair_passage`),
``minilm/`` (the shipped all-MiniLM-L6-v2 with fp16 weights, 44 MiB; `recipes.py` trains in
fp32 from them), ``whl/`` (``datasets`` and its two missing dependencies, and the
sentence-transformers wheel this project pins, downloaded with pip) and ``recipes.py`` itself.

Needs ``training/.work/mined.jsonl`` and the training index (``make train`` makes both, or
``python -m training.train --only-folds --folds 0`` after mining). Reads nothing from ``evals/``.

Raises:
    SystemExit: the mined candidates are missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from assistant.models import model_path
from assistant.rerank import pair_query

from ..data import WORK, read_mined
from ..train import clause_texts

BUNDLE = Path(__file__).resolve().parent.parent / ".gpu"
#: Packages the device image lacks (its package list: the device tool's KINDS.md), with the
#: sentence-transformers version this project trains with, so both machines run one trainer.
WHEELS = ("datasets", "dill", "multiprocess", "sentence-transformers")
#: sentence-transformers files of the base model, beside its weights.
_MODEL_FILES = (
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "sentence_bert_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
)


def write_data(target: Path) -> int:
    """Write ``target/data.json`` from the mined candidates; returns the number of questions."""
    mined = WORK / "mined.jsonl"
    if not mined.exists():
        raise SystemExit(f"{mined} is missing: run `make train` (or `python -m training.train --only-folds`) first")
    items = read_mined(mined)
    texts = clause_texts(WORK / "index")
    folds = json.loads((WORK / "folds.json").read_text())
    needed = {c for i in items for c in (*i.ranked_ids, *i.gold_ids)}
    data = {
        "items": [
            {
                "id": i.id,
                "school": i.school,
                "fold": folds[i.school],
                "query": pair_query(i.question, list(i.history), i.audience),
                "gold": sorted(i.gold_ids),
                "ranked": list(i.ranked_ids),
                "verdict": i.verdict,
                "outside": i.outside,
            }
            for i in items
        ],
        "passages": {c: t.passage for c, t in texts.items() if c in needed},
    }
    (target / "data.json").write_text(json.dumps(data))
    return len(items)


def write_model(target: Path) -> None:
    """Copy the shipped MiniLM to ``target/minilm`` with its weights in fp16 (half the bytes)."""
    from safetensors.torch import load_file, save_file

    source = Path(model_path("minilm"))
    out = target / "minilm"
    out.mkdir(parents=True, exist_ok=True)
    for name in _MODEL_FILES:
        shutil.copy(source / name, out / name)
    shutil.copytree(source / "1_Pooling", out / "1_Pooling", dirs_exist_ok=True)
    weights = load_file(source / "model.safetensors")
    save_file({k: v.half().contiguous() for k, v in weights.items()}, out / "model.safetensors", metadata={"format": "pt"})


def download_wheels(target: Path) -> None:
    """pip-download `WHEELS` (this machine's versions) for the device's Python 3.12 on x86-64."""
    wheels = target / "whl"
    shutil.rmtree(wheels, ignore_errors=True)
    pins = [f"{name}=={version(name)}" for name in WHEELS]
    platforms = [a for p in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64") for a in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
         "--implementation", "cp", *platforms, "-d", str(wheels), *pins],
        check=True,
    )  # fmt: skip


def main() -> int:
    """Build the bundle; prints its size (it must stay under the device's 64 MiB with the repository)."""
    BUNDLE.mkdir(parents=True, exist_ok=True)
    count = write_data(BUNDLE)
    write_model(BUNDLE)
    download_wheels(BUNDLE)
    shutil.copy(Path(__file__).with_name("recipes.py"), BUNDLE / "recipes.py")
    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    print(f"{BUNDLE}: {count} questions, {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
