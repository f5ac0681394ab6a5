"""Print a school's clauses as the chunker splits them (to write gold quotes against).

    python -m training.show_clauses SCHOOL

One block per clause: ``[n] section`` then the clause as quoted (lead-in + text). A gold
quote must be a substring of one block (after lower-casing and collapsing whitespace).
"""

from __future__ import annotations

import sys

from assistant.chunking import chunk_document
from assistant.loading import load_school

from .verify import school_folder


def main(argv: list[str] | None = None) -> int:
    """Print ``SCHOOL``'s clauses; exit status 2 for an unknown school."""
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1 or school_folder(args[0]) is None:
        print("usage: python -m training.show_clauses SCHOOL (a folder of training/corpus/ or corpus/)", file=sys.stderr)
        return 2
    school = load_school(school_folder(args[0]))
    n = 0
    for doc in school.documents:
        print(f"##### document {doc.document}: {doc.title}")
        for clause in chunk_document(doc, school.name):
            n += 1
            print(f"[{n}] {clause.section or '(no section)'}\n    {clause.display_text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
