"""Single-client latency of the HTTP API, measured against the real server.

    python bench/api_latency.py [--index-dir index] [--n 200]

Starts ``app.py`` on a free 127.0.0.1 port (the index must exist: ``make ingest``), waits
for ``/healthz``, warms up, then sends the questions of ``evals/banks/policy_bank.jsonl``
(with their school, audience and history) one at a time to ``/api/ask`` and then to
``/api/search``, timing each request end to end on the client (HTTP included). Each
question is new to the server on the first ``/api/ask`` pass; the ``/api/ask (repeat)``
row asks them again, when their query embeddings are cached. Prints a markdown table of
p50 / p95 / p99 / mean / max in milliseconds. No assertions: it reports.

`bench/run.py` (``make bench``) measures the same single-client HTTP latency on fresh
question texts, beside the textbook recipe and at larger corpora; this script stays for a
quick check of one index.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from common import BENCH_ENV, free_port, percentile  # noqa: E402

BANK = ROOT / "evals" / "banks" / "policy_bank.jsonl"


def load_bank(n: int) -> list[dict]:
    """The first ``n`` questions of the policy bank as API request bodies."""
    bodies = []
    with BANK.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                item = json.loads(line)
                bodies.append(
                    {
                        "question": item["question"],
                        "school": item["school"],
                        "audience": item.get("audience"),
                        "history": item.get("history", []),
                    }
                )
    return bodies[:n]


def start_server(index_dir: Path, port: int) -> subprocess.Popen:
    """``python app.py`` on 127.0.0.1:``port``; its output goes to this process's stderr."""
    env = {**os.environ, **BENCH_ENV}  # offline, no telemetry, no rate limit
    env["ASSISTANT_RATE_LIMIT"] = "off"  # one client sends 200+ questions a minute
    cmd = [
        sys.executable,
        str(ROOT / "app.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--index-dir",
        str(index_dir),
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr)


def wait_healthy(client: httpx.Client, server: subprocess.Popen, timeout: float = 180) -> None:
    """Block until ``/healthz`` is 200; raises RuntimeError if the server exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"app.py exited with code {server.returncode}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError("app.py did not become healthy in time")


def time_requests(client: httpx.Client, path: str, bodies: list[dict]) -> tuple[list[float], int]:
    """POST each body to ``path`` in turn; returns (milliseconds per request, count of non-200s)."""
    times, failures = [], 0
    for body in bodies:
        started = time.perf_counter()
        response = client.post(path, json=body)
        times.append((time.perf_counter() - started) * 1000)
        failures += response.status_code != 200
    return times, failures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index", help="index to serve (default: %(default)s)")
    parser.add_argument("--n", type=int, default=200, help="questions from the policy bank (default: %(default)s)")
    args = parser.parse_args(argv)

    bodies = load_bank(args.n)
    port = free_port()
    server = start_server(args.index_dir.resolve(), port)
    rows = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_healthy(client, server)
            warm = [{"question": f"Can I use my phone in lesson {i}?", "school": bodies[0]["school"]} for i in range(10)]
            time_requests(client, "/api/ask", warm)
            for label, path in (("/api/ask", "/api/ask"), ("/api/ask (repeat)", "/api/ask"), ("/api/search (k=5)", "/api/search")):
                times, failures = time_requests(client, path, bodies)
                rows.append((label, times, failures))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    print(
        f"\nSingle client, {len(bodies)} policy-bank questions, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}\n"
    )
    print("| endpoint | requests | non-200 | p50 ms | p95 ms | p99 ms | mean ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, times, failures in rows:
        print(
            f"| {label} | {len(times)} | {failures} | {percentile(times, 50):.1f} | {percentile(times, 95):.1f} | "
            f"{percentile(times, 99):.1f} | {statistics.fmean(times):.1f} | {max(times):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
