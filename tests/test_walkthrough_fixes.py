"""Chat and widget fixes found in the walkthrough (issue 18, item 5).

The answer is one plain sentence and the clause is quoted once (in its citation); an unknown
``?school=`` in a staff chat link says so; the widget's "New conversation" forgets the history it
sends; the widget on a site the school has not listed, and a server that cannot be reached, say
so in words a person can act on. Real assistant over the real corpus, a real server on
127.0.0.1 and Debian's Chromium (Playwright).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from browser_helpers import screenshot, serve_app, serve_example_site, sign_in_if_asked
from server_helpers import create_app

from assistant.answering import Modality, plain_answer, short_title
from assistant.web.render import answer_html
from assistant.web.settings import WebSettings

SCHOOL = "glais"
COVERED = "Can I post sports day videos?"
# A question of the same section that is answered (conditional) since the pair model for
# verdicts, which made COVERED unsure (`test_the_sports_day_videos_question_is_answered`).
ANSWERED = "Can I video my child at sports day?"
OTHER_TOPIC = "Can I share my password with a colleague?"
NO_RULE = Modality(prohibition=True, condition="", permission=False, obligation=False)

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


# --- the answer's text ---------------------------------------------------------------------


@pytest.mark.unit
def test_a_long_policy_title_is_shortened_in_the_sentence_and_a_short_one_kept():
    assert short_title("Social Media Policy and Use of Mobile Phones and Digital Photography Policy") == "Social Media Policy"
    assert short_title("Acceptable Use Policy & Code of Conduct for ICT and Social Media") == "Acceptable Use Policy"
    assert short_title("ICT Code of Conduct") == "ICT Code of Conduct"


@pytest.mark.unit
def test_the_answer_is_one_plain_sentence_without_quote_marks_or_a_list_preamble():
    lead_in = "Children have their photographs taken. It is important to be mindful of the following procedures:"
    sentence = "It is important to be mindful of the following procedures: Parents must not post videos of other children online."
    text = plain_answer("no", NO_RULE, sentence, "Glais", "Social Media Policy and Use of Mobile Phones", lead_in)
    assert text == "No — Glais's Social Media Policy says parents must not post videos of other children online."
    # a lead-in that starts the rule is joined into the sentence, not glued on with a colon
    joined = plain_answer("no", NO_RULE, "All staff should: Not disclose any passwords.", "X", "ICT Code", "All staff should:")
    assert joined == "No — X's ICT Code says all staff should not disclose any passwords."
    # a signed agreement ("I will …") is told to the reader
    agreement = plain_answer("no", NO_RULE, "I will not disclose passwords given to me.", "X", "Code", "")
    assert agreement == "No — X's Code says you will not disclose passwords given to you."
    cond = Modality(prohibition=False, condition="without prior permission", permission=False, obligation=False)
    assert plain_answer("conditional", cond, "Parents may film without prior permission.", "X", "Policy", "").startswith(
        "Only with prior permission — X's Policy says parents may film"
    )


@pytest.mark.integration
def test_the_clause_is_quoted_once_in_an_answer(bot):
    answer = bot.ask(ANSWERED, school=SCHOOL, audience="parent")
    assert answer.band == "answer" and answer.citations, answer
    assert "“" not in answer.text and "says:" not in answer.text, answer.text
    assert answer.text.count(".") >= 1 and "\n" not in answer.text
    assert bot.school_name(SCHOOL) in answer.text
    assert "Mobile Phones and Digital Photography" not in answer.text, "the long title is shortened in the sentence"
    page = answer_html(answer, bot.school_name(SCHOOL))
    assert page.count("“") == 0 and page.count('class="pa-quote"') == len(answer.citations)


# --- in the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(index_dir, bot):
    """The real app; every school lists only its own (example) sites, so a 127.0.0.1 site may not embed it."""
    settings = WebSettings(index_dir=index_dir, reload_interval=0, widget_origins="", question_log="off", rate_limit="off")
    with serve_app(create_app(settings, assistant=bot)) as base:
        yield base


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@pytest.mark.system
@pytest.mark.browser
def test_an_unknown_school_in_a_chat_link_says_so(page, app_url, bot):
    page.goto(f"{app_url}/?school=no-such-school&role=staff")
    sign_in_if_asked(page)
    notice = page.locator("#pa-school-notice .pa-school-notice")
    expect(notice).to_be_visible()
    first = bot.schools()[0].name
    expect(notice).to_contain_text("no-such-school")
    expect(notice).to_contain_text(f"{first} is selected instead")
    expect(page.get_by_role("combobox", name="School")).to_have_value(first)
    screenshot(page, "chat-unknown-school")
    # a known school in the link shows no notice
    page.goto(f"{app_url}/?school={SCHOOL}&role=staff")
    expect(page.get_by_role("combobox", name="School")).to_have_value(bot.school_name(SCHOOL))
    expect(page.locator("#pa-school-notice .pa-school-notice")).to_have_count(0)


def _ask_in_widget(page, question: str) -> dict:
    """Ask in the widget page; returns the JSON body it sent to /api/ask."""
    with page.expect_request(lambda r: r.url.endswith("/api/ask") and r.method == "POST") as sent:
        page.get_by_label("Your question").fill(question)
        page.get_by_role("button", name="Ask", exact=True).click()
    return json.loads(sent.value.post_data)


@pytest.mark.system
@pytest.mark.browser
def test_new_conversation_in_the_widget_clears_the_log_and_the_history_it_sends(page, app_url):
    page.goto(f"{app_url}/widget?school={SCHOOL}")
    hint = page.locator(".pa-hint")
    assert _ask_in_widget(page, COVERED)["history"] == []
    expect(page.locator(".pa-answer .pa-badge")).to_have_count(1)
    text = page.locator(".pa-answer .pa-text").first.inner_text()
    assert "“" not in text, "the clause is quoted in its citation only"
    assert _ask_in_widget(page, "what about photos?")["history"] == [COVERED]
    expect(page.locator(".pa-answer .pa-badge")).to_have_count(2)

    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(".pa-turn")).to_have_count(0)
    expect(hint).to_be_visible()
    expect(page.locator("#pa-status")).to_have_text("New conversation started.")
    expect(page.get_by_label("Your question")).to_be_focused()
    assert _ask_in_widget(page, OTHER_TOPIC)["history"] == [], "a new question starts fresh for retrieval"
    expect(page.locator(".pa-answer .pa-badge")).to_have_count(1)
    screenshot(page, "widget-new-conversation")


@pytest.mark.system
@pytest.mark.browser
def test_an_unreachable_server_is_explained_with_the_office_contact(page, app_url):
    page.goto(f"{app_url}/widget?school={SCHOOL}")
    page.route("**/api/ask", lambda route: route.abort("connectionrefused"))
    page.get_by_label("Your question").fill(COVERED)
    page.get_by_role("button", name="Ask", exact=True).click()
    error = page.locator(".pa-answer.pa-error .pa-text")
    expect(error).to_contain_text("The assistant is not reachable right now — please try again or contact the school office")
    expect(error.locator("a.pa-contact-tel")).to_have_attribute("href", re.compile(r"^tel:\d+$"))
    expect(error.locator("a.pa-contact-email")).to_have_attribute("href", re.compile(r"^mailto:.+@"))
    screenshot(page, "widget-unreachable")


@pytest.mark.system
@pytest.mark.browser
def test_the_widget_on_a_site_the_school_has_not_listed_says_it_is_not_enabled_there(page, app_url):
    with serve_example_site(app_url) as site:
        page.goto(site)
        page.get_by_role("button", name="Ask about our policies").click()
        message = page.locator("[data-policy-assistant] .pa-message")
        expect(message).to_be_visible()
        expect(message).to_contain_text("not enabled for this website")
        expect(message).to_contain_text(re.match(r"http://[^/]+", site).group(0))
        assert page.locator("[data-policy-assistant] iframe").count() == 0, "no frame the browser would refuse"
        screenshot(page, "widget-not-enabled")


@pytest.mark.system
def test_the_widget_status_says_which_sites_may_show_the_widget(app_url):
    status = httpx.get(f"{app_url}/api/widget-status", params={"school": SCHOOL}, headers={"Origin": "http://elsewhere.test"})
    assert status.json() == {"known": True, "enabled": False}
    assert status.headers["access-control-allow-origin"] == "*", "the refusing answer is readable by the page"
    listed = httpx.get(f"{app_url}/api/widget-status", params={"school": SCHOOL}, headers={"Origin": "https://www.glais.example"})
    assert listed.json() == {"known": True, "enabled": True}
    assert listed.headers.get_list("access-control-allow-origin") == ["https://www.glais.example"]
    assert httpx.get(f"{app_url}/api/widget-status", params={"school": "nope"}).json() == {"known": False, "enabled": False}


@pytest.mark.system
@pytest.mark.browser
def test_an_unreachable_server_is_explained_by_the_embed_script(page, app_url):
    with serve_example_site(app_url) as site:
        page.route("**/api/widget-status*", lambda route: route.abort("connectionrefused"))
        page.goto(site)
        page.get_by_role("button", name="Ask about our policies").click()
        message = page.locator("[data-policy-assistant] .pa-message")
        expect(message).to_contain_text("The assistant is not reachable right now — please try again or contact the school office")


@pytest.mark.integration
@pytest.mark.xfail(
    strict=True,
    reason="issue 16 open: since the pair model for verdicts (2026-11-29) the mixed verdict leans to 'yes' (0.46; the"
    " classifier read 'conditional', 0.47), below the 2/3 a 'yes' needs, so the answer is unsure",
)
def test_the_sports_day_videos_question_is_answered(bot):
    answer = bot.ask(COVERED, school=SCHOOL, audience="parent")
    assert answer.band == "answer" and answer.verdict != "yes", answer
