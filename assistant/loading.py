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
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .contacts import contacts_of
from .errors import CorpusError, printable
from .examples import examples_of
from .formats import DEFAULT_MAX_BYTES, SUPPORTED_SUFFIXES, extract
from .school_files import read_school_toml
from .types import AUDIENCES, PolicyDocument, School

METADATA_FILE = "school.toml"
#: The school's own question bank (issue 18, `assistant.school_bank`): kept beside its policies, never ingested.
BANK_FILE = "questions.jsonl"
TEXT_SUFFIXES = (".txt", ".md")
_SCHOOL_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_DATE_FIELDS = ("adopted", "last_reviewed", "next_review")


def read_text_file(path: Path) -> tuple[str, str]:
    """Read a policy text file: UTF-8 (a BOM is dropped) or a detected legacy encoding.

    Returns:
        ``(text, sha256)``: the decoded text and the hex SHA-256 of the file's bytes.

    Raises:
        CorpusError: the file is unreadable, empty (or whitespace only), binary, or in no
            encoding that can be detected. The message names the file and the reason.
    """
    result = extract(Path(path), max_bytes=max_file_bytes())
    if not result.text.strip():
        raise CorpusError(path, "is empty")
    return result.text, result.sha256


def max_file_bytes() -> int:
    """The configured per-file size limit in bytes (``ASSISTANT_MAX_FILE_MB``, default 20 MB)."""
    from .config import get_settings

    try:
        return int(get_settings().max_file_mb * 1024 * 1024)
    except Exception:  # a malformed setting must not stop ingest silently: use the default
        return DEFAULT_MAX_BYTES


# --- dates and titles stated in the document -------------------------------------------

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATE_FORMS = [
    rf"(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+(?P<year>(?:19|20)\d{{2}})",
    rf"{_MONTH}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d{{2}})",
    rf"{_MONTH}\.?,?\s+(?P<year>(?:19|20)\d{{2}})",
    r"(?P<year>(?:19|20)\d{2})-(?P<mon>\d{2})(?:-(?P<day>\d{2}))?",
    r"(?P<day>\d{1,2})[/.](?P<mon>\d{1,2})[/.](?P<year>(?:19|20)?\d{2})\b",
    r"(?P<mon>\d{1,2})/(?P<year>(?:19|20)\d{2})",
    r"(?:(?:spring|summer|autumn|winter)(?:\s+term)?\s+)?(?P<year>(?:19|20)\d{2})",
]
_DATE_ALTS = [re.compile(f, re.IGNORECASE) for f in _DATE_FORMS]
_LEAD = r"(?:^|\n)[ \t>*_#-]*(?:(?:this\s+)?policy\s+)?"  # start of a line, after any markdown markup
_SEP = r"[\s*_:–—-]*(?:(?:date|due|on|in|by)\b[\s:–—-]*)*"
_LABELS: list[tuple[str, re.Pattern]] = [
    (
        "next_review",
        re.compile(
            _LEAD
            + r"(?:next\s+review(?:\s+date)?|date\s+of\s+next\s+review|review\s+due|due\s+for\s+review|to\s+be\s+reviewed|review\s+date)"
            + _SEP,
            re.IGNORECASE,
        ),
    ),
    (
        "last_reviewed",
        re.compile(
            _LEAD + r"(?:last\s+reviewed|last\s+review(?:\s+date)?|date\s+of\s+(?:last\s+)?review|(?:date\s+)?reviewed)" + _SEP,
            re.IGNORECASE,
        ),
    ),
    (
        "adopted",
        re.compile(
            _LEAD
            + r"(?:(?:date\s+)?(?:agreed|adopted|approved|ratified)(?:\s+by\s+[^\n\t:]{1,60}?)?|policy\s+date|date\s+of\s+(?:issue|approval|adoption))"
            + _SEP,
            re.IGNORECASE,
        ),
    ),
]
_SENTENCES: list[tuple[str, re.Pattern]] = [
    ("next_review", re.compile(r"\bwill\s+(?:next\s+)?be\s+reviewed\s+(?:again\s+)?(?:in|by|on|before|during)\s+", re.IGNORECASE)),
    (
        "adopted",
        re.compile(
            r"\b(?:drawn\s+up\s+and\s+)?(?:agreed|adopted|approved|ratified)\s+by\s+(?:the\s+)?(?:full\s+)?"
            r"(?:governors|governing\s+body|board\s+of\s+governors|trustees|trust\s+board)\s+(?:in|on)\s+",
            re.IGNORECASE,
        ),
    ),
    ("last_reviewed", re.compile(r"\b(?:was\s+)?last\s+reviewed\s+(?:in|on)\s+", re.IGNORECASE)),
]
# "Approved by  M Pyper  Chair of Governors" on one line, "Date 21/11/17" on the next.
_SIGNED_THEN_DATE = re.compile(
    _LEAD + r"(?:approved|agreed|adopted|ratified|authori[sz]ed)\s+by\b[^\n]*\n(?:[ \t]*\n)?[ \t>*_#-]*date\b[\s:–—-]*", re.IGNORECASE
)


