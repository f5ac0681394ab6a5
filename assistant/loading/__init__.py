r"""Corpus loading: discover schools (one folder each) and read their policy documents.

Layout::

    corpus/<school-id>/school.toml                        # name = "…"; widget_origins = [...]; [documents.<doc-id>] title, dates
    corpus/<school-id>/<doc-id>.pdf|.docx|.html|.htm|.md|.txt   # one policy document per file

Adding a school is adding a folder; no code names a school. Each file goes through
`assistant.formats.extract`, which returns markdown-like text for the chunker.

Document metadata: ``school.toml`` wins; where it gives no title or date, the document
itself is read ("Next Review November 2018", "Agreed: March 2016", "first drawn up and
agreed by governors in November 2015", a document title property or title heading).

`scan_corpus` reads everything it can and collects every bad file with its reason;
`load_corpus` and `load_school` raise on the first/any problem instead.

Only what is really inside the corpus folder is read: a symbolic link (a school folder,
its ``school.toml`` or a document) is a bad file, whatever it points at, and so is a file
name that is not UTF-8 (reported escaped, ``caf\xe9.txt``).

Modules:

* `assistant.loading.scan`: `scan_corpus`/`scan_school` (collect problems) and
  `load_corpus`/`load_school` (raise them); the corpus-folder checks;
* `assistant.loading.school_toml`: reading and checking ``school.toml`` (`read_metadata`,
  `widget_origins_of`);
* `assistant.loading.stated`: the dates and title a document states about itself
  (`dates_from_text`, `title_from_text`).

Everything other modules use is importable from ``assistant.loading`` itself.
"""

from ..formats import SUPPORTED_SUFFIXES
from .scan import (
    BANK_FILE,
    TEXT_SUFFIXES,
    CorpusScan,
    SchoolScan,
    load_corpus,
    load_school,
    max_file_bytes,
    read_text_file,
    scan_corpus,
    scan_school,
)
from .school_toml import METADATA_FILE, ORIGIN, read_metadata, read_widget_origins, widget_origins_of
from .stated import DATE_FIELDS, dates_from_text, title_from_text

__all__ = [
    "BANK_FILE",
    "DATE_FIELDS",
    "METADATA_FILE",
    "ORIGIN",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "CorpusScan",
    "SchoolScan",
    "dates_from_text",
    "load_corpus",
    "load_school",
    "max_file_bytes",
    "read_metadata",
    "read_text_file",
    "read_widget_origins",
    "scan_corpus",
    "scan_school",
    "title_from_text",
    "widget_origins_of",
]
