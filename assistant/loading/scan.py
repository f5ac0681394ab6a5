r"""Scanning the corpus: every school folder, every document file in it, each bad file with its reason.

`scan_school` and `scan_corpus` read everything they can and collect every problem;
`load_school` and `load_corpus` raise on the first/any problem instead. Each document file
goes through `assistant.formats.extract`; its title and dates come from ``school.toml``
(`assistant.loading.school_toml`) or else from the document itself
(`assistant.loading.stated`).

Only what is really inside the corpus folder is read: a symbolic link (a school folder,
its ``school.toml`` or a document) is a bad file, whatever it points at, and so is a file
name that is not UTF-8 (reported escaped, ``caf\xe9.txt``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorpusError, printable
from ..formats import DEFAULT_MAX_BYTES, extract
from ..types import PolicyDocument, School
from .school_toml import METADATA_FILE, read_metadata, widget_origins_of
from .stated import DATE_FIELDS, dates_from_text, title_from_id, title_from_text

#: The plain-text formats among `assistant.formats.SUPPORTED_SUFFIXES`.
TEXT_SUFFIXES = (".txt", ".md")
#: The school's own question bank (issue 18, `assistant.school_bank`): kept beside its policies, never ingested.
BANK_FILE = "questions.jsonl"
_SCHOOL_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


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
    from ..config import get_settings

    try:
        return int(get_settings().max_file_mb * 1024 * 1024)
    except Exception:  # a malformed setting must not stop ingest silently: use the default
        return DEFAULT_MAX_BYTES


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
    """``folder``'s checked ``school.toml`` (`read_metadata`), refused if it is a link or lies outside ``root``."""
    meta_path = folder / METADATA_FILE
    outside = _outside_corpus(meta_path, root)
    if outside is not None:
        raise CorpusError(meta_path, outside)
    return read_metadata(meta_path)


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
        for key in DATE_FIELDS:
            given, said = doc_meta.get(key), stated.get(key)
            if given and said and not (given.startswith(said) or said.startswith(given)):
                scan.notes.append(
                    f"{path.name}: {METADATA_FILE} gives {key} = {given} but the document says {said}; "
                    f"using {METADATA_FILE} (edit or remove it there if the document is newer)"
                )
            dates[key] = given or said
        title = doc_meta.get("title") or result.title or title_from_text(result.text) or title_from_id(doc_id)
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
