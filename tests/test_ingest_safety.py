"""Bad files are reported and lose nothing; updates are atomic, incremental and manageable.

Every test works on a copy of the bundled corpus and a copy of the session's index, and
drives ``ingest.py``'s own entry point (``assistant.ingest_cli.main``) or the real script
as a subprocess, so what is checked is what a person running ingest sees.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from policy_fixtures import cached_format_corpora, encrypted_pdf, legacy_text, scanned_pdf, truncated
from server_helpers import copy_index

from assistant import Assistant
from assistant.config import get_settings
from assistant.index import IngestBusyError, build_index, current_generation, ingest_lock, read_clauses, read_manifest_dict
from assistant.ingest_cli import main
from assistant.loading import dates_from_text

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SEED_DOCS = [
    "beaudesert-park/acceptable-use-policy-ict-social-media",
    "glais/social-media-mobile-phones-photography-policy",
    "shirley-warren/ict-use-policy",
    "st-margarets/social-networking-policy",
    "st-michaels/ict-code-of-conduct",
]


@pytest.fixture(scope="session")
def sources() -> dict[str, Path]:
    """format → corpus of the seed policies in that format (made by pandoc/LibreOffice, cached)."""
    try:
        return cached_format_corpora(CORPUS)
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture()
def served(index_dir, tmp_path) -> Path:
    """A writable copy of the session's index of the bundled corpus."""
    dest = tmp_path / "index"
    copy_index(index_dir, dest)
    return dest


def snapshot(index: Path) -> tuple:
    """What a server sees: the pointer, the generations and the served manifest and clauses."""
    gen = current_generation(index)
    assert gen is not None
    return (
        (index / "CURRENT").read_text(),
        sorted(p.name for p in index.glob("gen-*")),
        (gen / "manifest.json").read_bytes(),
        sorted((f.name, f.read_bytes()) for f in (gen / "clauses").iterdir()),
    )


def ingest(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def st_michaels_pdf(sources: dict[str, Path]) -> Path:
    return sources["pdf"] / "st-michaels" / "ict-code-of-conduct.pdf"


# --- every bad-file case is reported by name with its reason, and nothing is served -------------


def _encrypted(folder: Path, sources, tmp: Path) -> Path:
    return encrypted_pdf(st_michaels_pdf(sources), folder / "staff-code.pdf")


def _scanned(folder: Path, sources, tmp: Path) -> Path:
    return scanned_pdf(st_michaels_pdf(sources), folder / "photo-consent.pdf")


def _truncated_pdf(folder: Path, sources, tmp: Path) -> Path:
    return truncated(st_michaels_pdf(sources), folder / "staff-code.pdf")


def _truncated_docx(folder: Path, sources, tmp: Path) -> Path:
    return truncated(sources["docx"] / "st-michaels" / "ict-code-of-conduct.docx", folder / "staff-code.docx", 0.6)


def _zero_bytes(folder: Path, sources, tmp: Path) -> Path:
    path = folder / "new-policy.pdf"
    path.write_bytes(b"")
    return path


def _docx_named_pdf(folder: Path, sources, tmp: Path) -> Path:
    path = folder / "staff-code.pdf"
    shutil.copyfile(sources["docx"] / "st-michaels" / "ict-code-of-conduct.docx", path)
    return path


def _pdf_named_docx(folder: Path, sources, tmp: Path) -> Path:
    path = folder / "staff-code.docx"
    shutil.copyfile(st_michaels_pdf(sources), path)
    return path


def _over_default_limit(folder: Path, sources, tmp: Path) -> Path:
    path = folder / "prospectus-scan.pdf"
    with path.open("wb") as fh:
        fh.truncate(21 * 1024 * 1024)  # sparse: 21 MB on paper, nothing on disk
    return path


def _over_configured_limit(folder: Path, sources, tmp: Path) -> Path:
    os.environ["ASSISTANT_MAX_FILE_MB"] = "0.04"  # restored by the test
    get_settings.cache_clear()
    path = folder / "staff-code.pdf"
    shutil.copyfile(st_michaels_pdf(sources), path)
    return path


BAD_FILES = {
    "encrypted pdf": (_encrypted, r"is password-protected \(encrypted\)"),
    "scanned pdf": (_scanned, r"has no text layer: .*OCR is not supported"),
    "truncated pdf": (_truncated_pdf, r"is truncated or corrupt"),
    "truncated docx": (_truncated_docx, r"is corrupt"),
    "zero bytes": (_zero_bytes, r"is empty \(0 bytes\)"),
    "docx named .pdf": (_docx_named_pdf, r"has the extension \.pdf but its content is a Word \(\.docx\) document: rename it to \.docx"),
    "pdf named .docx": (_pdf_named_docx, r"has the extension \.docx but its content is a PDF document: rename it to \.pdf"),
    "over 20 MB": (_over_default_limit, r"is 21\.0 MB, over the 20\.0 MB limit"),
    "over configured limit": (_over_configured_limit, r"is \d+ KB, over the 41 KB limit"),
}


@pytest.mark.system
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_named_with_its_reason_and_the_served_index_is_untouched(
    case, corpus_copy, served, sources, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("ASSISTANT_MAX_FILE_MB", "20")
    # Read the settings again now: a thread left by an earlier test (a served app) may have
    # cached them between conftest's clearing and this setenv.
    get_settings.cache_clear()
    make, reason = BAD_FILES[case]
    bad = make(corpus_copy / "st-michaels", sources, tmp_path)
    before = snapshot(served)

    code, out, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served))

    assert code == 1
    assert re.search(re.escape(str(bad)) + ": " + reason, err), err
    assert "was left untouched" in err
    for doc in SEED_DOCS:  # the other files' results are reported
        assert re.search(rf"unchanged +{re.escape(doc)} \(", out), out
    assert re.search(rf"FAILED +st-michaels/{re.escape(bad.stem)} \({re.escape(bad.name)}\)", out)
    assert snapshot(served) == before
    assert not [p for p in served.glob("gen-*") if not (p / "manifest.json").exists()]


