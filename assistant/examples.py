"""The example questions a school offers in its staff chat and parent widget (issue 16, item 7).

An example question is an invitation: a person clicks it and expects a right answer. So a
school lists its own, each with the answer a person read in that school's policy, in its
``school.toml``::

    [[examples]]
    surface = "widget"        # "chat" (staff) or "widget" (parents)
    question = "Can my child bring a mobile phone to school?"
    verdict = "conditional"   # yes / no / conditional / info, as the policy reads
    quote = "words copied from the clause that settles it"

`examples_of` validates them at ingest and load (`assistant.loading`): an unknown key or
surface, an empty or over-long question, a verdict that is not one of `EXAMPLE_VERDICTS` or a
missing quote is a `CorpusError` naming the file and the entry. ``tests/test_ui_examples.py``
asks every listed example at its school and checks the band, verdict and cited clause, so an
example that is no longer answered right fails the tests instead of misleading a person. A
school that lists none is offered none (the question box and its placeholder remain).

At serving, `ExampleBook` reads them from the ``school.toml`` beside the school's documents
and re-reads the file when it changes, as `assistant.contacts.ContactBook` reads contacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorpusError
from .school_files import SchoolFileReader, read_school_toml
from .types import ANSWER_VERDICTS

if TYPE_CHECKING:
    from .index import SchoolEntry

#: Where an example is offered: the staff chat or the parent widget.
SURFACES: tuple[str, ...] = ("chat", "widget")
#: The asker's role each surface asks as.
SURFACE_AUDIENCE = {"chat": "staff", "widget": "parent"}
#: Verdicts an example may expect: an example is a question the policy answers.
EXAMPLE_VERDICTS: tuple[str, ...] = ANSWER_VERDICTS
#: At most this many examples per surface (more do not fit the chat or the widget on a phone).
MAX_PER_SURFACE = 6
#: Longest example question, in characters: the staff chat's example buttons (Gradio 6's
#: Textbox examples) cut longer text at 60 characters with "...".
MAX_QUESTION_CHARS = 60
_KEYS = {"surface", "question", "verdict", "quote"}


@dataclass(frozen=True, slots=True)
class ExampleQuestion:
    """One example question a school offers, with the answer a person read in its policy.

    Attributes:
        surface: one of `SURFACES`; question: 1–`MAX_QUESTION_CHARS` characters;
        verdict: one of `EXAMPLE_VERDICTS`; quote: words of the clause that settles it.
    """

    surface: str
    question: str
    verdict: str
    quote: str

    @property
    def audience(self) -> str:
        """The role the surface asks as ("staff" for the chat, "parent" for the widget)."""
        return SURFACE_AUDIENCE[self.surface]


def examples_of(meta: dict, meta_path: Path) -> tuple[ExampleQuestion, ...]:
    """The ``[[examples]]`` of a parsed ``school.toml``, in file order.

    Raises:
        CorpusError: ``examples`` is not an array of tables, or an entry has an unknown key, an
            unknown surface, an empty or over-long question, a verdict outside
            `EXAMPLE_VERDICTS`, no quote; or a surface lists more than `MAX_PER_SURFACE`.
    """
    value = meta.get("examples", [])
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise CorpusError(meta_path, "examples must be an array of tables ([[examples]] with surface, question, verdict, quote)")
    found: list[ExampleQuestion] = []
    for n, entry in enumerate(value, start=1):
        where = f"[[examples]] entry {n}"
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise CorpusError(meta_path, f"{where} has unknown keys {unknown}: use {sorted(_KEYS)}")
        surface, question = entry.get("surface"), entry.get("question")
        verdict, quote = entry.get("verdict"), entry.get("quote")
        if surface not in SURFACES:
            raise CorpusError(meta_path, f"{where}: surface must be one of {list(SURFACES)}, not {surface!r}")
        if not isinstance(question, str) or not question.strip() or len(question) > MAX_QUESTION_CHARS:
            raise CorpusError(meta_path, f"{where}: question must be 1 to {MAX_QUESTION_CHARS} characters")
        if verdict not in EXAMPLE_VERDICTS:
            raise CorpusError(meta_path, f"{where}: verdict must be one of {list(EXAMPLE_VERDICTS)}, not {verdict!r}")
        if not isinstance(quote, str) or not quote.strip():
            raise CorpusError(meta_path, f"{where}: quote must give words of the clause that answers the question")
        found.append(ExampleQuestion(surface, " ".join(question.split()), verdict, quote.strip()))
    for surface in SURFACES:
        if sum(e.surface == surface for e in found) > MAX_PER_SURFACE:
            raise CorpusError(meta_path, f"at most {MAX_PER_SURFACE} examples per surface ({surface!r} lists more)")
    return tuple(found)


def read_examples(meta_path: Path) -> tuple[ExampleQuestion, ...]:
    """`examples_of` the ``school.toml`` at ``meta_path``.

    Raises:
        CorpusError: the file cannot be read or parsed, or its examples are invalid.
    """
    meta = read_school_toml(meta_path)
    return examples_of(meta, meta_path)


class ExampleBook:
    """Each served school's example questions, read from the ``school.toml`` beside its documents.

    The file is read by `assistant.school_files.SchoolFileReader`, which re-reads it when it changes.

    A missing file (an app without the corpus) or a malformed one (logged) offers no examples.
    """

    def __init__(self) -> None:
        """Set up the reader of ``school.toml`` files (nothing is read until a school is asked for)."""
        self._reader = SchoolFileReader(read_examples, (), "the school offers no example questions")

    def examples(self, school_meta: SchoolEntry | None, surface: str) -> tuple[str, ...]:
        """The questions a school offers on ``surface`` (one of `SURFACES`), given its index-manifest entry.

        Raises:
            ValueError: an unknown surface.
        """
        if surface not in SURFACES:
            raise ValueError(f"surface must be one of {list(SURFACES)}")
        return tuple(e.question for e in self._reader.value(school_meta) or () if e.surface == surface)


_book = ExampleBook()


def shared_example_book() -> ExampleBook:
    """The process's `ExampleBook` (one cache of ``school.toml`` reads for every surface)."""
    return _book
