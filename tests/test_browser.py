"""Browser tests: Debian's Chromium (headless, via Playwright) against the real app on a real port.

What a person would do: open a school's site and ask through the widget; ask a question
and a follow-up in the staff chat and follow a citation into the policy; type markup
and see it shown as text. Screenshots land in ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import urlparse

import pytest
from browser_helpers import (
    contrast_ratio,
    normalise,
    screenshot,
    serve_app,
    serve_example_site,
    sign_in_if_asked,
)

from assistant.web import WebSettings, create_app
from assistant.web.render import VERDICT_LABELS

# `browser` tests skip when Debian's Chromium is missing (tests/conftest.py).
pytestmark = [pytest.mark.system, pytest.mark.browser]

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)  # a waiting limit, not a speed check: answers come slower on a loaded machine
LABELS = set(VERDICT_LABELS.values())
MARKUP_QUESTION = '<script>alert(1)</script> **bold** <img src=x onerror="alert(2)"> [link](http://example.com) # heading'


@pytest.fixture(scope="module")
def question_log_path(tmp_path_factory):
    return tmp_path_factory.mktemp("browser-log") / "questions.sqlite3"


@pytest.fixture(scope="module")
def app_url(index_dir, bot, question_log_path):
    """The real app on a free 127.0.0.1 port (uvicorn in a thread), over the session index."""
    # The example site runs on a random 127.0.0.1 port, so every site may embed the widget here;
    # tests/test_hardening_browser.py checks that a school's widget is refused on other sites.
    settings = WebSettings(index_dir=index_dir, reload_interval=0, widget_origins="*", question_log=str(question_log_path))
    app = create_app(settings, assistant=bot)
    with serve_app(app) as base:
        yield base


class Tab:
    """A browser page plus what it did that a user would not want: dialogs opened, other hosts contacted."""

    def __init__(self, page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.offsite: list[str] = []
        page.on("dialog", self._dialog)
        page.context.on("request", self._request)
        page.set_default_timeout(TIMEOUT_MS)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request) -> None:
        host = urlparse(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
            self.offsite.append(request.url)


@pytest.fixture()
def tab(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = Tab(context.new_page())
    yield tab
    context.close()


@pytest.fixture()
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    tab = Tab(context.new_page())
    yield tab
    context.close()


# --- staff chat ----------------------------------------------------------------------


def open_chat(tab: Tab, app_url: str, query: str = ""):
    page = tab.page
    page.goto(f"{app_url}/{query}")
    sign_in_if_asked(page)  # the staff chat needs sign-in (issue 17)
    expect(page.get_by_role("combobox", name="School")).not_to_have_value("")  # the app has loaded and applied ?school=
    return page


def broken_image_has_fired(element) -> None:
    """Return once an image with a broken source, added now to ``element``'s frame, has fired its error handler.

    Markup smuggled in by a question (``<img src=x onerror="alert(2)">``) would have asked for the
    same broken URL earlier, so by then its handler has run, and Playwright has seen any dialog it
    opened: a real condition to check ``Tab.dialogs`` after, where a fixed sleep only hopes.
    """
    element.evaluate(
        "el => new Promise(done => { const probe = new Image(); probe.onerror = probe.onload = () => done(); probe.src = 'x'; })"
    )


def ask_in_chat(page, question: str, press_enter: bool = False):
    """Type a question, send it, and return the answer block that appears for it."""
    before = page.locator("#pa-chat .pa-answer").count()
    box = page.get_by_label("Your question")
    box.fill(question)
    if press_enter:
        box.press("Enter")
    else:
        page.locator("#pa-ask").click()
    expect(page.locator("#pa-chat .pa-answer")).to_have_count(before + 1)
    return page.locator("#pa-chat .pa-answer").nth(before)


def test_staff_chat_follow_up_uses_the_first_question_and_citation_opens_the_clause(tab, app_url, bot, question_log_path):
    page = open_chat(tab, app_url)
    page.get_by_role("combobox", name="School").click()
    page.get_by_role("option", name=bot.school_name("glais")).click()
    expect(page.get_by_role("combobox", name="School")).to_have_value(bot.school_name("glais"))
    page.get_by_role("combobox", name="Asking as").click()
    page.get_by_role("option", name="Staff").click()

    first = ask_in_chat(page, "Can staff add parents as friends on Facebook?")
    assert first.locator(".pa-badge").inner_text() in LABELS
    second = ask_in_chat(page, "what about pupils?", press_enter=True)
    expect(page.locator("#pa-chat .user-row")).to_have_count(2)
    assert second.locator(".pa-badge").inner_text() in LABELS - {"Not covered"}
    quotes = second.locator(".pa-citation")
    assert quotes.count() >= 1
    assert any("friend" in q.lower() for q in quotes.locator(".pa-quote").all_inner_texts()), (
        "the follow-up was read as about friending pupils"
    )
    for link in page.locator("#pa-chat a.pa-open").all():
        assert link.get_attribute("href").startswith("/policies/glais/")
    for source in quotes.locator(".pa-source").all_inner_texts():
        assert bot.school_name("glais") in source
    screenshot(page, "chat")
    # staff questions reach the policy-gap report like the widget's: school, role, follow-up
    with sqlite3.connect(question_log_path) as db:
        logged = db.execute(
            "SELECT question, audience, follow_up FROM questions WHERE school = 'glais' AND question IN (?, ?) ORDER BY id",
            ("Can staff add parents as friends on Facebook?", "what about pupils?"),
        ).fetchall()
    assert logged == [("Can staff add parents as friends on Facebook?", "staff", 0), ("what about pupils?", "staff", 1)]

    cited = quotes.filter(has_text=re.compile("friend", re.I)).first
    quote_text = normalise(cited.locator(".pa-quote").inner_text())
    with page.context.expect_page() as opened:
        cited.get_by_role("link", name="open in policy").click()
    policy = opened.value
    policy.set_default_timeout(TIMEOUT_MS)
    policy.wait_for_load_state()
    clause_id = urlparse(policy.url).fragment
    assert clause_id and urlparse(policy.url).path.startswith("/policies/glais/")
    clause = policy.locator(f"[id='{clause_id}']")
    expect(clause).to_be_visible()
    expect(clause).to_have_class(re.compile(r"\bpa-highlight\b"))
    assert normalise(clause.inner_text()) in quote_text
    box = clause.bounding_box()
    viewport = policy.viewport_size
    assert box and 0 <= box["y"] < viewport["height"], "the page scrolled to the clause"
    background = policy.evaluate(f"getComputedStyle(document.getElementById('{clause_id}')).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), "the clause is visibly highlighted"
    screenshot(policy, "policy-highlight")
    assert not tab.offsite, f"the chat contacted other hosts: {tab.offsite}"


def test_markup_in_a_chat_question_is_shown_as_text(tab, app_url):
    page = open_chat(tab, app_url, "?school=glais&role=staff")
    ask_in_chat(page, MARKUP_QUESTION)
    message = page.locator("#pa-chat .user-row").last
    shown = message.inner_text()
    for literal in ("<script>alert(1)</script>", "**bold**", '<img src=x onerror="alert(2)">', "[link](http://example.com)", "# heading"):
        assert literal in shown
    assert message.locator("script, img, strong, a, h1").count() == 0
    broken_image_has_fired(message)
    assert tab.dialogs == [], "nothing typed is executed"
    screenshot(page, "chat-markup")


def test_staff_chat_fits_a_phone_screen(phone, app_url):
    page = open_chat(phone, app_url, "?school=glais&role=staff")
    answer = ask_in_chat(page, "Can I use my own phone to take pictures of the children?")
    page.wait_for_timeout(400)  # the chat scrolls the new answer into view
    expect(answer.locator(".pa-badge")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    for selector in ("#pa-ask", "#pa-question textarea", "#pa-school input"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    screenshot(page, "chat-phone")


# --- parent widget -------------------------------------------------------------------


def test_parent_widget_on_a_school_site_answers_with_a_quoted_clause(tab, app_url, bot):
    with serve_example_site(app_url) as site:
        page = tab.page
        page.goto(site)
        page.get_by_role("button", name="Ask about our policies").click()
        frame = page.frame_locator("iframe[title='Ask about our policies']")
        school = bot.school_name("st-michaels")
        expect(frame.get_by_role("heading", level=1)).to_have_text(school)
        frame.get_by_label("Your question").fill("can I post sports day videos?")
        frame.get_by_role("button", name="Ask", exact=True).click()
        answer = frame.locator(".pa-answer")
        expect(answer).to_have_count(1)
        verdict = answer.locator(".pa-badge").inner_text()
        assert verdict in LABELS - {"Not covered"}
        quote = answer.locator(".pa-citation").first
        expect(quote).to_be_visible()
        assert re.search(r"video|photograph", quote.locator(".pa-quote").inner_text(), re.I)
        assert school in quote.locator(".pa-source").inner_text()
        assert quote.get_by_role("link", name="open in policy").get_attribute("href").startswith("/policies/st-michaels/")
        screenshot(page, "widget")
    assert not tab.offsite, f"the widget contacted other hosts: {tab.offsite}"


def test_widget_is_usable_from_the_keyboard_with_labels_and_contrast(tab, app_url):
    with serve_example_site(app_url) as site:
        page = tab.page
        page.goto(site)
        launcher = page.locator(".pa-launcher")  # hidden while the panel is open, so found by class
        expect(launcher).to_have_accessible_name("Ask about our policies")
        for _ in range(12):  # Tab through the page's links until the widget button has focus
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement?.shadowRoot?.activeElement?.textContent") == "Ask about our policies":
                break
        else:
            pytest.fail("the widget button cannot be reached with Tab")
        page.keyboard.press("Enter")
        expect(launcher).to_have_attribute("aria-expanded", "true")
        frame = page.frame_locator("iframe[title='Ask about our policies']")
        box = frame.get_by_label("Your question")
        expect(box).to_be_focused()  # opening the widget puts the cursor in the question box
        page.keyboard.type("Can my child bring a mobile phone to school?")
        page.keyboard.press("Enter")
        expect(frame.locator(".pa-answer")).to_have_count(1)
        expect(frame.locator("#pa-status")).to_have_attribute("role", "status")
        expect(frame.locator("#pa-status")).to_contain_text("Answer")

        for selector in (".pa-badge", "#pa-send", ".pa-widget-header h1"):
            fg, bg = frame.locator(selector).first.evaluate(
                "e => { const s = getComputedStyle(e); let b = e, c = s.backgroundColor;"
                " while (c === 'rgba(0, 0, 0, 0)' && b.parentElement) { b = b.parentElement; c = getComputedStyle(b).backgroundColor; }"
                " return [s.color, c]; }"
            )
            assert contrast_ratio(fg, bg) >= 4.5, (selector, fg, bg)

        page.keyboard.press("Escape")
        expect(launcher).to_have_attribute("aria-expanded", "false")
        expect(page.get_by_role("dialog")).to_be_hidden()
        expect(launcher).to_be_focused()


def test_markup_in_a_widget_question_is_shown_as_text(tab, app_url):
    with serve_example_site(app_url) as site:
        page = tab.page
        page.goto(site)
        page.get_by_role("button", name="Ask about our policies").click()
        frame = page.frame_locator("iframe[title='Ask about our policies']")
        frame.get_by_label("Your question").fill(MARKUP_QUESTION)
        frame.get_by_role("button", name="Ask", exact=True).click()
        expect(frame.locator(".pa-answer")).to_have_count(1)
        question = frame.locator(".pa-question").last
        expect(question).to_have_text(MARKUP_QUESTION)
        assert question.locator("script, img, strong, a, h1").count() == 0
        broken_image_has_fired(question)
        assert tab.dialogs == [], "nothing typed is executed"
        screenshot(page, "widget-markup")


def test_widget_fills_a_phone_screen(phone, app_url):
    with serve_example_site(app_url) as site:
        page = phone.page
        page.goto(site)
        page.get_by_role("button", name="Ask about our policies").click()
        frame_box = page.locator("iframe[title='Ask about our policies']").bounding_box()
        assert frame_box and frame_box["x"] >= 0 and frame_box["x"] + frame_box["width"] <= 390
        frame = page.frame_locator("iframe[title='Ask about our policies']")
        frame.get_by_label("Your question").fill("Can I use my phone when I'm in school?")
        frame.get_by_role("button", name="Ask", exact=True).click()
        expect(frame.locator(".pa-answer .pa-badge")).to_be_visible()
        expect(frame.get_by_role("button", name="Ask", exact=True)).to_be_in_viewport()
        screenshot(page, "widget-phone")


def test_the_chat_offers_the_chosen_schools_own_examples_and_one_click_asks_it(tab, app_url, bot):
    from assistant.examples import read_examples

    corpus = Path(__file__).resolve().parents[1] / "corpus"
    offered = {s: [e.question for e in read_examples(corpus / s / "school.toml") if e.surface == "chat"] for s in ("glais", "st-michaels")}
    page = open_chat(tab, app_url, "?school=st-michaels")
    examples = page.locator("#pa-examples")
    for question in offered["st-michaels"]:
        expect(examples.get_by_text(question, exact=True)).to_be_visible()
    page.get_by_role("combobox", name="School").click()
    page.get_by_role("option", name=bot.school_name("glais")).click()
    for question in offered["glais"]:
        expect(examples.get_by_text(question, exact=True)).to_be_visible()
    expect(examples.get_by_text(offered["st-michaels"][0], exact=True)).to_have_count(0)
    examples.get_by_text(offered["glais"][0], exact=True).click()
    expect(page.locator("#pa-chat .pa-answer")).to_have_count(1)
    expect(page.locator("#pa-chat .pa-answer").first).to_contain_text(bot.school_name("glais"))
