"""Ingest with the real models and real Chroma: first build, re-runs, edits, removals, new schools, bad files.

Each test works on a copy of the bundled corpus and its own index folder. Vectors come
from the persistent embedding cache, so building the same clause texts again is cheap;
only edited wording is embedded.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from server_helpers import copy_index

from assistant import Assistant
from assistant.errors import IndexOutdatedError
from assistant.index import (
    IngestFailed,
    build_index,
    chroma_client,
    current_generation,
    embedding_units,
    read_clauses,
    read_manifest_dict,
    school_collection_name,
)
from assistant.loading import load_school

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SCHOOLS = ["beaudesert-park", "glais", "shirley-warren", "st-margarets", "st-michaels"]
PHOTOS = "Can I post photos of other children on Facebook?"

SHIRLEY = "shirley-warren/ict-use-policy.txt"
OLD_BULLET = "You must lock computer screens when leaving them unattended."
NEW_BULLET = "You must lock your computer screen every time you step away from your desk, even for a minute."


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> tuple[Path, Path, object]:
    """A copy of the corpus ingested into an empty index folder: (corpus, index, report)."""
    root = tmp_path_factory.mktemp("fresh")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = root / "index"
    report = build_index(corpus, index)
    return corpus, index, report


@pytest.fixture()
def workspace(fresh, tmp_path) -> tuple[Path, Path]:
    """A writable copy of the fresh corpus and its index: (corpus, index)."""
    corpus, index, _ = fresh
    shutil.copytree(corpus, tmp_path / "corpus")
    copy_index(index, tmp_path / "index")
    return tmp_path / "corpus", tmp_path / "index"


def statuses(report) -> dict[str, str]:
    return {f"{c.school}/{c.document}": c.status for c in report.documents}


def pointer(index: Path) -> str:
    return (index / "CURRENT").read_text(encoding="utf-8").strip()


def generations(index: Path) -> list[str]:
    return sorted(p.name for p in index.glob("gen-*"))


def clause_ids(bot: Assistant) -> dict[str, list[str]]:
    return {s.school: [c.clause_id for c in bot.clauses(s.school)] for s in bot.schools()}


def chroma_entries(index: Path, school: str) -> tuple[list[str], list[dict]]:
    """(embedded texts, metadatas) the served Chroma collection holds for one school."""
    gen = current_generation(index)
    names = {c.name for c in chroma_client(gen / "chroma").list_collections()}
    if school_collection_name(gen.name, school) not in names:
        return [], []
    collection = chroma_client(gen / "chroma").get_collection(school_collection_name(gen.name, school))
    got = collection.get(include=["documents", "metadatas"])
    assert all(m["school"] == school for m in got["metadatas"])
    return got["documents"], got["metadatas"]


def assert_chroma_matches_clauses(index: Path) -> None:
    """Chroma holds exactly one vector per embedding unit of every served clause: nothing stale."""
    gen = current_generation(index)
    clauses = read_clauses(gen)
    expected = {f"{c.school}:{c.clause_id}:{n}" for c in clauses for n in range(len(embedding_units(c)))}
    client = chroma_client(gen / "chroma")
    assert {c.name for c in client.list_collections()} == {school_collection_name(gen.name, s) for s in {c.school for c in clauses}}
    stored = {i for c in client.list_collections() for i in client.get_collection(c.name).get(include=[])["ids"]}
    assert stored == expected


# --- first build and re-runs -------------------------------------------------------------------


@pytest.mark.integration
def test_first_ingest_serves_every_school_with_its_clause_counts(fresh):
    corpus, index, report = fresh
    assert report.changed and not report.problems
    # Documents: the policy files in each school folder, counted on disk, not by the loader
    # under test. Clauses: what the report says, what is served and what Chroma holds agree
    # (how many clauses a policy yields is the chunker's, tested in tests/test_chunking.py).
    files = {school: sum(p.is_file() and p.name != "school.toml" for p in (corpus / school).iterdir()) for school in SCHOOLS}
    assert {school: documents for school, (documents, _) in report.schools.items()} == files == dict.fromkeys(SCHOOLS, 1)
    assert set(statuses(report).values()) == {"added"}
    assert report.generation == pointer(index) and generations(index) == [report.generation]
    gen = current_generation(index)
    client = chroma_client(gen / "chroma")
    vector_ids = {school: client.get_collection(school_collection_name(gen.name, school)).get(include=[])["ids"] for school in SCHOOLS}
    assert report.reused == 0 and report.embedded == sum(len(ids) for ids in vector_ids.values())

    bot = Assistant.load(index)
    assert [s.school for s in bot.schools()] == SCHOOLS
    names = {s.school: s.name for s in bot.schools()}
    assert names["glais"] == "Glais Primary School" and names["st-michaels"] == "St Michael's School"
    for info in bot.schools():
        whole_clause_vectors = sum(vector.endswith(":0") for vector in vector_ids[info.school])
        served = len(bot.clauses(info.school))
        assert served > 0 and sum(d.clauses for d in info.documents) == report.schools[info.school][1] == served == whole_clause_vectors
    assert_chroma_matches_clauses(index)


@pytest.mark.integration
def test_re_running_an_unchanged_corpus_writes_nothing(fresh):
    corpus, index, first = fresh
    before = (pointer(index), generations(index))
    policy = corpus / SHIRLEY
    policy.write_bytes(policy.read_bytes())  # a new modification time, the same bytes

    report = build_index(corpus, index)

    assert report.changed is False
    assert report.generation == first.generation
    assert (pointer(index), generations(index)) == before
    assert set(statuses(report).values()) == {"unchanged"}
    assert report.embedded == 0
    assert report.schools == first.schools


@pytest.mark.integration
def test_each_schools_collection_writes_its_vector_graph_to_disk_on_the_ingests_last_add(fresh):
    # Chroma persists a collection's HNSW graph only after `sync_threshold` vectors and
    # purges its write-ahead log only up to a persisted graph. Left at the default (1,000),
    # no school ever reached it: every process replayed each school's whole log on that
    # school's first question (187 ms at 1,000 schools) and the log was never purged.
    # Checked through Chroma's public API (the configuration each collection was made with),
    # not through the files Chroma happens to write, which change between its versions.
    _, index, report = fresh
    gen = current_generation(index)
    client = chroma_client(gen / "chroma")
    collections = [client.get_collection(c.name) for c in client.list_collections()]
    assert len(collections) == len(SCHOOLS)
    for collection in collections:
        assert collection.configuration["hnsw"]["sync_threshold"] == max(2, collection.count()), collection.name
    assert sum(c.count() for c in collections) == report.embedded + report.reused


@pytest.mark.integration
def test_an_index_of_the_earlier_store_format_is_refused_until_the_next_ingest_upgrades_it_without_embedding(workspace):
    corpus, index = workspace
    gen = current_generation(index)
    before = {school: [c.clause_id for c in Assistant.load(index).search(PHOTOS, school=school, k=3)] for school in SCHOOLS}
    # The earlier format: every school's clause records in one clauses.jsonl, no store_format.
    records = "".join((gen / "clauses" / f"{school}.jsonl").read_text(encoding="utf-8") for school in SCHOOLS)
    (gen / "clauses.jsonl").write_text(records, encoding="utf-8")
    shutil.rmtree(gen / "clauses")
    manifest = read_manifest_dict(gen)
    del manifest["store_format"]
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexOutdatedError, match=r"built by an older ingest .*store format 1.*run `python ingest.py` to upgrade it"):
        Assistant.load(index)

    report = build_index(corpus, index)

    assert report.changed and report.embedded == 0 and report.reused > 500
    assert set(statuses(report).values()) == {"unchanged"}
    new_gen = current_generation(index)
    assert new_gen != gen and sorted(p.name for p in (new_gen / "clauses").iterdir()) == [f"{s}.jsonl" for s in SCHOOLS]
    bot = Assistant.load(index)
    assert {school: [c.clause_id for c in bot.search(PHOTOS, school=school, k=3)] for school in SCHOOLS} == before
    assert build_index(corpus, index).changed is False


@pytest.mark.integration
def test_a_schools_widget_sites_travel_in_the_index_and_a_change_to_them_is_served(workspace):
    """App processes that have only the index (Chroma server mode) still know where each
    school's widget may appear; editing the list in school.toml reaches them on re-ingest."""
    corpus, index = workspace
    manifest = Assistant.load(index).manifest.schools
    assert manifest["glais"].widget_origins == tuple(load_school(corpus / "glais").widget_origins)
    assert manifest["glais"].widget_origins != manifest["st-michaels"].widget_origins

    toml = corpus / "glais" / "school.toml"
    toml.write_text(
        "\n".join(
            'widget_origins = ["https://parents.glais.example"]' if line.startswith("widget_origins") else line
            for line in toml.read_text(encoding="utf-8").splitlines()
        ),
        encoding="utf-8",
    )
    report = build_index(corpus, index)

    assert report.changed and report.embedded == 0  # the same clause texts: vectors reused
    served = Assistant.load(index).manifest.schools
    assert served["glais"].widget_origins == ("https://parents.glais.example",)
    assert served["st-michaels"].widget_origins == manifest["st-michaels"].widget_origins