def _parse_date_at(text: str, pos: int) -> str | None:
    """The date that starts at ``text[pos]`` as YYYY, YYYY-MM or YYYY-MM-DD, or None."""
    window = text[pos : pos + 40]
    for form in _DATE_ALTS:
        m = form.match(window)
        if not m:
            continue
        parts = m.groupdict()
        year = int(parts["year"])
        if year < 100:
            year += 2000 if year < 70 else 1900
        month = None
        if parts.get("month"):
            month = _MONTHS[parts["month"].lower()[:3]]
        elif parts.get("mon"):
            month = int(parts["mon"])
        day = int(parts["day"]) if parts.get("day") else None
        if month is not None and not 1 <= month <= 12:
            continue
        if day is not None and not 1 <= day <= 31:
            continue
        if month is None:
            return f"{year:04d}"
        return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")
    return None


def dates_from_text(text: str) -> dict[str, str]:
    """Policy dates a document states about itself.

    Recognises labelled lines ("Next Review November 2018", "Last Reviewed: Nov 2016",
    "Agreed: March 2016", "Reviewed: March 2017", "Approved by … / Date 21/11/17") and
    sentences ("first drawn up and agreed by governors in November 2015", "will be
    reviewed in September 2019"). Dates may be "November 2018", "21 November 2017",
    "21/11/17" (UK day-first), "2018-11", "11/2018" or a year.

    Returns:
        a dict with any of ``adopted`` (earliest found), ``last_reviewed`` and
        ``next_review`` (latest found), each YYYY, YYYY-MM or YYYY-MM-DD.
    """
    found: dict[str, list[str]] = {key: [] for key in _DATE_FIELDS}
    for key, pattern in [*_LABELS, *_SENTENCES, ("adopted", _SIGNED_THEN_DATE)]:
        for m in pattern.finditer(text):
            date = _parse_date_at(text, m.end())
            if date:
                found[key].append(date)
    out = {}
    for key, dates in found.items():
        if dates:
            out[key] = min(dates) if key == "adopted" else max(dates)
    return out


_TITLE_WORDS = re.compile(
    r"\b(polic(y|ies)|code of conduct|procedures?|guidance|agreement|statement|protocol|charter|handbook|guidelines)\b", re.I
)
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with", "&"}
_COMMON_SHORT = {"use", "all", "our", "its", "new", "who", "how", "any", "are", "was", "not", "out", "off", "one", "two"}


def _tidy_caps(title: str) -> str:
    """``"ACCEPTABLE USE POLICY & CODE OF CONDUCT FOR ICT"`` → ``"Acceptable Use Policy & Code of Conduct for ICT"``."""
    letters = [c for c in title if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) / len(letters) < 0.9:
        return title
    words = []
    for i, word in enumerate(title.split()):
        low = word.lower()
        if i and low in _SMALL_WORDS:
            words.append(low)
        elif len(word) <= 3 and word.isalpha() and low not in _COMMON_SHORT and low not in _SMALL_WORDS:
            words.append(word)  # an acronym: ICT, PE, SEN
        else:
            words.append(word[:1] + word[1:].lower())
    return " ".join(words)


