"""Bounded soak of the real server: many questions from many concurrent clients, loopback only.

    python bench/soak.py [--questions 20000] [--clients 32] [--max-minutes 90] [--index-dir index] [--json OUT]
    python bench/soak.py --fuzz [--max-examples 200]      # schemathesis against /openapi.json instead (make fuzz)

Starts ``app.py`` on a free 127.0.0.1 port with `common.Server` (``ASSISTANT_RATE_LIMIT=off``,
the question log on in a temporary folder, as in production; the server's output goes to
``bench/.data/logs/``), waits for its first answer, then ``--clients`` asyncio
clients (httpx) send ``--questions`` questions in all — 80% ``/api/ask``, 20% ``/api/search``,
drawn from the evaluation banks with their school, audience and history; half of them reworded
("Hi, quick question: …", a number appended) so the query-embedding cache cannot answer them.
It stops by itself after the last question or after ``--max-minutes``, whichever comes first.

Reported (a table on stdout, and JSON with ``--json``): requests by status, 5xx count, latency
p50/p95/p99 (ms, client side, HTTP included), throughput, and the server's resident memory (RSS,
the server process and its children, sampled every 2 s): the mean of the first and of the last
minute, and the growth between them. Exit status 1 if any response was a 5xx, a request failed
at the transport level, or memory grew by 10% or more; else 0.

``--fuzz`` runs schemathesis (``not_a_server_error`` and the response-schema checks) against the
same kind of server and exits with its status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402

BANKS = [ROOT / "evals" / "banks" / name for name in ("policy_bank.jsonl", "starter.jsonl", "holdout.jsonl")]
PREFIXES = ("", "Hi, quick question: ", "Sorry to bother you - ", "Hello! ")
#: Seconds from spawning app.py to its first answer before the run is abandoned.
START_TIMEOUT = 240


class MemorySampler(threading.Thread):
    """Samples the server's RSS (`common.Server.rss_bytes`) every ``every`` seconds into ``samples`` as (monotonic seconds, bytes)."""

    def __init__(self, server: common.Server, every: float = 2.0) -> None:
        """Sample ``server`` every ``every`` seconds once started (a daemon thread)."""
        super().__init__(name="rss-sampler", daemon=True)
        self.server, self.every = server, every
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        """Sample until `stopped` is set or the process is gone."""
        while not self.stopped.is_set():
            try:
                self.samples.append((time.monotonic(), self.server.rss_bytes()))
            except psutil.Error:
                return
            self.stopped.wait(self.every)


def make_request(rng: random.Random, questions: list[dict]) -> tuple[str, dict]:
    """One request: (path, JSON body)."""
    item = rng.choice(questions)
    body = dict(item)
    if rng.random() < 0.5:
        body["question"] = (rng.choice(PREFIXES) + item["question"] + f" ({rng.randint(1, 10**6)})")[:1000]
    if rng.random() < 0.2:
        return "/api/search", {**body, "k": rng.randint(1, 10)}
    return "/api/ask", body


