"""Accessibility (issue 18, item 5): axe-core in Debian's Chromium on the staff chat, the widget,
the policy viewer and the admin page, at 1280×900 and 390×844, with no serious or critical
violation; and, on a phone, the school's name is not cut off and the chat does not scroll
inside a scrolling page.

axe-core comes from npm into ``tests/.axe`` (git-ignored): the test runs
``npm install --prefix tests/.axe axe-core@4`` when it is missing, and skips when that is not
possible (no npm, no registry). It is injected with Playwright (``bypass_csp``: the pages'
own CSP allows only their own scripts).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from browser_helpers import screenshot, serve_app, sign_in_if_asked

from assistant.web import WebSettings, create_app

# `browser` tests skip when Debian's Chromium is missing (tests/conftest.py).
pytestmark = [pytest.mark.system, pytest.mark.browser]
playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)

AXE_DIR = Path(__file__).resolve().parent / ".axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
TOKEN = "admin-token-for-the-accessibility-test"
SCHOOL = "glais"
QUESTION = "Can I post sports day videos?"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


def axe_source() -> str:
    """axe-core's ``axe.min.js``, installed from npm into ``tests/.axe`` if missing (skips the test when it cannot be)."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core is not in tests/.axe and npm is not installed")
        done = subprocess.run(
            [npm, "install", "--prefix", str(AXE_DIR), "--no-save", "--no-audit", "--no-fund", "axe-core@4"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not AXE_JS.exists():
            pytest.skip(f"could not install axe-core from npm: {done.stderr[-300:]}")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.fixture(scope="module")
def app_url(index_dir, bot, tmp_path_factory):
    log = tmp_path_factory.mktemp("a11y-log") / "questions.sqlite3"  # the admin page needs the question log
    settings = WebSettings(
        index_dir=index_dir, reload_interval=0, widget_origins="*", question_log=str(log), rate_limit="off", admin_token=TOKEN
    )
    with serve_app(create_app(settings, assistant=bot)) as base:
        yield base


def new_page(browser, size: str, **extra):
    width, height = SIZES[size]
    phone = size == "phone"
    context = browser.new_context(
        viewport={"width": width, "height": height},
        bypass_csp=True,
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=2 if phone else 1,
        **extra,
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def serious_violations(page, axe: str) -> list[str]:
    """Run axe-core on ``page``; the serious and critical violations, one line each (rule, nodes)."""
    page.add_script_tag(content=axe)
    results = page.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    found = []
    for violation in json.loads(results)["violations"]:
        if violation["impact"] in ("serious", "critical"):
            nodes = "; ".join(n["html"][:120] + " — " + n.get("failureSummary", "")[:200] for n in violation["nodes"][:4])
            found.append(f"{violation['id']} ({violation['impact']}): {nodes}")
    return found


def assert_accessible(page, axe: str) -> None:
    """Fail listing every serious or critical axe-core violation on ``page`` (`serious_violations`)."""
    found = serious_violations(page, axe)
    assert not found, f"{page.url}:\n" + "\n".join(found)


def open_chat_with_answer(page, app_url: str, school_name: str, school: str = SCHOOL, questions: tuple[str, ...] = (QUESTION,)):
    """The staff chat for ``school`` (signed in; ``school_name`` shown once the link is applied), after asking ``questions``."""
    page.goto(f"{app_url}/?school={school}&role=staff")
    sign_in_if_asked(page)
    expect(page.locator("#pa-school input")).to_have_value(school_name)  # ?school= applied: ask that school, not the first
    for n, question in enumerate(questions, start=1):
        page.get_by_label("Your question").fill(question)
        page.locator("#pa-ask").click()
        expect(page.locator("#pa-chat .pa-answer .pa-badge")).to_have_count(n, timeout=90_000)  # a loaded machine is slow
    page.wait_for_timeout(300)


@pytest.mark.parametrize("size", SIZES)
def test_staff_chat_has_no_serious_accessibility_violations(browser, app_url, bot, axe, size):
    page = new_page(browser, size)
    open_chat_with_answer(page, app_url, bot.school_name(SCHOOL))
    assert_accessible(page, axe)
    labels = page.locator("#pa-chat [aria-label]").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert labels and not [label for label in labels if "<" in label], f"raw HTML in the chat's aria-labels: {labels}"
    assert any(label.startswith("Answer: ") for label in labels), labels
    screenshot(page, f"a11y-chat-{size}")
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_widget_has_no_serious_accessibility_violations(browser, app_url, axe, size):
    page = new_page(browser, size)
    page.goto(f"{app_url}/widget?school={SCHOOL}")
    assert_accessible(page, axe)
    page.get_by_label("Your question").fill(QUESTION)
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator(".pa-answer .pa-badge")).to_have_count(1)
    assert_accessible(page, axe)
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_policy_viewer_has_no_serious_accessibility_violations(browser, app_url, bot, axe, size):
    document = bot.clauses(SCHOOL)[0].document
    page = new_page(browser, size)
    page.goto(f"{app_url}/policies/{SCHOOL}/{document}")
    assert_accessible(page, axe)
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_admin_page_has_no_serious_accessibility_violations(browser, app_url, axe, size):
    page = new_page(browser, size, http_credentials={"username": "admin", "password": TOKEN})
    page.goto(f"{app_url}/admin/school?school={SCHOOL}")
    assert_accessible(page, axe)
    page.goto(f"{app_url}/admin/report?school={SCHOOL}")
    assert_accessible(page, axe)
    page.context.close()


def test_on_a_phone_the_school_name_shows_in_full_and_the_chat_scrolls_with_the_page(browser, app_url, bot):
    school = max((s.school for s in bot.schools()), key=lambda s: len(bot.school_name(s)))  # the longest name
    name = bot.school_name(school)
    page = new_page(browser, "phone")
    open_chat_with_answer(page, app_url, name, school, (QUESTION, "Can I use my phone in class?"))
    screenshot(page, "a11y-chat-phone-layout", full_page=True)
    shown = page.locator("#pa-school input")
    fits = shown.evaluate("input => input.scrollWidth <= input.clientWidth + 1")
    assert shown.input_value() == name and fits, "the school's name is cut off in the School box"
    # one scrolling area: the chat log does not scroll inside the scrolling page
    inner = page.evaluate(
        """() => [...document.querySelectorAll('#pa-chat *')].filter(el => {
            const style = getComputedStyle(el);
            return /(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
        }).length"""
    )
    page_scrolls = page.evaluate("document.documentElement.scrollHeight > innerHeight")
    assert not (inner and page_scrolls), "the chat scrolls inside a scrolling page"
    page.context.close()
