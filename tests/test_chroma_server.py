"""Server mode: a real `chroma run` holds the index, and two real app processes answer from it.

The app processes get an empty index folder: everything they serve (generation pointer,
manifest, clause records, document texts, vectors) comes from the Chroma server, as it
would on another machine. Every subprocess started here is stopped by its fixture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import app_env, free_port, staff_client, start_app, stop, wait_healthy, wait_until

from assistant.config import get_settings
from assistant.index import (
    RemoteGeneration,
    build_index,
    chroma_client,
    current_generation,
    meta_collection_name,
    read_clauses,
    read_manifest_dict,
    school_collection_name,
)

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
CHROMA = Path(sys.executable).with_name("chroma")
QUESTION = {"question": "Can I post photos of other children on Facebook?", "school": "glais", "audience": "parent", "history": []}


# --- helpers shared with test_faults.py and test_workers.py (the generic ones live in server_helpers.py) ---


def start_chroma(path: Path, port: int, log: Path) -> subprocess.Popen:
    """``chroma run --path <path>`` on 127.0.0.1:<port>, ready to answer."""
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200, 60, "chroma run", proc)
    except BaseException:
        stop(proc)
        raise
    return proc


@contextlib.contextmanager
def server_env(port: int) -> Iterator[None]:
    """CHROMA_HOST/CHROMA_PORT set in this process for the duration (ingest into the server)."""
    saved = {k: os.environ.get(k) for k in ("CHROMA_HOST", "CHROMA_PORT")}
    os.environ.update(CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(port))
    get_settings.cache_clear()  # settings are read once per process: re-read them with the server set
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chroma(tmp_path_factory) -> Iterator[tuple[int, Path]]:
    """A real Chroma server on a free port: (port, folder of its logs and the ingest lock)."""
    root = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    proc = start_chroma(root / "data", port, root / "chroma.log")
    try:
        yield port, root
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def ingested(chroma) -> tuple[int, Path, object]:
    """The bundled corpus ingested into the server: (port, root, report)."""
    port, root = chroma
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    with server_env(port):
        report = build_index(corpus, root / "ingest-index")
    return port, root, report


@pytest.fixture(scope="module")
def two_apps(ingested) -> Iterator[tuple[list[int], object]]:
    """Two app.py processes reading the server, each with an empty index folder of its own."""
    port, root, report = ingested
    env = app_env(CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(port))
    ports, procs = [], []
    try:
        for n in range(2):
            empty = root / f"app{n}-index"
            empty.mkdir()
            ports.append(free_port())
            procs.append(start_app(ports[-1], empty, env, root / f"app{n}.log", "--reload-interval", "0.5"))
        for app_port, proc in zip(ports, procs, strict=True):
            wait_healthy(app_port, proc)
        yield ports, report
    finally:
        for proc in procs:
            stop(proc)


# --- tests ---------------------------------------------------------------------------------------


def test_ingest_writes_the_whole_generation_to_the_server(ingested):
    port, root, report = ingested
    assert report.changed and not report.problems
    assert not list((root / "ingest-index").glob("gen-*"))  # nothing but the lock on the ingest machine
    with server_env(port):
        generation = current_generation(root / "somewhere-else")
        assert generation == RemoteGeneration(report.generation)
        manifest = read_manifest_dict(generation)
        assert sorted(manifest["schools"]) == sorted(report.schools)
        clauses = read_clauses(generation)
        assert {c.school for c in clauses} == set(report.schools)
        names = {c.name for c in chroma_client().list_collections()}
        for school in report.schools:  # one collection per school, holding only that school's vectors
            collection = chroma_client().get_collection(school_collection_name(generation.name, school))
            metas = collection.get(include=["metadatas"])["metadatas"]
            assert metas and {m["school"] for m in metas} == {school}
        assert meta_collection_name(generation.name) in names
        # an unchanged corpus writes nothing new
        again = build_index(root / "corpus", root / "ingest-index")
        assert not again.changed and again.generation == report.generation


def test_two_app_processes_answer_from_the_server_with_the_same_citations(two_apps):
    ports, report = two_apps
    answers = []
    for port in ports:
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).json()
        assert health["generation"] == report.generation and health["schools"] == len(report.schools)
        response = httpx.post(f"http://127.0.0.1:{port}/api/ask", json=QUESTION, timeout=60)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    first, second = answers
    assert first["citations"], first
    assert [c["clause_id"] for c in first["citations"]] == [c["clause_id"] for c in second["citations"]]
    assert first["verdict"] == second["verdict"]
    assert {c["school"] for c in first["citations"]} == {"glais"}
    # the policy viewer's text comes from the server too
    url = first["citations"][0]["url"].split("#")[0]
    for port in ports:
        page = httpx.get(f"http://127.0.0.1:{port}{url}", timeout=30)
        assert page.status_code == 200 and first["citations"][0]["clause_id"] in page.text


def test_a_new_ingest_is_picked_up_by_every_app_and_old_generations_are_collected(two_apps, ingested, monkeypatch):
    ports, report = two_apps
    port, root, _ = ingested
    policy = root / "corpus" / "glais" / "social-media-mobile-phones-photography-policy.txt"
    added = "Parents must not share photographs of the school's residential trip on any website."
    policy.write_text(policy.read_text(encoding="utf-8") + f"\n\n{added}\n", encoding="utf-8")
    with server_env(port):
        fresh = build_index(root / "corpus", root / "ingest-index")
    assert fresh.changed and fresh.generation != report.generation
    assert fresh.reused > fresh.embedded  # unchanged clauses' vectors were copied from the old generation
    for app_port in ports:
        wait_until(
            lambda p=app_port: httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=30).json()["generation"] == fresh.generation,
            60,
            f"app on {app_port} serving {fresh.generation}",
        )
        body = {**QUESTION, "question": "Can I put photos of the residential trip on a website?"}
        cited = httpx.post(f"http://127.0.0.1:{app_port}/api/search", json=body, timeout=60).json()["citations"]
        assert any(added in c["text"] for c in cited)

    # with no grace period, a third ingest deletes every generation but the served one and its predecessor
    import assistant.index.build as build

    monkeypatch.setattr(build, "GENERATION_GRACE_SECONDS", 0)
    policy.write_text(policy.read_text(encoding="utf-8") + "\nVisitors must sign in at reception.\n", encoding="utf-8")
    with server_env(port):
        third = build_index(root / "corpus", root / "ingest-index")
        left = {c.name.split(".", 1)[0] for c in chroma_client().list_collections() if c.name.startswith("gen-")}
    assert left == {fresh.generation, third.generation}


# --- deploy/nginx.conf in front of the two apps ----------------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def render_nginx_conf(folder: Path, listen: int, app_ports: list[int], chat_port: int) -> Path:
    """deploy/nginx.conf with its compose host names and port 80 replaced by 127.0.0.1 ports,
    and nginx's scratch files moved into ``folder`` (the rules themselves are left as written).

    Raises:
        AssertionError: deploy/nginx.conf no longer has a line this rewrites (update both).
    """
    text = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    scratch = "".join(f"    {kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    rewrites = {
        "server app-1:7860": f"server 127.0.0.1:{app_ports[0]}",
        "server app-2:7860": f"server 127.0.0.1:{app_ports[1]}",
        "server chat-1:7860": f"server 127.0.0.1:{chat_port}",
        "listen 80;": f"listen 127.0.0.1:{listen};",
        "http {\n": f"http {{\n    access_log {folder / 'access.log'};\n{scratch}",
    }
    for old, new in rewrites.items():
        assert text.count(old) == 1, f"deploy/nginx.conf: expected exactly one {old!r}"
        text = text.replace(old, new)
    conf = folder / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


@contextlib.contextmanager
def nginx(folder: Path, app_ports: list[int], chat_port: int) -> Iterator[str]:
    """A real nginx running the rendered deploy/nginx.conf; yields its base URL."""
    if not Path(NGINX).exists():
        pytest.fail("these tests need nginx (Debian package; `make fixtures-tools` installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    listen = free_port()
    conf = render_nginx_conf(folder, listen, app_ports, chat_port)
    proc = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log"), "-g", f"daemon off; pid {folder / 'nginx.pid'};"],
        stdout=(folder / "nginx.out").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{listen}"
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz", timeout=30).status_code == 200, 30, "nginx answering /healthz", proc)
        yield base
    finally:
        stop(proc)


def _worker_pid(url: str) -> str:
    return httpx.get(f"{url}/healthz", timeout=30).headers["x-worker-pid"]


def test_deploy_nginx_conf_spreads_questions_over_both_apps_and_serves_chat_widget_and_viewer(two_apps, tmp_path):
    ports, _ = two_apps
    direct = httpx.post(f"http://127.0.0.1:{ports[0]}/api/ask", json=QUESTION, timeout=60).json()
    app_pids = {_worker_pid(f"http://127.0.0.1:{port}") for port in ports}
    assert len(app_pids) == 2
    with nginx(tmp_path / "nginx", ports, chat_port=ports[0]) as base:
        assert {_worker_pid(base) for _ in range(8)} == app_pids  # least_conn: both apps take requests
        for _ in range(4):
            response = httpx.post(f"{base}/api/ask", json=QUESTION, timeout=60)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["verdict"] == direct["verdict"]
            assert [c["clause_id"] for c in answer["citations"]] == [c["clause_id"] for c in direct["citations"]]
        viewer = httpx.get(base + direct["citations"][0]["url"].split("#")[0], timeout=30)
        assert viewer.status_code == 200 and direct["citations"][0]["clause_id"] in viewer.text
        widget = httpx.get(f"{base}/widget", params={"school": "glais"}, timeout=30)
        assert widget.status_code == 200 and "<form" in widget.text
        with staff_client(base, timeout=30) as staff:  # the staff chat needs sign-in (issue 17)
            chat = staff.get("/")  # the staff chat, through the unbuffered Gradio location
            assert chat.status_code == 200 and "gradio" in chat.text.lower()
            config = staff.get("/config")
            assert config.status_code == 200 and config.json()["components"]


def test_deploy_nginx_conf_answers_from_the_live_app_while_the_other_is_down(two_apps, tmp_path):
    ports, _ = two_apps
    down = free_port()  # nothing listens here: the second app's container has stopped
    live_pid = _worker_pid(f"http://127.0.0.1:{ports[0]}")
    with nginx(tmp_path / "nginx", [ports[0], down], chat_port=ports[0]) as base:
        for _ in range(6):
            response = httpx.post(f"{base}/api/ask", json=QUESTION, timeout=60)
            assert response.status_code == 200, response.text
            assert response.json()["citations"]
        assert {_worker_pid(base) for _ in range(4)} == {live_pid}
