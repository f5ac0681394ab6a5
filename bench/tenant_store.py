"""Chroma layout for many tenants: one metadata-filtered collection vs one collection per school.

    python bench/tenant_store.py [--schools 5,1000] [--per-school 250] [--queries 200] [--dim 1152]

For each number of schools N and each layout, a child process builds an embedded Chroma
store (``PersistentClient``) in a temporary folder with N × ``--per-school`` synthetic
random unit vectors of the real dimension (1152 = 384 MiniLM + 768 mpnet, the ensemble
vector of `assistant.embedding`), each carrying the metadata the index stores
(``school``, ``document``, ``clause_id``, ``unit``). A second, fresh child process then opens
the store as a server would and runs ``--queries`` nearest-neighbour queries for random
schools with k = 150 (``assistant.assistant.DENSE_VECTORS``, capped at the school's size):

- ``one collection``: ``collection.query(..., where={"school": s})`` on the shared collection;
- ``per school``: ``client.get_collection(<school's collection>).query(...)`` (no filter).

The first pass asks each school once (``cold``: its HNSW segment may not be loaded yet);
the second asks the same schools again (``warm``). Times are wall-clock milliseconds
per query on the client, p50/p95 over the pass (`numpy.percentile`, linear interpolation). RSS is the
serving process's resident memory (psutil) after both passes; ``open s`` is the time to
open the client and first collection. The store on disk is measured with ``du``-style
summing. It reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

K = 150


def _client(path: Path):
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def _vectors(rng, n: int, dim: int):
    import numpy as np

    v = rng.standard_normal((n, dim), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def build(path: Path, layout: str, schools: int, per_school: int, dim: int) -> dict:
    """Write the synthetic store; returns build seconds."""
    import numpy as np

    rng = np.random.default_rng(7)
    client = _client(path)
    started = time.perf_counter()
    shared = None
    if layout == "one":
        # Chroma rewrites a collection's HNSW files every ``sync_threshold`` additions (default
        # 1000); at 250k vectors that makes the build quadratic, so the shared collection
        # syncs rarely. (Per-school collections are far below the threshold anyway.)
        shared = client.create_collection(
            "clauses", configuration={"hnsw": {"space": "cosine", "sync_threshold": 50_000, "batch_size": 10_000}}, embedding_function=None
        )
    batch_ids, batch_vecs, batch_meta = [], [], []

    def flush(collection) -> None:
        if batch_ids:
            collection.add(ids=list(batch_ids), embeddings=np.vstack(batch_vecs), metadatas=list(batch_meta))
            batch_ids.clear(), batch_vecs.clear(), batch_meta.clear()

    for s in range(schools):
        school = f"school-{s:04d}"
        vecs = _vectors(rng, per_school, dim)
        metas = [{"school": school, "document": f"doc-{i % 6}", "clause_id": f"c{i // 2:04d}", "unit": i % 2} for i in range(per_school)]
        ids = [f"{school}:c{i // 2:04d}:{i % 2}" for i in range(per_school)]
        if layout == "one":
            batch_ids.extend(ids), batch_vecs.append(vecs), batch_meta.extend(metas)
            if len(batch_ids) >= 2000:
                flush(shared)
        else:
            collection = client.create_collection(f"t-{school}", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
            collection.add(ids=ids, embeddings=vecs, metadatas=metas)
    if layout == "one":
        flush(shared)
    return {"build_s": time.perf_counter() - started}


def serve(path: Path, layout: str, schools: int, per_school: int, dim: int, queries: int) -> dict:
    """Open the store fresh and time filtered / per-collection queries; returns timings and RSS."""
    import numpy as np
    import psutil

    rng = np.random.default_rng(11)
    started = time.perf_counter()
    client = _client(path)
    shared = client.get_collection("clauses") if layout == "one" else None
    open_s = time.perf_counter() - started
    asked = [f"school-{int(s):04d}" for s in rng.integers(0, schools, size=queries)]
    qvecs = _vectors(rng, queries, dim)
    k = min(K, per_school)
    passes = {}
    for name in ("cold", "warm"):
        times = []
        for school, vec in zip(asked, qvecs, strict=True):
            t0 = time.perf_counter()
            if layout == "one":
                got = shared.query(query_embeddings=[vec], n_results=k, where={"school": school}, include=["metadatas", "distances"])
            else:
                got = client.get_collection(f"t-{school}").query(query_embeddings=[vec], n_results=k, include=["metadatas", "distances"])
            times.append((time.perf_counter() - t0) * 1000)
            metas = got["metadatas"][0]
            if len(metas) != k or any(m["school"] != school for m in metas):  # the layout must return exactly that school
                raise SystemExit(f"{layout}: query for {school} returned {len(metas)} hits or another school's vectors")
        passes[name] = (float(np.percentile(times, 50)), float(np.percentile(times, 95)))
    rss = psutil.Process().memory_info().rss / 2**20
    return {"open_s": open_s, "cold": passes["cold"], "warm": passes["warm"], "rss_mib": rss}


def _disk_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run each (schools, layout) cell in fresh child processes, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schools", default="5,1000", help="comma-separated school counts (default: %(default)s)")
    parser.add_argument("--per-school", type=int, default=250, help="vectors per school (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=200, help="queries per pass (default: %(default)s)")
    parser.add_argument("--dim", type=int, default=1152, help="vector dimension (default: %(default)s)")
    parser.add_argument("--layouts", default="one,per-school", help="layouts to measure (default: %(default)s)")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)  # phase path layout schools per_school dim
    args = parser.parse_args(argv)

    if args.child:
        phase, path, layout, schools, per_school, dim = args.child
        if phase == "build":
            result = build(Path(path), layout, int(schools), int(per_school), int(dim))
        else:
            result = serve(Path(path), layout, int(schools), int(per_school), int(dim), args.queries)
        print(json.dumps(result))
        return 0

    import chromadb

    rows = []
    for schools in (int(s) for s in args.schools.split(",")):
        for layout in args.layouts.split(","):
            key = "one" if layout == "one" else "per-school"
            tmp = Path(tempfile.mkdtemp(prefix=f"tenant-store-{key}-{schools}-"))
            try:
                spec = [str(tmp), key, str(schools), str(args.per_school), str(args.dim)]
                built = _child(["--child", "build", *spec])
                served = _child(["--queries", str(args.queries), "--child", "serve", *spec])
                disk = _disk_mib(tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            label = "one collection, where={school}" if key == "one" else "one collection per school"
            rows.append((schools, schools * args.per_school, label, built, served, disk))
            print(f"done: {schools} schools, {label}", file=sys.stderr, flush=True)

    print(
        f"\nChroma {chromadb.__version__}, embedded PersistentClient; {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
    )
    print(f"{args.per_school} vectors/school, dim {args.dim}, k={K}, {args.queries} queries per pass, {time.strftime('%Y-%m-%d')}\n")
    print(
        "| schools | vectors | layout | build s | open s | cold p50 ms | cold p95 ms | warm p50 ms | warm p95 ms | serving RSS MiB | disk MiB |"
    )
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for schools, vectors, label, built, served, disk in rows:
        (c50, c95), (w50, w95) = served["cold"], served["warm"]
        print(
            f"| {schools} | {vectors} | {label} | {built['build_s']:.1f} | {served['open_s']:.2f} | {c50:.1f} | {c95:.1f} | "
            f"{w50:.1f} | {w95:.1f} | {served['rss_mib']:.0f} | {disk:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
