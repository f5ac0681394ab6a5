"""``python ingest.py``: build or refresh the index from the corpus, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import Settings
from .errors import CorpusError


def main(argv: list[str] | None = None) -> int:
    """Run ingest; returns the process exit code (0 ok, 1 a corpus problem)."""
    settings = Settings()
    parser = argparse.ArgumentParser(prog="ingest.py", description="Build or refresh the Policy Assistant index.")
    parser.add_argument("corpus_dir", nargs="?", type=Path, default=settings.corpus_dir, help="corpus folder (default: %(default)s)")
    parser.add_argument("--index-dir", type=Path, default=settings.index_dir, help="index folder (default: %(default)s; env ASSISTANT_INDEX_DIR)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from .indexing import build_index

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            bar = tqdm(total=total, unit="clause", desc="Indexing", file=sys.stderr)
        bar.n = done
        bar.refresh()

    try:
        report = build_index(args.corpus_dir, args.index_dir, progress=progress)
    except CorpusError as exc:
        print(f"ingest failed: {exc}", file=sys.stderr)
        print("The existing index was left untouched.", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()

    width = max(len(s) for s in report.schools) if report.schools else 10
    print(f"{'school':<{width}}  documents  clauses")
    for school, (docs, clauses) in sorted(report.schools.items()):
        print(f"{school:<{width}}  {docs:>9}  {clauses:>7}")
    total_docs = sum(d for d, _ in report.schools.values())
    total_clauses = sum(c for _, c in report.schools.values())
    print(f"{'total':<{width}}  {total_docs:>9}  {total_clauses:>7}")
    if not report.changed:
        print(f"Index is up to date ({report.generation}): nothing changed.")
        return 0
    for change in report.documents:
        if change.status != "unchanged":
            print(f"  {change.status:<9} {change.school}/{change.document} ({change.clauses} clauses)")
    print(
        f"Index {report.generation} is now served: {report.embedded} clauses embedded, "
        f"{report.reused} reused, in {report.seconds:.1f} s."
    )
    return 0