def title_from_text(text: str) -> str | None:
    """The policy's title as the document heads it, or None.

    The title block is the headings, bold and ALL-CAPS lines before the first paragraph of
    body text; the title is the first of them that names a policy ("… Policy", "Code of
    Conduct", …). An ALL-CAPS title is set in title case (short acronyms kept).
    """
    from .chunking import clean_markup

    for line in [ln.strip() for ln in text.splitlines() if ln.strip()][:40]:
        if "\t" in line:
            continue  # a signature or date table
        heading = re.match(r"^#{1,6}\s+(.*)$", line) or re.match(r"^\*\*(.+)\*\*$", line)
        plain = clean_markup(heading.group(1) if heading else line)
        letters = [c for c in plain if c.isalpha()]
        caps = bool(letters) and sum(c.isupper() for c in letters) / len(letters) >= 0.9
        if not (heading or caps or len(plain) <= 80):
            return None  # body text: the title block is over
        if (heading or caps) and len(plain) <= 120 and _TITLE_WORDS.search(plain):
            return _tidy_caps(plain.rstrip(":."))
    return None


def _title_from_id(doc_id: str) -> str:
    return doc_id.replace("-", " ").replace("_", " ").strip().capitalize()


# --- schools -----------------------------------------------------------------------------


#: An origin as browsers send it: scheme, host and optional port, nothing else.
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


def widget_origins_of(meta: dict, meta_path: Path) -> tuple[str, ...]:
    """The ``widget_origins`` of a parsed ``school.toml``: the sites allowed to embed the school's widget.

    Each entry is an origin (``https://www.school.sch.uk``, ``http://localhost:8080``; a trailing
    ``/`` is dropped) or ``"*"`` for any site. Returns ``()`` when the key is absent.

    Raises:
        CorpusError: the key is not a list of origins (the message names the bad entry).
    """
    value = meta.get("widget_origins", [])
    if not isinstance(value, list):
        raise CorpusError(meta_path, 'widget_origins must be a list, e.g. widget_origins = ["https://www.school.sch.uk"]')
    origins: list[str] = []
    for entry in value:
        origin = entry.strip().rstrip("/") if isinstance(entry, str) else entry
        if not isinstance(origin, str) or not (origin == "*" or ORIGIN.match(origin)):
            raise CorpusError(meta_path, f"widget_origins entry {entry!r} is not an origin like https://www.school.sch.uk (or *)")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def read_widget_origins(meta_path: Path) -> tuple[str, ...]:
    """``widget_origins`` of the ``school.toml`` at ``meta_path`` (see `widget_origins_of`).

    Raises:
        CorpusError: the file cannot be read, is not TOML, or the key is malformed.
    """
    meta = read_school_toml(meta_path)
    return widget_origins_of(meta, meta_path)


def _outside_corpus(path: Path, root: Path) -> str | None:
    """Why ``path`` is not really inside the corpus folder ``root`` (the reason for a `CorpusError`), or None.

    Every symbolic link is refused, even one pointing inside the corpus: a link publishes
    another file under this school's name, and where it points can change after ingest checked it.
    """
    if path.is_symlink():
        try:
            target = os.readlink(path)
        except OSError as exc:
            target = f"unreadable: {exc.strerror or exc}"
        return (
            f"is a symbolic link (to {target}): ingest reads only files and folders that are really inside the corpus (copy it in instead)"
        )
    # With links refused level by level, this catches a path given outside ``root`` to begin with.
    real, inside = path.resolve(), root.resolve()
    if not real.is_relative_to(inside):
        return f"resolves to {real}, outside the corpus folder {inside}"
    return None


