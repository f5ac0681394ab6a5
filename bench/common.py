"""Helpers shared by the benchmark scripts: statistics, questions, servers, memory, the machine.

Nothing here imports torch or the assistant's models, so the process that drives load
tests stays small; the measured code runs in subprocesses (``app.py``,
``bench/textbook_server.py``, ``bench/worker.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BANKS = ROOT / "evals" / "banks"
DATA = ROOT / "bench" / ".data"

#: Environment of every measured subprocess: offline, no telemetry, no rate limit.
BENCH_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "ASSISTANT_RATE_LIMIT": "off",
}

# Everyday openings and closings, so that each request of a run is a different text: the
# assistant memoises query embeddings, and a benchmark that repeats the same 311 texts would
# measure that cache rather than a stream of new questions.
_OPENINGS = ["", "Hi, ", "Quick question: ", "Hello! ", "Sorry to bother you, ", "Please could you tell me: ", "Hi there, "]
_CLOSINGS = ["", " Thanks.", " Thank you!", " Many thanks.", " Cheers.", " Thanks in advance."]


# --- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values`` by `numpy.percentile` (linear interpolation); NaN when empty."""
    return float(np.percentile(values, q)) if values else float("nan")


def latency_summary(ms: list[float]) -> dict:
    """``{n, p50, p95, p99, mean, max}`` of a list of milliseconds."""
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": sum(ms) / len(ms) if ms else float("nan"),
        "max": max(ms) if ms else float("nan"),
    }


# --- questions --------------------------------------------------------------------------------


