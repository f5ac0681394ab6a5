"""Exact values of what a clause is tagged, named and embedded as, worked by hand from each definition.

No model, no index: audience tagging (`tag_audiences`, assistant/audience.py), clause ids
(`clause_id_for`, assistant/chunking/clauses.py) and the texts each clause is embedded as
(`embedding_text`, `unit_sentences`, `embedding_units`, `continues_lead_in`, `vector_id`,
`clause_id_of_vector`, assistant/index/units.py).
"""

from __future__ import annotations

import hashlib

import pytest

from assistant.audience import tag_audiences
from assistant.chunking import clause_id_for
from assistant.index.units import clause_id_of_vector, continues_lead_in, embedding_text, embedding_units, unit_sentences, vector_id
from assistant.types import Clause

pytestmark = pytest.mark.unit


def clause(text: str, lead_in: str = "", section: str = "", school: str = "glais", clause_id: str = "c0123456789ab") -> Clause:
    """A clause with only what these tests look at set."""
    return Clause(school, "phones", "Phones", section, 1, clause_id, text, lead_in, 0, len(text))


# --- audience tagging ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "section", "lead_in", "default", "expected"),
    [
        # the rule's subject names parents, and "children" (pupils) within its first 14 words
        ("Parents must not post photographs of other children.", "Photographs", "", (), ("parent", "pupil")),
        # nobody named: the document's default, else everyone
        ("Must be switched off during lessons.", "Rules", "", (), ("everyone",)),
        ("Must be switched off during lessons.", "Rules", "", ("staff",), ("staff",)),
        # the section names whom the rule is for
        ("Must sign in at reception.", "Visitors", "", (), ("visitor",)),
        ("Must sign in at reception.", "Guidance for staff › Visitors", "", (), ("staff", "visitor")),
        # the lead-in is the start of the subject
        ("keep their phones locked away.", "Rules", "Teachers must:", (), ("staff",)),
        # a word that only contains a term is no mention
        ("Use the staffroom kettle with care.", "Kitchen", "", (), ("everyone",)),
        # a pledge ("I will …") names nobody: it addresses the document's default
        ("I will keep my password secret.", "Agreement", "", ("pupil",), ("pupil",)),
        ("The governing body reviews this policy.", "Review", "", (), ("governor",)),
    ],
)
def test_tag_audiences(text, section, lead_in, default, expected):
    assert tag_audiences(text, section, lead_in, default) == expected


def test_only_the_first_fourteen_words_of_lead_in_and_text_are_the_subject():
    fourteen = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    assert tag_audiences(f"{fourteen} staff.", "Rules") == ("everyone",)  # "staff" is word 15
    assert tag_audiences("thirteen fourteen staff.", "Rules", lead_in=fourteen.rsplit(" ", 2)[0]) == ("everyone",)  # 12 + 2: word 15 again
    assert tag_audiences("staff.", "Rules", lead_in=fourteen.rsplit(" ", 1)[0]) == ("staff",)  # word 14


# --- clause ids -----------------------------------------------------------------------------------


def test_clause_id_is_c_and_12_hex_digits_of_sha1_over_school_document_lead_in_and_normalised_text():
    # normalise_for_match: lower-case, drop * # `, collapse whitespace:
    # "Staff **must not**  use\nphones." → "staff must not use phones."; lead-in "Rules:" → "rules:"
    key = "glais\x1fphones\x1frules:\x1fstaff must not use phones."
    expected = "c" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]
    assert clause_id_for("glais", "phones", "Rules:", "Staff **must not**  use\nphones.") == expected


def test_the_clause_id_follows_wording_not_markup_case_or_spacing():
    same = clause_id_for("glais", "phones", "", "Staff must not use phones.")
    assert clause_id_for("glais", "phones", "", "  STAFF must   not use *phones*. ") == same
    assert clause_id_for("glais", "phones", "", "Staff must not use iPads.") != same
    assert clause_id_for("glais", "photos", "", "Staff must not use phones.") != same
    assert clause_id_for("st-michaels", "phones", "", "Staff must not use phones.") != same
    assert clause_id_for("glais", "phones", "On trips:", "Staff must not use phones.") != same
    assert len(same) == 13 and same[0] == "c" and int(same[1:], 16) >= 0


# --- what a clause is embedded as --------------------------------------------------------------


def test_a_multi_sentence_clause_is_embedded_whole_and_sentence_by_sentence_under_its_last_two_headings():
    storage = clause(
        "Photographs will be stored securely. They are deleted when the pupil leaves the school. Ask the office.",
        section="Photographs › Consent › Storage",
    )
    whole = "Consent › Storage: Photographs will be stored securely. They are deleted when the pupil leaves the school. Ask the office."
    assert embedding_text(storage) == whole
    # "Ask the office." has 15 characters, under MIN_UNIT_CHARS (25): no vector of its own.
    assert unit_sentences(storage) == ["Photographs will be stored securely.", "They are deleted when the pupil leaves the school."]
    assert embedding_units(storage) == [
        whole,
        "Consent › Storage: Photographs will be stored securely.",
        "Consent › Storage: They are deleted when the pupil leaves the school.",
    ]


def test_a_clause_that_ends_its_lead_ins_sentence_is_embedded_with_it():
    item = clause(
        "bring the school into disrepute; or breach confidentiality.",
        lead_in="Staff must not use social media in a manner which may:",
        section="Social media",
    )
    assert continues_lead_in(item)  # starts lower-case
    whole = (
        "Social media: Staff must not use social media in a manner which may: bring the school into disrepute; or breach confidentiality."
    )
    assert embedding_text(item) == whole
    assert unit_sentences(item) == []  # one sentence: a semicolon does not split
    assert embedding_units(item) == [whole]


def test_a_heading_like_lead_in_is_left_out_of_a_full_rule():
    rule = clause(
        "Staff must never share passwords. Staff must lock screens when they leave a computer.",
        lead_in="Guidelines issued to staff:",
        section="Rules",
    )
    # upper-case start, more than six words, and "staff" is not a word that leaves a sentence open
    assert not continues_lead_in(rule)
    assert embedding_units(rule) == [
        "Rules: Staff must never share passwords. Staff must lock screens when they leave a computer.",
        "Rules: Staff must never share passwords.",
        "Rules: Staff must lock screens when they leave a computer.",
    ]


def test_sentences_of_a_continued_clause_without_a_section_carry_the_lead_in():
    item = clause("Keep their password secret. Tell a teacher if someone else knows it.", lead_in="Pupils must:")
    assert continues_lead_in(item)  # the lead-in ends on "must"
    assert embedding_text(item) == "Pupils must: Keep their password secret. Tell a teacher if someone else knows it."
    assert embedding_units(item)[1:] == [
        "Pupils must: Keep their password secret.",
        "Pupils must: Tell a teacher if someone else knows it.",
    ]


def test_a_short_item_continues_any_lead_in():
    assert continues_lead_in(clause("Photos and videos.", lead_in="Guidelines issued to staff:"))  # three words
    assert not continues_lead_in(clause("Photos and videos."))  # no lead-in


def test_vector_ids_name_school_clause_and_unit_and_give_the_clause_id_back():
    item = clause("Staff must not use phones.", school="st-michaels", clause_id="c0123456789ab")
    assert vector_id(item, 0) == "st-michaels:c0123456789ab:0"
    assert vector_id(item, 2) == "st-michaels:c0123456789ab:2"
    assert clause_id_of_vector("st-michaels:c0123456789ab:2") == "c0123456789ab"
    assert clause_id_of_vector("a:school:with:colons:cfedcba987654:11") == "cfedcba987654"