async def soak(base: str, questions: list[dict], total: int, clients: int, max_seconds: float, seed: int) -> dict:
    """Send ``total`` requests from ``clients`` concurrent clients (or stop at ``max_seconds``); returns the raw results."""
    rng = random.Random(seed)
    plan = [make_request(rng, questions) for _ in range(total)]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    next_index = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(http: httpx.AsyncClient) -> None:
        nonlocal next_index
        while time.monotonic() < deadline:
            if next_index >= len(plan):
                return
            path, body = plan[next_index]
            next_index += 1
            started = time.perf_counter()
            try:
                response = await http.post(path, json=body)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                statuses["transport error"] = statuses.get("transport error", 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        await asyncio.gather(*(client_loop(http) for _ in range(clients)))
    return {"latencies": latencies, "statuses": statuses, "errors": errors[:20], "seconds": time.monotonic() - started, "sent": next_index}


def memory_summary(samples: list[tuple[float, int]]) -> dict:
    """Mean RSS of the first and last minute of ``samples`` and the growth between them."""
    if not samples:
        return {}
    t0, t1 = samples[0][0], samples[-1][0]
    first = [b for t, b in samples if t - t0 <= 60]
    last = [b for t, b in samples if t1 - t <= 60]
    first_mb, last_mb = statistics.fmean(first) / 2**20, statistics.fmean(last) / 2**20
    return {
        "samples": len(samples),
        "span_s": round(t1 - t0, 1),
        "first_minute_mb": round(first_mb, 1),
        "last_minute_mb": round(last_mb, 1),
        "growth_pct": round(100 * (last_mb - first_mb) / first_mb, 2),
        "peak_mb": round(max(b for _, b in samples) / 2**20, 1),
        "overlapping": (t1 - t0) < 120,
    }


def start_server(index_dir: Path, log_dir: Path) -> common.Server:
    """``app.py`` over ``index_dir`` (`common.Server`: offline, rate limit off) with its question log in ``log_dir``.

    Returns once it has answered a first question (a bank question, so it is logged too).

    Raises:
        RuntimeError: the server exited or gave no answer within `START_TIMEOUT` s (its log is named).
    """
    server = common.Server("ours", index_dir.resolve(), env={"ASSISTANT_QUESTION_LOG": str(log_dir / "questions.sqlite3")})
    print(f"server log: {server.log}", file=sys.stderr, flush=True)
    try:
        server.first_answer(common.load_questions(BANKS[:1])[0], timeout=START_TIMEOUT)
    except BaseException:
        server.stop()
        raise
    return server


def run_soak(args) -> int:
    """The soak; prints the table and returns the exit status."""
    questions = common.load_questions(BANKS)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        log_path = Path(tmp) / "questions.sqlite3"
        with start_server(Path(args.index_dir), Path(tmp)) as server:
            logged_before = _count_logged(log_path) or 0  # the start-up question
            sampler = MemorySampler(server)
            sampler.start()
            raw = asyncio.run(soak(server.base_url, questions, args.questions, args.clients, args.max_minutes * 60, args.seed))
            sampler.stopped.set()
            sampler.join()
            logged = _count_logged(log_path)
    if logged is not None:
        logged -= logged_before
    lat = raw["latencies"]
    summary = common.latency_summary(lat)
    five_xx = sum(n for code, n in raw["statuses"].items() if code.startswith("5"))
    memory = memory_summary(sampler.samples)
    result = {
        "questions_planned": args.questions,
        "sent": raw["sent"],
        "clients": args.clients,
        "seconds": round(raw["seconds"], 1),
        "throughput_rps": round(len(lat) / raw["seconds"], 2) if raw["seconds"] else None,
        "statuses": raw["statuses"],
        "five_xx": five_xx,
        "transport_errors": raw["statuses"].get("transport error", 0),
        "p50_ms": round(summary["p50"], 1),
        "p95_ms": round(summary["p95"], 1),
        "p99_ms": round(summary["p99"], 1),
        "max_ms": round(summary["max"], 1) if lat else None,
        "questions_logged": logged,
        "memory": memory,
        "errors": raw["errors"],
        "cpu_count": os.cpu_count(),
    }
    print("| metric | value |\n| --- | ---: |")
    for key in (
        "sent",
        "clients",
        "seconds",
        "throughput_rps",
        "five_xx",
        "transport_errors",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "questions_logged",
    ):
        print(f"| {key} | {result[key]} |")
    print(f"| statuses | {json.dumps(raw['statuses'])} |")
    for key, value in memory.items():
        print(f"| rss {key} | {value} |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    ok = five_xx == 0 and result["transport_errors"] == 0 and memory.get("growth_pct", 0) < 10
    print("PASS" if ok else "FAIL", "(zero 5xx, no transport errors, RSS growth first→last minute < 10%)")
    return 0 if ok else 1


def _count_logged(path: Path) -> int | None:
    import sqlite3

    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
    except sqlite3.Error:
        return None


def run_fuzz(args) -> int:
    """Run schemathesis against /openapi.json of a fresh server; returns its exit status."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp, start_server(Path(args.index_dir), Path(tmp)) as server:
        cmd = [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{server.base_url}/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            str(args.max_examples),
            "--workers",
            "2",
            "--request-timeout",
            "60",
            "--seed",
            str(args.seed),
        ]
        print("$", " ".join(cmd), flush=True)
        return subprocess.run(cmd, cwd=ROOT, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Parse the flags and run the soak (or the fuzz run)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", default=os.environ.get("ASSISTANT_INDEX_DIR", str(ROOT / "index")))
    parser.add_argument("--questions", type=int, default=20_000, help="questions to send in all (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--max-minutes", type=float, default=90, help="stop after this long whatever is left (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    parser.add_argument("--fuzz", action="store_true", help="run schemathesis against /openapi.json instead of the soak")
    parser.add_argument("--max-examples", type=int, default=200, help="schemathesis examples per operation (default: %(default)s)")
    args = parser.parse_args(argv)
    if not (Path(args.index_dir) / "CURRENT").exists():
        parser.error(f"no index at {args.index_dir}: run `make ingest` first")
    return run_fuzz(args) if args.fuzz else run_soak(args)


if __name__ == "__main__":
    sys.exit(main())