def school_seeds(corpus_dir: Path) -> dict[str, str]:
    """School id → the seed school it was generated from (``[generated] seed`` in school.toml; itself otherwise)."""
    out = {}
    for folder in sorted(p for p in Path(corpus_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        meta = tomllib.loads((folder / "school.toml").read_text(encoding="utf-8"))
        out[folder.name] = meta.get("generated", {}).get("seed", folder.name)
    return out


def load_questions(banks: list[Path] | None = None) -> list[dict]:
    """Every question of the banks (default ``evals/banks/*.jsonl``) as ``{question, school, audience, history}``.

    Read with `evals.metrics.load_bank`, the banks' own reader (it raises ValueError naming a bad line).
    """
    from evals.metrics import load_bank

    items = []
    for bank in banks or sorted(BANKS.glob("*.jsonl")):
        for item in load_bank(bank):
            items.append({"question": item.question, "school": item.school, "audience": item.audience, "history": list(item.history)})
    return items


def _vary(question: str, variant: int) -> str:
    opening = _OPENINGS[variant % len(_OPENINGS)]
    closing = _CLOSINGS[(variant // len(_OPENINGS)) % len(_CLOSINGS)]
    if opening and len(question) > 1 and question[1].islower():
        question = question[0].lower() + question[1:]
    return f"{opening}{question}{closing}"


def request_stream(questions: list[dict], seeds: dict[str, str], rng_seed: int = 11):
    """An endless, deterministic stream of API request bodies for the schools of a corpus.

    Bank questions are taken in a shuffled order; each is put to a school generated from the
    bank question's school (a random one per request), and worded with an everyday opening
    or closing that differs on each pass through the bank, so no text repeats for
    ``len(questions) × 42`` requests.

    Raises:
        ValueError: no bank question names a seed school of this corpus.
    """
    by_seed: dict[str, list[str]] = {}
    for school, seed in seeds.items():
        by_seed.setdefault(seed, []).append(school)
    usable = [q for q in questions if q["school"] in by_seed]
    if not usable:
        raise ValueError("no bank question is about a school of this corpus (or a school generated from one)")
    rng = random.Random(rng_seed)
    rng.shuffle(usable)
    n = 0
    while True:
        for q in usable:
            yield {**q, "question": _vary(q["question"], n // len(usable)), "school": rng.choice(by_seed[q["school"]])}
            n += 1


def take(stream, n: int) -> list[dict]:
    """The next ``n`` items of an iterator."""
    return [next(stream) for _ in range(n)]


# --- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_supports_workers() -> bool:
    """True when ``app.py --help`` lists ``--workers``."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--help"], capture_output=True, text=True, cwd=ROOT, env={**os.environ, **BENCH_ENV}
    )
    return "--workers" in out.stdout


def server_command(system: str, index_dir: Path, port: int, workers: int = 1) -> list[str]:
    """Command line of the server of ``system`` (``ours``: app.py; ``textbook``: bench/textbook_server.py)."""
    script = ROOT / ("app.py" if system == "ours" else "bench/textbook_server.py")
    cmd = [sys.executable, str(script), "--host", "127.0.0.1", "--port", str(port), "--index-dir", str(index_dir), "--log-level", "warning"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return cmd


class Server:
    """A benchmark server subprocess on 127.0.0.1; a context manager that stops it on exit.

    Attributes:
        started: `time.perf_counter()` just before the process was spawned;
        base_url; process; log: its combined output file.

    ``env`` adds to (or overrides) `BENCH_ENV` for this server, e.g. ``ASSISTANT_QUESTION_LOG``.
    """

    def __init__(self, system: str, index_dir: Path, workers: int = 1, log_dir: Path = DATA / "logs", env: dict | None = None) -> None:
        """Spawn the server; it is not waited for (`first_answer` polls until it answers).

        Args:
            system: ``"ours"`` (``app.py``) or ``"textbook"`` (``bench/textbook_server.py``).
            index_dir: the index the server loads.
            workers: server worker processes.
            log_dir: folder of the server's log file (created if missing).
            env: variables added to `BENCH_ENV` for this server.
        """
        self.system = system
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = log_dir / f"{system}-{self.port}.log"
        self._log_fh = self.log.open("w", encoding="utf-8")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            server_command(system, index_dir, self.port, workers),
            cwd=ROOT,
            env={**os.environ, **BENCH_ENV, **(env or {})},
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def first_answer(self, body: dict, timeout: float = 600) -> float:
        """Seconds from spawning the process to the first 200 answer to ``body`` on ``/api/ask``.

        Raises:
            RuntimeError: the server exited or did not answer within ``timeout`` (its log is named).
        """
        deadline = self.started + timeout
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.system} server exited with code {self.process.returncode}; see {self.log}")
                try:
                    status = client.post("/api/ask", json=body).status_code
                except httpx.TransportError:
                    status = None  # not listening yet
                if status == 200:
                    return time.perf_counter() - self.started
                if status is not None and status != 503:
                    raise RuntimeError(f"{self.system} server answered {status} to a valid question; see {self.log}")
                time.sleep(0.05)
        raise RuntimeError(f"{self.system} server gave no answer within {timeout:.0f} s; see {self.log}")

    def rss_bytes(self) -> int:
        """Resident set size of the server and its child processes (workers), summed."""
        import psutil

        proc = psutil.Process(self.process.pid)
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def stop(self) -> None:
        """SIGTERM the server's process group, then SIGKILL it if it lingers."""
        import signal

        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log_fh.close()

    def __enter__(self) -> Server:
        """The server itself."""
        return self

    def __exit__(self, *exc) -> None:
        """Stop the server (see `stop`)."""
        self.stop()


# --- subprocess workers ---------------------------------------------------------------------


def run_worker(args: list[str], env: dict | None = None) -> dict:
    """Run ``bench/worker.py ARGS`` and return the JSON it prints last (its stderr passes through).

    Raises:
        RuntimeError: the worker failed.
    """
    cmd = [sys.executable, str(ROOT / "bench" / "worker.py"), *args]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **BENCH_ENV, **(env or {})}, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"bench/worker.py {' '.join(args)} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the machine --------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict:
    """CPU model, cores, RAM, OS, Python/torch/chromadb versions, the date and the load average now."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="minutes"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": _version("torch"),
        "chromadb": _version("chromadb"),
        "sentence_transformers": _version("sentence-transformers"),
        "langchain_chroma": _version("langchain-chroma"),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