@pytest.mark.system
def test_a_scanned_pdf_indexes_no_blank_clauses_even_with_allow_partial(corpus_copy, served, sources, capsys):
    scanned_pdf(st_michaels_pdf(sources), corpus_copy / "glais" / "photo-consent.pdf")
    code, _, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--allow-partial")
    assert code == 3
    assert "OCR is not supported" in err
    bot = Assistant.load(served)
    assert all(d.document != "photo-consent" for s in bot.schools() for d in s.documents)
    assert all(c.text.strip() for c in bot.clauses("glais"))


@pytest.mark.integration
def test_text_in_a_legacy_encoding_is_detected_and_served_correctly(corpus_copy, served, capsys):
    seed = (CORPUS / "st-michaels" / "ict-code-of-conduct.txt").read_text(encoding="utf-8")
    legacy_text(
        seed.replace("'", "’") + "\nCharges\n\nA replacement charger costs £5 – ask the school office.\n",
        corpus_copy / "st-michaels" / "charges.txt",
    )
    code, out, _ = ingest(capsys, str(corpus_copy), "--index-dir", str(served))
    assert code == 0
    assert "charges.txt is not UTF-8; read it as cp1252" in out
    clauses = Assistant.load(served).clauses("st-michaels", "charges")
    assert any(c.text == "A replacement charger costs £5 – ask the school office." for c in clauses)
    assert any("St Michael’s" in c.text for c in clauses)


# --- only real files with printable names inside the corpus folder are read (issue 17) -----------

SECRET = "The alarm code for the server room is 4711 and it must never be shared with anyone."


def _outside(tmp: Path) -> Path:
    """A readable file outside the corpus, as /etc/passwd would be."""
    path = tmp / "outside" / "passwd.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"Secrets\n\n{SECRET}\n", encoding="utf-8")
    return path


def _file_link_out(corpus: Path, tmp: Path) -> Path:
    link = corpus / "glais" / "passwd.txt"
    link.symlink_to(_outside(tmp))
    return link


def _file_link_in(corpus: Path, tmp: Path) -> Path:
    """Another school's policy published as Glais's own."""
    link = corpus / "glais" / "ict-code-of-conduct.txt"
    link.symlink_to(Path("..") / "st-michaels" / "ict-code-of-conduct.txt")
    return link


def _school_link(corpus: Path, tmp: Path) -> Path:
    folder = _outside(tmp).parent
    (folder / "school.toml").write_text('name = "Elsewhere"\n', encoding="utf-8")
    link = corpus / "elsewhere"
    link.symlink_to(folder, target_is_directory=True)
    return link


def _metadata_link(corpus: Path, tmp: Path) -> Path:
    link = corpus / "glais" / "school.toml"
    moved = tmp / "outside.toml"
    shutil.move(link, moved)
    link.symlink_to(moved)
    return link


LINKS = {
    "file linked outside the corpus": _file_link_out,
    "file linked to another school's file": _file_link_in,
    "school folder linked outside the corpus": _school_link,
    "school.toml linked outside the corpus": _metadata_link,
}