# --- editing, removing, adding -------------------------------------------------------------------


@pytest.mark.integration
def test_editing_one_bullet_updates_only_that_document_and_leaves_no_stale_clause(workspace):
    corpus, index = workspace
    before = clause_ids(Assistant.load(index))
    old_id = next(c.clause_id for c in Assistant.load(index).clauses("shirley-warren") if c.text == OLD_BULLET)
    path = corpus / SHIRLEY
    text = path.read_text(encoding="utf-8")
    assert text.count(OLD_BULLET) == 1
    path.write_text(text.replace(OLD_BULLET, NEW_BULLET), encoding="utf-8")

    report = build_index(corpus, index)

    assert report.changed and not report.problems
    assert statuses(report) == {
        "beaudesert-park/acceptable-use-policy-ict-social-media": "unchanged",
        "glais/social-media-mobile-phones-photography-policy": "unchanged",
        "shirley-warren/ict-use-policy": "updated",
        "st-margarets/social-networking-policy": "unchanged",
        "st-michaels/ict-code-of-conduct": "unchanged",
    }
    assert report.embedded >= 1 and report.reused > report.embedded  # only the new wording is embedded

    bot = Assistant.load(index)
    clauses = bot.clauses("shirley-warren")
    assert [c.text for c in clauses].count(NEW_BULLET) == 1
    assert not any("when leaving them unattended" in c.text for c in clauses)
    after = clause_ids(bot)
    for school in SCHOOLS:
        if school != "shirley-warren":
            assert after[school] == before[school], f"{school}'s clause ids changed"
    new_id = next(c.clause_id for c in clauses if c.text == NEW_BULLET)
    assert set(before["shirley-warren"]) - set(after["shirley-warren"]) == {old_id}
    assert set(after["shirley-warren"]) - set(before["shirley-warren"]) == {new_id}
    assert len(after["shirley-warren"]) == len(before["shirley-warren"])

    hits = bot.search("Do I have to lock my screen when I step away from my desk?", school="shirley-warren", audience="staff", k=3)
    assert NEW_BULLET in [h.text for h in hits]
    every = bot.search("lock computer screens when leaving them unattended", school="shirley-warren", k=50)
    assert not any("when leaving them unattended" in h.text for h in every)
    texts, metas = chroma_entries(index, "shirley-warren")
    assert not any("when leaving them unattended" in t for t in texts), "no stale vector of the old wording"
    assert sum(m["clause_id"] == new_id for m in metas) >= 1
    assert_chroma_matches_clauses(index)


