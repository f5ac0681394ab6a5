"""Handover that reaches a person (issue 18, item 3).

``school.toml`` gives the school office's and the Designated Safeguarding Lead's contacts;
they are validated at load with errors naming the file and key; not-covered and unsure
answers end with the office contact (``handover`` in the Python API and ``/api/ask``, links in
the chat and the widget); a school without contacts falls back to "ask the school office"; a
question holding contact details is told nobody replies here. Real assistant over the real
corpus, a real server on 127.0.0.1, and Debian's Chromium for the widget.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest
from browser_helpers import launch_chromium, screenshot, serve_app
from server_helpers import create_app

from assistant import Assistant, CorpusError
from assistant.contacts import FALLBACK, NO_CONTACTS, handover_for, has_contact_details, read_contacts
from assistant.index import build_index
from assistant.loading import load_school
from assistant.web.render import answer_html
from assistant.web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SCHOOL = "glais"
#: Not in Glais's policies (the similarity floor abstains on it).
NOT_COVERED = "Can I bring my dog to sports day?"
# Answered "no" with confidence (a Glais widget example, tests/test_ui_examples.py). "Can I post
# sports day videos?" was used until the pair model for verdicts made it unsure (2026-11-29;
# the strict xfail in tests/test_walkthrough_fixes.py).
COVERED = "Can my child use their school iPad at home to go online?"
CONCERN = "A pupil keeps sending me private messages on Snapchat late at night, what should I do?"


def contacts(school: str = SCHOOL):
    return read_contacts(CORPUS / school / "school.toml")


# --- school.toml --------------------------------------------------------------------------


@pytest.mark.unit
def test_every_seed_school_lists_example_office_and_dsl_contacts():
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        found = read_contacts(folder / "school.toml")
        assert found.office is not None and found.dsl is not None, folder.name
        for contact in (found.office, found.dsl):
            # Placeholders only: the reserved .example domain and Ofcom's drama range, marked as examples.
            assert contact.email.endswith(".example"), contact
            assert contact.phone.startswith("01632 960"), contact
        assert "Designated Safeguarding Lead" in found.dsl.role
        assert "EXAMPLE VALUES" in (folder / "school.toml").read_text(encoding="utf-8")


@pytest.mark.unit
def test_a_seed_schools_dsl_title_is_the_one_its_own_policy_gives():
    # The handover names the DSL to someone worried about a child: a title the policy does not
    # give (or contradicts) would send them to the wrong person.
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        role = read_contacts(folder / "school.toml").dsl.role
        policies = " ".join(p.read_text(encoding="utf-8") for p in folder.iterdir() if p.suffix in {".txt", ".md"})
        titled = re.search(r"\(([^)]+)\)", role)
        if titled:
            assert f"Designated Safeguarding Lead ({titled.group(1)})" in policies, (folder.name, role)
        else:
            assert role == "Designated Safeguarding Lead", (folder.name, role)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("office", "email", "office at school dot uk"),
        ("office", "url", "javascript:alert(1)"),
        ("office", "url", "ftp://school.example/form"),
        ("office", "phone", "call 01632 960000"),
        ("dsl", "email", "dsl@"),
        ("dsl", "hours", "9am\n\nto 5pm"),
        ("office", "emial", "office@school.example"),
        ("office", "phone", 1632960000),
    ],
)
def test_a_bad_contact_is_refused_at_load_naming_the_file_and_key(corpus_copy, table, key, value):
    meta = corpus_copy / SCHOOL / "school.toml"
    text = meta.read_text(encoding="utf-8")
    tables = {"office": {"email": "office@glais.example"}, "dsl": {"email": "dsl@glais.example"}}
    tables[table][key] = value
    listed = "".join(f"\n[contacts.{t}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in kv.items()) for t, kv in tables.items())
    meta.write_text(text[: text.index("[contacts.")] + listed, encoding="utf-8")
    with pytest.raises(CorpusError) as raised:
        load_school(corpus_copy / SCHOOL)
    message = str(raised.value)
    assert "school.toml" in message and f"contacts.{table}.{key}" in message, message


@pytest.mark.unit
def test_an_unknown_contact_table_is_refused(corpus_copy):
    meta = corpus_copy / SCHOOL / "school.toml"
    meta.write_text(meta.read_text(encoding="utf-8") + '\n[contacts.head]\nemail = "head@glais.example"\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"school\.toml.*contacts\.head"):
        load_school(corpus_copy / SCHOOL)


def _toml(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') + '"'
    return str(value)


# --- answers ------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_not_covered_answer_ends_with_the_school_office_contact(bot):
    answer = bot.ask(NOT_COVERED, SCHOOL, "parent")
    assert answer.verdict == "not_covered"
    office = contacts().office
    assert answer.handover is not None and answer.handover.reason == "not_covered"
    assert answer.handover.office == office.to_dict()
    assert office.email in answer.handover.message and office.phone in answer.handover.message
    page = answer_html(answer, bot.school_name(SCHOOL))
    assert f'href="mailto:{office.email}"' in page and f'href="{office.tel}"' in page
    assert page.rindex("pa-handover") > page.index("pa-text"), "the contact ends the answer"


@pytest.mark.integration
def test_an_unsure_answer_hands_over_too_and_a_confident_one_does_not(bot):
    from dataclasses import replace

    from assistant.answering import with_handover

    answered = bot.ask(COVERED, SCHOOL, "parent")
    assert answered.band == "answer" and answered.handover is None
    unsure = with_handover(replace(answered, verdict="unsure", band="unsure"), COVERED, contacts())
    assert unsure.handover is not None and unsure.handover.reason == "unsure"
    assert 'href="mailto:' in answer_html(unsure, bot.school_name(SCHOOL))


@pytest.mark.integration
def test_a_school_without_contacts_is_told_to_ask_the_school_office(tmp_path, bot):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS / SCHOOL, corpus / SCHOOL)
    meta = corpus / SCHOOL / "school.toml"
    with_contacts = meta.read_text(encoding="utf-8")
    meta.write_text(with_contacts[: with_contacts.index("[contacts.")], encoding="utf-8")
    build_index(corpus, tmp_path / "index")
    own = Assistant(Assistant.load(tmp_path / "index").generation, embeddings=bot.embeddings)
    answer = own.ask(NOT_COVERED, SCHOOL, "parent")
    assert answer.verdict == "not_covered"
    assert answer.handover.office is None and answer.handover.message == FALLBACK
    page = answer_html(answer, own.school_name(SCHOOL))
    assert FALLBACK in page and "mailto:" not in page and "tel:" not in page
    # Contacts added later are read from school.toml without a re-ingest.
    meta.write_text(with_contacts, encoding="utf-8")
    assert own.ask(NOT_COVERED, SCHOOL, "parent").handover.office["email"] == contacts().office.email


@pytest.mark.integration
def test_a_question_with_contact_details_is_told_nobody_replies_here(bot):
    answer = bot.ask(COVERED + " Please call me back on 07700 900123.", SCHOOL, "parent")
    assert answer.handover is not None and answer.handover.contact_details
    assert "Nobody reads or replies" in answer_html(answer, bot.school_name(SCHOOL))
    assert bot.ask(COVERED, SCHOOL, "parent").handover is None
    assert has_contact_details("email me at jo.bloggs@example.com") and not has_contact_details("my child is in year 10, born 2014")


@pytest.mark.unit
def test_the_handover_names_no_contact_a_school_does_not_give():
    handover = handover_for(NO_CONTACTS, "not_covered", "")
    assert handover.office is None and handover.dsl is None and handover.message == FALLBACK


# --- the HTTP API on a real server --------------------------------------------------------


@pytest.fixture(scope="module")
def server(index_dir, bot, tmp_path_factory):
    log = tmp_path_factory.mktemp("handover-log") / "questions.sqlite3"
    settings = WebSettings(index_dir=index_dir, reload_interval=0, widget_origins="*", question_log=str(log))
    with serve_app(create_app(settings, assistant=bot)) as base:
        yield base, log


@pytest.mark.system
def test_api_ask_returns_the_handover_field(server):
    base, _ = server
    office, dsl = contacts().office, contacts().dsl
    ask = lambda q: httpx.post(f"{base}/api/ask", json={"question": q, "school": SCHOOL, "audience": "parent"}, timeout=60)  # noqa: E731
    gap = ask(NOT_COVERED)
    assert gap.status_code == 200, gap.text
    body = gap.json()
    assert body["verdict"] == "not_covered" and body["safeguarding"] is False
    assert body["handover"]["reason"] == "not_covered"
    assert body["handover"]["office"] == {"role": "School office", **{k: getattr(office, k) for k in ("email", "phone", "url", "hours")}}
    assert body["handover"]["dsl"]["email"] == dsl.email
    assert ask(COVERED).json()["handover"] is None
    concern = ask(CONCERN).json()
    assert concern["safeguarding"] is True and concern["verdict"] != "not_covered"
    assert concern["handover"]["reason"] == "safeguarding" and concern["handover"]["emergency"] == "999"
    assert concern["text"].startswith(concern["handover"]["message"]) and dsl.phone in concern["text"]
    schema = httpx.get(f"{base}/openapi.json").json()["components"]["schemas"]
    assert "handover" in schema["AskResponse"]["properties"] and "dsl" in schema["HandoverOut"]["properties"]


@pytest.mark.system
def test_the_question_log_flags_safeguarding_rows_for_the_dsl_and_keeps_them_redacted(server):
    base, log = server
    question = "A man online keeps asking my 10 year old for photos, my email is jo.bloggs@example.com"
    reply = httpx.post(f"{base}/api/ask", json={"question": question, "school": SCHOOL, "audience": "parent"}, timeout=60)
    assert reply.status_code == 200 and reply.json()["safeguarding"] is True
    with sqlite3.connect(log) as db:
        rows = db.execute("SELECT question, safeguarding FROM questions WHERE school = ? ORDER BY id", (SCHOOL,)).fetchall()
    flagged = [q for q, flag in rows if flag]
    assert len(flagged) >= 1 and all("jo.bloggs@example.com" not in q for q, _ in rows)
    assert any(flag == 0 for _, flag in rows), "questions that are no concern are not flagged"


# --- the widget in Chromium ---------------------------------------------------------------


@pytest.mark.system
@pytest.mark.browser
def test_widget_shows_the_dsl_for_a_safeguarding_question_and_the_office_for_a_not_covered_one(server):
    expect = pytest.importorskip("playwright.sync_api").expect
    base, _ = server
    office, dsl = contacts().office, contacts().dsl
    with launch_chromium() as browser:
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/widget?school={SCHOOL}")

        def ask(question: str):
            before = page.locator(".pa-answer").count()
            page.get_by_label("Your question").fill(question)
            page.get_by_role("button", name="Ask", exact=True).click()
            expect(page.locator(".pa-answer")).to_have_count(before + 1)
            return page.locator(".pa-answer").nth(before)

        concern = ask(CONCERN)
        box = concern.locator(".pa-safeguarding")
        expect(box).to_be_visible()
        expect(box).to_contain_text(dsl.role)
        expect(box.get_by_role("link", name=f"Call {dsl.phone}")).to_have_attribute("href", dsl.tel)
        expect(box.get_by_role("link", name=f"Email {dsl.email}")).to_have_attribute("href", f"mailto:{dsl.email}")
        expect(box.get_by_role("link", name="999")).to_have_attribute("href", "tel:999")
        assert box.bounding_box()["y"] < concern.locator(".pa-head").bounding_box()["y"], "the DSL comes first"
        expect(concern.locator(".pa-badge")).not_to_have_text("Not covered")
        screenshot(page, "widget-safeguarding")

        page.goto(f"{base}/widget?school={SCHOOL}")  # a new conversation: no history to read the next question with
        gap = ask(NOT_COVERED)
        expect(gap.locator(".pa-badge")).to_have_text("Not covered")
        handover = gap.locator(".pa-handover")
        expect(handover.get_by_role("link", name=f"Email {office.email}")).to_have_attribute("href", f"mailto:{office.email}")
        expect(handover.get_by_role("link", name=f"Call {office.phone}")).to_have_attribute("href", office.tel)
        expect(handover.get_by_role("link", name="Contact form")).to_have_attribute("href", office.url)
        expect(gap.locator(".pa-safeguarding")).to_have_count(0)

        typed = ask(COVERED + " My number is 07700 900123, please ring me.")
        expect(typed.locator(".pa-contact-warning")).to_contain_text("Nobody reads or replies")
        screenshot(page, "widget-handover", full_page=True)
