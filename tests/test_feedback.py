"""Issue 18, items 1–2: feedback on answers (POST /api/feedback) and the school's own question bank from the admin page.

The real assistant over the real corpus, through `create_app` (FastAPI's TestClient); bank
entries are written into a temporary copy of the corpus, never into corpus/.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_helpers import create_app

from assistant.feedback import FeedbackStore
from assistant.question_log import WITHHELD, QuestionLog
from assistant.school_bank import add_entry, bank_path, past_runs
from assistant.web.settings import WebSettings
from evals.metrics import load_bank

ROOT = Path(__file__).resolve().parents[1]
STARTER = [
    json.loads(line) for line in (ROOT / "evals" / "banks" / "starter.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
]
#: An answerable starter question (with its school, audience and gold quote).
ITEM = next(i for i in STARTER if i["gold"] and not i["history"])
TOKEN = "admin-token-for-feedback-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
BASIC = {"Authorization": "Basic " + base64.b64encode(f"admin:{TOKEN}".encode()).decode()}


def _app(bot, index_dir, tmp_path, corpus_dir, **extra):
    settings = WebSettings(
        index_dir=index_dir,
        reload_interval=0,
        question_log=str(tmp_path / "data" / "questions.sqlite3"),
        admin_token=TOKEN,
        corpus_dir=corpus_dir,
        **extra,
    )
    return create_app(settings, assistant=bot)


@pytest.fixture()
def client(bot, index_dir, tmp_path, corpus_copy):
    with TestClient(_app(bot, index_dir, tmp_path, corpus_copy, log_questions="redacted")) as c:
        yield c


def _ask(client, question=ITEM["question"], school=ITEM["school"]) -> dict:
    response = client.post("/api/ask", json={"question": question, "school": school, "audience": ITEM["audience"]})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.integration
def test_feedback_is_stored_redacted_with_the_answer_and_never_the_ip(client, tmp_path):
    answer = _ask(client, ITEM["question"] + " Email me at jo.bloggs@example.com")
    assert answer["answer_id"]
    clause = answer["citations"][-1]["clause_id"]
    response = client.post(
        "/api/feedback",
        json={"answer_id": answer["answer_id"], "rating": "down", "note": "Wrong part, call 07700 900123", "clause_id": clause},
    )
    assert response.status_code == 200, response.text
    db = tmp_path / "data" / "feedback.sqlite3"
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert "jo.bloggs@example.com" not in dump and "07700 900123" not in dump  # redacted like the question log
    assert "testclient" not in dump and "127.0.0.1" not in dump  # never the client address
    report = client.get("/admin/school.json", params={"school": ITEM["school"]}, headers=BEARER).json()
    (down,) = report["thumbs_down"]
    assert down["chosen_clause"] == clause and down["rating"] == "down"
    assert down["verdict"] == answer["verdict"] and down["band"] == answer["band"]
    assert down["citations"] == [c["clause_id"] for c in answer["citations"]]
    assert down["confidence"] == pytest.approx(answer["confidence"]) if answer["confidence"] is not None else down["confidence"] is None
    assert "Wrong part" in down["note"] and "07700" not in down["note"]


@pytest.mark.integration
def test_feedback_refuses_unknown_answers_bad_ratings_and_clauses_of_another_school(client, bot):
    answer = _ask(client)
    assert client.post("/api/feedback", json={"answer_id": "no-such-answer", "rating": "up"}).status_code == 404
    assert client.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "meh"}).status_code == 422
    other = next(s.school for s in bot.schools() if s.school != ITEM["school"])
    foreign = bot.clauses(other)[0].clause_id
    refused = client.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "down", "clause_id": foreign})
    assert refused.status_code == 422
    clauses = client.get("/api/clauses", params={"school": ITEM["school"]}).json()
    assert {c["clause_id"] for c in clauses} == {c.clause_id for c in bot.clauses(ITEM["school"])}
    assert client.get("/api/clauses", params={"school": "no-such-school"}).status_code == 404


@pytest.mark.integration
def test_feedback_is_rate_limited_per_client(bot, index_dir, tmp_path, corpus_copy):
    with TestClient(_app(bot, index_dir, tmp_path, corpus_copy, rate_limit="3/minute")) as c:
        answer = _ask(c)
        codes = [c.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.integration
def test_admin_page_has_a_school_picker_and_the_report(client, bot):
    answer = _ask(client)
    client.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "down", "note": "not this"})
    picker = client.get("/admin/school", headers=BASIC)
    assert picker.status_code == 200 and "<select" in picker.text
    for info in bot.schools():
        assert f"value='{info.school}'" in picker.text
    unknown = client.get("/admin/school", params={"school": "no-such-school"}, headers=BASIC)
    assert unknown.status_code == 404 and "There is no school" in unknown.text and "<select" in unknown.text
    response = client.get("/admin/school", params={"school": ITEM["school"]}, headers=BASIC)
    assert "script-src 'self'" in response.headers["content-security-policy"] and response.headers["cache-control"] == "no-store"
    page = response.text
    assert "Rated 👎" in page and "not this" in page and "Most asked" in page and "Low confidence" in page
    assert ITEM["question"] in page
    assert re.search(r"<td>\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC</td>", page)  # a date for people, not ISO
    assert client.get("/admin/school", params={"school": ITEM["school"]}).status_code == 401
    old = client.get("/admin/report", headers=BASIC, follow_redirects=False)  # no school: the picker, not a raw 422
    assert old.status_code == 303 and old.headers["location"] == "/admin/school"


@pytest.mark.integration
def test_bank_entry_from_a_logged_question_then_run_the_bank(client, corpus_copy, tmp_path, bot):
    answer = _ask(client)
    gold_clause = next(c for c in bot.clauses(ITEM["school"]) if ITEM["gold"][0].lower()[:40] in c.text.lower())
    body = {"answer_id": answer["answer_id"], "verdict": [ITEM["verdict"][0]], "clause_id": gold_clause.clause_id}
    # CSRF: the page's saved Basic password works only with the page's header and this server's origin.
    assert client.post("/admin/bank/add", json=body, headers=BASIC).status_code == 403
    assert (
        client.post("/admin/bank/add", json=body, headers={**BASIC, "X-PA-Admin": "1", "Origin": "https://evil.example"}).status_code == 403
    )
    assert client.post("/admin/bank/add", json=body).status_code == 401
    added = client.post("/admin/bank/add", json=body, headers={**BASIC, "X-PA-Admin": "1"})
    assert added.status_code == 200, added.text
    (item,) = load_bank(bank_path(corpus_copy, ITEM["school"]))  # the shared schema, read by evals
    assert item.question == ITEM["question"] and item.gold == (gold_clause.text,) and item.verdict == (ITEM["verdict"][0],)
    assert client.post("/admin/bank/add", json=body, headers=BEARER).status_code == 422  # already in the bank

    not_covered = _ask(client, "Can I bring my pet llama to the nativity play?")
    client.post("/admin/bank/add", json={"answer_id": not_covered["answer_id"], "verdict": ["not_covered"]}, headers=BEARER)

    run = client.post("/admin/bank/run", json={"school": ITEM["school"]}, headers=BEARER)
    assert run.status_code == 200, run.text
    result = run.json()
    assert result["questions"] == 2 and result["metrics"]["hit_at_1"] == 1.0
    client.post("/admin/bank/run", json={"school": ITEM["school"]}, headers=BEARER)
    assert len(past_runs(tmp_path / "data", ITEM["school"])) == 2
    response = client.get("/admin/school", params={"school": ITEM["school"]}, headers=BASIC)
    assert "script-src 'self'" in response.headers["content-security-policy"] and response.headers["cache-control"] == "no-store"
    page = response.text
    assert "Run the bank" in page and "hit_at_1" in page and "Trend" in page and "2 questions in" in page
    assert f"In the bank as {ITEM['school']}-q001" in page  # a banked question is not offered twice
    assert page.count("<circle") == 4  # the trend chart: two runs, two lines


@pytest.mark.unit
def test_withheld_questions_and_notes_are_not_stored_or_banked(tmp_path, corpus_copy):
    log = QuestionLog(tmp_path / "q.sqlite3", store="clause")
    store = FeedbackStore(tmp_path / "f.sqlite3", log)
    answer_id = store.record_answer("school-a", "parent", "Can Mrs Smith see my photos?", "no", "answer", 0.5, ["c1"])
    store.add_feedback(answer_id, "down", "Mrs Smith said otherwise", "c2")
    row = store.answer(answer_id)
    assert row.question.startswith(WITHHELD) and row.note.startswith(WITHHELD) and "Smith" not in row.note
    with pytest.raises(ValueError):
        add_entry(corpus_copy, ITEM["school"], row.question, "parent", ["no"], ["some clause"])
    with pytest.raises(KeyError):
        store.add_feedback("missing", "up")


@pytest.mark.unit
def test_answers_follow_the_question_logs_retention_and_row_cap(tmp_path):
    log = QuestionLog(tmp_path / "q.sqlite3", retention_days=1, max_rows=3, store="redacted")
    store = FeedbackStore(tmp_path / "f.sqlite3", log, retention_days=1)
    old = store.record_answer("school-a", "parent", "An old question", "no", "answer", 0.5, ["c1"], asked_at=0.0)
    store.add_feedback(old, "down")
    store.purge()
    assert store.answer(old) is None and store.report("school-a").thumbs_down == []
    ids = [store.record_answer("school-a", "parent", f"Question {n}", "yes", "answer", 0.9, ["c1"]) for n in range(5)]
    assert [store.answer(i) is not None for i in ids] == [False, False, True, True, True]


@pytest.mark.unit
def test_the_report_groups_most_asked_and_lists_not_covered_unsure_and_thumbs_down(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3", QuestionLog(tmp_path / "q.sqlite3", store="redacted"))
    for _ in range(3):
        store.record_answer("school-a", "parent", "Can I bring my dog?", "not_covered", "not_covered", 0.1, [])
    unsure = store.record_answer("school-a", "staff", "Can I use my phone?", "unsure", "unsure", 0.3, ["c1", "c2", "c3"])
    down = store.record_answer("school-a", "staff", "Can I post photos?", "yes", "answer", 0.8, ["c4"])
    store.record_answer("school-b", "parent", "Can I post photos?", "yes", "answer", 0.8, ["c9"])
    store.add_feedback(down, "up")
    store.add_feedback(down, "down", "wrong", "c5")  # the latest rating counts
    report = store.report("school-a")
    assert report.total == 5 and report.thumbs_up == 1
    assert (report.most_asked[0].question, report.most_asked[0].count, len(report.most_asked)) == ("Can I bring my dog?", 3, 3)
    assert [r.question for r in report.not_covered] == ["Can I bring my dog?"]
    assert [r.answer_id for r in report.unsure] == [unsure] and report.unsure[0].citations == ["c1", "c2", "c3"]
    (row,) = report.thumbs_down
    assert (row.answer_id, row.note, row.chosen_clause, row.confidence) == (down, "wrong", "c5", 0.8)
