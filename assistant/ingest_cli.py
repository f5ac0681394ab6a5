"""``python ingest.py``: build or refresh the index from the corpus, and manage its documents.

    python ingest.py [CORPUS]                       # ingest everything (a progress bar on stderr)
    python ingest.py --school glais new-policy.pdf  # add or replace one document, then re-ingest
    python ingest.py --school glais --remove DOC    # remove one document, then re-ingest
    python ingest.py --list                         # schools, documents, clause counts, dates
    python ingest.py --allow-partial                # serve the good files even if some are bad

Exit status: 0 done; 1 nothing changed because of a problem (each bad file is named with
its reason; the served index and the corpus are as they were); 2 bad command line;
3 ``--allow-partial`` served the index without the bad files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .config import Settings, get_settings
from .errors import CorpusError
from .ingest_report import print_documents, print_index_listing, print_notes, print_schools

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
_SCHOOL_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _slug(stem: str) -> str:
    """A document id from a file name: ``"New Policy (2024)"`` → ``"new-policy-2024"``."""
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "policy"


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingest.py",
        description="Build or refresh the Policy Assistant index, or add, replace, remove or list a school's policies.",
        epilog="Exit status: 0 done; 1 a file or folder could not be ingested and nothing changed; "
        "2 bad command line; 3 --allow-partial served the index without the bad files.",
    )
    parser.add_argument("corpus_dir", nargs="?", type=Path, default=settings.corpus_dir, help="corpus folder (default: %(default)s)")
    parser.add_argument(
        "--index-dir", type=Path, default=settings.index_dir, help="index folder (default: %(default)s; env ASSISTANT_INDEX_DIR)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="serve every file that can be ingested even if some cannot (a bad file's previous version stays served)",
    )
    parser.add_argument(
        "--school",
        nargs="+",
        metavar=("ID", "PATH"),
        help="with PATH: add PATH to school ID's policies (replacing the document of the same name), then re-ingest; with --remove: remove a document",
    )
    parser.add_argument(
        "--remove", metavar="DOCUMENT", help="with --school ID: remove this document (its id, the file name without extension)"
    )
    parser.add_argument("--name", metavar="NAME", help="with --school ID PATH for a school not in the corpus yet: its display name")
    parser.add_argument("--list", action="store_true", help="list the served schools, documents, clause counts and dates")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ingest; returns the process exit code (see the module docstring)."""
    settings = get_settings()
    parser = _parser(settings)
    args = parser.parse_args(argv)
    if args.list:
        return list_index(args.index_dir)
    if args.school is not None and len(args.school) > 2:
        parser.error("--school takes a school id and at most one file: --school ID [PATH]")
    if args.remove and not args.school:
        parser.error("--remove needs --school ID")
    if args.school and len(args.school) == 2 and args.remove:
        parser.error("give either --school ID PATH (add or replace) or --school ID --remove DOCUMENT, not both")
    if args.school and len(args.school) == 1 and not args.remove:
        parser.error("--school ID needs a PATH to add, or --remove DOCUMENT")
    if args.name and not (args.school and len(args.school) == 2):
        parser.error("--name goes with --school ID PATH (to create a new school)")

    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            bar = tqdm(total=total, unit="vector", desc="Indexing", file=sys.stderr)
        bar.n = done
        bar.refresh()

    try:
        if args.school and args.remove:
            return _remove_document(args, progress)
        if args.school:
            return _add_document(args, progress)
        return _ingest(args, progress)
    finally:
        if bar is not None:
            bar.close()


# --- ingest and its report ---------------------------------------------------------------


