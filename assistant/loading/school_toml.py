"""``school.toml``: the file a school folder describes itself in, read and checked at ingest.

It gives the school's display name and, optionally, the sites allowed to embed its widget
(``widget_origins``), its contacts (`assistant.contacts`), its example questions
(`assistant.examples`) and, per document (``[documents.<doc-id>]``), a title, the policy
dates and the audiences. Serving re-reads some of these without a re-ingest
(`assistant.school_files`).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ..contacts import contacts_of
from ..errors import CorpusError
from ..examples import examples_of
from ..school_files import read_school_toml
from ..types import AUDIENCES
from .stated import DATE_FIELDS

METADATA_FILE = "school.toml"
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

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


def read_metadata(meta_path: Path) -> dict:
    """Read and check a school folder's ``school.toml`` (its path already checked to be inside the corpus).

    Args:
        meta_path: ``corpus/<school-id>/school.toml``.

    Returns:
        the parsed TOML as a dict: ``name`` (a non-empty string), and where present
        ``widget_origins``, ``contacts``, ``examples`` and ``documents`` (one table per
        document id: ``title``, the `DATE_FIELDS` as YYYY, YYYY-MM or YYYY-MM-DD, ``audiences``).

    Raises:
        CorpusError: the file is missing, is not UTF-8 TOML, has no school name, or a key is
            malformed (widget origins, contacts, examples, a document's dates or audiences);
            the message names the file and the bad key.
    """
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
        for key in DATE_FIELDS:
            value = doc_meta.get(key)
            if value is not None and not (isinstance(value, str) and _DATE.match(value)):
                raise CorpusError(meta_path, f"documents.{doc_id}.{key} = {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
        unknown = set(doc_meta.get("audiences", ())) - set(AUDIENCES)
        if unknown:
            raise CorpusError(meta_path, f"documents.{doc_id}.audiences has unknown roles {sorted(unknown)} (use {', '.join(AUDIENCES)})")
    return meta
