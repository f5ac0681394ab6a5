"""A running server's generation is never deleted under it, and /healthz checks what it serves (issue 17 item 9).

Before: ingest kept only the new generation and the one before it (after a 10-minute grace
measured from when a generation was *built*), so two ingests with no request to a server
between them deleted the generation it was still serving: 503s until it reloaded, and with
``--reload-interval 0`` for good, for every school not already read into memory, while
``/healthz`` said 200 because it searched only the first school, already in memory.

These tests run the real ``app.py`` on 127.0.0.1 and the real ingest CLI (``ingest.py``'s entry point).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import app_env, copy_index, free_port, start_app, stop, wait_healthy

import assistant.index.lock as lock
from assistant.index import LEASES_DIR, GenerationLease, current_generation, leased_generations
from assistant.ingest_cli import main
from assistant.web.holder import AssistantHolder

pytestmark = pytest.mark.system

POLICY = Path("glais") / "social-media-mobile-phones-photography-policy.txt"


def served_copy(index_dir: Path, dest: Path) -> Path:
    """A writable copy of the session index, its generation dated an hour back: a server up
    since yesterday serves a generation older than `GENERATION_GRACE_SECONDS`."""
    copy_index(index_dir, dest)
    generation = current_generation(dest)
    assert generation is not None
    an_hour_ago = time.time() - 3600
    os.utime(generation, (an_hour_ago, an_hour_ago))
    return generation


def ingest_a_change(corpus: Path, index: Path, n: int, capsys) -> str:
    """Edit one policy and run the ingest CLI; returns the new generation's name."""
    policy = corpus / POLICY
    policy.write_text(policy.read_text(encoding="utf-8") + f"\n\nVisitors must sign in at reception ({n}).\n", encoding="utf-8")
    code = main([str(corpus), "--index-dir", str(index), "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    generation = current_generation(index)
    assert generation is not None
    return generation.name


def search(base: str, school: str) -> httpx.Response:
    body = {"question": "Can I share my password?", "school": school, "audience": "staff", "k": 1}
    return httpx.post(f"{base}/api/search", json=body, timeout=120)


def test_two_ingests_never_delete_the_generation_a_server_that_does_not_reload_still_serves(tmp_path, index_dir, corpus_copy, capsys):
    index = tmp_path / "index"
    generation = served_copy(index_dir, index)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_app(port, index, app_env(), tmp_path / "app.log", "--reload-interval", "0")
    try:
        assert wait_healthy(port, proc)["generation"] == generation.name
        schools = [s["school"] for s in httpx.get(f"{base}/api/schools", timeout=60).json()["schools"]]
        assert sorted(schools) == ["beaudesert-park", "glais", "shirley-warren", "st-margarets", "st-michaels"]
        assert search(base, schools[0]).status_code == 200  # one school read into memory; the others not yet

        # two ingests, no request in between: the server still serves `generation`
        first = ingest_a_change(corpus_copy, index, 1, capsys)
        second = ingest_a_change(corpus_copy, index, 2, capsys)
        assert len({generation.name, first, second}) == 3

        assert generation.is_dir() and (generation / "manifest.json").exists(), "ingest deleted the generation a live server serves"
        leases = list((index / LEASES_DIR).glob("*.json"))
        assert [json.loads(p.read_text())["generations"] for p in leases] == [[generation.name]]
        for school in schools:  # every school answers, not only the one already in memory
            response = search(base, school)
            assert response.status_code == 200, (school, response.status_code, response.text)
            assert response.json()["citations"]
        health = httpx.get(f"{base}/healthz", timeout=60)
        assert health.status_code == 200 and health.json()["generation"] == generation.name
    finally:
        stop(proc)

    # a server that stopped gives its lease back (or, killed, leaves one naming a dead pid), and the
    # next ingest collects what it served
    assert leased_generations(index) == set()
    ingest_a_change(corpus_copy, index, 3, capsys)
    assert not generation.exists()


def test_healthz_fails_when_a_school_it_serves_is_gone_not_only_the_one_it_searched(tmp_path, index_dir):
    index = tmp_path / "index"
    generation = served_copy(index_dir, index)
    port = free_port()
    proc = start_app(port, index, app_env(), tmp_path / "app.log", "--reload-interval", "0")
    try:
        wait_healthy(port, proc)
        schools = sorted(json.loads((generation / "manifest.json").read_text())["schools"])
        # the school /healthz searched (the first) is in memory; the last one is read on its first question
        (generation / "clauses" / f"{schools[-1]}.jsonl").unlink()
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60)
        assert health.status_code == 503, health.text
        assert search(f"http://127.0.0.1:{port}", schools[-1]).status_code >= 500  # what /healthz now foretells
        shutil.rmtree(generation)  # and the whole generation gone, as an old ingest would have done
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60).status_code == 503
    finally:
        stop(proc)


def test_a_lease_holds_only_while_its_server_lives_for_this_index_folder(tmp_path, index_dir, bot, monkeypatch):
    index = tmp_path / "index"
    generation = served_copy(index_dir, index)
    holder = AssistantHolder(index, assistant=bot, reload_interval=0)  # bot serves the same generation name
    lease_file = holder.lease.path
    assert lease_file.parent == index / LEASES_DIR and lease_file.exists()
    assert leased_generations(index) == {generation.name}

    # a copy of the index folder (a backup, a test fixture) is not held by this server
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    assert leased_generations(copy) == set()

    # a lease not refreshed for LEASE_TTL_SECONDS is stale: it no longer holds and is removed; a refresh renews it
    stale = time.time() - lock.LEASE_TTL_SECONDS - 5
    os.utime(lease_file, (stale, stale))
    assert leased_generations(index) == set() and not lease_file.exists()
    holder.lease.refresh()
    assert leased_generations(index) == {generation.name}

    # the lease of a server killed on this host (its pid gone) holds nothing, however fresh
    dead = subprocess.Popen(["true"])
    dead.wait()
    record = {
        "index_dir": str(index.resolve()),
        "host": lock._host(),
        "pid": dead.pid,
        "generations": ["gen-killed"],
        "refreshed": time.time(),
    }
    killed = index / LEASES_DIR / f"{lock._host()}-{dead.pid}-dead.json"
    killed.write_text(json.dumps(record), encoding="utf-8")
    assert leased_generations(index) == {generation.name} and not killed.exists()

    # a generation swapped out lingers for requests still answering from it, then is let go
    lease = GenerationLease(index)
    lease.serve(generation)
    lease.serve(index / "gen-newer")
    assert lease.generations == {generation.name, "gen-newer"}
    monkeypatch.setattr(lock, "LEASE_LINGER_SECONDS", 0.0)
    lease.serve(index / "gen-newest")
    assert lease.generations == {generation.name, "gen-newest"}  # gen-newer lingered 0 s; the first still has its minute
    lease.release()

    holder.close()
    assert not lease_file.exists() and leased_generations(index) == set()
