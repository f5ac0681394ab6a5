"""Helpers for tests that run real subprocesses (app.py, `chroma run`) on free 127.0.0.1 ports.

Used by tests/test_chroma_server.py (and through it test_faults.py, test_workers.py) and
tests/test_question_log.py. Every process started with `start_app` runs in its own session,
so `stop` ends it and its workers together.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.index import LEASES_DIR

ROOT = Path(__file__).resolve().parents[1]


def copy_index(index_dir: Path, dest: Path) -> Path:
    """A writable copy of an index folder at ``dest``, without its generation leases.

    Leases are per-process runtime state: a server reading ``index_dir`` (the session index is
    shared by every test) writes and renames them while the copy runs, and a lease file that
    vanished mid-copy failed `shutil.copytree` (seen in CI, 2026-11-29). A copy is served by
    none of those processes, so it has no leases either.
    """
    shutil.copytree(index_dir, dest, ignore=shutil.ignore_patterns(LEASES_DIR))
    return dest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None):
    """Poll ``check()`` until it returns a truthy value; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process exited with status {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            result = check()
            if result:
                return result
        time.sleep(0.3)
    pytest.fail(f"{what}: not within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop a subprocess started with ``start_new_session=True`` and its children (its own group)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


#: The staff chat's sign-in password in every app the tests start (tests/conftest.py sets
#: ``ASSISTANT_STAFF_PASSWORD`` to it, so app.py subprocesses inherit it too).
STAFF_PASSWORD = "staff-password-for-the-tests"


def sign_in(client: httpx.Client) -> httpx.Client:
    """Sign ``client`` (with a ``base_url``) in to the staff chat: its session cookie is set. Returns it."""
    response = client.post("/staff/sign-in", data={"password": STAFF_PASSWORD, "next": "/"})
    if response.status_code != 303 or "pa_staff" not in client.cookies:
        raise AssertionError(f"staff sign-in failed: {response.status_code} {response.text[:200]}")
    return client


@contextlib.contextmanager
def staff_client(base: str, **kwargs) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` on ``base``, signed in to the staff chat (`sign_in`)."""
    with httpx.Client(base_url=base, **kwargs) as client:
        yield sign_in(client)


def create_app(*args, **kwargs):
    """`assistant.web.create_app`, imported on the first call.

    The web app's module imports Gradio (seconds of CPU), which test modules that also hold
    unit tests should not pay for at import (`make test-fast`).
    """
    from assistant.web import create_app as create

    return create(*args, **kwargs)


def app_env(**extra: str) -> dict[str, str]:
    """Environment for an app.py subprocess: offline, no rate limit, no question log."""
    env = {k: v for k, v in os.environ.items() if k not in ("CHROMA_HOST", "CHROMA_PORT")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", ASSISTANT_RATE_LIMIT="off", ASSISTANT_QUESTION_LOG="off")
    env.update(extra)
    return env


def start_app(port: int, index_dir: Path, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """``app.py --port <port> --index-dir <index_dir>``, started (not yet necessarily ready)."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port), "--index-dir", str(index_dir), *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 240) -> dict:
    """Wait for ``/healthz`` to answer 200; returns its JSON."""
    return wait_until(
        lambda: (r := httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)).status_code == 200 and r.json(),
        timeout,
        f"app on port {port} healthy",
        proc,
    )
