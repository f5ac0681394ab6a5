"""`Assistant.search` / `Assistant.ask` on the real index of the bundled corpus.

Checks what a person using the assistant would notice: helpful errors, answers that cite
only the asked school's clauses, abstention on questions the policies don't cover,
follow-ups read with the chat, verdicts that match the clause's wording, review notes.
Cases are chosen so they do not hinge on fine retrieval tuning.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from assistant.answering import decide_verdict, key_sentence, modality

SCHOOLS = ["beaudesert-park", "glais", "shirley-warren", "st-margarets", "st-michaels"]
PHOTOS = "Can I post photos of other children on Facebook?"


# --- input validation -----------------------------------------------------------------------

BAD_INPUTS = {
    "empty question": (dict(question=""), r"question is empty"),
    "whitespace question": (dict(question=" \n\t "), r"question is empty"),
    "1,001 characters": (dict(question="Can I " + "x" * 995), r"question is 1001 characters long; the limit is 1000"),
    "question not a string": (dict(question=None), r"question is empty"),
    "unknown school": (dict(school="hogwarts"), r"unknown school 'hogwarts' \(known schools: beaudesert-park, glais, .*st-michaels\)"),
    "school id with other case": (dict(school="Glais"), r"unknown school 'Glais'"),
    "unknown audience": (dict(audience="teacher"), r"unknown audience 'teacher' \(use one of: staff, parent, pupil, visitor, governor\)"),
    "non-string history item": (dict(history=["Can I post photos?", 3]), r"history must be a list of earlier questions \(strings\)"),
    "history as one string": (dict(history="Can I post sports day videos?"), r"history must be a list"),
}


@pytest.mark.integration
@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("method", ["ask", "search"])
def test_bad_input_is_a_value_error_that_says_what_to_fix(bot, case, method):
    overrides, message = BAD_INPUTS[case]
    args = {"question": PHOTOS, "school": "glais", "audience": "parent", "history": None} | overrides
    with pytest.raises(ValueError, match=message):
        getattr(bot, method)(**args)


@pytest.mark.integration
def test_a_question_of_exactly_1000_characters_is_accepted(bot):
    question = (PHOTOS + " ").ljust(1000, "x")
    assert len(question) == 1000
    answer = bot.ask(question, school="glais")  # no ValueError, and answered from glais's photo rules
    assert answer.citations and {c.school for c in answer.citations} == {"glais"}, answer.verdict


@pytest.mark.integration
@pytest.mark.parametrize("k", [0, -1, 51, 2.5, "5", None])
def test_search_k_must_be_a_whole_number_from_1_to_50(bot, k):
    with pytest.raises(ValueError, match=r"k must be a whole number from 1 to 50"):
        bot.search(PHOTOS, school="glais", k=k)


@pytest.mark.integration
@pytest.mark.parametrize("k", [1, 50])
def test_search_k_at_the_limits(bot, k):
    hits = bot.search(PHOTOS, school="glais", k=k)
    assert len(hits) == k
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.integration
def test_unknown_school_for_clauses_and_names(bot):
    with pytest.raises(ValueError, match="unknown school 'nowhere'"):
        bot.clauses("nowhere")
    with pytest.raises(ValueError, match="unknown school 'nowhere'"):
        bot.school_name("nowhere")


@pytest.mark.integration
def test_schools_lists_the_five_tenants_with_names_and_documents(bot):
    schools = bot.schools()
    assert [s.school for s in schools] == SCHOOLS
    names = {s.school: s.name for s in schools}
    assert names["beaudesert-park"] == "Beaudesert Park School" and names["st-margarets"] == "St Margaret's C of E Primary School"
    for info in schools:
        assert len(info.documents) == 1
        assert info.documents[0].clauses == len(bot.clauses(info.school)) > 0


# --- answers -------------------------------------------------------------------------------

ANSWERABLE = [
    ("Can staff add pupils as friends on Facebook?", "glais", "staff", "friend"),
    ("Do I have to lock my computer screen when I leave it?", "shirley-warren", "staff", "lock"),
    ("Can I friend a pupil on Facebook?", "st-margarets", "staff", "friend"),
    ("Can I share my password with my best friend?", "beaudesert-park", "pupil", "password"),
    pytest.param(
        "Can I post sports day videos?",
        "st-michaels",
        "parent",
        "video",
        marks=pytest.mark.xfail(
            strict=True,
            reason="issue 16 open: since the encoder's learning rate rose to 1e-4 (2026-11-29) the right clause is "
            "cited first, but the confidence (0.21) is below the answer threshold (0.23), so the answer is unsure",
        ),
    ),
    ("Will the school replace my child's phone if it gets lost?", "st-michaels", "parent", "phone"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("question", "school", "audience", "word"), ANSWERABLE)
def test_answerable_questions_cite_one_to_three_clauses_of_the_asked_school(bot, question, school, audience, word):
    answer = bot.ask(question, school=school, audience=audience)
    assert answer.verdict in ("yes", "no", "conditional", "info")
    assert 1 <= len(answer.citations) <= 3
    clauses = {c.clause_id: c for c in bot.clauses(school)}
    for citation in answer.citations:
        assert citation.school == school
        clause = clauses[citation.clause_id]  # a real clause of that school
        assert citation.text == clause.display_text
        assert (citation.document, citation.section, citation.start, citation.end) == (
            clause.document,
            clause.section,
            clause.start,
            clause.end,
        )
    assert word in answer.citations[0].text.lower(), answer.citations[0].text
    assert answer.text and answer.text != answer.citations[0].text
    scores = [c.score for c in answer.citations]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.integration
@pytest.mark.parametrize("school", SCHOOLS)
def test_an_off_topic_question_is_not_covered_and_cites_nothing(bot, school):
    answer = bot.ask("What are the lunch menu options?", school=school, audience="parent")
    assert answer.verdict == "not_covered"
    assert answer.citations == []
    name = bot.school_name(school)
    assert name in answer.text
    assert re.search(r"(don't|do not|doesn't|does not) cover", answer.text), answer.text


@pytest.mark.integration
def test_the_same_question_is_answered_from_each_schools_own_policy(bot):
    # Asked as staff: every school's policy has a rule on staff posting pupils' photos. Shirley
    # Warren's staff ICT policy has none for parents, and since 2026-11-29 the near-miss model
    # turns the parent's question away there (P(not covered) 0.54).
    for school in SCHOOLS:
        answer = bot.ask(PHOTOS, school=school, audience="staff")
        assert answer.verdict != "not_covered", school
        assert answer.citations and {c.school for c in answer.citations} == {school}
        assert bot.school_name(school) in answer.text
        hits = bot.search(PHOTOS, school=school, audience="staff", k=20)
        assert len(hits) == 20 and {h.school for h in hits} == {school}
        own = {c.clause_id for c in bot.clauses(school)}
        assert {h.clause_id for h in hits} <= own


@pytest.mark.integration
def test_search_never_returns_another_schools_clause_even_when_asked_for_all(bot):
    for school in SCHOOLS:
        everything = bot.search("social media photos phones passwords", school=school, k=50)
        assert {h.school for h in everything} == {school}
        assert len(everything) == min(50, len(bot.clauses(school)))


# --- follow-ups ----------------------------------------------------------------------------

FIRST = "Can I post sports day videos?"
FOLLOW_UP = "what about if it's only my own child in the video?"


@pytest.mark.integration
def test_a_follow_up_is_read_with_the_question_before_it(bot):
    with_history = bot.ask(FOLLOW_UP, school="st-michaels", audience="parent", history=[FIRST])
    assert with_history.verdict != "not_covered" and with_history.citations
    assert all(c.school == "st-michaels" for c in with_history.citations)
    assert any(w in c.text.lower() for c in with_history.citations for w in ("photo", "video", "image"))

    # The chat is about sports day: read with it, the Sports Day clause ranks near the top; the
    # same words alone are about one's own child and rank it lower (2nd against 5th, 2026-11-29).
    in_chat = bot.search(FOLLOW_UP, school="st-michaels", audience="parent", history=[FIRST], k=5)
    alone = bot.search(FOLLOW_UP, school="st-michaels", audience="parent", k=5)

    def sports_day_rank(hits) -> int:
        return next((n for n, h in enumerate(hits) if "Sports Day" in h.text), len(hits))

    assert sports_day_rank(in_chat) <= 2, [h.text[:60] for h in in_chat]
    assert sports_day_rank(in_chat) < sports_day_rank(alone), [h.text[:60] for h in alone]
    assert [h.clause_id for h in in_chat] != [h.clause_id for h in alone]


@pytest.mark.integration
def test_only_the_latest_history_turns_matter_and_blank_ones_are_ignored(bot):
    plain = bot.search(FOLLOW_UP, school="st-michaels", audience="parent", history=[FIRST], k=5)
    padded = bot.search(FOLLOW_UP, school="st-michaels", audience="parent", history=["What time is pick-up?", FIRST, "  "], k=5)
    assert [h.clause_id for h in padded] == [h.clause_id for h in plain]


@pytest.mark.integration
def test_a_new_topic_in_a_long_chat_is_still_answered_on_its_own_terms(bot):
    answer = bot.ask("Can I share my password with my best friend?", school="beaudesert-park", audience="pupil", history=[FIRST])
    assert answer.citations and "password" in answer.citations[0].text.lower()


# --- verdicts from the clause's wording ------------------------------------------------------

VERDICT_CASES = [
    (
        "Can staff use Facebook during lessons?",
        "Staff must not use social networking sites for anything other than professional use within lesson times.",
        "no",
    ),
    (
        PHOTOS,
        "Parents must not post photographs or video containing other children on social media websites without prior permission.",
        "conditional",
    ),
    (
        "Can I post photos of other children without permission?",
        "Parents must not post photographs or video containing other children on social media websites without prior permission.",
        "no",
    ),
    ("Should I lock my computer?", "You must lock computer screens when leaving them unattended.", "yes"),
    (
        "Where are photos stored?",
        "Photographs will be stored on the school network which is pass word protected until the school ceases to operate.",
        "info",
    ),
    (
        "can I use a baby wipe?",
        "Only a soft cloth or approved laptop screen cleaning solution is to be used to clean the iPad screen.",
        "no",
    ),
    (
        "my iPad screen is all smudgy, can I use a baby wipe on it?",  # evals/banks/policy_bank.jsonl pb053
        "Only a soft cloth or approved laptop screen cleaning solution is to be used to clean the iPad screen.",
        "no",
    ),
    (
        "Can I use the school email for personal things?",
        "Limited use of e-mail and Internet facilities for personal purposes is permitted.",
        "yes",
    ),
    (
        "Can I complain about the school on Facebook?",
        "Parents should make complaints through official school channels rather than posting them on social networking sites.",
        "no",
    ),
    ("Can I keep my phone in my pocket?", "All mobile phones must be kept in a secure place (not in a pocket), switched off.", "no"),
    (
        "Who do I report a friend request from a pupil to?",
        "Staff must report any friend requests from pupils to the Designated Safeguarding Lead.",
        "info",
    ),
    # the question after a comma is what is asked; what comes before it is context
    ("Someone may have seen me type my password, what do I do now?", "Never share a password with anyone.", "info"),
    # "If … is not charged, …" states when the rule applies; it forbids nothing
    (
        "I left my laptop at home today, do I still need to finish my report?",
        "If a laptop is left at home or is not charged, the user remains responsible for completing all work.",
        "yes",
    ),
]


@pytest.mark.unit
@pytest.mark.parametrize(("question", "sentence", "verdict"), VERDICT_CASES, ids=[q for q, _, _ in VERDICT_CASES])
def test_verdict_follows_the_clause_wording(question, sentence, verdict):
    assert decide_verdict(question, sentence)[0] == verdict


@pytest.mark.unit
def test_provided_as_a_verb_is_no_condition_but_provided_that_is():
    assert modality("Print facilities are provided throughout the School for School related work.").condition == ""
    assert modality("Staff may print at home provided that the Headteacher agrees.").condition.startswith("provided that")


@pytest.mark.unit
def test_the_key_sentence_is_the_one_most_similar_to_the_question_when_similarities_are_known():
    clause = "Staff may bring in personal mobile phones. Staff must never contact a parent using a personal device."
    question = "Can I message a mum from my phone?"
    # shared words alone pick the sentence about phones and read it as a yes
    assert decide_verdict(question, key_sentence(clause, question))[0] == "yes"
    similarity = {"Staff may bring in personal mobile phones.": 0.41, "Staff must never contact a parent using a personal device.": 0.63}
    sentence = key_sentence(clause, question, similarity)
    assert sentence.startswith("Staff must never") and decide_verdict(question, sentence)[0] == "no"
    # a most similar sentence that states no rule gives way to the most similar one that does
    clause = "Printers are in every classroom. Colour printing needs a reason. Printing for private use is not allowed."
    similarity = {
        "Printers are in every classroom.": 0.7,
        "Colour printing needs a reason.": 0.2,
        "Printing for private use is not allowed.": 0.5,
    }
    assert key_sentence(clause, "can I print my tickets?", similarity) == "Printing for private use is not allowed."


@pytest.mark.integration
def test_an_answer_quotes_the_sentence_of_its_clause_that_the_question_is_about(bot):
    """Glais allows staff phones in school but never for contacting parents: a question about
    texting parents must quote (and answer from) the second sentence, not the first. (The
    retriever and rules alone: the trained stage calls this answer unsure, see below.)"""
    judge, bot.judge = bot.judge, None
    try:
        answer = bot.ask("Can I phone parents on my own mobile if we're running late on a trip?", school="glais", audience="staff")
    finally:
        bot.judge = judge
    assert answer.citations and answer.citations[0].school == "glais"
    assert "under no circumstances" in answer.text.lower() and "bring in personal mobile phones" not in answer.text
    assert answer.verdict == "no", answer.text


@pytest.mark.integration
@pytest.mark.xfail(
    strict=True,
    reason="known cost of the unsure band (issue 16): the calibrated confidence of this right clause is below the answer threshold",
)
def test_the_trained_stage_answers_the_phone_parents_question_confidently(bot):
    answer = bot.ask("Can I phone parents on my own mobile if we're running late on a trip?", school="glais", audience="staff")
    assert answer.band == "answer" and answer.verdict == "no", (answer.band, answer.confidence)


@pytest.mark.unit
def test_a_follow_up_asks_the_same_kind_of_question_as_the_one_before():
    sentence = "Parents must not post photographs or video containing other children on social media websites."
    assert decide_verdict("what about videos?", sentence, history=["Can I post photos of other children?"])[0] == "no"
    assert decide_verdict("what about videos?", sentence, history=["Where are photos kept?"])[0] == "info"


@pytest.mark.unit
def test_what_if_asked_on_its_own_asks_what_happens_unless_it_asks_for_a_verdict():
    sentence = "Pupils must not bring mobile phones on school trips unless agreed with the trip leader."
    # No chat before it: "what if …?" is not a follow-up, so it asks what happens.
    assert decide_verdict("What if my child is ill on the day of the trip?", sentence)[0] == "info"
    assert decide_verdict("what if my complaint is about the whole governing body?", sentence)[0] == "info"
    # …unless it goes on to ask a yes/no question of its own.
    assert decide_verdict("what if she's going on the trip, can she bring her phone?", sentence)[0] == "conditional"
    assert decide_verdict("what if it's a residential trip, do the phones still get handed in?", sentence)[0] != "info"
    # After a yes/no question it still asks the same kind of question.
    assert decide_verdict("what if it's a residential?", sentence, history=["Can pupils bring phones on trips?"])[0] == "conditional"


@pytest.mark.integration
def test_asking_to_complain_on_facebook_is_answered_no(bot):
    """The policies ask parents to complain to the school *rather than* post online."""
    answer = bot.ask("Can I complain about the school on Facebook?", school="glais", audience="parent")
    assert answer.citations and answer.citations[0].school == "glais"
    assert answer.verdict == "no", answer.text


# --- review notes --------------------------------------------------------------------------


@pytest.mark.integration
def test_an_answer_from_a_policy_past_its_review_date_says_so(bot):
    question = "Can staff be friends with parents on Facebook?"
    answer = bot.ask(question, school="beaudesert-park", audience="staff", today=dt.date(2026, 1, 1))
    assert answer.citations and answer.citations[0].document == "acceptable-use-policy-ict-social-media"
    assert len(answer.notes) == 1 and "November 2018" in answer.notes[0]
    # before the review date there is nothing to say
    early = bot.ask(question, school="beaudesert-park", audience="staff", today=dt.date(2018, 11, 15))
    assert early.notes == []
    # a policy with no review date gets no note
    assert bot.ask(question, school="glais", audience="staff", today=dt.date(2026, 1, 1)).notes == []
    # a question the policies don't cover cites nothing, so notes nothing
    assert bot.ask("What are the lunch menu options?", school="beaudesert-park", today=dt.date(2026, 1, 1)).notes == []


@pytest.mark.integration
def test_answer_round_trips_to_json_ready_dict(bot):
    answer = bot.ask(PHOTOS, school="st-michaels", audience="parent")
    data = answer.to_dict()
    assert data["verdict"] == answer.verdict and data["text"] == answer.text
    assert [c["clause_id"] for c in data["citations"]] == [c.clause_id for c in answer.citations]
    assert json.loads(json.dumps(data)) == data


@pytest.mark.unit
def test_each_chat_turn_embeds_only_its_leading_query_with_every_model():
    """Speed: of a follow-up's two query texts, the lower-weighted one uses the light model only."""
    from assistant.retrieval import query_plan

    assert [q.light for q in query_plan(FIRST, [])] == [False]
    for question in (FOLLOW_UP, "Can I share my password with my best friend?"):
        plan = query_plan(question, [FIRST])
        light = [q for q in plan if q.light]
        full = [q for q in plan if not q.light]
        assert len(light) == 1 and len(full) == 1 and light[0].weight < full[0].weight