@pytest.mark.integration
@pytest.mark.parametrize("case", list(LINKS))
def test_a_symbolic_link_is_refused_by_name_and_allow_partial_serves_the_rest(case, corpus_copy, served, tmp_path, capsys):
    """Issue 17 item 7: ``ln -s /etc/passwd corpus/glais/passwd.txt`` was ingested and published."""
    link = LINKS[case](corpus_copy, tmp_path)
    before = snapshot(served)
    refusal = f"{link}: is a symbolic link (to {os.readlink(link)}): ingest reads only files and folders that are really inside the corpus"

    code, out, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served))
    assert code == 1
    assert refusal in err, err
    assert "4711" not in out + err
    assert snapshot(served) == before

    code, out, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--allow-partial")
    assert code == 3
    assert refusal in err, err
    assert "4711" not in out + err
    generation = current_generation(served)
    schools = read_manifest_dict(generation)["schools"]
    assert sorted(schools) == sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    for school in schools:
        assert sorted(schools[school]["documents"]) == sorted(p.stem for p in (CORPUS / school).iterdir() if p.suffix == ".txt")
    clauses = read_clauses(generation)
    assert not [c for c in clauses if "4711" in c.text]
    assert {c.school for c in clauses if "Parents must not, however, post photographs" in c.text} == {"st-michaels"}


@pytest.mark.integration
def test_a_file_name_that_is_not_utf8_is_named_escaped_and_allow_partial_serves_the_rest(corpus_copy, served, capsys):
    """Issue 17 item 10: b"caf\\xe9.txt" crashed ingest in `clause_id_for` with a traceback naming no file."""
    bad = corpus_copy / "glais" / os.fsdecode(b"caf\xe9.txt")
    bad.write_text("Cafe\n\nPupils may buy a drink at the cafe after school on Fridays.\n", encoding="utf-8")
    bad_school = corpus_copy / os.fsdecode(b"\xe9cole")
    shutil.copytree(corpus_copy / "st-michaels", bad_school)
    before = snapshot(served)
    named = f"{corpus_copy / 'glais'}/caf\\xe9.txt: has a name that is not valid UTF-8"

    code, out, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served))
    assert code == 1
    assert named in err, err
    assert f"{corpus_copy}/\\xe9cole: school folder names must be lower-case letters, digits and hyphens" in err
    (out + err).encode("utf-8")  # every name is printable: no lone surrogate reaches the report
    assert snapshot(served) == before

    code, out, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--allow-partial")
    assert code == 3
    assert named in err, err
    assert re.search(r"FAILED +glais/caf\\xe9 \(caf\\xe9\.txt\): has a name that is not valid UTF-8", out), out
    (out + err).encode("utf-8")
    generation = current_generation(served)
    schools = read_manifest_dict(generation)["schools"]
    assert sorted(schools) == sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    assert sorted(schools["glais"]["documents"]) == ["social-media-mobile-phones-photography-policy"]
    assert not [c for c in read_clauses(generation) if "cafe" in c.text]


# --- --allow-partial ------------------------------------------------------------------------


@pytest.mark.system
def test_allow_partial_serves_the_good_files_and_keeps_the_previous_version_of_a_bad_one(corpus_copy, served, sources, capsys):
    """St Michael's "updates" its policy to a password-protected PDF; Glais adds a new policy."""
    (corpus_copy / "st-michaels" / "ict-code-of-conduct.txt").unlink()
    encrypted_pdf(st_michaels_pdf(sources), corpus_copy / "st-michaels" / "ict-code-of-conduct.pdf")
    (corpus_copy / "glais" / "charging.txt").write_text(
        "Charging Policy\n\nParents will be charged £3 for a replacement reading book.\n", encoding="utf-8"
    )
    before = snapshot(served)

    code, _, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served))
    assert code == 1 and "ict-code-of-conduct.pdf: is password-protected" in err
    assert snapshot(served) == before

    code, out, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--allow-partial")
    assert code == 3
    assert re.search(
        r"KEPT +st-michaels/ict-code-of-conduct \(ict-code-of-conduct\.txt: text\): previous version still served \(\d+ clauses\); "
        r"ict-code-of-conduct\.pdf is password-protected",
        out,
    ), out
    assert re.search(r"added +glais/charging \(charging\.txt: text\): 1 clauses", out), out
    assert "ict-code-of-conduct.pdf: is password-protected" in err
    assert snapshot(served)[0] != before[0]  # a new generation is served
    bot = Assistant.load(served)
    kept = bot.clauses("st-michaels", "ict-code-of-conduct")
    assert any("Parents must not, however, post photographs or video containing other children" in c.text for c in kept)
    hits = bot.search("Can I post sports day videos?", school="st-michaels", audience="parent")
    assert hits and {h.document for h in hits} == {"ict-code-of-conduct"}
    assert any("£3 for a replacement reading book" in c.text for c in bot.clauses("glais", "charging"))


