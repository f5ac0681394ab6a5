"""Shared fixtures: a real index built from the bundled corpus with the real model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.indexing import build_index

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory) -> Path:
    """An index of the bundled corpus (built once per test session)."""
    path = tmp_path_factory.mktemp("index")
    build_index(CORPUS, path)
    return path


@pytest.fixture(scope="session")
def bot(index_dir) -> Assistant:
    """The assistant over the bundled corpus."""
    return Assistant.load(index_dir)


@pytest.fixture()
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the bundled corpus, for tests that edit policy files."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest
