"""A generation's manifest: which schools and documents it serves, and how it was built.

The manifest is ``manifest.json`` in a generation folder (the ``manifest`` record of the
meta collection on a Chroma server), written last: a generation without one is unfinished.
On disk it is the JSON `Manifest.to_dict` gives, ``indent=2``, non-ASCII kept::

    {"generation": "gen-…", "created": "2026-…", "model": "minilm:0.5+mpnet:1",
     "pipeline_version": "6", "layout": "collection-per-school", "store_format": 2,
     "schools": {"<school id>": {"name": …, "widget_origins": […],
                                 "documents": {"<document id>": {"title": …, "path": …, …}}}},
     "trained_vectors": "<encoder id>"}   # only when the trained stage's vectors are stored

Older generations lack some keys (``layout``, ``store_format``, ``widget_origins``, a
document's ``file``/``format``/``pages``/``text_file``, ``trained_vectors``). The typed
entries remember which keys their JSON had, and in what order, so a manifest read and
written again is the same JSON (a document that failed ingest under ``allow_partial`` keeps
its previous entry as it was).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .store import STORE_FORMAT, Generation, store_of

#: Manifest ``layout`` of generations with one collection per school.
LAYOUT = "collection-per-school"
#: The single collection of generations built before per-school collections (still readable).
COLLECTION = "clauses"

__all__ = ["COLLECTION", "LAYOUT", "STORE_FORMAT", "DocumentEntry", "Manifest", "SchoolEntry", "read_manifest", "read_manifest_dict"]


class ManifestError(ValueError):
    """The JSON is not a manifest (a required key is missing or of the wrong type)."""


def _require(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(data, Mapping) or key not in data or not isinstance(data[key], kind):
        raise ManifestError(f"{where}: {key!r} missing or not {kind}")
    return data[key]


def _to_dict(entry, keys: tuple[str, ...], extra: Mapping[str, Any], convert: dict[str, Any]) -> dict:
    """The JSON object of ``entry``: its ``keys`` in order, field values (``convert``ed) or preserved ``extra``."""
    names = {f.name for f in fields(entry)}
    out = {}
    for key in keys:
        if key in convert:
            out[key] = convert[key]
        elif key in names:
            out[key] = getattr(entry, key)
        else:
            out[key] = extra[key]
    return out


@dataclass(frozen=True)
class DocumentEntry:
    """One served document (``schools.<id>.documents.<id>`` of the manifest).

    Attributes:
        title: the document's title; path: its source file as ingested (absolute or as given).
        fingerprint: SHA-256 hex of everything its clauses depend on (see `assistant.index.plan`).
        clauses: how many clauses it serves.
        sha256: SHA-256 hex of its source bytes (None in a manifest that lacks it).
        file: the source file's name; format: ``text``/``pdf``/``docx``/``html``;
        pages: page count of a PDF; text_file: where its extracted text is stored inside the
            generation (None before texts were stored).
        adopted, last_reviewed, next_review: ISO dates from its front matter, or None.
        audiences: the audiences it addresses.
        keys: the JSON keys, in order, that `to_dict` writes; extra: keys this code does not know, kept.
    """

    title: str
    path: str
    fingerprint: str
    clauses: int
    sha256: str | None = None
    file: str | None = None
    format: str | None = None
    pages: int | None = None
    text_file: str | None = None
    adopted: str | None = None
    last_reviewed: str | None = None
    next_review: str | None = None
    audiences: tuple[str, ...] = ()
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    #: The key order ingest writes.
    KEYS = (
        "title",
        "path",
        "file",
        "format",
        "pages",
        "text_file",
        "sha256",
        "fingerprint",
        "clauses",
        "adopted",
        "last_reviewed",
        "next_review",
        "audiences",
    )

    def __post_init__(self) -> None:
        """Give an entry built in code the key order ingest writes."""
        if not self.keys:
            object.__setattr__(self, "keys", self.KEYS)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "document") -> DocumentEntry:
        """Read a document entry.

        Raises:
            ManifestError: ``title``, ``path``, ``fingerprint`` or ``clauses`` is missing or mistyped.
        """
        for key, kind in (("title", str), ("path", str), ("fingerprint", str), ("clauses", int)):
            _require(data, key, kind, where)
        known = {f.name for f in fields(cls)} - {"keys", "extra"}
        values = {k: v for k, v in data.items() if k in known}
        values["audiences"] = tuple(values.get("audiences") or ())
        return cls(**values, keys=tuple(data), extra={k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict:
        """The entry as the manifest's JSON holds it (``audiences`` as a list)."""
        return _to_dict(self, self.keys, self.extra, {"audiences": list(self.audiences)})


