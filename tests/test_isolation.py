"""School isolation, proven by property-based tests over the real index (hypothesis).

For random questions (free text, other schools' clause texts, everyday policy questions),
random schools, audiences and histories — including histories made of another school's
clauses — no search result or answer ever cites, or quotes, another school's clause.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import AUDIENCES
from assistant.index import read_clauses

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
MAX_CHARS = 1000
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def clauses(bot) -> dict[str, list]:
    """Every clause of the served index, by school."""
    out: dict[str, list] = {}
    for clause in read_clauses(bot.generation):
        out.setdefault(clause.school, []).append(clause)
    return out


@pytest.fixture(scope="module")
def own(clauses) -> dict[str, tuple[set[str], set[str]]]:
    """Per school: its clause ids, and the quotable texts of *other* schools that it does not share itself."""
    texts = {school: {c.display_text for c in cs} for school, cs in clauses.items()}
    out = {}
    for school, cs in clauses.items():
        foreign = set().union(*(t for s, t in texts.items() if s != school)) - texts[school]
        out[school] = ({c.clause_id for c in cs}, {t for t in foreign if len(t) >= 40})
    return out


SCHOOLS = sorted(p.parent.name for p in (ROOT / "corpus").glob("*/school.toml"))
BANK = [json.loads(line)["question"] for line in (ROOT / "evals" / "banks" / "starter.jsonl").read_text().splitlines() if line.strip()]


@st.composite
def clause_text(draw, clauses, exclude: str | None = None) -> str:
    """The text of a random clause of a school other than ``exclude``."""
    school = draw(st.sampled_from([s for s in sorted(clauses) if s != exclude]))
    return draw(st.sampled_from(clauses[school])).display_text[:MAX_CHARS]


def question_strategy(clauses):
    typed = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=200).filter(str.strip)
    return st.one_of(typed, st.sampled_from(BANK), clause_text(clauses))


def assert_isolated(school, citations, text, own) -> None:
    ids, foreign = own[school]
    for citation in citations:
        assert citation.school == school, f"{school!r} got a clause of {citation.school!r}"
        assert citation.clause_id in ids, f"clause {citation.clause_id} is not one of {school!r}'s"
        assert citation.text not in foreign
    for quote in foreign:
        assert quote not in text, f"the answer for {school!r} quotes another school's clause"


@PROPERTY
@given(data=st.data())
def test_no_answer_or_search_result_contains_another_schools_clause(bot, clauses, own, data):
    school = data.draw(st.sampled_from(SCHOOLS), label="school")
    audience = data.draw(st.sampled_from((None, *AUDIENCES)), label="audience")
    question = data.draw(question_strategy(clauses), label="question")
    history = data.draw(st.lists(question_strategy(clauses), max_size=3), label="history")
    results = bot.search(question, school=school, audience=audience, history=history, k=data.draw(st.integers(1, 20), label="k"))
    assert_isolated(school, results, "", own)
    answer = bot.ask(question, school=school, audience=audience, history=history)
    assert_isolated(school, answer.citations, answer.text + " ".join(answer.notes), own)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_history_from_another_school_never_pulls_its_clauses(bot, clauses, own, data):
    school = data.draw(st.sampled_from(SCHOOLS), label="school")
    # The chat so far quotes another school's policy word for word; the follow-up is vague.
    history = data.draw(st.lists(clause_text(clauses, exclude=school), min_size=1, max_size=3), label="history")
    follow_up = data.draw(st.sampled_from(["what about that?", "and for parents?", "is that allowed?", "why?", "what about videos?"]))
    audience = data.draw(st.sampled_from((None, *AUDIENCES)), label="audience")
    assert_isolated(school, bot.search(follow_up, school=school, audience=audience, history=history, k=10), "", own)
    answer = bot.ask(follow_up, school=school, audience=audience, history=history)
    assert_isolated(school, answer.citations, answer.text, own)


def test_the_property_tests_would_see_a_leak(bot, clauses, own):
    """The checker itself: another school's clause, presented as a citation, is caught."""
    school, other = SCHOOLS[0], SCHOOLS[1]
    leaked = bot.search(clauses[other][0].display_text[:MAX_CHARS], school=other, k=1)
    with pytest.raises(AssertionError, match="got a clause of"):
        assert_isolated(school, leaked, "", own)
