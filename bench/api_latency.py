"""Single-client latency of the HTTP API, measured against the real server.

    python bench/api_latency.py [--index-dir index] [--n 200]

Starts ``app.py`` on a free 127.0.0.1 port with `common.Server` (the index must exist:
``make ingest``; the server's output goes to ``bench/.data/logs/``), waits for its first
answer, warms up, then sends the questions of ``evals/banks/policy_bank.jsonl``
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
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402

BANK = ROOT / "evals" / "banks" / "policy_bank.jsonl"


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

    bodies = common.load_questions([BANK])[: args.n]
    warm = [{"question": f"Can I use my phone in lesson {i}?", "school": bodies[0]["school"]} for i in range(10)]
    rows = []
    with common.Server("ours", args.index_dir.resolve()) as server:
        print(f"server log: {server.log}", file=sys.stderr, flush=True)
        server.first_answer(warm[0], timeout=180)  # a warm-up question, so each bank question is still new
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            time_requests(client, "/api/ask", warm)
            for label, path in (("/api/ask", "/api/ask"), ("/api/ask (repeat)", "/api/ask"), ("/api/search (k=5)", "/api/search")):
                times, failures = time_requests(client, path, bodies)
                rows.append((label, times, failures))

    print(
        f"\nSingle client, {len(bodies)} policy-bank questions, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}\n"
    )
    print("| endpoint | requests | non-200 | p50 ms | p95 ms | p99 ms | mean ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, times, failures in rows:
        print(
            f"| {label} | {len(times)} | {failures} | {common.percentile(times, 50):.1f} | {common.percentile(times, 95):.1f} | "
            f"{common.percentile(times, 99):.1f} | {statistics.fmean(times):.1f} | {max(times):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
