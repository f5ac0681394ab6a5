"""The benchmark's generated corpus (bench/generate_corpus.py) and request stream (bench/common.py).

Real seed policies from corpus/, the real loader and clause chunker; no models are loaded.
"""

from __future__ import annotations

import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
import generate_corpus  # noqa: E402

from assistant.index import chunk_school  # noqa: E402
from assistant.loading import load_corpus  # noqa: E402

pytestmark = pytest.mark.unit

SCHOOLS = 10


@pytest.fixture(scope="module")
def seeds():
    return generate_corpus.load_seeds(ROOT / "corpus", seed=7)


@pytest.fixture(scope="module")
def generated(seeds, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench-corpus") / "corpus"
    generate_corpus.generate(seeds, SCHOOLS, out, seed=7, progress=False)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_corpus_and_another_seed_a_different_one(seeds, generated, tmp_path):
    again = tmp_path / "again"
    generate_corpus.generate(seeds, SCHOOLS, again, seed=7, progress=False)
    assert _files(again) == _files(generated)
    other = tmp_path / "other"
    generate_corpus.generate(seeds, SCHOOLS, other, seed=8, progress=False)
    assert _files(other) != _files(generated)


def test_a_smaller_corpus_is_the_start_of_a_larger_one(seeds, generated, tmp_path):
    small = tmp_path / "small"
    generate_corpus.generate(seeds, 3, small, seed=7, progress=False)
    for school in (p.name for p in small.iterdir() if p.is_dir()):
        assert _files(small / school) == _files(generated / school)


def test_generated_corpus_loads_and_each_school_records_its_seed(generated):
    schools = load_corpus(generated)
    assert len(schools) == SCHOOLS
    assert len({s.name for s in schools}) == SCHOOLS
    seed_ids = {p.name for p in (ROOT / "corpus").iterdir() if p.is_dir()}
    recorded = common.school_seeds(generated)
    assert set(recorded.values()) == seed_ids  # 10 schools use each of the 5 seeds twice
    for school in schools:
        text = school.documents[0].text
        assert school.name in text  # the contact paragraph names the new school…
        seed_name = tomllib.loads((ROOT / "corpus" / recorded[school.school] / "school.toml").read_text())["name"]
        assert seed_name not in text  # …and the seed school's own name is gone


def test_generated_documents_chunk_like_their_seeds_but_read_differently(generated):
    seeds = {s.school: s for s in load_corpus(ROOT / "corpus")}
    recorded = common.school_seeds(generated)
    texts_by_seed: dict[str, list[str]] = {}
    for school in load_corpus(generated):
        seed = seeds[recorded[school.school]]
        want, got = len(chunk_school(seed)), len(chunk_school(school))
        assert abs(got - want) <= max(2, 0.05 * want), (school.school, want, got)
        texts_by_seed.setdefault(seed.school, []).append(school.documents[0].text)
    for seed_id, texts in texts_by_seed.items():
        assert len(set(texts)) == len(texts), f"two schools generated from {seed_id} have identical text"
        first, second = (Counter(t.split()) for t in texts[:2])
        assert first != second


def test_requests_go_to_schools_generated_from_the_question_s_school_and_never_repeat(generated):
    questions = common.load_questions()
    recorded = common.school_seeds(generated)
    bodies = common.take(common.request_stream(questions, recorded), 3 * len(questions))
    assert all(recorded[b["school"]] in {q["school"] for q in questions} for b in bodies)
    assert len({(b["question"], b["school"]) for b in bodies}) == len(bodies)
    originals = {(q["question"].rstrip("?").lower()[1:20]) for q in questions}
    assert all(any(o in b["question"].lower() for o in originals) for b in bodies[:50])


def test_benchmark_tables_name_a_system_that_was_not_run():
    """BENCHMARKS.md from a run with ``--systems ours``: dashes and the reason, not a crash or a zero."""
    import json

    import report

    result = json.loads((ROOT / "bench/results/schools-5.json").read_text(encoding="utf-8"))
    for section in ("ingest", "inprocess", "http", "workers"):
        result[section].pop("textbook", None)
    result["skipped_systems"] = {"textbook": "hours of CPU at this size"}
    text = report.render_size(result)
    assert "The textbook recipe is not measured at this size** (its columns show –): hours of CPU at this size." in text
    ingest_row = next(line for line in text.splitlines() if line.startswith("| cold embedding cache: build seconds"))
    assert ingest_row.split("|")[3].strip() == "–"
    assert "| ingest ≥ 300 clauses/s (cold embedding cache) |" in text


def test_benchmark_tables_say_when_the_textbook_build_was_resumed():
    """A cold build spread over several runs (bench/textbook.py resume) is reported as such, with its CPU seconds."""
    import json

    import report

    result = json.loads((ROOT / "bench/results/schools-5.json").read_text(encoding="utf-8"))
    result["ingest"]["textbook"]["cold"] |= {"runs": 3, "cpu_seconds": 9000.0}
    result["ingest"]["textbook"]["cold_started"] = "2026-11-21 17:43"
    text = report.render_size(result)
    assert "The textbook's cold build was interrupted and resumed: 3 runs from 2026-11-21 17:43" in text
    result["ingest"]["textbook"]["cold"].pop("runs")
    assert "interrupted and resumed" not in report.render_size(result)


def test_a_measurement_run_without_ours_is_refused_before_it_measures_anything(capsys):
    """``--systems textbook`` would measure for minutes and then have no baseline to render against."""
    import run

    with pytest.raises(SystemExit) as exit_info:
        run.main(["--schools", "5", "--systems", "textbook"])
    assert exit_info.value.code == 2
    assert "--systems without ours only builds indexes: add --ingest-only" in capsys.readouterr().err
    assert not (common.DATA / "ingest-textbook-5.partial.json").exists()
