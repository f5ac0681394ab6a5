"""The terminal rendering of an answer (`assistant.cli.format_answer`), one badge per verdict."""

from __future__ import annotations

import pytest

from assistant.cli import format_answer
from assistant.types import Answer

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("verdict", "band", "badge"),
    [
        ("yes", "answer", "[YES]"),
        ("no", "answer", "[NO]"),
        ("conditional", "answer", "[ONLY IF…]"),
        ("info", "answer", "[INFO]"),
        ("unsure", "unsure", "[NOT SURE]"),  # crashed with KeyError before the one label map
        ("not_covered", "not_covered", "[NOT COVERED]"),
    ],
)
def test_every_verdict_has_its_badge(verdict, band, badge):
    text = format_answer(Answer(verdict=verdict, text="See the policy.", citations=[], band=band))
    assert text.splitlines()[0] == f"{badge} See the policy."