@pytest.mark.integration
def test_removing_a_document_or_a_school_takes_its_clauses_out(workspace):
    corpus, index = workspace
    extra = corpus / "glais" / "charging.txt"
    extra.write_text(
        "Charging Policy\n\nParents will be charged £3 for a replacement reading book.\n\n"
        "Lost or damaged iPads must be paid for by the pupil's parents.\n",
        encoding="utf-8",
    )
    report = build_index(corpus, index)
    assert statuses(report)["glais/charging"] == "added"
    assert len(Assistant.load(index).clauses("glais", "charging")) == 2
    glais_main = [c.clause_id for c in Assistant.load(index).clauses("glais", "social-media-mobile-phones-photography-policy")]

    extra.unlink()
    report = build_index(corpus, index)
    assert report.changed
    assert statuses(report)["glais/charging"] == "removed"
    assert statuses(report)["glais/social-media-mobile-phones-photography-policy"] == "unchanged"
    bot = Assistant.load(index)
    assert [d.document for s in bot.schools() if s.school == "glais" for d in s.documents] == [
        "social-media-mobile-phones-photography-policy"
    ]
    assert not any(c.document == "charging" for c in bot.clauses("glais"))
    assert [c.clause_id for c in bot.clauses("glais")] == glais_main
    assert not any("reading book" in h.text for h in bot.search("How much is a replacement reading book?", school="glais", k=50))
    assert not any(m["document"] == "charging" for m in chroma_entries(index, "glais")[1])

    shutil.rmtree(corpus / "st-margarets")
    report = build_index(corpus, index)
    assert statuses(report)["st-margarets/social-networking-policy"] == "removed"
    assert "st-margarets" not in report.schools
    bot = Assistant.load(index)
    assert "st-margarets" not in [s.school for s in bot.schools()]
    with pytest.raises(ValueError, match="unknown school 'st-margarets'"):
        bot.ask(PHOTOS, school="st-margarets")
    assert chroma_entries(index, "st-margarets")[0] == []
    assert_chroma_matches_clauses(index)