@dataclass(frozen=True)
class SchoolEntry:
    """One served school (``schools.<id>`` of the manifest).

    Attributes:
        name: the school's display name.
        documents: document id → `DocumentEntry`, in the manifest's order.
        widget_origins: origins the school's ``school.toml`` lets embed the chat widget.
        keys, extra: as for `DocumentEntry`.
    """

    name: str
    documents: Mapping[str, DocumentEntry]
    widget_origins: tuple[str, ...] = ()
    keys: tuple[str, ...] = field(default=("name", "widget_origins", "documents"), compare=False, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def clauses(self) -> int:
        """Clauses served for the school, over all its documents."""
        return sum(d.clauses for d in self.documents.values())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "school") -> SchoolEntry:
        """Read a school entry and its documents.

        Raises:
            ManifestError: ``name`` or ``documents`` (or a document's required key) is missing or mistyped.
        """
        name = _require(data, "name", str, where)
        documents = _require(data, "documents", Mapping, where)
        origins = data.get("widget_origins", [])
        if not isinstance(origins, list | tuple):
            raise ManifestError(f"{where}: 'widget_origins' is not a list")
        return cls(
            name=name,
            documents={d: DocumentEntry.from_dict(meta, f"{where}/{d}") for d, meta in documents.items()},
            widget_origins=tuple(origins),
            keys=tuple(data),
            extra={k: v for k, v in data.items() if k not in ("name", "documents", "widget_origins")},
        )

    def to_dict(self) -> dict:
        """The entry as the manifest's JSON holds it."""
        convert = {"documents": {d: e.to_dict() for d, e in self.documents.items()}, "widget_origins": list(self.widget_origins)}
        return _to_dict(self, self.keys, self.extra, convert)


@dataclass(frozen=True)
class Manifest:
    """A generation's manifest (see the module docstring for the JSON).

    Attributes:
        generation: the generation's name; created: when it was written (``%Y-%m-%dT%H:%M:%S%z``).
        model: the embedding model's id (``SentenceEmbeddings.model_id``).
        pipeline_version: ``PIPELINE_VERSION`` of the ingest that built it.
        layout: `LAYOUT`, or None for one shared collection (`COLLECTION`, before per-school collections).
        store_format: 2 = graphs persisted at ingest and clause records per school; 1 before.
        schools: school id → `SchoolEntry`, in the manifest's order.
        trained_vectors: the trained encoder whose clause vectors the generation stores, or None.
        keys, extra: as for `DocumentEntry`.
    """

    schools: Mapping[str, SchoolEntry]
    generation: str = ""
    created: str = ""
    model: str = ""
    pipeline_version: str = ""
    layout: str | None = None
    store_format: int = 1
    trained_vectors: str | None = None
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    #: The key order ingest writes (``trained_vectors`` only when set).
    KEYS = ("generation", "created", "model", "pipeline_version", "layout", "store_format", "schools", "trained_vectors")

    def __post_init__(self) -> None:
        """Give a manifest built in code the key order ingest writes."""
        if not self.keys:
            object.__setattr__(self, "keys", tuple(k for k in self.KEYS if k != "trained_vectors" or self.trained_vectors is not None))

    @property
    def per_school_collections(self) -> bool:
        """Whether each school's vectors have their own collection (`LAYOUT`), not the shared `COLLECTION`."""
        return self.layout == LAYOUT

    @property
    def current_format(self) -> bool:
        """Whether the generation has the layout and store format this code writes."""
        return self.per_school_collections and self.store_format == STORE_FORMAT

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Read a manifest from its parsed JSON.

        Raises:
            ManifestError: ``schools`` (or a school's or document's required key) is missing or mistyped.
        """
        schools = _require(data, "schools", Mapping, "manifest")
        known = {f.name for f in fields(cls)} - {"keys", "extra", "schools"}
        values = {k: v for k, v in data.items() if k in known}
        return cls(
            schools={s: SchoolEntry.from_dict(meta, s) for s, meta in schools.items()},
            **values,
            keys=tuple(data),
            extra={k: v for k, v in data.items() if k not in known and k != "schools"},
        )

    def to_dict(self) -> dict:
        """The manifest as its JSON holds it (the same keys, in the same order, as it was read or built)."""
        return _to_dict(self, self.keys, self.extra, {"schools": {s: e.to_dict() for s, e in self.schools.items()}})

    def to_json(self) -> str:
        """The text of ``manifest.json`` (``indent=2``, non-ASCII kept)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def read_manifest(generation: Generation) -> Manifest:
    """The manifest of a generation.

    Args:
        generation: a ``gen-*`` folder or a `RemoteGeneration`.

    Returns:
        the typed `Manifest`.

    Raises:
        IndexCorruptError: the manifest is missing, not valid JSON, or not a manifest.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    return _read(generation)[0]


def _read(generation: Generation) -> tuple[Manifest, dict]:
    store = store_of(generation)
    text = store.read_manifest_text(generation)
    try:
        data = json.loads(text)
        return Manifest.from_dict(data), data
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise store.corrupt(generation, "manifest.json is truncated or not a manifest") from exc


def read_manifest_dict(generation: Generation) -> dict:
    """The manifest of a generation as its parsed JSON, for code not yet moved to `Manifest`.

    Validated as `read_manifest` validates it; the dict is the JSON as stored.

    Raises:
        IndexCorruptError: the manifest is missing, not valid JSON, or not a manifest.
        IndexUnavailableError: (server mode) the server cannot be reached.
    """
    return _read(generation)[1]
