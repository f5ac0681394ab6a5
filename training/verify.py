"""Check the training question bank against the policies it quotes.

    python -m training.verify [SCHOOL ...]

For every line of ``training/questions/*.jsonl`` (or only the named schools' files):

* the line is a valid bank entry (`evals.metrics.load_bank`'s schema);
* its school exists in ``training/corpus/`` or ``corpus/`` (the seed schools);
* an answerable question (verdict yes / no / conditional / info) has gold quotes, and each
  quote lies inside **one clause** of that school as the chunker splits it (after
  `normalise_for_match`), so training can name the clause it is about;
* a ``not_covered`` question has no gold quote and no other verdict;
* ids are unique across the bank, and no question repeats one of ``evals/banks/`` (those
  banks are evaluation-only).

Prints a summary per file and every failure; exits 1 on any failure.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from assistant.chunking import chunk_document, normalise_for_match
from assistant.loading import load_school
from assistant.types import ANSWER_VERDICTS

ROOT = Path(__file__).resolve().parent.parent
TRAINING_CORPUS = ROOT / "training" / "corpus"
SEED_CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "training" / "questions"
EVAL_BANKS = ROOT / "evals" / "banks"
ANSWERABLE = set(ANSWER_VERDICTS)
AUDIENCES = {"staff", "parent", "pupil", "visitor", "governor"}


def school_folder(school: str) -> Path | None:
    """The corpus folder of ``school``: a training school or a seed school; None if neither."""
    for base in (TRAINING_CORPUS, SEED_CORPUS):
        if (base / school / "school.toml").exists():
            return base / school
    return None


def school_clause_texts(school: str) -> list[str]:
    """Normalised display texts (lead-in + clause) of every clause of ``school``.

    Raises:
        FileNotFoundError: no such school in either corpus.
    """
    folder = school_folder(school)
    if folder is None:
        raise FileNotFoundError(f"no school folder {school!r} in training/corpus/ or corpus/")
    loaded = load_school(folder)
    texts = []
    for doc in loaded.documents:
        texts.extend(normalise_for_match(c.display_text) for c in chunk_document(doc, loaded.name))
    return texts


def _eval_questions() -> set[str]:
    out = set()
    for bank in EVAL_BANKS.glob("*.jsonl"):
        for line in bank.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.add(normalise_for_match(json.loads(line)["question"]))
    return out


def verify_file(path: Path, seen_ids: set[str], eval_questions: set[str], clauses: dict[str, list[str]]) -> list[str]:
    """Failures of one bank file (empty when it is clean); prints its summary."""
    failures: list[str] = []
    verdicts: Counter[str] = Counter()
    follow_ups = 0
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, start=1):
        where = f"{path.name}:{n}"
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            failures.append(f"{where}: not JSON ({exc})")
            continue
        missing = {"id", "school", "audience", "question", "verdict", "gold", "history"} - set(d)
        if missing:
            failures.append(f"{where}: missing keys {sorted(missing)}")
            continue
        if d["id"] in seen_ids:
            failures.append(f"{where}: id {d['id']!r} is used twice")
        seen_ids.add(d["id"])
        if d["audience"] not in AUDIENCES:
            failures.append(f"{where}: audience {d['audience']!r} is not one of {sorted(AUDIENCES)}")
        if not isinstance(d["question"], str) or not d["question"].strip():
            failures.append(f"{where}: empty question")
            continue
        if normalise_for_match(d["question"]) in eval_questions:
            failures.append(f"{where}: question repeats one of evals/banks (evaluation-only)")
        if not isinstance(d["history"], list) or not all(isinstance(h, str) for h in d["history"]):
            failures.append(f"{where}: history must be a list of strings")
        follow_ups += bool(d["history"])
        verdict = d["verdict"]
        if not isinstance(verdict, list) or not verdict:
            failures.append(f"{where}: verdict must be a non-empty list")
            continue
        verdicts.update(verdict[:1])
        school = d["school"]
        if school not in clauses:
            try:
                clauses[school] = school_clause_texts(school)
            except Exception as exc:
                failures.append(f"{where}: school {school!r} cannot be read ({exc})")
                clauses[school] = []
                continue
        if verdict == ["not_covered"]:
            if d["gold"]:
                failures.append(f"{where}: a not_covered question has no gold quotes")
            continue
        if not set(verdict) <= ANSWERABLE:
            failures.append(f"{where}: verdict {verdict} mixes not_covered with answers, or names an unknown verdict")
            continue
        if not d["gold"]:
            failures.append(f"{where}: an answerable question needs at least one gold quote")
        for quote in d["gold"]:
            q = normalise_for_match(quote)
            if len(q) < 15:
                failures.append(f"{where}: gold quote {quote!r} is too short to name one clause (15+ characters)")
            elif not any(q in text for text in clauses[school]):
                failures.append(f"{where}: gold quote not inside any one clause of {school}: {quote[:90]!r}")
    total = sum(verdicts.values())
    share = verdicts["not_covered"] / total if total else 0
    print(f"{path.name}: {total} questions, {dict(sorted(verdicts.items()))}, not_covered {share:.0%}, follow-ups {follow_ups}")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Verify the named schools' files (default: all); returns the exit status."""
    names = (argv if argv is not None else sys.argv[1:]) or None
    files = sorted(QUESTIONS.glob("*.jsonl"))
    if names:
        files = [f for f in files if f.stem in names]
    seen: set[str] = set()
    clauses: dict[str, list[str]] = {}
    failures: list[str] = []
    evals = _eval_questions()
    for path in files:
        failures += verify_file(path, seen, evals, clauses)
    for failure in failures:
        print("FAIL", failure)
    print(f"{len(files)} files, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