@pytest.mark.integration
def test_a_new_school_folder_is_served_and_answers_only_from_itself(workspace):
    """Oak Primary adopts St Michael's policy word for word: the two must still not mix."""
    corpus, index = workspace
    oak = corpus / "oak-primary"
    oak.mkdir()
    shutil.copyfile(corpus / "st-michaels" / "ict-code-of-conduct.txt", oak / "ict-code-of-conduct.txt")
    (oak / "school.toml").write_text(
        'name = "Oak Primary School"\n\n[documents.ict-code-of-conduct]\ntitle = "Oak ICT Code of Conduct"\n', encoding="utf-8"
    )

    report = build_index(corpus, index)

    assert statuses(report)["oak-primary/ict-code-of-conduct"] == "added"
    assert {k: v for k, v in statuses(report).items() if not k.startswith("oak-primary/")} == dict.fromkeys(
        [
            "beaudesert-park/acceptable-use-policy-ict-social-media",
            "glais/social-media-mobile-phones-photography-policy",
            "shirley-warren/ict-use-policy",
            "st-margarets/social-networking-policy",
            "st-michaels/ict-code-of-conduct",
        ],
        "unchanged",
    )
    assert report.schools["oak-primary"] == report.schools["st-michaels"]
    bot = Assistant.load(index)
    assert bot.school_name("oak-primary") == "Oak Primary School"
    oak_ids = {c.clause_id for c in bot.clauses("oak-primary")}
    assert oak_ids.isdisjoint(c.clause_id for c in bot.clauses("st-michaels"))

    for school, name in (("oak-primary", "Oak Primary School"), ("st-michaels", "St Michael's School")):
        answer = bot.ask(PHOTOS, school=school, audience="parent")
        assert answer.verdict != "not_covered" and answer.citations
        assert {c.school for c in answer.citations} == {school}
        assert answer.text.count(f"{name}'s") == 1
        hits = bot.search(PHOTOS, school=school, audience="parent", k=50)
        assert len(hits) == 49 and {h.school for h in hits} == {school}
    assert {c.clause_id for c in bot.ask(PHOTOS, school="oak-primary", audience="parent").citations} <= oak_ids
    assert_chroma_matches_clauses(index)


