"""Issue 18 in Chromium: rate answers in the widget and the staff chat, see them in the admin report,
turn one into a bank entry, run the school's bank from the admin page and see the table and misses.

A real server (uvicorn on 127.0.0.1) over the real corpus; the bank is written into a
temporary copy of the corpus. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser_helpers import launch_chromium, screenshot, serve_app, sign_in_if_asked

from assistant.web import WebSettings, create_app
from evals.metrics import load_bank

ROOT = Path(__file__).resolve().parents[1]
STARTER = [
    json.loads(line) for line in (ROOT / "evals" / "banks" / "starter.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
]
ITEM = next(i for i in STARTER if i["gold"] and not i["history"] and i["audience"] == "parent")
STAFF_ITEM = next(i for i in STARTER if i["gold"] and not i["history"] and i["school"] == ITEM["school"] and i is not ITEM)
TOKEN = "admin-token-for-the-feedback-browser-test"

pytestmark = [
    pytest.mark.system,
    pytest.mark.browser,
]


def test_rate_in_widget_and_chat_then_bank_and_run_from_the_admin_page(bot, index_dir, tmp_path, corpus_copy):
    expect = pytest.importorskip("playwright.sync_api").expect
    expect.set_options(timeout=60_000)  # answers share 2 cores with other work
    settings = WebSettings(
        index_dir=index_dir,
        reload_interval=0,
        widget_origins="*",
        question_log=str(tmp_path / "data" / "questions.sqlite3"),
        admin_token=TOKEN,
        corpus_dir=corpus_copy,
    )
    school = ITEM["school"]
    with serve_app(create_app(settings, assistant=bot)) as base, launch_chromium() as browser:
        # --- the widget: 👎 with a note and the right clause ---
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{base}/widget?school={school}")
        page.get_by_label("Your question").fill(ITEM["question"])
        page.get_by_role("button", name="Ask", exact=True).click()
        feedback = page.locator(".pa-feedback").first
        expect(feedback).to_be_visible()
        feedback.get_by_role("button", name="Wrong or unhelpful").click()
        feedback.get_by_label("What was wrong?").fill("It quoted the wrong rule")
        picker = feedback.get_by_label("The right part of the policy is…")
        expect(picker.locator("option")).not_to_have_count(1)  # the cited clauses (and their documents') are offered
        gold = next(c for c in bot.clauses(school) if ITEM["gold"][0].lower()[:40] in c.text.lower())
        expect(picker.locator(f"option[value='{gold.clause_id}']")).to_have_count(1)
        picker.select_option(gold.clause_id)
        screenshot(page, "widget-feedback")
        feedback.get_by_role("button", name="Send feedback").click()
        expect(feedback.locator(".pa-feedback-status")).to_contain_text("Thank you")

        # --- the staff chat: Gradio's dislike button, then the note panel ---
        chat = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        chat.set_default_timeout(60_000)
        chat.goto(f"{base}/?school={school}&role=staff")
        sign_in_if_asked(chat)
        expect(chat.locator("#pa-school input")).to_have_value(bot.school_name(school))  # ?school= applied on load
        chat.locator("#pa-question textarea").fill(STAFF_ITEM["question"])
        chat.locator("#pa-ask").click()
        expect(chat.locator("#pa-chat .message-row.bot-row, #pa-chat .bot")).not_to_have_count(0)
        chat.get_by_role("button", name="Dislike").last.click()
        expect(chat.locator("#pa-feedback").first).to_be_visible()
        chat.locator("#pa-feedback-note textarea").fill("Staff note: wrong clause")
        chat.locator("#pa-feedback-clause input").click()
        chat.get_by_role("option").first.click()  # the first cited clause
        screenshot(chat, "chat-feedback", full_page=True)
        chat.locator("#pa-feedback-send").click()
        expect(chat.locator("#pa-feedback-status")).to_contain_text("the school will look at this answer")

        # --- the admin page: picker, the two 👎, one turned into a bank entry ---
        admin = browser.new_context(
            viewport={"width": 1280, "height": 900}, http_credentials={"username": "admin", "password": TOKEN}
        ).new_page()
        admin.set_default_timeout(120_000)
        admin.goto(f"{base}/admin/school")
        admin.get_by_label("School").select_option(school)
        admin.get_by_role("button", name="Show").click()
        down = admin.locator("table.pa-down tbody tr")
        expect(down).to_have_count(2)
        expect(admin.locator("table.pa-down")).to_contain_text("It quoted the wrong rule")
        expect(down.filter(has_text="Staff note: wrong clause")).to_contain_text("right clause:")  # the chat's picker
        row = down.filter(has_text="It quoted the wrong rule")
        expect(row).to_contain_text(ITEM["question"])
        expect(row.locator(".pa-bank-clause")).to_have_value(gold.clause_id)  # the clause the parent chose
        row.locator(".pa-bank-verdict").select_option(ITEM["verdict"][0])
        row.get_by_role("button", name="Add to bank").click()
        expect(row.locator(".pa-bank-added")).to_contain_text(f"{school}-q001")
        (entry,) = load_bank(corpus_copy / school / "questions.jsonl")
        assert entry.question == ITEM["question"] and entry.gold == (gold.text,) and entry.verdict == (ITEM["verdict"][0],)

        # --- run the bank twice: the table, the misses and the trend ---
        admin.reload()
        admin.get_by_role("button", name="Run the bank").click()
        expect(admin.locator("table.pa-bank-metrics")).to_contain_text("hit_at_1")
        expect(admin.locator("table.pa-bank-trend tbody tr")).to_have_count(1)
        admin.get_by_role("button", name="Run the bank").click()
        expect(admin.locator("table.pa-bank-trend tbody tr")).to_have_count(2)
        expect(admin.locator("svg.pa-bank-chart polyline")).to_have_count(2)  # the chart: hit@1 and verdict accuracy
        expect(admin.get_by_text("1 questions in")).to_be_visible()
        expect(admin.locator("h3", has_text="Misses")).to_be_visible()
        screenshot(admin, "admin-bank-run", full_page=True)
