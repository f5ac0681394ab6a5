"""`app.py --workers 2`: two real uvicorn worker processes share one port and one index.

The app process is stopped (with its workers, its own process group) at the end.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from test_chroma_server import QUESTION, app_env, free_port, start_app, stop, wait_healthy, wait_until

pytestmark = pytest.mark.system


def test_two_workers_share_the_port_and_both_answer_from_the_index(index_dir, bot, tmp_path):
    port = free_port()
    app = start_app(port, index_dir, app_env(), tmp_path / "app.log", "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(port, app)

        def spawned_workers() -> set[int]:  # not multiprocessing's resource tracker, also a child
            return {p.pid for p in psutil.Process(app.pid).children() if "spawn_main" in " ".join(p.cmdline())}

        worker_pids = wait_until(lambda: len(spawned_workers()) == 2 and spawned_workers(), 60, "2 worker processes")

        def health(_: int) -> tuple[int, str]:
            # a fresh connection each time, so the kernel may hand it to either worker
            response = httpx.get(f"{base}/healthz", timeout=60, headers={"Connection": "close"})
            return response.status_code, response.headers.get("X-Worker-Pid", "")

        answered: set[int] = set()

        def both_answered() -> bool:
            with ThreadPoolExecutor(8) as pool:
                for status, pid in pool.map(health, range(16)):
                    assert status == 200  # healthz runs a search: this worker answers from the index
                    answered.add(int(pid))
            return len(answered) >= 2

        # a worker still loading its models answers nothing yet, so keep asking until both have
        wait_until(both_answered, 180, "both workers answering /healthz")
        assert answered == worker_pids and app.pid not in answered

        expected = [c.clause_id for c in bot.ask(QUESTION["question"], QUESTION["school"], QUESTION["audience"]).citations]
        assert expected, "the question must cite clauses, or equal citations would prove nothing"
        with ThreadPoolExecutor(4) as pool:
            responses = list(
                pool.map(lambda _: httpx.post(f"{base}/api/ask", json=QUESTION, timeout=60, headers={"Connection": "close"}), range(8))
            )
        for response in responses:
            assert response.status_code == 200
            assert [c["clause_id"] for c in response.json()["citations"]] == expected
    finally:
        stop(app)
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in worker_pids)