# --- bad files ----------------------------------------------------------------------------------


def snapshot(index: Path) -> tuple:
    gen = current_generation(index)
    return (
        pointer(index),
        generations(index),
        (gen / "manifest.json").read_bytes(),
        sorted((f.name, f.read_bytes()) for f in (gen / "clauses").iterdir()),
    )


QUESTIONS = [
    (PHOTOS, "glais", "parent"),
    ("Can I share my password with my best friend?", "beaudesert-park", "pupil"),
    ("What are the lunch menu options?", "st-michaels", None),
]


def answers(bot: Assistant) -> list[tuple]:
    out = []
    for question, school, audience in QUESTIONS:
        answer = bot.ask(question, school=school, audience=audience)
        out.append((answer.verdict, answer.text, [c.clause_id for c in answer.citations], answer.notes))
    return out


@pytest.mark.system
def test_bad_text_files_fail_ingest_naming_each_file_and_the_served_index_still_answers(corpus_copy, index_dir, bot, tmp_path):
    """Empty, binary (NUL bytes) and undecodable policy files, and a (dangling) symbolic link."""
    served = tmp_path / "index"
    copy_index(index_dir, served)
    blank = corpus_copy / "glais" / "blank.txt"
    blank.write_text("  \n\n\t\n", encoding="utf-8")
    binary = corpus_copy / "st-michaels" / "scan.txt"
    binary.write_bytes(b"Staff must\x00 not\x00 post.\x00\n" * 20)
    garbage = corpus_copy / "shirley-warren" / "notes.txt"
    garbage.write_bytes(random.Random(0).randbytes(3000).replace(b"\x00", b"\xff"))
    dangling = corpus_copy / "st-margarets" / "minutes.txt"
    dangling.symlink_to(tmp_path / "no-such-file.txt")
    before = snapshot(served)

    proc = subprocess.run(
        [sys.executable, "ingest.py", str(corpus_copy), "--index-dir", str(served), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )

    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    assert f"{blank}: contains no text" in err
    assert f"{binary}: is a binary file, not text (it contains NUL bytes)" in err
    assert f"{garbage}: is not UTF-8 text" in err and "encoding cannot be detected" in err
    assert f"{dangling}: is a symbolic link" in err  # refused before it is read (issue 17: links are never followed)
    assert "4 file(s) cannot be ingested" in err
    assert "was left untouched" in err
    assert "Traceback" not in err

    assert snapshot(served) == before
    assert answers(Assistant.load(served)) == answers(bot)


@pytest.mark.integration
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads chmod-000 files, so unreadability cannot be staged")
def test_an_unreadable_file_is_named_and_nothing_is_written(workspace):
    corpus, index = workspace
    locked = corpus / "glais" / "locked.txt"
    locked.write_text("Staff must not share locked files.\n", encoding="utf-8")
    locked.chmod(0)
    before = snapshot(index)
    try:
        with pytest.raises(IngestFailed) as failed:
            build_index(corpus, index)
    finally:
        locked.chmod(0o644)
    assert any(p.path == locked and "cannot be read" in p.reason for p in failed.value.problems)
    assert snapshot(index) == before


@pytest.mark.integration
def test_a_failed_ingest_keeps_the_served_generation_loadable(workspace):
    """An in-process failure (IngestFailed) reports every other document's result and writes nothing."""
    corpus, index = workspace
    (corpus / "glais" / "empty.md").write_text("\n\n", encoding="utf-8")
    before = snapshot(index)
    with pytest.raises(IngestFailed) as failed:
        build_index(corpus, index)
    assert [str(p.path) for p in failed.value.problems] == [str(corpus / "glais" / "empty.md")]
    results = statuses(failed.value.report)
    assert results["glais/empty"] == "failed"
    assert {v for k, v in results.items() if k != "glais/empty"} == {"unchanged"}
    assert snapshot(index) == before
    assert read_manifest_dict(current_generation(index))["schools"].keys() == set(SCHOOLS)
