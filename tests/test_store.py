"""The vector store under a bounded graph cache: a process keeps only some schools' HNSW
graphs loaded, and answers stay the same when it reloads an evicted graph from disk.

Chroma's graph cache keeps at least ~64 graphs whatever size is asked (measured: sizes 2
and 64 both held ~64 graphs' files), so the index here has 80 schools: copies of the
bundled Glais policy under other school ids (same texts, so ingest embeds nothing new).
One process per setting: Chroma keeps one store per folder per process, sized by
whichever opens it first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.index import build_index

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[1]
SCHOOLS = 80
QUESTIONS = ["Can I post photos of other children on Facebook?", "Can a parent film the school play?"]

# Two rounds over every school: with 80 schools and a cache of ~64 graphs, the second round
# reloads evicted graphs from disk. Prints each round's citations and the file descriptors
# the loaded graphs hold open.
PROBE = """
import json, os, sys
from assistant import Assistant
bot = Assistant.load(sys.argv[1])
schools = [s.school for s in bot.schools()]
before = len(os.listdir("/proc/self/fd"))
rounds = [
    {f"{school}|{q}": [c.text for c in bot.search(q, school=school, audience="parent", k=3)] for school in schools for q in json.loads(sys.argv[2])}
    for _ in range(2)
]
print(json.dumps({"rounds": rounds, "fds": len(os.listdir("/proc/self/fd")) - before}))
"""


@pytest.fixture(scope="module")
def many_schools(tmp_path_factory) -> Path:
    """An index of 80 schools (copies of one bundled school), built once for this module."""
    root = tmp_path_factory.mktemp("many")
    for n in range(SCHOOLS):
        shutil.copytree(ROOT / "corpus" / "glais", root / "corpus" / f"school-{n:03d}")
    build_index(root / "corpus", root / "index")
    return root / "index"


def probe(index_dir: Path, cache: int) -> dict:
    env = {**os.environ, "ASSISTANT_COLLECTION_CACHE_SIZE": str(cache), "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, "-c", PROBE, str(index_dir), json.dumps(QUESTIONS)]
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_bounded_graph_cache_answers_every_school_as_an_unbounded_one_and_holds_fewer_files(many_schools):
    bounded, unbounded = probe(many_schools, 2), probe(many_schools, 10_000)
    first = unbounded["rounds"][0]
    # The copies hold the same policy, so every school gets the same three clauses.
    assert len(first) == SCHOOLS * len(QUESTIONS) and len({json.dumps(v) for k, v in first.items() if k.endswith(QUESTIONS[0])}) == 1
    assert bounded["rounds"] == unbounded["rounds"] == [first, first]
    # A loaded graph holds about four files open: all 80 loaded against at most ~64.
    assert unbounded["fds"] >= 4 * SCHOOLS - 10 and bounded["fds"] <= 4 * 66
