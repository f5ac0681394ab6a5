"""The chunker on the five real policies: each clause is one quotable rule a reader would cite.

Fast (no model): every test loads the bundled corpus with `load_school` and chunks it with
`chunk_document` (or `chunk_school`, which adds the audience tags ingest stores).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path

import pytest

from assistant.chunking import SECTION_SEPARATOR, chunk_document, clean_markup, normalise_for_match
from assistant.index import chunk_school
from assistant.loading import load_school
from assistant.types import CLAUSE_AUDIENCES, Clause, PolicyDocument, School

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SCHOOLS = ["beaudesert-park", "glais", "shirley-warren", "st-margarets", "st-michaels"]


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[School, list[Clause]]]:
    """school id → (school, its clauses with audience tags) for the bundled corpus."""
    out = {}
    for school_id in SCHOOLS:
        school = load_school(CORPUS / school_id)
        out[school_id] = (school, chunk_school(school))
    return out


def clauses_of(corpus, school: str) -> list[Clause]:
    return corpus[school][1]


def containing(clauses: list[Clause], words: str) -> list[Clause]:
    return [c for c in clauses if words in c.display_text]


def test_the_bundled_corpus_is_the_five_seed_schools():
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == SCHOOLS


@pytest.mark.parametrize("school", SCHOOLS)
def test_every_policy_yields_clauses_in_document_order_with_numbered_sections(corpus, school):
    doc_school, clauses = corpus[school]
    for doc in doc_school.documents:
        mine = [c for c in clauses if c.document == doc.document]
        assert mine, doc.document
        starts = [c.start for c in mine]
        assert starts == sorted(starts), "clauses come in document order"
        positions: dict[str, list[int]] = {}
        for c in mine:
            assert c.school == school and c.document_title == doc.title
            assert c.text.strip() and c.text == c.text.strip()
            positions.setdefault(c.section, []).append(c.position)
        for section, numbers in positions.items():
            assert numbers == list(range(1, len(numbers) + 1)), f"positions in {section!r} run 1..n"


# --- structure a reader sees --------------------------------------------------------------


def test_glais_sports_day_item_is_one_clause_under_its_section_path(corpus):
    glais = clauses_of(corpus, "glais")
    sports = containing(glais, "Events such as Sports Day")
    assert len(sports) == 1, [c.display_text for c in sports]
    clause = sports[0]
    assert clause.section == "E. Safeguarding of Children › Use of Mobile Phones and Digital Photography Policy"
    assert clause.text.startswith("Events such as Sports Day, outings, Christmas and fundraising events may be recorded")
    # the whole numbered item, its second sentence included, is the one clause
    assert "Parents must not post photographs or video containing other children" in clause.text
    assert "without prior permission" in clause.text
    # the item numbers ("4.") are list markup, not part of the quoted rule
    assert not re.match(r"^\d+[.)]", clause.text)


def test_beaudesert_sub_bullet_carries_its_lead_in(corpus):
    beaudesert = clauses_of(corpus, "beaudesert-park")
    disrepute = [c for c in beaudesert if c.text.startswith("Bring the School into disrepute")]
    assert len(disrepute) >= 2, "the list appears in the policy body and in the staff code (Appendix 1)"
    for clause in disrepute:
        assert clause.lead_in, "a bullet that finishes a sentence is quoted with its start"
        assert clause.display_text == f"{clause.lead_in} {clause.text}"
    manner = [c for c in disrepute if "in a manner which may:" in c.lead_in]
    assert len(manner) >= 2
    appendix = [c for c in manner if c.section.startswith("APPENDIX 1")]
    assert len(appendix) == 1
    assert appendix[0].display_text == (
        "Staff must not conduct or portray themselves, or allow friends to portray them, in a manner which may: Bring the School into disrepute;"
    )
    # the sibling bullets share the lead-in
    siblings = [c for c in beaudesert if c.section == appendix[0].section and c.lead_in == appendix[0].lead_in]
    assert {c.text.rstrip(";") for c in siblings} >= {
        "Bring the School into disrepute",
        "Lead to parental complaints",
        "Bring into question their appropriateness to work with children",
    }


PASSWORD_BULLETS = [
    "Always use your own personal passwords to access computer based services.",
    "Make sure you enter your personal passwords each time you logon.",
    "Change your password whenever there is any indication of possible system or password compromise.",
    "Do not record your passwords or encryption keys on paper or in an unprotected file.",
    "Only disclose your personal password to authorised ICT support staff when necessary",
    "Make sure that logged-on workstations are not left unattended.",
]


def test_glais_repeated_passwords_section_yields_each_bullet_once(corpus):
    glais_doc = corpus["glais"][0].documents[0]
    assert glais_doc.text.count("Always use your own personal passwords") == 2, "the policy repeats the section"
    glais = clauses_of(corpus, "glais")
    for bullet in PASSWORD_BULLETS:
        found = containing(glais, bullet)
        assert len(found) == 1, (bullet, [c.section for c in found])
        assert found[0].section.split(SECTION_SEPARATOR)[-1] == "Passwords"
    # the other repeated blocks (Remote Access, Safe Use of Images) are kept once too
    assert len(containing(glais, "You are responsible for all activity via your remote access facility.")) == 1
    assert len(containing(glais, "Guidance for Schools on Safe Use of Images")) == 1
    # the complete texting rule is one clause. The policy's last copy of it breaks off ("… between
    # any members of the school community is"): not an exact repeat, so no longer merged (issue 17 item 8)
    texting = containing(glais, "The sending of inappropriate text messages")
    assert len([c for c in texting if c.text.endswith("is not allowed.")]) == 1


# --- repeats: only an exact repeat is merged -----------------------------------------------


def chunked(text: str) -> list[str]:
    """The display texts of ``text`` chunked as one document."""
    doc = PolicyDocument("test-school", "test-policy", "Test Policy", "test-policy.txt", text, "0" * 64)
    return [c.display_text for c in chunk_document(doc)]


NEAR_TWINS = {
    "a negation": (
        "Pupils may use their phones on the coach to listen to music on the way to and from school trips.",
        "Pupils may not use their phones on the coach to listen to music on the way to and from school trips.",
    ),
    "a number and a name": (
        "If a device is lost or damaged through carelessness, parents will be charged £5 per replacement lanyard.",
        "If a device is lost or damaged through carelessness, parents will be charged £50 per replacement iPad.",
    ),
    "a key stage": (
        "Key Stage 1 pupils must hand their phones to the class teacher at the start of the school day.",
        "Key Stage 2 pupils must hand their phones to the class teacher at the start of the school day.",
    ),
}


@pytest.mark.parametrize("case", list(NEAR_TWINS))
def test_a_clause_differing_from_an_earlier_one_by_one_word_is_a_different_rule(case):
    """Issue 17 item 8: 95 %-similar clauses were dropped as repeats, losing the rule that differs."""
    first, second = NEAR_TWINS[case]
    assert chunked(f"{first}\n\n{second}\n") == [first, second]
    assert chunked(f"- {first}\n- {second}\n") == [first, second]


def test_an_exact_repeat_differing_only_in_whitespace_case_and_markup_is_one_clause():
    rule = "Staff must not post pictures of pupils on their personal social media accounts."
    text = (
        f"{rule}\n\n"
        "Staff  must not post pictures of pupils\non their personal social media accounts.\n\n"
        "STAFF MUST NOT POST PICTURES OF PUPILS ON THEIR PERSONAL SOCIAL MEDIA ACCOUNTS.\n\n"
        "**Staff must not** post pictures of *pupils* on their personal social media accounts.\n\n"
        "Pupils must not post pictures of staff on their personal social media accounts.\n"
    )
    assert chunked(text) == [rule, "Pupils must not post pictures of staff on their personal social media accounts."]


def test_a_copy_broken_off_mid_sentence_is_dropped_but_a_finished_shorter_rule_is_kept():
    rule = "The sending of inappropriate text messages between any members of the school community is not allowed."
    cut_off = "The sending of inappropriate text messages between any members of the school community is"
    shorter = "The sending of inappropriate text messages is not allowed."
    assert chunked(f"{rule}\n\n{cut_off}\n") == [rule]
    assert chunked(f"{rule}\n\n{shorter}\n") == [rule, shorter]


def test_the_same_item_under_another_lead_in_is_another_rule():
    text = "Staff must not:\n\n- use their own phones in class.\n\nPupils must not:\n\n- use their own phones in class.\n"
    assert chunked(text) == [
        "Staff must not: use their own phones in class.",
        "Pupils must not: use their own phones in class.",
    ]


@pytest.mark.parametrize("school", SCHOOLS)
def test_no_clause_is_repeated_within_a_document(corpus, school):
    clauses = clauses_of(corpus, school)
    counts = Counter((c.document, normalise_for_match(c.display_text)) for c in clauses)
    assert [text for text, n in counts.items() if n > 1] == []


def test_st_michaels_privacy_bullets_sit_under_privacy(corpus):
    michaels = clauses_of(corpus, "st-michaels")
    privacy = [c for c in michaels if c.section == "Privacy"]
    assert [c.text for c in privacy] == [
        "We will not publish photographs of children without the written consent of parents or carers",
        "We will not identify by name any of the children featured in photographs",
        "We will not allow personally identifying information to be published on our social media accounts",
    ]
    assert [c.position for c in privacy] == [1, 2, 3]


def test_beaudesert_appendix_3_is_the_parent_code(corpus):
    beaudesert = clauses_of(corpus, "beaudesert-park")
    appendix = [c for c in beaudesert if c.section.split(SECTION_SEPARATOR)[0] == "APPENDIX 3"]
    assert len(appendix) == 5, [c.text for c in appendix]  # counted in the source: its opening paragraph and four bullets
    assert all(c.section.startswith("APPENDIX 3") for c in appendix)
    assert any("PARENT/CARER CODE OF CONDUCT" in c.section for c in appendix)
    assert any(c.text.startswith("Parents should not post malicious, harmful or fictitious comments") for c in appendix)
    # Appendix 3 starts a new top-level part: it is not nested under Appendix 2 or the body
    assert not any("APPENDIX 2" in c.section for c in appendix)


# --- what is not a clause ------------------------------------------------------------------

FILL_IN = re.compile(r"_{3,}|\.{4,}|…{2,}")
FORM_LINE = re.compile(r"^(signed|signature|print name|full name|job title|date)\b", re.IGNORECASE)
URL = re.compile(r"<?https?://\S+>?|www\.\S+")


@pytest.mark.parametrize("school", SCHOOLS)
def test_signature_and_fill_in_lines_are_not_clauses(corpus, school):
    for clause in clauses_of(corpus, school):
        text = clause.display_text
        assert not FILL_IN.search(text), text
        assert not FORM_LINE.match(clause.text), text
        assert "Print Name" not in text and "Signed" not in text, text
        assert not re.match(r"^I (agree|have read)\b", clause.text), text


def test_the_signature_blocks_of_the_seed_policies_are_dropped(corpus):
    every = [c.display_text for school in SCHOOLS for c in clauses_of(corpus, school)]
    for line in ("Print Name", "Signed Name (please print)", "Signature", "I have read and understood the ICT Use Policy"):
        assert not any(line in t for t in every), line
    assert not any("I agree with St Michael's School Code of Conduct" in t for t in every)


@pytest.mark.parametrize("school", SCHOOLS)
def test_no_clause_is_a_bare_link(corpus, school):
    linked = [c for c in clauses_of(corpus, school) if URL.search(c.display_text) or "](" in c.display_text]
    for clause in linked:
        own_words = re.findall(r"[A-Za-z]{2,}", URL.sub(" ", re.sub(r"\]\([^)]*\)", "]", clause.display_text)))
        assert len(own_words) >= 4, clause.display_text


def test_glais_link_only_appendices_yield_no_clause(corpus):
    glais = clauses_of(corpus, "glais")
    assert not any(c.section.split(SECTION_SEPARATOR)[0] in ("Appendix 1", "Appendix 2", "Appendix 3") for c in glais)
    assert not any("Social_Media_Guidelines" in c.display_text or "Using_Social_Media" in c.display_text for c in glais)


@pytest.mark.parametrize("school", SCHOOLS)
def test_no_clause_is_a_bare_label(corpus, school):
    """A heading-like label ("Policy Breaches:") says nothing a reader can act on; quoting it
    as an answer ("… says: “Policy Breaches:”") is useless."""
    labels = [c.display_text for c in clauses_of(corpus, school) if c.text.endswith(":") and len(c.text.split()) <= 3]
    assert labels == []


# --- ids and offsets --------------------------------------------------------------------------


@pytest.mark.parametrize("school", SCHOOLS)
def test_clause_ids_are_stable_and_unique(corpus, school):
    doc_school = corpus[school][0]
    reloaded = {d.document: d for d in load_school(CORPUS / school).documents}
    for doc in doc_school.documents:
        first = chunk_document(doc, doc_school.name)
        again = chunk_document(reloaded[doc.document], doc_school.name)
        assert [c.clause_id for c in first] == [c.clause_id for c in again]
        assert first == again
        ids = [c.clause_id for c in first]
        assert len(ids) == len(set(ids))
        assert all(re.fullmatch(r"c[0-9a-f]{12}", i) for i in ids)


def test_clause_id_depends_on_wording_not_position(corpus):
    """Inserting a paragraph above a clause leaves its id alone; editing it changes the id."""
    school, clauses = corpus["st-michaels"]
    doc = school.documents[0]
    target = "Parents must not, however, post photographs or video containing other children on social media websites."
    old_id = next(c.clause_id for c in clauses if c.text == target)
    others = {c.text: c.clause_id for c in clauses if c.text != target}

    from dataclasses import replace

    shifted = replace(doc, text="A new opening paragraph about nothing in particular at all.\n\n" + doc.text)
    moved = chunk_document(shifted, school.name)
    assert next(c.clause_id for c in moved if c.text == target) == old_id
    assert {c.text: c.clause_id for c in moved if c.text in others} == others

    edited = replace(doc, text=doc.text.replace(target, target.replace("social media websites", "any website")))
    changed = chunk_document(edited, school.name)
    assert old_id not in {c.clause_id for c in changed}
    assert {c.text: c.clause_id for c in changed if c.text in others} == others


@pytest.mark.parametrize("school", SCHOOLS)
def test_offsets_point_at_the_clause_in_the_source(corpus, school):
    doc_school, clauses = corpus[school]
    texts = {d.document: d.text for d in doc_school.documents}
    for clause in clauses:
        source = texts[clause.document]
        assert 0 <= clause.start < clause.end <= len(source)
        raw = normalise_for_match(clean_markup(source[clause.start : clause.end]))
        words = normalise_for_match(clause.text).split()
        assert raw.startswith(" ".join(words[:5])), (clause.text[:60], source[clause.start : clause.start + 60])
        assert raw.endswith(" ".join(words[-3:])), (clause.text[-60:], source[clause.end - 60 : clause.end])


# --- size -------------------------------------------------------------------------------------


def test_clauses_are_quotable_sizes(corpus):
    lengths = []
    for school in SCHOOLS:
        for clause in clauses_of(corpus, school):
            assert len(clause.display_text) <= 1200, (school, clause.section, len(clause.display_text))
            lengths.append(len(clause.display_text))
    assert statistics.median(lengths) <= 350


# --- audiences --------------------------------------------------------------------------------


def _one(clauses: list[Clause], start: str) -> Clause:
    found = [c for c in clauses if c.text.startswith(start)]
    assert len(found) == 1, (start, [c.display_text for c in found])
    return found[0]


def test_audience_tags_follow_whom_the_rule_addresses(corpus):
    beaudesert = clauses_of(corpus, "beaudesert-park")
    parent_code = [c for c in beaudesert if c.section.startswith("APPENDIX 3")]
    parents = _one(parent_code, "Parents should not post malicious, harmful or fictitious comments")
    assert "parent" in parents.audiences and "staff" not in parents.audiences

    staff = _one(clauses_of(corpus, "glais"), "Staff must not post pictures of school events")
    assert "staff" in staff.audiences and "parent" not in staff.audiences

    pupil_code = [c for c in beaudesert if "PUPIL CODE OF CONDUCT" in c.section]
    assert len(pupil_code) == 14, [c.text for c in pupil_code]  # counted in the source: fourteen bullets
    assert all("pupil" in c.audiences for c in pupil_code)
    password = _one(pupil_code, "Never share a password with anyone – not even your best friend")
    assert "staff" not in password.audiences

    for school in SCHOOLS:
        for clause in clauses_of(corpus, school):
            assert clause.audiences and set(clause.audiences) <= set(CLAUSE_AUDIENCES)
            assert list(clause.audiences) == sorted(clause.audiences)


def test_a_documents_default_audience_applies_when_a_clause_names_nobody(corpus):
    """St Margaret's policy is for staff (school.toml audiences); its unnamed rules are staff rules."""
    margarets = clauses_of(corpus, "st-margarets")
    review = _one(margarets, "Due to the ever changing nature of information and communication technologies")
    assert review.audiences == ("staff",)
    # Glais has no default: a rule naming nobody addresses everyone
    glais = _one(clauses_of(corpus, "glais"), "Ensure removable media is purchased with built-in encryption systems.")
    assert glais.audiences == ("everyone",)
