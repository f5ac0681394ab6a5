"""Corpus loading: discover schools (one folder each) and read their policy documents.

Layout::

    corpus/<school-id>/school.toml        # name = "…"; [documents.<doc-id>] title, dates
    corpus/<school-id>/<doc-id>.txt|.md   # one policy document per file

Adding a school is adding a folder; no code names a school.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

from .errors import CorpusError
from .types import AUDIENCES, PolicyDocument, School

METADATA_FILE = "school.toml"
TEXT_SUFFIXES = (".txt", ".md")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES
_SCHOOL_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_DATE_FIELDS = ("adopted", "last_reviewed", "next_review")


def read_text_file(path: Path) -> tuple[str, str]:
    """Read a policy text file as UTF-8 (a BOM is dropped).

    Returns:
        ``(text, sha256)``: the decoded text and the hex SHA-256 of the file's bytes.

    Raises:
        CorpusError: the file is unreadable, empty (or whitespace only), binary (has NUL
            bytes), or not valid UTF-8 text. The message names the file and the reason.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if b"\x00" in raw:
        raise CorpusError(path, "is a binary file, not text (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(path, f"is not UTF-8 text (undecodable byte at offset {exc.start})") from exc
    if not text.strip():
        raise CorpusError(path, "is empty")
    return text, hashlib.sha256(raw).hexdigest()


def _read_metadata(folder: Path) -> dict:
    meta_path = folder / METADATA_FILE
    if not meta_path.exists():
        raise CorpusError(meta_path, f"is missing: every school folder needs a {METADATA_FILE} with its name")
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(meta_path, f"is not valid TOML ({exc})") from exc
    if not isinstance(meta.get("name"), str) or not meta["name"].strip():
        raise CorpusError(meta_path, 'has no school name (add: name = "…")')
    docs = meta.get("documents", {})
    if not isinstance(docs, dict):
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


def _title_from_id(doc_id: str) -> str:
    return doc_id.replace("-", " ").replace("_", " ").strip().capitalize()


def load_school(folder: Path) -> School:
    """Load one school folder.

    Returns:
        the `School` with its documents sorted by document id.

    Raises:
        CorpusError: a bad folder name, missing/invalid ``school.toml``, an unreadable
            document, or a folder with no policy documents.
    """
    school_id = folder.name
    if not _SCHOOL_ID.match(school_id):
        raise CorpusError(folder, "school folder names must be lower-case letters, digits and hyphens")
    meta = _read_metadata(folder)
    docs_meta = meta.get("documents", {})
    documents = []
    for path in sorted(folder.iterdir()):
        if path.name == METADATA_FILE or path.name.startswith(".") or path.is_dir():
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise CorpusError(path, f"has an unsupported file type {path.suffix!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})")
        doc_id = path.stem
        doc_meta = docs_meta.get(doc_id, {})
        text, sha256 = read_text_file(path)
        documents.append(
            PolicyDocument(
                school=school_id,
                document=doc_id,
                title=doc_meta.get("title") or _title_from_id(doc_id),
                path=str(path),
                text=text,
                sha256=sha256,
                adopted=doc_meta.get("adopted"),
                last_reviewed=doc_meta.get("last_reviewed"),
                next_review=doc_meta.get("next_review"),
                audiences=tuple(doc_meta.get("audiences", ())),
            )
        )
    if not documents:
        raise CorpusError(folder, "has no policy documents")
    return School(school=school_id, name=meta["name"].strip(), documents=tuple(documents))


def load_corpus(corpus_dir: Path) -> list[School]:
    """Load every school folder under ``corpus_dir``, sorted by school id.

    Raises:
        CorpusError: ``corpus_dir`` is missing or holds no school folder, or any school
            fails to load (see `load_school`). All problems are collected first and
            reported together, one per line, so a person can fix them in one go.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(corpus_dir, "is not a folder")
    schools, problems = [], []
    for folder in sorted(p for p in corpus_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            schools.append(load_school(folder))
        except CorpusError as exc:
            problems.append(exc)
    if problems:
        if len(problems) == 1:
            raise problems[0]
        raise CorpusError(corpus_dir, "has problems:\n" + "\n".join(f"  - {p}" for p in problems))
    if not schools:
        raise CorpusError(corpus_dir, "holds no school folders")
    return schools