# --- managing one document -----------------------------------------------------------------------


@pytest.mark.system
def test_school_path_adds_a_pdf_and_reads_its_title_and_pages(corpus_copy, served, sources, tmp_path, capsys):
    upload = tmp_path / "ICT Code (2024).pdf"
    shutil.copyfile(st_michaels_pdf(sources), upload)
    code, out, _ = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--school", "glais", str(upload))
    assert code == 0, out
    assert "added glais/ict-code-2024 (ict-code-2024.pdf)" in out
    assert (corpus_copy / "glais" / "ict-code-2024.pdf").read_bytes() == upload.read_bytes()
    meta = read_manifest_dict(current_generation(served))["schools"]["glais"]["documents"]["ict-code-2024"]
    assert meta["format"] == "pdf" and meta["pages"] >= 2 and meta["title"] == "ICT Code of Conduct"
    assert meta["adopted"] == "2015-11"  # "first drawn up and agreed by governors in November 2015"
    clauses = Assistant.load(served).clauses("glais", "ict-code-2024")
    assert clauses and all(c.page is not None for c in clauses)


@pytest.mark.system
def test_school_path_replaces_a_document_of_another_format_and_remove_takes_it_out(corpus_copy, served, sources, tmp_path, capsys):
    upload = tmp_path / "ict-code-of-conduct.docx"
    shutil.copyfile(sources["docx"] / "st-michaels" / "ict-code-of-conduct.docx", upload)
    (corpus_copy / "st-michaels" / "visitors.txt").write_text("Visitors\n\nVisitors must sign in at the office.\n", encoding="utf-8")

    code, out, _ = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--school", "st-michaels", str(upload))
    assert code == 0, out
    assert "replaced st-michaels/ict-code-of-conduct (ict-code-of-conduct.docx, replacing ict-code-of-conduct.txt)" in out
    assert sorted(p.name for p in (corpus_copy / "st-michaels").iterdir()) == ["ict-code-of-conduct.docx", "school.toml", "visitors.txt"]
    docs = read_manifest_dict(current_generation(served))["schools"]["st-michaels"]["documents"]
    assert docs["ict-code-of-conduct"]["format"] == "docx" and "visitors" in docs

    code, out, _ = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--school", "st-michaels", "--remove", "visitors")
    assert code == 0, out
    assert re.search(r"removed +st-michaels/visitors", out)
    assert not (corpus_copy / "st-michaels" / "visitors.txt").exists()
    assert "visitors" not in read_manifest_dict(current_generation(served))["schools"]["st-michaels"]["documents"]

    code, _, err = ingest(
        capsys, str(corpus_copy), "--index-dir", str(served), "--school", "st-michaels", "--remove", "ict-code-of-conduct"
    )
    assert code == 1 and "only document" in err


@pytest.mark.system
def test_a_bad_upload_changes_neither_corpus_nor_index(corpus_copy, served, sources, tmp_path, capsys):
    upload = encrypted_pdf(st_michaels_pdf(sources), tmp_path / "ict-code-of-conduct.pdf")
    listing = sorted(p.name for p in (corpus_copy / "st-michaels").iterdir())
    before = snapshot(served)
    code, _, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--school", "st-michaels", str(upload))
    assert code == 1
    assert f"not added: {upload}: is password-protected" in err
    assert sorted(p.name for p in (corpus_copy / "st-michaels").iterdir()) == listing
    assert snapshot(served) == before


@pytest.mark.system
def test_an_upload_is_rolled_back_when_another_file_fails(corpus_copy, served, sources, tmp_path, capsys):
    (corpus_copy / "glais" / "broken.docx").write_bytes(b"")
    upload = tmp_path / "ict-code-of-conduct.pdf"
    shutil.copyfile(st_michaels_pdf(sources), upload)
    before = snapshot(served)
    code, _, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--school", "st-michaels", str(upload))
    assert code == 1
    assert "broken.docx: is empty (0 bytes)" in err and "the corpus was restored" in err
    assert sorted(p.name for p in (corpus_copy / "st-michaels").iterdir()) == ["ict-code-of-conduct.txt", "school.toml"]
    assert snapshot(served) == before


