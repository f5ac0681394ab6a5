"""Shared fixtures: a real index built from the bundled corpus with the real model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from server_helpers import STAFF_PASSWORD

from assistant import Assistant
from assistant.indexing import build_index

# The suite sends far more than 30 questions a minute from one client: the per-client rate limit
# (ASSISTANT_RATE_LIMIT) is off for every app the tests build, except where a test sets its own
# (tests/test_hardening.py checks the 429 path with a low limit).
os.environ.setdefault("ASSISTANT_RATE_LIMIT", "off")
# The staff chat needs sign-in (issue 17): every app the tests build uses this password.
os.environ.setdefault("ASSISTANT_STAFF_PASSWORD", STAFF_PASSWORD)

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
