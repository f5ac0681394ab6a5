"""The example questions the staff chat and the parent widget offer, asked at every school.

Both surfaces offer their `EXAMPLE_QUESTIONS` for every school, so each (question, school)
pair has an expectation below: the verdicts a careful reader of that school's policy would
accept, and gold quotes from the clause that settles it. The expectations were read from the
policies in corpus/<school>/ by a person, not copied from the system's output. Where a
school's policy does not settle a question the expectation is ``not_covered``; where two
readings are defensible (e.g. a rule written for staff that is worded for everyone), both
verdicts are listed, and the answer may take either (abstain, or answer with a listed
verdict citing a gold clause).

Adding an example question without adding its expectations for every school fails
`test_every_example_question_has_an_expectation_at_every_school`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.chunking import chunk_document, normalise_for_match
from assistant.loading import load_school
from assistant.web.chat import EXAMPLE_QUESTIONS as CHAT_QUESTIONS
from assistant.web.widget import EXAMPLE_QUESTIONS as WIDGET_QUESTIONS
from evals.metrics import cites_gold

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SCHOOLS = sorted(p.parent.name for p in CORPUS.glob("*/school.toml"))
AUDIENCE = {"chat": "staff", "widget": "parent"}
#: Verdicts that answer the question (a not_covered expectation may be listed beside them).
ANSWERING = ("yes", "no", "conditional", "info")

# The example questions, by the words they are asked in (the coverage test ties them to the modules).
POST_PHOTOS_PERSONAL = "Can I post photos of pupils on my personal Facebook?"
FRIEND_PARENTS = "Can staff add parents as friends on social media?"
OWN_PHONE_PICTURES = "Can I use my own phone to take pictures of the children?"
INAPPROPRIATE_POST = "What should I do if I see an inappropriate post about a pupil?"
VISITOR_PHONES = "Can visitors use their mobile phones in school?"
PLAY_PHOTOS = "Can I post photos from the school play online?"
CHILD_PHONE = "Can my child bring a mobile phone to school?"
PARENT_PHONE = "Can I use my phone when I'm in school?"


def _case(surface: str, school: str, question: str, verdicts: list[str], gold: list[str] | None = None) -> dict:
    return {
        "surface": surface,
        "school": school,
        "question": question,
        "audience": AUDIENCE[surface],
        "verdicts": verdicts,
        "gold": gold or [],
    }


CASES: list[dict] = [
    # --- Beaudesert Park: Acceptable Use Policy & Code of Conduct for ICT and Social Media ---------------------
    # No rule names pupils' photos on staff's own accounts; the nearest is the ban on posts about
    # specific school matters and members of its community, and on keeping images on private computers.
    _case(
        "chat",
        "beaudesert-park",
        POST_PHOTOS_PERSONAL,
        ["no", "not_covered"],
        [
            "make any posts or comments that refer to specific, individual matters related to the school and members of its community",
            "staff should use school cameras when taking photographs for school purposes. images may not be stored on private computers",
        ],
    ),
    _case(
        "chat",
        "beaudesert-park",
        FRIEND_PARENTS,
        ["no"],
        ["not form online friendships or enter into communication with parents via social media sites"],
    ),
    _case("chat", "beaudesert-park", OWN_PHONE_PICTURES, ["no"], ["mobile phones must not be used for taking pupil photographs"]),
    _case(
        "chat",
        "beaudesert-park",
        INAPPROPRIATE_POST,
        ["info"],
        [
            "any incidents of concern regarding children's safety should be reported to the designated safeguarding lead or headmaster",
            "inappropriate use of social media by staff should be referred to the headmaster in the first instance",
        ],
    ),
    # Visitors are never mentioned; the phone rules are for pupils (boarding house, trips).
    _case("chat", "beaudesert-park", VISITOR_PHONES, ["not_covered"]),
    _case(
        "widget",
        "beaudesert-park",
        PLAY_PHOTOS,
        ["conditional", "no"],
        [
            "parents are requested and expected not to post images (photos and videos) of pupils other than their own children on any social media sites",
            "parents should not to post images (photos and videos) of pupils (other than their own children) on any social media sites",
        ],
    ),
    # Only boarders' devices (kept in the dormitories) and trips (not allowed) are ruled on; a day
    # pupil bringing a phone to school is not.
    _case(
        "widget",
        "beaudesert-park",
        CHILD_PHONE,
        ["not_covered", "conditional"],
        ["mobile devices are allowed but these must remain in the dormitories at all times"],
    ),
    # Nothing on parents' or visitors' phones.
    _case("widget", "beaudesert-park", PARENT_PHONE, ["not_covered"]),
    # --- Glais: Social Media Policy and Use of Mobile Phones and Digital Photography Policy --------------------
    _case(
        "chat",
        "glais",
        POST_PHOTOS_PERSONAL,
        ["no", "conditional"],
        [
            "staff must not post pictures of school events without the headteacher's consent",
            "images will not be distributed outside the school network without the permission of the parent/carers, member of staff or headteacher",
        ],
    ),
    # Pre-existing contacts with parents are acknowledged; new parents are not to be invited or accepted.
    _case(
        "chat",
        "glais",
        FRIEND_PARENTS,
        ["no", "conditional"],
        ["school staff are advised not to invite, accept or engage in communications with new parents"],
    ),
    _case(
        "chat",
        "glais",
        OWN_PHONE_PICTURES,
        ["no", "conditional"],
        [
            "staff mobile phones must not be used to take pictures of children in our school",
            "not permitted to use their own mobile phones to take or record any images of school children for their own records",
        ],
    ),
    _case(
        "chat",
        "glais",
        INAPPROPRIATE_POST,
        ["info"],
        [
            "if any member of staff is aware of inappropriate communications involving any child in any social media it must be reported",
            "any inappropriate comments on or abuse of school-sanctioned social media should immediately be removed and reported",
        ],
    ),
    _case(
        "chat", "glais", VISITOR_PHONES, ["conditional", "no"], ["visitors may only use their phones in the foyer or outside the building"]
    ),
    _case(
        "widget",
        "glais",
        PLAY_PHOTOS,
        ["conditional", "no"],
        [
            "parents must not post photographs or video containing other children on social media websites without prior permission",
            "parents are not expected to post pictures of pupils other than their own children on social networking sites unless prior permission",
        ],
    ),
    # Phones may come to school but are left in the office.
    _case(
        "widget",
        "glais",
        CHILD_PHONE,
        ["conditional", "yes"],
        ["pupils are not allowed to use their phones in school and must leave them in the office"],
    ),
    # A parent in school is a visitor.
    _case(
        "widget", "glais", PARENT_PHONE, ["conditional", "no"], ["visitors may only use their phones in the foyer or outside the building"]
    ),
    # --- Shirley Warren: ICT Use Policy (written for staff and volunteers; one line for parents) --------------
    _case(
        "chat",
        "shirley-warren",
        POST_PHOTOS_PERSONAL,
        ["no"],
        [
            "should not post any photographic images that include pupils",
            "you should not use personal equipment (phones, tablets etc) to take photos of children for school purposes or personal use",
        ],
    ),
    _case(
        "chat",
        "shirley-warren",
        FRIEND_PARENTS,
        ["no"],
        [
            "the school prohibits staff from accepting invitations to “friend” pupils, or pupils’ family members/friends",
            "you must not initiate friendships with pupils, or pupils’ family members/friends, under any circumstances",
        ],
    ),
    _case(
        "chat",
        "shirley-warren",
        OWN_PHONE_PICTURES,
        ["no"],
        [
            "you should not use personal equipment (phones, tablets etc) to take photos of children for school purposes or personal use",
            "all personal equipment, capable of taking photos or videos (i.e. mobile phones), must be kept securely out of the classroom",
        ],
    ),
    _case(
        "chat",
        "shirley-warren",
        INAPPROPRIATE_POST,
        ["info"],
        [
            "if you become aware of any posting on a social network which breaches these guidelines",
            "if you become aware that any pupil has made inappropriate/insulting/threatening comments about pupils, families or staff",
        ],
    ),
    # Visitors in general are not mentioned; parents (often the visitors) are expected to be phone-free.
    _case(
        "chat",
        "shirley-warren",
        VISITOR_PHONES,
        ["not_covered", "no"],
        ["it is an expectation that parents do not use devices capable of taking photos on the school premises"],
    ),
    # Nothing on posting; parents are not expected to take photos on the premises at all.
    _case(
        "widget",
        "shirley-warren",
        PLAY_PHOTOS,
        ["not_covered", "no"],
        ["it is an expectation that parents do not use devices capable of taking photos on the school premises"],
    ),
    # Nothing on pupils' phones.
    _case("widget", "shirley-warren", CHILD_PHONE, ["not_covered"]),
    _case(
        "widget",
        "shirley-warren",
        PARENT_PHONE,
        ["no"],
        [
            "it is an expectation that parents do not use devices capable of taking photos on the school premises",
            "creating a phone free environment for parents",
        ],
    ),
    # --- St Margaret's: Social Networking Policy (for staff, governors, Friends and volunteers) ---------------
    _case(
        "chat",
        "st-margarets",
        POST_PHOTOS_PERSONAL,
        ["no"],
        [
            "the posting of any images of employees, children, governors or anyone directly connected with the school whilst engaged in school activities",
            "under no circumstances should staff make reference to any staff member, pupil, parent or school activity/event",
        ],
    ),
    # Only friending pupils is banned; social contacts with parents in the same social circle are
    # allowed if made known to the senior leadership team.
    _case(
        "chat",
        "st-margarets",
        FRIEND_PARENTS,
        ["conditional", "not_covered"],
        [
            "where for example the parent and teacher are part of the same social circle",
            "make any such contact known to the senior leadership team",
        ],
    ),
    _case(
        "chat",
        "st-margarets",
        OWN_PHONE_PICTURES,
        ["no"],
        [
            "personal mobile phones, cameras and video recorders must not be used when children are present",
            "may only be taken following parental consent and only using one of the school cameras / ipads",
        ],
    ),
    # Only cyberbullying (of staff) has a reporting route.
    _case(
        "chat",
        "st-margarets",
        INAPPROPRIATE_POST,
        ["not_covered", "info"],
        ["staff are encouraged to report all incidents of cyberbullying to their line manager or the headteacher"],
    ),
    # The phone rule is worded for everyone ("when children are present") but sits in a staff policy.
    _case(
        "chat",
        "st-margarets",
        VISITOR_PHONES,
        ["not_covered", "no", "conditional"],
        ["personal mobile phones, cameras and video recorders must not be used when children are present"],
    ),
    # The ban on posting images of children at school activities is in the staff code of conduct.
    _case(
        "widget",
        "st-margarets",
        PLAY_PHOTOS,
        ["not_covered", "no"],
        [
            "the posting of any images of employees, children, governors or anyone directly connected with the school whilst engaged in school activities"
        ],
    ),
    # Phones may come to school but not into the classroom.
    _case(
        "widget",
        "st-margarets",
        CHILD_PHONE,
        ["conditional", "no"],
        ["in order to reduce the potential for cyberbullying children are not allowed to bring phones into the classroom"],
    ),
    _case(
        "widget",
        "st-margarets",
        PARENT_PHONE,
        ["not_covered", "no", "conditional"],
        ["personal mobile phones, cameras and video recorders must not be used when children are present"],
    ),
    # --- St Michael's: ICT Code of Conduct --------------------------------------------------------------------
    _case(
        "chat",
        "st-michaels",
        POST_PHOTOS_PERSONAL,
        ["no"],
        [
            "only take images of pupils and/ or staff for professional purposes, using a school camera, in accordance with school policy",
            "not put online any text, image, sound or video that could upset or offend any member of the whole school community",
        ],
    ),
    _case(
        "chat",
        "st-michaels",
        FRIEND_PARENTS,
        ["no"],
        [
            "not give out your own personal details, such as mobile phone number, personal e-mail address or social network details to pupils, parents"
        ],
    ),
    _case(
        "chat",
        "st-michaels",
        OWN_PHONE_PICTURES,
        ["no"],
        [
            "staff, visitors, volunteers and students are not permitted to use their own mobile phones to take or record any images of school children",
            "only take images of pupils and/ or staff for professional purposes, using a school camera",
        ],
    ),
    _case(
        "chat",
        "st-michaels",
        INAPPROPRIATE_POST,
        ["info"],
        [
            "all staff have a duty to report any online safety incident which may have an impact on themselves, their professionalism or the school"
        ],
    ),
    _case(
        "chat",
        "st-michaels",
        VISITOR_PHONES,
        ["no", "conditional"],
        [
            "students and regular visitors are asked to deposit their phones in the school office when they enter the building",
            "staff, visitors, volunteers and students are not permitted to use their own mobile phones to take or record any images of school children",
        ],
    ),
    _case(
        "widget",
        "st-michaels",
        PLAY_PHOTOS,
        ["no", "conditional"],
        ["parents must not, however, post photographs or video containing other children on social media websites"],
    ),
    _case(
        "widget",
        "st-michaels",
        CHILD_PHONE,
        ["conditional", "yes"],
        [
            "any children bringing phones or a digital device capable of taking photographs into school should hand them to their teacher",
            "mobile phones are brought to school at the child/parent's own risk",
        ],
    ),
    # A parent in school is a visitor: no photographs of children, regular visitors hand phones in.
    _case(
        "widget",
        "st-michaels",
        PARENT_PHONE,
        ["no", "conditional"],
        [
            "students and regular visitors are asked to deposit their phones in the school office when they enter the building",
            "staff, visitors, volunteers and students are not permitted to use their own mobile phones to take or record any images of school children",
        ],
    ),
]


def _case_id(case: dict) -> str:
    return f"{case['surface']}-{case['school']}-{case['question']}"


_CLAUSES: dict[str, list] = {}


def _clauses(school: str) -> list:
    if school not in _CLAUSES:
        loaded = load_school(CORPUS / school)
        _CLAUSES[school] = [c for doc in loaded.documents for c in chunk_document(doc, loaded.name)]
    return _CLAUSES[school]


def test_every_example_question_has_an_expectation_at_every_school():
    offered = {("chat", s, q) for s in SCHOOLS for q in CHAT_QUESTIONS} | {("widget", s, q) for s in SCHOOLS for q in WIDGET_QUESTIONS}
    table = [(c["surface"], c["school"], c["question"]) for c in CASES]
    assert len(table) == len(set(table)), "a (surface, school, question) appears twice in CASES"
    assert sorted(offered - set(table)) == [], "example questions offered without an expectation"
    assert sorted(set(table) - offered) == [], "expectations for questions no surface offers"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_expectation_is_well_formed_and_quotes_one_clause_of_the_school(case):
    verdicts, gold = case["verdicts"], case["gold"]
    assert verdicts and set(verdicts) <= {*ANSWERING, "not_covered"}
    assert bool(gold) == any(v in ANSWERING for v in verdicts), "gold quotes go with (and only with) an answering verdict"
    clauses = [normalise_for_match(c.display_text) for c in _clauses(case["school"])]
    for quote in gold:
        assert 30 <= len(quote) <= 150, quote
        assert any(normalise_for_match(quote) in c for c in clauses), f"not inside one clause of {case['school']}: {quote!r}"


#: Example questions the product still answers wrongly at that school (measured 2026-11-27 with
#: the trained stage of issue 16, which stays open): each is an expected failure, strict, so a
#: fix shows up as an unexpected pass and the entry must then be removed. Not a pinned answer:
#: the test keeps asserting the right one.
KNOWN_WRONG = frozenset(
    {
        "chat-beaudesert-park-Can I post photos of pupils on my personal Facebook?",
        "chat-beaudesert-park-What should I do if I see an inappropriate post about a pupil?",
        "chat-beaudesert-park-Can visitors use their mobile phones in school?",
        "widget-beaudesert-park-Can my child bring a mobile phone to school?",
        "widget-beaudesert-park-Can I use my phone when I'm in school?",
        "chat-glais-Can I post photos of pupils on my personal Facebook?",
        "chat-glais-Can staff add parents as friends on social media?",
        "chat-glais-What should I do if I see an inappropriate post about a pupil?",
        "chat-glais-Can visitors use their mobile phones in school?",
        "widget-glais-Can I post photos from the school play online?",
        "widget-glais-Can my child bring a mobile phone to school?",
        "widget-glais-Can I use my phone when I'm in school?",
        "chat-shirley-warren-Can visitors use their mobile phones in school?",
        "widget-shirley-warren-Can I post photos from the school play online?",
        "widget-shirley-warren-Can my child bring a mobile phone to school?",
        "chat-st-margarets-Can I post photos of pupils on my personal Facebook?",
        "chat-st-margarets-Can staff add parents as friends on social media?",
        "chat-st-margarets-What should I do if I see an inappropriate post about a pupil?",
        "chat-st-margarets-Can visitors use their mobile phones in school?",
        "widget-st-margarets-Can I post photos from the school play online?",
        "widget-st-margarets-Can my child bring a mobile phone to school?",
        "widget-st-margarets-Can I use my phone when I'm in school?",
        "chat-st-michaels-Can staff add parents as friends on social media?",
        "chat-st-michaels-What should I do if I see an inappropriate post about a pupil?",
        "widget-st-michaels-Can my child bring a mobile phone to school?",
        "widget-st-michaels-Can I use my phone when I'm in school?",
    }
)


def _params() -> list:
    return [
        pytest.param(c, id=_case_id(c), marks=pytest.mark.xfail(strict=True, reason="known wrong answer, issue 16"))
        if _case_id(c) in KNOWN_WRONG
        else pytest.param(c, id=_case_id(c))
        for c in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_example_question_gets_the_expected_verdict_and_clause(bot, case):
    answer = bot.ask(case["question"], school=case["school"], audience=case["audience"])
    verdicts = case["verdicts"]
    if answer.band == "answer":
        assert any(v in ANSWERING for v in verdicts), f"answered {answer.verdict!r}, but the school's policy does not settle this"
        assert answer.verdict in verdicts, f"verdict {answer.verdict!r}, expected one of {verdicts}"
        assert answer.citations, "an answer without a citation"
        assert cites_gold(answer.citations[0].text, tuple(case["gold"])), f"cited the wrong clause: {answer.citations[0].text!r}"
    else:
        assert "not_covered" in verdicts, f"band {answer.band!r}, but the policy settles this ({verdicts})"
        assert answer.verdict not in ("yes", "no", "conditional"), answer.verdict