@pytest.mark.system
def test_a_new_school_needs_a_name_and_is_then_created(corpus_copy, served, sources, tmp_path, capsys):
    upload = tmp_path / "online-safety.html"
    shutil.copyfile(sources["html"] / "shirley-warren" / "ict-use-policy.html", upload)
    code, _, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served), "--school", "oak-primary", str(upload))
    assert code == 1 and "--name" in err and not (corpus_copy / "oak-primary").exists()
    code, out, _ = ingest(
        capsys, str(corpus_copy), "--index-dir", str(served), "--school", "oak-primary", str(upload), "--name", 'Oak "Acorns" Primary'
    )
    assert code == 0, out
    assert Assistant.load(served).school_name("oak-primary") == 'Oak "Acorns" Primary'


@pytest.mark.integration
def test_list_shows_schools_documents_clause_counts_and_dates(served, capsys):
    code = main(["--list", "--index-dir", str(served)])
    out = capsys.readouterr().out
    assert code == 0
    manifest = read_manifest_dict(current_generation(served))
    for school_id, school in manifest["schools"].items():
        assert f"{school_id}: {school['name']}" in out
        for doc_id, doc in school["documents"].items():
            assert re.search(rf"{re.escape(doc_id)} +text +{doc['clauses']} ", out)
    assert re.search(r"acceptable-use-policy-ict-social-media +text +\d+ +2017-11-21 +2016-11 +2018-11 \(overdue\)", out)


@pytest.mark.unit
def test_list_without_an_index_says_how_to_build_one(tmp_path, capsys):
    assert main(["--list", "--index-dir", str(tmp_path / "none")]) == 1
    assert "build it with `python ingest.py`" in capsys.readouterr().err


# --- incremental and exclusive ---------------------------------------------------------------------


class CountingEmbeddings:
    """The real model, recording every text it is asked to embed."""

    def __init__(self) -> None:
        from assistant.embedding import shared_embeddings

        self.inner = shared_embeddings()
        self.model_id = self.inner.model_id
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@pytest.mark.integration
def test_unchanged_documents_are_not_re_embedded(corpus_copy, served):
    counter = CountingEmbeddings()
    report = build_index(corpus_copy, served, embeddings=counter)
    assert not report.changed and counter.texts == []

    path = corpus_copy / "glais" / "social-media-mobile-phones-photography-policy.txt"
    text = path.read_text(encoding="utf-8")
    old = "Staff must not post pictures of school events without the Headteacher's consent."
    assert old in text
    path.write_text(text.replace(old, old + " Revised in 2024."), encoding="utf-8")
    report = build_index(corpus_copy, served, embeddings=counter)
    assert report.changed and report.embedded == len(counter.texts) >= 1
    assert all("Revised in 2024" in t for t in counter.texts)
    assert report.reused > 500
    assert {c.status for c in report.documents if c.document != path.stem} == {"unchanged"}


@pytest.mark.integration
def test_a_second_ingest_waits_its_turn(corpus_copy, served, capsys):
    with ingest_lock(served):
        with pytest.raises(IngestBusyError, match="another ingest is running"):
            build_index(corpus_copy, served)
        code, _, err = ingest(capsys, str(corpus_copy), "--index-dir", str(served))
    assert code == 1 and "another ingest is running" in err


