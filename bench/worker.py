"""Measured work that runs in its own process, started by `bench/run.py`; prints one JSON line.

    python bench/worker.py ingest --system ours|textbook --corpus DIR --index-dir DIR
    python bench/worker.py inprocess --system ours|textbook --index-dir DIR --requests FILE

A process of its own gives each measurement a cold start and its own embedding cache
(``ASSISTANT_MODEL_CACHE`` is read when the cache is first opened), and keeps the
models out of the process that drives the HTTP load tests.

``ingest`` times model loading and the build separately (seconds) and reports the
clause/chunk count. ``inprocess`` loads the index, answers one untimed warm-up question,
then times ``ask`` for each body of the file's ``"ask"`` list and ``search`` (k=5) for each
body of its ``"search"`` list, one at a time, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _bar(desc: str, unit: str):
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, mininterval=2)
        bar.n = done
        bar.refresh()

    return progress


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def ingest(system: str, corpus: Path, index_dir: Path, resume: bool = False) -> dict:
    """Load the models, then build ``system``'s index of ``corpus`` into ``index_dir``; returns the timings and counts.

    ``resume`` (textbook only) continues an interrupted build in ``index_dir`` (`textbook.build`).
    """
    from assistant.embedding import shared_embeddings

    embeddings = shared_embeddings()
    model_load_s = time.perf_counter() - STARTED
    if system == "ours":
        from assistant.index import build_index

        started = time.perf_counter()
        report = build_index(corpus, index_dir, embeddings, progress=_bar("ours: indexing", "vector"))
        seconds = time.perf_counter() - started
        items = sum(clauses for _, clauses in report.schools.values())
        extra = {"vectors_embedded": report.embedded, "vectors_reused": report.reused, "changed": report.changed}
    else:
        import textbook

        result = textbook.build(corpus, index_dir, embeddings, progress=_bar("textbook: indexing", "chunk"), resume=resume)
        seconds, items = result["seconds"], result["chunks"]
        extra = {"cpu_seconds": result["cpu_seconds"]}
        if result["runs"] > 1:
            extra |= {"runs": result["runs"], "stored_before": result["stored_before"]}
    return {"system": system, "model_load_s": model_load_s, "seconds": seconds, "items": items, "rss": _rss(), **extra}


def inprocess(system: str, index_dir: Path, requests: dict) -> dict:
    """Time single-client ``ask`` and ``search`` calls in this process; returns milliseconds per call."""
    if system == "ours":
        from assistant import Assistant

        bot = Assistant.load(index_dir)

        def ask(b):
            return bot.ask(b["question"], school=b["school"], audience=b["audience"], history=b["history"])

        def search(b):
            return bot.search(b["question"], school=b["school"], audience=b["audience"], history=b["history"], k=5)
    else:
        from textbook import TextbookIndex

        index = TextbookIndex(index_dir)

        def ask(b):
            return index.ask(b["question"], b["school"], b["history"])

        def search(b):
            return index.search(b["question"], b["school"], b["history"], k=5)

    load_s = time.perf_counter() - STARTED
    rss_loaded = _rss()
    ask({**requests["ask"][0], "question": "Can I use my phone at the school gate?", "history": []})  # untimed warm-up
    out = {"system": system, "load_s": load_s, "rss_loaded": rss_loaded}
    for name, fn in (("ask", ask), ("search", search)):
        times = []
        for body in requests[name]:
            started = time.perf_counter()
            fn(body)
            times.append((time.perf_counter() - started) * 1000)
        out[f"{name}_ms"] = times
    out["rss_after"] = _rss()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run one measurement and print its JSON on the last line of stdout."""
    parser = argparse.ArgumentParser(prog="worker.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="task", required=True)
    p_ingest = sub.add_parser("ingest", help="build an index and time it")
    p_ingest.add_argument("--system", choices=["ours", "textbook"], required=True)
    p_ingest.add_argument("--corpus", type=Path, required=True)
    p_ingest.add_argument("--index-dir", type=Path, required=True)
    p_ingest.add_argument("--resume", action="store_true", help="textbook: continue an interrupted build in --index-dir")
    p_in = sub.add_parser("inprocess", help="single-client in-process latency")
    p_in.add_argument("--system", choices=["ours", "textbook"], required=True)
    p_in.add_argument("--index-dir", type=Path, required=True)
    p_in.add_argument("--requests", type=Path, required=True, help='JSON file {"ask": [bodies], "search": [bodies]}')
    args = parser.parse_args(argv)
    if args.task == "ingest":
        if args.resume and args.system != "textbook":
            parser.error("--resume applies to --system textbook only (the assistant's ingest is incremental already)")
        result = ingest(args.system, args.corpus, args.index_dir, args.resume)
    else:
        result = inprocess(args.system, args.index_dir, json.loads(args.requests.read_text(encoding="utf-8")))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
