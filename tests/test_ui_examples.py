"""The example questions the staff chat and the parent widget offer, asked at the school that offers them.

Each school lists its own examples in its ``school.toml`` (``[[examples]]``, `assistant.examples`),
each with the verdict a person read in that school's policy and words of the clause that
settles it. Every listed example is asked here as its surface asks it (staff in the chat,
parent in the widget) and must be answered in the "answer" band with that verdict, citing that
clause first: an example a person clicks must not mislead them. The pages must offer exactly
the school's own examples, and a malformed ``[[examples]]`` entry is a clear ingest error.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_helpers import create_app

from assistant.errors import CorpusError
from assistant.examples import SURFACES, ExampleBook, examples_of, read_examples
from assistant.index import DocumentEntry, SchoolEntry
from assistant.loading import load_school
from assistant.web.settings import WebSettings
from evals.metrics import cites_gold

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SCHOOLS = sorted(p.parent.name for p in CORPUS.glob("*/school.toml"))
EXAMPLES = [(school, example) for school in SCHOOLS for example in read_examples(CORPUS / school / "school.toml")]


@pytest.mark.unit
def test_every_school_offers_examples_on_both_surfaces():
    for school in SCHOOLS:
        listed = read_examples(CORPUS / school / "school.toml")
        for surface in SURFACES:
            assert any(e.surface == surface for e in listed), f"{school} offers no {surface} examples"


@pytest.mark.unit
def test_every_example_quote_lies_inside_one_clause_of_its_school():
    """The expectation was read from the policy: its words must be in the school's own clauses."""
    from assistant.chunking import chunk_document, normalise_for_match

    for school in SCHOOLS:
        clauses = [normalise_for_match(c.display_text) for d in load_school(CORPUS / school).documents for c in chunk_document(d)]
        for example in read_examples(CORPUS / school / "school.toml"):
            assert any(normalise_for_match(example.quote) in c for c in clauses), (school, example.quote)


@pytest.mark.integration
@pytest.mark.parametrize(("school", "example"), EXAMPLES, ids=[f"{s}-{e.surface}-{e.question}" for s, e in EXAMPLES])
def test_example_question_gets_the_expected_verdict_and_clause(bot, school, example):
    answer = bot.ask(example.question, school=school, audience=example.audience)
    assert answer.band == "answer", f"band {answer.band!r} (confidence {answer.confidence}): an offered example must be answered"
    assert answer.verdict == example.verdict, f"verdict {answer.verdict!r}, the policy reads {example.verdict!r}"
    assert answer.citations and cites_gold(answer.citations[0].text, (example.quote,)), (
        f"cited the wrong clause: {answer.citations[0].text if answer.citations else None!r}"
    )


@pytest.mark.integration
def test_the_widget_offers_exactly_its_schools_widget_examples(index_dir, bot):
    app = create_app(WebSettings(index_dir=index_dir, reload_interval=0), assistant=bot)
    with TestClient(app) as client:
        for school in SCHOOLS:
            page = client.get("/widget", params={"school": school}).text
            offered = [e.question for e in read_examples(CORPUS / school / "school.toml") if e.surface == "widget"]
            shown = [html.unescape(b) for b in re.findall(r'<button type="button" class="pa-example">(.*?)</button>', page)]
            assert shown == offered, school


@pytest.mark.unit
def test_a_school_without_examples_offers_none_and_a_changed_file_is_reread(tmp_path):
    folder = tmp_path / "glais"
    shutil.copytree(CORPUS / "glais", folder)
    meta = SchoolEntry(
        name="Glais", documents={"d": DocumentEntry(title="Policy", path=str(folder / "policy.txt"), fingerprint="f", clauses=1)}
    )
    book = ExampleBook()
    assert book.examples(meta, "chat")
    toml = folder / "school.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text[: text.index("[[examples]]")], encoding="utf-8")
    assert book.examples(meta, "chat") == () and book.examples(meta, "widget") == ()
    assert book.examples(SchoolEntry(name="Nowhere", documents={}), "widget") == ()
    assert book.examples(None, "widget") == ()  # a school the index does not serve
    with pytest.raises(ValueError, match="surface"):
        book.examples(meta, "email")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"surface": "sms", "question": "Can I?", "verdict": "no", "quote": "x"}, "surface must be one of"),
        ({"surface": "chat", "question": " ", "verdict": "no", "quote": "x"}, "question must be 1 to 60"),
        ({"surface": "chat", "question": "Can I?" * 30, "verdict": "no", "quote": "x"}, "question must be 1 to 60"),
        ({"surface": "chat", "question": "Can I?", "verdict": "maybe", "quote": "x"}, "verdict must be one of"),
        ({"surface": "chat", "question": "Can I?", "verdict": "not_covered", "quote": "x"}, "verdict must be one of"),
        ({"surface": "chat", "question": "Can I?", "verdict": "no"}, "quote must give words"),
        ({"surface": "chat", "question": "Can I?", "verdict": "no", "quote": "x", "answer": "no"}, "unknown keys"),
    ],
)
def test_a_malformed_example_is_a_corpus_error_naming_the_file_and_entry(tmp_path, entry, message):
    path = tmp_path / "school.toml"
    with pytest.raises(CorpusError, match=message) as error:
        examples_of({"examples": [entry]}, path)
    assert "school.toml" in str(error.value) and "entry 1" in str(error.value)


@pytest.mark.unit
def test_too_many_examples_on_one_surface_is_a_corpus_error(tmp_path):
    entry = {"surface": "widget", "question": "Can I?", "verdict": "no", "quote": "x"}
    with pytest.raises(CorpusError, match="at most 6 examples"):
        examples_of({"examples": [entry] * 7}, tmp_path / "school.toml")


@pytest.mark.unit
def test_ingest_refuses_a_school_whose_examples_are_malformed(tmp_path):
    folder = tmp_path / "glais"
    shutil.copytree(CORPUS / "glais", folder)
    toml = folder / "school.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8") + '\n[[examples]]\nsurface = "chat"\nquestion = "Can I?"\nverdict = "maybe"\nquote = "x"\n'
    )
    with pytest.raises(CorpusError, match="verdict must be one of"):
        load_school(folder)