def _ingest(args, progress: Callable[[int, int], None], on_failure: Callable[[], str] | None = None) -> int:
    """Run `build_index` and print its report; ``on_failure`` undoes a corpus change and says so."""
    from .errors import IndexUnavailableError
    from .index import IngestBusyError, IngestFailed, build_index

    try:
        report = build_index(args.corpus_dir, args.index_dir, progress=progress, allow_partial=args.allow_partial)
    except IngestFailed as exc:
        undone = on_failure() if on_failure else ""
        print(f"ingest failed: {len(exc.problems)} file(s) cannot be ingested:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        print_documents(exc.report.documents, heading="Results for every document:")
        print_notes(exc.report.notes)
        served = f" ({exc.report.generation})" if exc.report.generation else ""
        print(
            f"The served index{served} was left untouched{undone}. Fix or remove the files above, "
            "or run with --allow-partial to serve the rest.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except (CorpusError, IngestBusyError, IndexUnavailableError) as exc:  # the last: a Chroma server (CHROMA_HOST) down
        undone = on_failure() if on_failure else ""
        print(f"ingest failed: {exc}", file=sys.stderr)
        print(f"The existing index was left untouched{undone}.", file=sys.stderr)
        return EXIT_FAILED
    except BaseException:
        if on_failure:
            on_failure()
        raise

    print_schools(report.schools)
    print_documents(report.documents, heading="Documents:", only_changes=not report.problems)
    print_notes(report.notes)
    if report.problems:
        print(f"ingest served what it could: {len(report.problems)} file(s) cannot be ingested:", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
    if not report.changed:
        print(f"Index is up to date ({report.generation}): nothing changed.")
    else:
        print(
            f"Index {report.generation} is now served: {report.embedded} vectors embedded, "
            f"{report.reused} reused, in {report.seconds:.1f} s."
        )
        _check_school_banks(args, sorted({d.school for d in report.documents if d.status in ("added", "updated", "removed")}))
    return EXIT_PARTIAL if report.problems else EXIT_OK


def _check_school_banks(args, schools: list[str]) -> None:
    """Issue 18: rerun the own question bank of each changed school that has been run before; say if its score fell."""
    from .question_log import resolve_log_path
    from .school_bank import bank_path, compare_after_ingest, past_runs

    log_path = resolve_log_path(get_settings().question_log, args.index_dir)
    if log_path is None:
        return
    schools = [s for s in schools if bank_path(args.corpus_dir, s).exists() and past_runs(log_path.parent, s)]
    if not schools:  # no bank run before: nothing to compare, and no model to load
        return
    try:
        from .assistant import Assistant

        lines = compare_after_ingest(Assistant.load(args.index_dir), args.corpus_dir, log_path.parent, schools)
    except Exception as exc:  # the new index is served either way
        print(f"The schools' own question banks could not be rerun: {exc}", file=sys.stderr)
        return
    for line in lines:
        print(f"WARNING {line}")


# --- managing one document ------------------------------------------------------------------


class _CorpusChange:
    """Moves files in and out of a school folder, able to put everything back."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.backup = Path(tempfile.mkdtemp(prefix="ingest-backup-"))
        self.moved: list[Path] = []
        self.added: list[Path] = []
        self.created_folder = False

    def set_aside(self, path: Path) -> None:
        shutil.move(str(path), str(self.backup / path.name))
        self.moved.append(path)

    def put(self, src: Path, dest: Path) -> None:
        tmp = dest.with_name(f".{dest.name}.adding-{os.getpid()}")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)  # a reader never sees half a file
        self.added.append(dest)

    def undo(self) -> str:
        for path in self.added:
            path.unlink(missing_ok=True)
        for path in self.moved:
            shutil.move(str(self.backup / path.name), str(path))
        if self.created_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.added, self.moved = [], []
        return ", and the corpus was restored as it was"

    def close(self) -> None:
        shutil.rmtree(self.backup, ignore_errors=True)


def _document_files(folder: Path, doc_id: str) -> list[Path]:
    from .formats import SUPPORTED_SUFFIXES

    return sorted(p for p in folder.iterdir() if p.is_file() and p.stem == doc_id and p.suffix.lower() in SUPPORTED_SUFFIXES)


def _add_document(args, progress) -> int:
    from .chunking import chunk_document
    from .formats import SUPPORTED_SUFFIXES, extract
    from .loading import METADATA_FILE, max_file_bytes
    from .types import PolicyDocument

    school_id, src = args.school[0], Path(args.school[1])
    if not _SCHOOL_ID.match(school_id):
        print(f"not added: {school_id!r} is not a school id (lower-case letters, digits and hyphens)", file=sys.stderr)
        return EXIT_FAILED
    if not src.is_file():
        print(f"not added: {src}: no such file", file=sys.stderr)
        return EXIT_FAILED
    suffix = src.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        print(f"not added: {src}: unsupported file type {src.suffix!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})", file=sys.stderr)
        return EXIT_FAILED
    doc_id = _slug(src.stem)
    try:  # check the new file before the corpus is touched
        result = extract(src, max_bytes=max_file_bytes())
        probe = PolicyDocument(school_id, doc_id, doc_id, str(src), result.text, result.sha256, page_starts=result.page_starts)
        if not chunk_document(probe, "", list(result.page_starts) if result.page_starts else None):
            raise CorpusError(src, "yields no clauses (no policy text found)")
    except CorpusError as exc:
        print(f"not added: {exc}", file=sys.stderr)
        print("The corpus and the served index were left untouched.", file=sys.stderr)
        return EXIT_FAILED

    folder = Path(args.corpus_dir) / school_id
    change = _CorpusChange(folder)
    try:
        if not folder.is_dir():
            if not args.name:
                print(
                    f"not added: there is no school {school_id!r} in {args.corpus_dir}. "
                    f'To add a new school, give its name too: --name "School Name"',
                    file=sys.stderr,
                )
                return EXIT_FAILED
            folder.mkdir(parents=True)
            change.created_folder = True
            (folder / METADATA_FILE).write_text(f"name = {json.dumps(args.name.strip())}\n", encoding="utf-8")
        dest = folder / f"{doc_id}{suffix}"
        if src.resolve() == dest.resolve():  # already in place: just ingest it
            print(f"ingesting {school_id}/{doc_id} ({dest.name})")
            return _ingest(args, progress)
        replaced = _document_files(folder, doc_id)
        for old in replaced:
            change.set_aside(old)
        change.put(src, dest)
        verb = "replaced" if replaced else "added"
        print(
            f"{verb} {school_id}/{doc_id} ({dest.name}" + (f", replacing {', '.join(p.name for p in replaced)}" if replaced else "") + ")"
        )
        return _ingest(args, progress, on_failure=change.undo)
    finally:
        change.close()


def _remove_document(args, progress) -> int:
    from .formats import SUPPORTED_SUFFIXES

    school_id = args.school[0]
    folder = Path(args.corpus_dir) / school_id
    if not folder.is_dir():
        print(f"not removed: there is no school {school_id!r} in {args.corpus_dir}", file=sys.stderr)
        return EXIT_FAILED
    doc_id = args.remove
    if Path(doc_id).suffix.lower() in SUPPORTED_SUFFIXES:
        doc_id = Path(doc_id).stem
    files = _document_files(folder, doc_id)
    all_docs = sorted({p.stem for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES})
    if not files:
        print(f"not removed: {school_id} has no document {doc_id!r} (its documents: {', '.join(all_docs) or 'none'})", file=sys.stderr)
        return EXIT_FAILED
    if set(all_docs) == {doc_id}:
        print(
            f"not removed: {doc_id!r} is {school_id}'s only document. To remove the school, delete the folder {folder} and run ingest.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    change = _CorpusChange(folder)
    try:
        for path in files:
            change.set_aside(path)
        print(f"removing {school_id}/{doc_id} ({', '.join(p.name for p in files)})")
        return _ingest(args, progress, on_failure=change.undo)
    finally:
        change.close()


# --- listing --------------------------------------------------------------------------------


def list_index(index_dir: Path, today: dt.date | None = None, out=None) -> int:
    """Print the served index: schools, documents (format, pages, clauses) and their dates.

    A next-review date in the past is marked ``(overdue)``. Returns the exit code (1 when
    no index has been built).
    """
    from .index import current_generation, read_manifest

    out = out or sys.stdout
    generation = current_generation(Path(index_dir))
    if generation is None:
        print(f"No index at {Path(index_dir).resolve()}: build it with `python ingest.py`.", file=sys.stderr)
        return EXIT_FAILED
    manifest = read_manifest(generation)
    print_index_listing(manifest, generation.name, index_dir, today or dt.date.today(), out)
    return EXIT_OK