@pytest.mark.system
def test_kill_9_mid_ingest_leaves_the_old_index_serving(corpus_copy, served, capsys):
    """A real ``python ingest.py`` is killed with SIGKILL while it embeds a revised corpus."""
    old_generation = current_generation(served).name
    # Two schools revise their wording, in words never embedded before (so no cache can skip the work).
    revised = f" the revised-{uuid.uuid4().hex[:8]} "
    for path in [*corpus_copy.glob("st-margarets/*.txt"), *corpus_copy.glob("st-michaels/*.txt")]:
        path.write_text(path.read_text(encoding="utf-8").replace(" the ", revised), encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "ingest.py", str(corpus_copy), "--index-dir", str(served)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    progress: list[tuple[int, int]] = []

    def read() -> None:
        buf = b""
        while chunk := proc.stderr.read1(4096):
            buf += chunk
            progress.extend((int(a), int(b)) for a, b in re.findall(rb"Indexing:.*?(\d+)/(\d+)", buf))
            buf = buf[-200:]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            new_gens = [p for p in served.glob("gen-*") if p.name != old_generation]
            if new_gens and any(0 < done < total for done, total in progress):
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"ingest ended before it could be killed: {progress[-3:]}"
        assert new_gens, "no new generation was being built"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
    done, total = progress[-1]
    assert done < total  # it really was killed mid-embedding

    # the half-built generation is there but not served; the old one answers
    assert (served / "CURRENT").read_text().strip() == old_generation
    assert [p for p in served.glob("gen-*") if not (p / "manifest.json").exists()]
    bot = Assistant.load(served)
    assert bot.generation.name == old_generation
    hits = bot.search("Can I post sports day videos?", school="st-michaels", audience="parent")
    assert hits and {h.document for h in hits} == {"ict-code-of-conduct"}
    assert not any(revised in c.text for c in bot.clauses("st-michaels"))  # the old wording

    # a re-run completes and leaves no half-built generation behind
    code, out, _ = ingest(capsys, str(corpus_copy), "--index-dir", str(served))
    assert code == 0, out
    generations = sorted(served.glob("gen-*"))
    assert all((p / "manifest.json").exists() for p in generations)
    assert len(generations) == 2 and old_generation in {p.name for p in generations}
    new_bot = Assistant.load(served)
    assert new_bot.generation.name != old_generation
    assert any(revised in c.text for c in new_bot.clauses("st-michaels"))


# --- document metadata and review notes --------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Last Reviewed\tNovember 2016\nNext Review\tNovember 2018\n", {"last_reviewed": "2016-11", "next_review": "2018-11"}),
        ("Agreed: March 2016\n\nReviewed: March 2017", {"adopted": "2016-03", "last_reviewed": "2017-03"}),
        ("This document was first drawn up and agreed by governors in November 2015.", {"adopted": "2015-11"}),
        ("Approved by\tM Pyper Chair of Governors\nDate 21/11/17\t", {"adopted": "2017-11-21"}),
        ("**Next review date:** 3rd September 2019", {"next_review": "2019-09-03"}),
        ("This policy will be reviewed in September 2020.", {"next_review": "2020-09"}),
        ("Ratified by the governing body on 12 March 2019", {"adopted": "2019-03-12"}),
        ("Staff reviewed the photographs in March 2017 with parents.", {}),
        ("Next review: when the law changes", {}),
    ],
)
def test_dates_the_document_states_about_itself(text, expected):
    assert dates_from_text(text) == expected


@pytest.mark.integration
def test_an_answer_citing_an_overdue_policy_says_so(bot):
    answer = bot.ask("Can I go on social media at school?", school="beaudesert-park", audience="pupil")
    assert answer.citations and answer.citations[0].document == "acceptable-use-policy-ict-social-media"
    assert "This policy was due for review in November 2018; check with the school that it is still current." in answer.notes
    current = bot.ask("Can I post sports day videos?", school="st-michaels", audience="parent", today=dt.date(2026, 1, 1))
    assert not any("due for review" in n for n in current.notes)


@pytest.mark.integration
def test_review_date_is_read_from_the_document_when_the_metadata_file_has_none(corpus_copy, served):
    toml = corpus_copy / "beaudesert-park" / "school.toml"
    toml.write_text('name = "Beaudesert Park School"\n', encoding="utf-8")
    build_index(corpus_copy, served)
    meta = read_manifest_dict(current_generation(served))["schools"]["beaudesert-park"]["documents"][
        "acceptable-use-policy-ict-social-media"
    ]
    assert (meta["adopted"], meta["last_reviewed"], meta["next_review"]) == ("2017-11-21", "2016-11", "2018-11")
    assert meta["title"] == "Acceptable Use Policy & Code of Conduct for ICT and Social Media"
    answer = Assistant.load(served).ask("Can I go on social media at school?", school="beaudesert-park", audience="pupil")
    assert any("due for review in November 2018" in n for n in answer.notes)


@pytest.mark.integration
def test_metadata_file_wins_over_the_document_and_the_disagreement_is_noted(corpus_copy, served):
    toml = corpus_copy / "beaudesert-park" / "school.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('next_review = "2018-11"', 'next_review = "2027-11"'), encoding="utf-8")
    report = build_index(corpus_copy, served)
    meta = read_manifest_dict(current_generation(served))["schools"]["beaudesert-park"]["documents"][
        "acceptable-use-policy-ict-social-media"
    ]
    assert meta["next_review"] == "2027-11"
    assert any("school.toml gives next_review = 2027-11 but the document says 2018-11" in n for n in report.notes)
