"""What ``python ingest.py`` prints: the build report and the ``--list`` table of the served index.

Formatting only: `assistant.ingest_cli` runs the commands, decides the exit status and
prints the errors; the functions here write what a build changed (`print_schools`,
`print_documents`, `print_notes`) and what the served index holds (`print_index_listing`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .index import DocumentChange, Manifest


def print_schools(schools: dict[str, tuple[int, int]]) -> None:
    """Print a table of schools with their document and clause counts, and a total row.

    Args:
        schools: school id → ``(documents, clauses)``, as `assistant.index.IngestReport.schools`.
    """
    width = max([len(s) for s in schools] + [6])
    print(f"{'school':<{width}}  documents  clauses")
    for school, (docs, clauses) in sorted(schools.items()):
        print(f"{school:<{width}}  {docs:>9}  {clauses:>7}")
    total_docs = sum(d for d, _ in schools.values())
    total_clauses = sum(c for _, c in schools.values())
    print(f"{'total':<{width}}  {total_docs:>9}  {total_clauses:>7}")


def _describe(change: DocumentChange) -> str:
    """``school/document (file: format, N pages)`` for one line of the document report."""
    source = change.file or change.document
    kind = change.format + (f", {change.pages} pages" if change.pages else "") if change.format else ""
    return f"{change.school}/{change.document} ({source}{': ' + kind if kind else ''})"


def print_documents(changes: Iterable[DocumentChange], heading: str | None, only_changes: bool = False) -> None:
    """Print one line per document of a build, in school and document order: its status and clause count.

    A failed document shows its reason; a kept one (``--allow-partial``) the clauses still
    served and why its new version was not.

    Args:
        changes: the build's documents (`assistant.index.IngestReport.documents`).
        heading: a line printed first, if any; nothing at all is printed when no document is shown.
        only_changes: leave out the unchanged documents.
    """
    shown = [c for c in changes if not (only_changes and c.status == "unchanged")]
    if not shown:
        return
    if heading:
        print(heading)
    for change in sorted(shown, key=lambda c: (c.school, c.document)):
        if change.status == "failed":
            print(f"  FAILED    {_describe(change)}: {change.reason}")
        elif change.status == "kept":
            print(f"  KEPT      {_describe(change)}: previous version still served ({change.clauses} clauses); {change.reason}")
        else:
            print(f"  {change.status:<9} {_describe(change)}: {change.clauses} clauses")


def print_notes(notes: list[str]) -> None:
    """Print the remarks that did not stop ingest (legacy encodings, metadata disagreements), if any."""
    if notes:
        print("Notes:")
        for note in notes:
            print(f"  - {note}")


def print_index_listing(manifest: Manifest, generation_name: str, index_dir: Path, today: dt.date, out: TextIO) -> None:
    """Print the served index: per school, each document's format, pages, clauses, dates and title.

    A next-review date before ``today``'s month is marked ``(overdue)``.

    Args:
        manifest: the served generation's manifest.
        generation_name: the generation's name (``gen-…``), shown in the first line.
        index_dir: the index folder, shown in the first line.
        today: the date the overdue check is made against.
        out: the stream written to.
    """
    print(f"Index {generation_name} (built {manifest.created or '?'}) in {index_dir}", file=out)
    header = ("document", "format", "clauses", "adopted", "last reviewed", "next review")
    for school_id, school in sorted(manifest.schools.items()):
        rows = []
        for doc_id, doc in sorted(school.documents.items()):
            fmt = doc.format or "text"
            if doc.pages:
                fmt += f", {doc.pages} pp"
            due = doc.next_review
            overdue = bool(due) and _before(due, today)
            rows.append(
                (
                    doc_id,
                    fmt,
                    str(doc.clauses),
                    doc.adopted or "-",
                    doc.last_reviewed or "-",
                    (due or "-") + (" (overdue)" if overdue else ""),
                )
            )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        print(f"\n{school_id}: {school.name} ({len(rows)} documents, {school.clauses} clauses)", file=out)
        print("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), file=out)
        for row, (_doc_id, doc) in zip(rows, sorted(school.documents.items()), strict=True):
            print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)
            print(f"    {doc.title}", file=out)


def _before(date: str, today: dt.date) -> bool:
    """True when an ISO date (YYYY, YYYY-MM or YYYY-MM-DD) is wholly before ``today``'s month."""
    year = int(date[:4])
    month = int(date[5:7]) if len(date) >= 7 else 12
    return (year, month) < (today.year, today.month)
