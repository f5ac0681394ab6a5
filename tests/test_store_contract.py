"""One contract, two stores: a ``gen-*`` folder (`LocalStore`) and a real ``chroma run`` server (`ChromaServerStore`).

Every test here runs against both stores (the ``store`` fixture): the local one is an
``integration`` test (an embedded Chroma store in this process), the server one a ``system``
test (a ``chroma run`` subprocess, started as ``tests/test_chroma_server.py`` starts it). What
one store does, the other must do the same way: the code above them (`assistant.index.build`,
`assistant.index.generation`) never asks which one it has.

The ``Manifest`` tests at the end are ``unit`` tests: the typed manifest reads the JSON of
every generation format and writes it back unchanged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from server_helpers import free_port, stop
from test_chroma_server import server_env, start_chroma

from assistant.errors import IndexCorruptError, IndexNotFoundError
from assistant.index import (
    SERVER_POINTER,
    ChromaServerStore,
    DocumentEntry,
    LocalStore,
    Manifest,
    ManifestError,
    SchoolEntry,
    check_generation,
    document_text_file,
    open_generation,
    read_clauses,
    read_generation_text,
    read_manifest,
    read_manifest_dict,
    read_school_clauses,
    school_collection_configuration,
    school_collection_name,
    verify_generation,
)
from assistant.index.build import remove_crashed_leftovers
from assistant.index.chroma import chroma_client, collection_names
from assistant.trained_vectors import decode_record, encode_record, trained_vectors_file
from assistant.types import Clause

SCHOOLS = ("glais", "st-michaels")
ENCODER = "sha256:" + "1" * 32


# --- the two stores --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory) -> Iterator[int]:
    """A real Chroma server (``chroma run``) on a free port, for this module."""
    root = tmp_path_factory.mktemp("contract-chroma")
    port = free_port()
    proc = start_chroma(root / "data", port, root / "chroma.log")
    try:
        yield port
    finally:
        stop(proc)


@pytest.fixture(
    params=[pytest.param("local", marks=pytest.mark.integration), pytest.param("server", marks=pytest.mark.system)],
)
def store(request, tmp_path) -> Iterator[LocalStore | ChromaServerStore]:
    """An empty store of each kind: a fresh index folder, or the server with every generation and pointer removed."""
    if request.param == "local":
        yield LocalStore(tmp_path / "index")
        return
    with server_env(request.getfixturevalue("chroma_port")):
        client = chroma_client()
        for name in collection_names(client):
            client.delete_collection(name)
        yield ChromaServerStore()


def clause(school: str, n: int) -> Clause:
    """A clause record of ``school`` (no model: the store keeps whatever it is given)."""
    text = f"Rule {n} of {school}: staff must not share photographs of pupils on personal social media accounts."
    return Clause(school, "photos", "Photography Policy", "Photographs › Sharing", n, f"{school[:4]}{n:04d}", text, "", 0, len(text))


def manifest_of(name: str) -> Manifest:
    """The manifest of a generation serving ``SCHOOLS``, one document each, in the current format."""
    schools = {
        school: SchoolEntry(
            f"{school.title()} School",
            {
                "photos": DocumentEntry(
                    title="Photography Policy",
                    path=f"/corpus/{school}/photos.txt",
                    file="photos.txt",
                    format="text",
                    text_file=document_text_file(school, "photos"),
                    sha256="0" * 64,
                    fingerprint="f" * 64,
                    clauses=3,
                    adopted="2024-09-01",
                    audiences=("staff", "parent"),
                )
            },
            ("https://www.example.org",),
        )
        for school in SCHOOLS
    }
    return Manifest(schools, name, "2026-01-01T00:00:00+0000", "minilm:test", "6", "collection-per-school", 2, ENCODER)


def write(store, finished: bool = True, collections: bool = True):
    """Write a whole generation of ``SCHOOLS`` to ``store`` as ingest does: vectors, records, manifest last.

    Returns:
        (generation, manifest, clauses by school, texts by path).
    """
    generation = store.generation(f"gen-test-{uuid.uuid4().hex[:12]}")
    store.create(generation)
    clauses = {school: [clause(school, n) for n in range(1, 4)] for school in SCHOOLS}
    if collections:
        client = store.client(generation)
        for school, found in clauses.items():
            collection = client.create_collection(
                school_collection_name(generation.name, school),
                configuration=school_collection_configuration(len(found)),
                embedding_function=None,
            )
            collection.add(
                ids=[c.clause_id for c in found], embeddings=np.eye(len(found), 4, dtype=np.float32), documents=[c.text for c in found]
            )
    texts = {document_text_file(school, "photos"): f"The photography policy of {school} — “quoted”.\n" for school in SCHOOLS}
    vectors = np.arange(3 * 8, dtype=np.float32).reshape(3, 8)
    texts.update({trained_vectors_file(school): encode_record(ENCODER, found, vectors) for school, found in clauses.items()})
    manifest = manifest_of(generation.name)
    lines = {school: "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in found) for school, found in clauses.items()}
    if finished:
        store.write_records(generation, texts, lines, manifest.to_json())
    return generation, manifest, clauses, texts


# --- the contract ----------------------------------------------------------------------------------


def test_a_written_generation_reads_back_its_texts_clause_records_and_manifest(store):
    generation, manifest, clauses, texts = write(store)
    assert store.is_finished(generation)
    for rel, text in texts.items():
        assert read_generation_text(generation, rel) == text
    assert read_generation_text(generation, document_text_file("glais", "no-such-document")) is None
    for school in SCHOOLS:
        assert read_school_clauses(generation, school) == clauses[school]
    assert read_clauses(generation) == [c for school in sorted(SCHOOLS) for c in clauses[school]]
    assert read_manifest(generation) == manifest
    assert read_manifest_dict(generation) == json.loads(manifest.to_json())
    assert store.read_manifest_text(generation) == manifest.to_json()


def test_trained_vector_records_read_back_as_the_vectors_written(store):
    generation, _, clauses, _ = write(store)
    for school in SCHOOLS:
        decoded = decode_record(read_generation_text(generation, trained_vectors_file(school)), ENCODER)
        assert list(decoded) == [c.clause_id for c in clauses[school]]
        assert np.array_equal(np.stack([vector for _, vector in decoded.values()]), np.arange(24, dtype=np.float32).reshape(3, 8))


def test_a_generation_serves_only_once_the_pointer_switches_to_it(store):
    with pytest.raises(IndexNotFoundError):
        open_generation(getattr(store, "index_dir", Path("unused")))
    assert store.current() is None
    first, _, _, _ = write(store)
    assert store.current() is None  # finished, but not served yet
    store.switch_to(first, None)
    assert store.current() == first
    before = time.time()
    second, _, _, _ = write(store)
    store.switch_to(second, first)
    assert store.current() == second
    assert store.last_changed(second) >= before - 2  # (a folder's mtime has a coarser clock)


def test_generations_are_listed_and_deleted_whole(store):
    first, _, _, _ = write(store)
    second, _, _, _ = write(store)
    assert {first.name, second.name} <= store.generation_names()
    store.delete(first)
    assert first.name not in store.generation_names() and second.name in store.generation_names()
    with pytest.raises(IndexCorruptError, match=r"is corrupt \(.*\): rebuild it with `python ingest.py`"):
        read_manifest(first)
    assert read_manifest(second).generation == second.name


def test_an_unfinished_generation_is_never_served_and_is_removed_as_a_crashed_leftover(store):
    served, _, _, _ = write(store)
    store.switch_to(served, None)
    unfinished, _, _, _ = write(store, finished=False)
    assert not store.is_finished(unfinished) and unfinished.name in store.generation_names()
    with pytest.raises(IndexCorruptError):
        read_manifest(unfinished)
    remove_crashed_leftovers(store)
    assert store.generation_names() == {served.name} and store.current() == served


def test_checks_find_a_missing_school_collection_and_missing_clause_records(store):
    generation, manifest, _, _ = write(store)
    verify_generation(generation, manifest)
    check_generation(generation, manifest)
    with pytest.raises(IndexCorruptError, match=r"no clause records for nowhere|clauses/nowhere\.jsonl cannot be read"):
        read_school_clauses(generation, "nowhere")
    store.client(generation).delete_collection(school_collection_name(generation.name, "glais"))
    with pytest.raises(IndexCorruptError, match=r"no vectors for 1 school\(s\), e.g. glais"):
        verify_generation(generation, manifest)


def test_the_server_pointer_is_a_collection_and_a_folder_pointer_a_file(store):
    generation, _, _, _ = write(store)
    store.switch_to(generation, None)
    if isinstance(store, LocalStore):
        assert (store.index_dir / "CURRENT").read_text(encoding="utf-8") == generation.name + "\n"
    else:
        assert chroma_client().get_collection(SERVER_POINTER).metadata["current"] == generation.name


# --- the typed manifest (unit) ---------------------------------------------------------------------

#: A manifest as the first ingest wrote it: no layout, store format, widget origins, file
#: names, formats, pages, text files or trained vectors.
OLD_MANIFEST = json.dumps(
    {
        "generation": "gen-20250101-000000",
        "created": "2025-01-01T00:00:00+0000",
        "model": "minilm",
        "pipeline_version": "1",
        "schools": {
            "glais": {
                "name": "Glais Primary – Ysgol Gynradd",
                "documents": {
                    "photos": {
                        "title": "Photography",
                        "path": "corpus/glais/photos.txt",
                        "sha256": "ab",
                        "fingerprint": "cd",
                        "clauses": 12,
                        "adopted": None,
                        "last_reviewed": "2024-01-01",
                        "next_review": None,
                        "audiences": ["parent"],
                        "a key from elsewhere": {"kept": True},
                    }
                },
            }
        },
    },
    indent=2,
    ensure_ascii=False,
)


@pytest.mark.unit
def test_an_old_manifest_reads_with_its_defaults_and_writes_back_byte_for_byte():
    manifest = Manifest.from_dict(json.loads(OLD_MANIFEST))
    assert manifest.layout is None and manifest.store_format == 1 and not manifest.current_format
    assert manifest.trained_vectors is None and manifest.schools["glais"].widget_origins == ()
    document = manifest.schools["glais"].documents["photos"]
    assert (document.clauses, document.file, document.text_file, document.audiences) == (12, None, None, ("parent",))
    assert manifest.to_json() == OLD_MANIFEST


@pytest.mark.unit
def test_a_manifest_built_in_code_writes_the_keys_in_ingests_order():
    data = json.loads(manifest_of("gen-x").to_json())
    assert list(data) == ["generation", "created", "model", "pipeline_version", "layout", "store_format", "schools", "trained_vectors"]
    assert list(data["schools"]["glais"]) == ["name", "widget_origins", "documents"]
    assert list(data["schools"]["glais"]["documents"]["photos"]) == list(DocumentEntry.KEYS)
    assert Manifest.from_dict(data) == manifest_of("gen-x") and Manifest.from_dict(data).to_dict() == data


@pytest.mark.unit
@pytest.mark.parametrize(
    ("broken", "where"),
    [
        ({"generation": "gen-x"}, "schools"),
        ({"schools": {"glais": {"documents": {}}}}, "name"),
        ({"schools": {"glais": {"name": "Glais", "documents": {"photos": {"title": "T", "path": "p", "fingerprint": "f"}}}}}, "clauses"),
    ],
)
def test_a_manifest_without_a_required_key_is_refused(broken, where):
    with pytest.raises(ManifestError, match=where):
        Manifest.from_dict(broken)
