"""The training set: schools, their clauses, the training questions and mined candidates.

Schools are the fictional ones of ``training/corpus/`` and the seed schools of ``corpus/``.
A training question's gold clauses are the clauses of its school whose quoted text (lead-in
and clause, `normalise_for_match`) contains one of its gold quotes. Candidates (the hard
negatives) come from the product's own hybrid retriever (`Assistant.search`, same school,
top `MINED_DEPTH`) over an index of every training school built by the product's ingest.

Nothing here reads ``evals/banks/``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from assistant.chunking import normalise_for_match
from assistant.config import get_settings

ROOT = Path(__file__).resolve().parent.parent
TRAINING_CORPUS = ROOT / "training" / "corpus"
SEED_CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "training" / "questions"
#: Scratch space of `make train` (ignored by git): the training index and mined candidates.
WORK = ROOT / "training" / ".work"
#: Clauses of the retriever's ranking kept per question for training (hard negatives: ranks 2–30).
MINED_DEPTH = 30


@dataclass(frozen=True)
class TrainingItem:
    """One training question with its gold clause ids (empty for not_covered) and mined ranking.

    Attributes:
        id, school, audience, question, history, kind: as in the bank file;
        verdict: the first (preferred) verdict label;
        gold_ids: clause ids of the school whose text holds a gold quote;
        ranked_ids: the hybrid retriever's top `MINED_DEPTH` clause ids, best first;
        outside: the retriever's similarity floor would answer "not covered"
            (`assistant.assistant.Assistant.outside_policies`), so the bands are calibrated on
            what the floor lets through;
        pool_ids, pool_scores: every clause of the school in the retriever's order, with its
            fused score (`assistant.retrieval.fuse`, z-score units): what the trained stage's
            in-domain channel is added to (`assistant.rerank.fuse_in_domain`).
    """

    id: str
    school: str
    audience: str
    question: str
    history: tuple[str, ...]
    kind: str
    verdict: str
    gold_ids: frozenset[str]
    ranked_ids: tuple[str, ...]
    outside: bool = False
    pool_ids: tuple[str, ...] = ()
    pool_scores: tuple[float, ...] = ()


def training_files() -> list[Path]:
    """Every file the trained models depend on: the questions, and both corpora's policy
    documents and ``school.toml`` files (a school's own ``questions.jsonl`` bank is no input), sorted."""
    files = sorted(QUESTIONS.glob("*.jsonl"))
    for base in (TRAINING_CORPUS, SEED_CORPUS):
        files += sorted(p for p in base.rglob("*") if p.is_file() and p.name != "questions.jsonl")
    return files


#: The parts of a ``school.toml`` the training index reads (name and document metadata); its
#: contacts, example questions, widget origins and comments are no input of the trained models,
#: so editing them needs no ``make train``.
_MODEL_INPUT_KEYS = ("name", "documents")


def _hashed_bytes(path: Path) -> bytes:
    """A training file's bytes as `data_hash` reads them: a ``school.toml`` as canonical JSON of
    its `_MODEL_INPUT_KEYS`, any other file as it is."""
    if path.name != "school.toml":
        return path.read_bytes()
    meta = tomllib.loads(path.read_text(encoding="utf-8"))
    return json.dumps({k: meta.get(k) for k in _MODEL_INPUT_KEYS}, sort_keys=True, ensure_ascii=False).encode("utf-8")


def data_hash() -> str:
    """SHA-256 over the relative path and `_hashed_bytes` of every `training_files` entry (hex)."""
    digest = hashlib.sha256()
    for path in training_files():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(b"\0")
        digest.update(_hashed_bytes(path))
        digest.update(b"\0")
    return digest.hexdigest()


def read_questions() -> list[dict]:
    """Every line of ``training/questions/*.jsonl`` as a dict, file by file."""
    rows = []
    for path in sorted(QUESTIONS.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def school_ids() -> list[str]:
    """Ids of every training school (fictional and seed), sorted."""
    return sorted(p.parent.name for base in (TRAINING_CORPUS, SEED_CORPUS) for p in base.glob("*/school.toml"))


def training_corpus_dir() -> Path:
    """One corpus folder holding every training school (copied into `WORK`), for ingest."""
    target = WORK / "corpus"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for base in (TRAINING_CORPUS, SEED_CORPUS):
        for meta in base.glob("*/school.toml"):
            shutil.copytree(meta.parent, target / meta.parent.name)
    return target


def build_training_index(index_dir: Path | None = None) -> Path:
    """Ingest every training school with the product's own ingest; returns the index folder."""
    from assistant.index import build_index

    index_dir = index_dir or WORK / "index"
    report = build_index(training_corpus_dir(), index_dir)
    print(f"training index: {report}")
    return index_dir


def gold_ids_of(gold: list[str], clauses) -> frozenset[str]:
    """Clause ids whose quoted text contains one of the ``gold`` quotes (normalised)."""
    quotes = [normalise_for_match(g) for g in gold]
    return frozenset(c.clause_id for c in clauses if any(q in normalise_for_match(c.display_text) for q in quotes))


def _mine_key(generation: str, row: dict) -> str:
    """What a mined ranking depends on: the index generation and the question as asked."""
    fields = [generation, row["school"], row["audience"], row["question"], *row["history"]]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def retriever_only(index_dir: Path):
    """The product's `Assistant` over ``index_dir`` with the trained stage off (``ASSISTANT_RERANK=false``).

    Training reads the retriever, the clause records and the store through it; the trained
    models it builds are not needed, and may not exist yet. Sets the variable for this process.
    """
    import os

    from assistant.assistant import Assistant

    os.environ["ASSISTANT_RERANK"] = "false"
    get_settings.cache_clear()  # settings are read once per process: re-read them now
    return Assistant.load(index_dir)


def mine(index_dir: Path, out: Path, sample: int = 0) -> list[TrainingItem]:
    """Rank every training question's school with the hybrid retriever; write ``out`` (JSONL).

    Rankings already mined on the same index generation are reused from
    ``WORK/mine-cache.jsonl`` (key: generation, school, audience, question, history). Each
    item keeps the top `MINED_DEPTH` ids (``ranked_ids``, the hard negatives) and the whole
    school's ranking with the retriever's scores (``pool_ids``, ``pool_scores``).
    ``sample`` > 0 mines every ``sample``-th question only (a quick check of the pipeline).

    Raises:
        ValueError: an answerable question whose gold quotes match no clause (run
            ``python -m training.verify``).
    """
    # The retriever ranks without the trained stage: these are the candidates it must rerank.
    bot = retriever_only(index_dir)
    cache_path = WORK / "mine-cache.jsonl"
    cache = {}
    if cache_path.exists():
        # Entries from before ``outside`` and the scores were recorded are mined again.
        cache = {
            d["key"]: d for d in map(json.loads, cache_path.read_text(encoding="utf-8").splitlines()) if "outside" in d and "scores" in d
        }
    rows = read_questions()
    if sample:
        rows = rows[::sample]
    items = []
    with out.open("w", encoding="utf-8") as fh, cache_path.open("a", encoding="utf-8") as cache_fh:
        for n, row in enumerate(rows, start=1):
            clauses = bot.clauses(row["school"])
            gold = gold_ids_of(row["gold"], clauses) if row["gold"] else frozenset()
            if row["gold"] and not gold:
                raise ValueError(f"{row['id']}: no clause of {row['school']} holds its gold quotes")
            key = _mine_key(bot.generation.name, row)
            if key not in cache:
                # The retrieval stage alone: every clause of the school ranked, and the floor's decision.
                evidence = bot.retrieve(row["question"], row["school"], row["audience"], list(row["history"]))
                cache[key] = {
                    "ranked": [c.clause.clause_id for c in evidence.candidates],
                    "scores": [round(c.score, 5) for c in evidence.candidates],
                    "outside": evidence.outside,
                }
                cache_fh.write(json.dumps({"key": key, **cache[key]}) + "\n")
            pool_ids, outside = cache[key]["ranked"], cache[key]["outside"]
            item = TrainingItem(
                row["id"],
                row["school"],
                row["audience"],
                row["question"],
                tuple(row["history"]),
                row.get("kind", ""),
                row["verdict"][0],
                gold,
                tuple(pool_ids[:MINED_DEPTH]),
                outside,
                tuple(pool_ids),
                tuple(cache[key]["scores"]),
            )
            items.append(item)
            fh.write(json.dumps({**item.__dict__, "gold_ids": sorted(gold), "history": list(item.history)}) + "\n")
            if n % 500 == 0:
                print(f"mined {n} questions")
    return items


def read_mined(path: Path) -> list[TrainingItem]:
    """Read what `mine` wrote."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        d["gold_ids"] = frozenset(d["gold_ids"])
        d["ranked_ids"] = tuple(d["ranked_ids"])
        d["pool_ids"] = tuple(d.get("pool_ids", ()))
        d["pool_scores"] = tuple(d.get("pool_scores", ()))
        d["history"] = tuple(d["history"])
        items.append(TrainingItem(**d))
    return items
