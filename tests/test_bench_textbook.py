"""The benchmark's textbook recipe (bench/textbook.py): a cold build interrupted part-way resumes.

At 1,000 schools its cold build takes hours, longer than one sitting, so an interrupted
build must continue where it stopped and be timed as a whole. Real policy text, the real
embeddings and a real Chroma store; the interruption is an exception raised from the
progress callback after the first batch, as a killed run would stop between writes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import textbook  # noqa: E402

pytestmark = pytest.mark.integration


class Interrupted(Exception):
    """Stands in for the run being killed between two batches."""


@pytest.fixture()
def small_corpus(tmp_path) -> Path:
    """One bundled school with its policy cut to its first ~6,000 characters (~8 chunks)."""
    school = tmp_path / "corpus" / "glais"
    shutil.copytree(ROOT / "corpus" / "glais", school)
    for policy in school.glob("*.txt"):
        policy.write_text(policy.read_text(encoding="utf-8")[:6000], encoding="utf-8")
    return tmp_path / "corpus"


def test_an_interrupted_textbook_build_resumes_without_duplicates_and_sums_its_time(small_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(textbook, "BATCH", 3)
    index_dir = tmp_path / "textbook-index"

    def stop_after_first_batch(done: int, total: int) -> None:
        if done >= 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        textbook.build(small_corpus, index_dir, progress=stop_after_first_batch)
    with pytest.raises(FileExistsError, match="fresh folder"):
        textbook.build(small_corpus, index_dir)

    result = textbook.build(small_corpus, index_dir, resume=True)

    assert result["stored_before"] == 3
    assert result["runs"] == 2
    assert result["chunks"] > 3
    index = textbook.TextbookIndex(index_dir)
    stored = index.store.get(include=["documents"])
    assert len(stored["ids"]) == result["chunks"]
    assert len(set(stored["documents"])) == result["chunks"]
    hits = index.search("Can I take photos of pupils on my own phone?", "glais")
    assert hits and all(hit.metadata["school"] == "glais" for hit in hits)