def _read_metadata(folder: Path, root: Path) -> dict:
    meta_path = folder / METADATA_FILE
    outside = _outside_corpus(meta_path, root)
    if outside is not None:
        raise CorpusError(meta_path, outside)
    if not meta_path.exists():
        raise CorpusError(meta_path, f"is missing: every school folder needs a {METADATA_FILE} with its name")
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(meta_path, f"is not valid TOML ({exc})") from exc
    if not isinstance(meta.get("name"), str) or not meta["name"].strip():
        raise CorpusError(meta_path, 'has no school name (add: name = "…")')
    widget_origins_of(meta, meta_path)
    contacts_of(meta, meta_path)  # [contacts.office] / [contacts.dsl] (issue 18)
    examples_of(meta, meta_path)  # [[examples]]: the questions the chat and widget offer (issue 16)
    docs = meta.get("documents", {})
    if not isinstance(docs, dict) or not all(isinstance(d, dict) for d in docs.values()):
        raise CorpusError(meta_path, "[documents] must be a table of tables")
    for doc_id, doc_meta in docs.items():
        for key in _DATE_FIELDS:
            value = doc_meta.get(key)
            if value is not None and not (isinstance(value, str) and _DATE.match(value)):
                raise CorpusError(meta_path, f"documents.{doc_id}.{key} = {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
        unknown = set(doc_meta.get("audiences", ())) - set(AUDIENCES)
        if unknown:
            raise CorpusError(meta_path, f"documents.{doc_id}.audiences has unknown roles {sorted(unknown)} (use {', '.join(AUDIENCES)})")
    return meta


@dataclass
class SchoolScan:
    """What `scan_school` could read of one school folder.

    Attributes:
        school: the school with every document that loaded (None when the folder itself,
            its ``school.toml``, or every document failed).
        problems: one `CorpusError` per bad file or folder, naming it and the reason.
        notes: remarks that did not stop ingest (legacy encoding, metadata disagreements).
        failed: document ids whose file failed; ``whole_school``: the folder or its
            ``school.toml`` failed, so no document of it could be read.
    """

    school_id: str
    school: School | None
    problems: list[CorpusError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    whole_school: bool = False


def scan_school(folder: Path, max_bytes: int | None = None, root: Path | None = None) -> SchoolScan:
    """Read one school folder, collecting problems instead of raising them.

    Args:
        folder: ``corpus/<school-id>``.
        max_bytes: per-file size limit in bytes (default: `max_file_bytes`, from the settings).
        root: the corpus folder, which nothing read may lie outside (default: ``folder``'s parent).

    A symbolic link (the folder itself, its ``school.toml`` or a document) and a document
    whose file name is not UTF-8 are problems like any unreadable file.
    """
    folder = Path(folder)
    root = folder.parent if root is None else Path(root)
    max_bytes = max_file_bytes() if max_bytes is None else max_bytes
    school_id = folder.name
    scan = SchoolScan(school_id, None)
    problem = _outside_corpus(folder, root)
    if problem is None and not _SCHOOL_ID.match(school_id):
        problem = "school folder names must be lower-case letters, digits and hyphens"
    if problem is not None:
        scan.problems.append(CorpusError(folder, problem))
        scan.whole_school = True
        return scan
    try:
        meta = _read_metadata(folder, root)
    except CorpusError as exc:
        scan.problems.append(exc)
        scan.whole_school = True
        return scan
    docs_meta = meta.get("documents", {})
    files = [
        p for p in sorted(folder.iterdir()) if p.name not in (METADATA_FILE, BANK_FILE) and not p.name.startswith(".") and not p.is_dir()
    ]
    # Document ids are printable stems: a name that is not UTF-8 fails below, reported under this id.
    stems: dict[str, list[Path]] = {}
    for path in files:
        stems.setdefault(printable(path.stem), []).append(path)
    documents = []
    for path in files:
        doc_id = printable(path.stem)
        if len(stems[doc_id]) > 1:
            if path == stems[doc_id][0]:
                names = ", ".join(p.name for p in stems[doc_id])
                scan.problems.append(CorpusError(folder / doc_id, f"has more than one file ({names}): keep one file per document"))
                scan.failed.add(doc_id)
            continue
        problem = _outside_corpus(path, root)
        if problem is None and printable(path.name) != path.name:
            # It would become a document id that cannot be hashed, stored or printed (issue 17).
            problem = "has a name that is not valid UTF-8: rename it (letters, digits and hyphens make the best document ids)"
        if problem is not None:
            scan.problems.append(CorpusError(path, problem))
            scan.failed.add(doc_id)
            continue
        try:
            result = extract(path, max_bytes=max_bytes)
        except CorpusError as exc:
            scan.problems.append(exc)
            scan.failed.add(doc_id)
            continue
        scan.notes.extend(result.notes)
        doc_meta = docs_meta.get(doc_id, {})
        stated = dates_from_text(result.text)
        dates = {}
        for key in _DATE_FIELDS:
            given, said = doc_meta.get(key), stated.get(key)
            if given and said and not (given.startswith(said) or said.startswith(given)):
                scan.notes.append(
                    f"{path.name}: {METADATA_FILE} gives {key} = {given} but the document says {said}; "
                    f"using {METADATA_FILE} (edit or remove it there if the document is newer)"
                )
            dates[key] = given or said
        title = doc_meta.get("title") or result.title or title_from_text(result.text) or _title_from_id(doc_id)
        documents.append(
            PolicyDocument(
                school=school_id,
                document=doc_id,
                title=title,
                path=str(path),
                text=result.text,
                sha256=result.sha256,
                adopted=dates["adopted"],
                last_reviewed=dates["last_reviewed"],
                next_review=dates["next_review"],
                audiences=tuple(doc_meta.get("audiences", ())),
                source_format=result.format,
                page_starts=result.page_starts,
            )
        )
    if not files:
        scan.problems.append(CorpusError(folder, "has no policy documents"))
        scan.whole_school = True
    if documents:
        scan.school = School(
            school=school_id,
            name=meta["name"].strip(),
            documents=tuple(documents),
            widget_origins=widget_origins_of(meta, folder / METADATA_FILE),
        )
    return scan


def load_school(folder: Path, max_bytes: int | None = None) -> School:
    """Load one school folder.

    Returns:
        the `School` with its documents sorted by document id.

    Raises:
        CorpusError: a bad folder name, missing/invalid ``school.toml``, a document that
            cannot be read (see `assistant.formats.extract`), or no policy documents.
    """
    scan = scan_school(folder, max_bytes)
    if scan.problems:
        raise scan.problems[0]
    assert scan.school is not None
    return scan.school


@dataclass
class CorpusScan:
    """Every school `scan_corpus` could read, and every problem, in school-id order."""

    schools: list[SchoolScan]

    @property
    def problems(self) -> list[CorpusError]:
        """All bad files and folders, each naming the file and the reason."""
        return [p for s in self.schools for p in s.problems]

    @property
    def notes(self) -> list[str]:
        """Remarks that did not stop ingest."""
        return [n for s in self.schools for n in s.notes]

    @property
    def loaded(self) -> list[School]:
        """The schools with at least one readable document."""
        return [s.school for s in self.schools if s.school is not None]


def scan_corpus(corpus_dir: Path, max_bytes: int | None = None) -> CorpusScan:
    """Read every school folder under ``corpus_dir``, collecting problems per file.

    Raises:
        CorpusError: only when ``corpus_dir`` is not a folder or holds no school folder.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(corpus_dir, "is not a folder")
    # A link to a folder counts as a school folder here, so that scan_school reports it rather than skip it.
    folders = sorted(p for p in corpus_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise CorpusError(corpus_dir, "holds no school folders")
    return CorpusScan([scan_school(folder, max_bytes, root=corpus_dir) for folder in folders])


def load_corpus(corpus_dir: Path, max_bytes: int | None = None) -> list[School]:
    """Load every school folder under ``corpus_dir``, sorted by school id.

    Raises:
        CorpusError: ``corpus_dir`` is missing or holds no school folder, or any file or
            school fails to load. All problems are collected first and reported together,
            one per line, so a person can fix them in one go.
    """
    scan = scan_corpus(corpus_dir, max_bytes)
    problems = scan.problems
    if problems:
        if len(problems) == 1:
            raise problems[0]
        raise CorpusError(corpus_dir, "has problems:\n" + "\n".join(f"  - {p}" for p in problems))
    return scan.loaded


__all__ = [
    "METADATA_FILE",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "CorpusScan",
    "SchoolScan",
    "dates_from_text",
    "load_corpus",
    "load_school",
    "read_text_file",
    "scan_corpus",
    "scan_school",
    "title_from_text",
]
