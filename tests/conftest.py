"""Shared fixtures: a real index built from the bundled corpus with the real model."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM
from server_helpers import STAFF_PASSWORD

from assistant import Assistant
from assistant.index import build_index

# The suite sends far more than 30 questions a minute from one client: the per-client rate limit
# (ASSISTANT_RATE_LIMIT) is off for every app the tests build, except where a test sets its own
# (tests/test_hardening.py checks the 429 path with a low limit).
os.environ.setdefault("ASSISTANT_RATE_LIMIT", "off")
# The staff chat needs sign-in (issue 17): every app the tests build uses this password.
os.environ.setdefault("ASSISTANT_STAFF_PASSWORD", STAFF_PASSWORD)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

#: The test layers (pyproject.toml registers them): every test carries exactly one.
LAYERS = ("unit", "integration", "system")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m unit`` (`make test-fast`), skip importing test modules that mark no test ``unit``.

    Importing a module costs seconds when it pulls in the web app (Gradio) or the browser
    helpers, and a module that never writes ``pytest.mark.unit`` holds no unit test, so
    ``-m unit`` would deselect all of it anyway.
    """
    if config.getoption("markexpr", "") != "unit":
        return None
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    return True if "pytest.mark.unit" not in collection_path.read_text(encoding="utf-8") else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test without exactly one layer marker (unit, integration or system), and a unit test using the index.

    Tests marked ``browser`` are skipped when Debian's Chromium (`browser_helpers.CHROMIUM`) is missing.

    Raises:
        pytest.UsageError: naming each such test.
    """
    wrong = []
    no_chromium = pytest.mark.skip(reason="needs Debian's Chromium at /usr/bin/chromium (run `make chromium`)")
    for item in items:
        if item.get_closest_marker("browser") is not None and not CHROMIUM.exists():
            item.add_marker(no_chromium)
        layers = sorted({mark.name for mark in item.iter_markers() if mark.name in LAYERS})
        if len(layers) != 1:
            wrong.append(f"{item.nodeid}: {', '.join(layers) or 'no layer'}")
        elif layers == ["unit"] and {"index_dir", "bot"} & set(getattr(item, "fixturenames", ())):
            wrong.append(f"{item.nodeid}: marked unit but uses the index (index_dir or bot): mark it integration")
    if wrong:
        raise pytest.UsageError(
            "each test needs exactly one of the markers " + ", ".join(LAYERS) + " (a module sets `pytestmark = pytest.mark.unit`"
            " or marks each test; unit tests use no index; see pyproject.toml):\n  " + "\n  ".join(wrong)
        )


@pytest.fixture(autouse=True)
def _a_unit_test_stays_a_unit_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test marked ``unit`` that loads a model or starts a subprocess, naming what it did.

    Fixtures of a wider scope set up before this one are not watched; a unit test asking for
    the index fixtures is refused at collection (`pytest_collection_modifyitems`).
    """
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(what: str):
        def fail(*args, **kwargs):
            raise AssertionError(f"a test marked unit {what}: mark it integration or system (pyproject.toml)")

        return fail

    from assistant import embedding, onnx_encoder, pair_verdict

    monkeypatch.setattr(onnx_encoder.OnnxSentenceEncoder, "__init__", refuse("loaded an ONNX model"))
    monkeypatch.setattr(pair_verdict.PairVerdictModel, "__init__", refuse("loaded an ONNX model"))
    if hasattr(embedding, "_TorchEncoder"):
        monkeypatch.setattr(embedding._TorchEncoder, "__init__", refuse("loaded a sentence-transformers model"))
    monkeypatch.setattr(subprocess, "Popen", refuse("started a subprocess"))


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test reads the settings afresh, so that ``monkeypatch.setenv("ASSISTANT_…")`` takes effect.

    `assistant.config.get_settings` caches them for the process; the cache is cleared before
    each test and after it (once monkeypatch has restored the environment, so the next
    module's fixtures do not see this test's values). A test that changes the environment
    after its first read calls ``get_settings.cache_clear()`` itself.
    """
    from assistant.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, one per test module (`browser_helpers.launch_chromium`)."""
    from browser_helpers import launch_chromium

    with launch_chromium() as chromium:
        yield chromium


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
