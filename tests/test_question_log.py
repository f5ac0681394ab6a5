"""The question log: personal data redacted before it is written, no client address, retention, the
policy-gap report (CLI and admin page), and durability across a ``kill -9`` of a real server process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from server_helpers import app_env, create_app, free_port, start_app, stop, wait_healthy

from assistant.cli import main as cli_main
from assistant.question_log import WITHHELD, QuestionLog
from assistant.redaction import redact
from assistant.web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "question-log-admin-token-42"
DAY = 86400


# --- redaction ---------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "gone", "placeholder"),
    [
        ("Please email me at jane.doe+school@example.co.uk about it", ["jane.doe", "example.co.uk"], "{{EMAIL}}"),
        ("ring me on 07911 123456 after 3", ["07911", "123456"], "{{PHONE}}"),
        ("my landline is 020 7946 0018", ["7946"], "{{PHONE}}"),
        ("call +44 7911 123456 tonight", ["7911"], "{{PHONE}}"),
        ("drama-range 07700 900123 is still a phone number", ["900123"], "{{PHONE}}"),
        ("we live at SW1A 1AA near the school", ["SW1A"], "{{POSTALCODE}}"),
        ("postcode m1 1ae", ["m1 1ae"], "{{POSTALCODE}}"),
        ("Can my son Tom bring his phone?", ["Tom"], "{{NAME}}"),
        ("my daughter, Amelia-Rose, was filmed", ["Amelia"], "{{NAME}}"),
        ("our twins Amelia and Jack McDonald", ["Amelia", "Jack", "McDonald"], "{{NAME}}"),
        ("Mrs Smith posted a photo of the class", ["Smith"], "{{NAME}}"),
        ("Can Mr. O'Neill add me on Facebook?", ["Neill"], "{{NAME}}"),
        ("a boy called oliver twist keeps messaging", ["oliver"], "{{NAME}}"),
        ("hi my name is sarah jones, can I film?", ["sarah", "jones"], "{{NAME}}"),
        ("I'm Priya Patel, Ravi's mum", ["Priya", "Patel", "Ravi"], "{{NAME}}"),
        # issue 17: dates (of birth), street addresses, NHS numbers, health conditions
        ("she was born 12/03/2015, is that too young?", ["12/03", "2015"], "{{DATE}}"),
        ("DOB 2015-03-12", ["2015"], "{{DATE}}"),
        ("his birthday is 3rd March 2015", ["March", "2015"], "{{DATE}}"),
        ("born on March 3rd, 2016", ["March", "2016"], "{{DATE}}"),
        ("she was born in 2015", ["2015"], "{{DATE}}"),
        ("we live at 12 Acacia Avenue", ["12 Acacia", "Avenue"], "{{ADDRESS}}"),
        ("flat 3b, 45 high street, is that in the catchment?", ["3b", "45 high"], "{{ADDRESS}}"),
        ("221B Baker St is our address", ["221B", "Baker"], "{{ADDRESS}}"),
        ("his NHS number is 943 476 5919", ["943", "5919"], "{{NHS_NUMBER}}"),
        ("NHS no. 9434765919", ["9434765919"], "{{NHS_NUMBER}}"),
        ("my son has autism and ADHD", ["autism", "ADHD"], "{{HEALTH}}"),
        ("she is epileptic and diabetic", ["epileptic", "diabetic"], "{{HEALTH}}"),
        ("he carries an EpiPen for a nut allergy", ["EpiPen", "allergy"], "{{HEALTH}}"),
        ("she has been self-harming and has an eating disorder", ["self-harming", "eating disorder"], "{{HEALTH}}"),
        ("our daughter is pregnant", ["pregnant"], "{{HEALTH}}"),
        # invisible and full-width characters do not hide anything
        ("mail tom@\u200bexample.com please", ["example.com", "tom@"], "{{EMAIL}}"),
        ("ring 07911\u2060 123456", ["07911", "123456"], "{{PHONE}}"),
        ("ring \uff10\uff17\uff19\uff11\uff11 \uff11\uff12\uff13\uff14\uff15\uff16", ["\uff10\uff17", "07911"], "{{PHONE}}"),
    ],
)
def test_personal_data_is_replaced_by_placeholders(text, gone, placeholder):
    clean = redact(text)
    assert placeholder.strip("{}") in clean  # overlapping finds merge: {{EMAIL+EMAIL}}
    for piece in gone:
        assert piece not in clean, clean


@pytest.mark.unit
def test_everyday_policy_questions_are_left_as_asked():
    bank = [json.loads(line)["question"] for line in (ROOT / "evals" / "banks" / "starter.jsonl").read_text().splitlines() if line.strip()]
    changed = [q for q in bank if redact(q) != q]
    assert changed == [], changed


@pytest.mark.unit
@pytest.mark.parametrize(
    ("question", "secrets"),
    [
        ("Can Tom bring his phone?", ["Tom"]),
        ("jack smith in year 2 has autism and ADHD", ["jack", "smith", "autism", "ADHD"]),
        ("is it ok if olivia's mum films the play", ["olivia"]),
        ("Zephyrine keeps messaging my son on Instagram", ["Zephyrine"]),
        ("Can I give Mohammed Khan a lift home?", ["Mohammed", "Khan"]),
    ],
)
def test_a_question_that_may_still_name_someone_is_not_stored_as_text(tmp_path, question, secrets):
    # Patterns cannot redact a bare name ("Can Tom …", "jack smith"), so by default the log keeps no text that
    # may still name someone: only its verdict and clause (README, "Safety and privacy").
    log = QuestionLog(tmp_path / "q.sqlite3")
    log.record("glais", question, "no", "parent", "clause-1")
    assert log.questions() == [f"{WITHHELD} (cited clause clause-1)"]
    log.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("q.sqlite3*"))
    for secret in secrets:
        assert secret.encode() not in raw


@pytest.mark.unit
def test_no_question_of_the_evaluation_banks_is_withheld_by_the_name_check():
    # The banks hold 311 questions as people type them and name nobody: the check must leave them for the report.
    from assistant.redaction import possible_names

    paths = sorted((ROOT / "evals" / "banks").glob("*.jsonl"))
    assert [path.name for path in paths] == ["holdout.jsonl", "policy_bank.jsonl", "starter.jsonl"]
    bank = [json.loads(line)["question"] for path in paths for line in path.read_text().splitlines() if line.strip()]
    flagged = {q: possible_names(redact(q)) for q in bank if possible_names(redact(q))}
    assert flagged == {}


@pytest.mark.unit
def test_the_store_setting_keeps_the_clause_only_or_every_redacted_question(tmp_path):
    clause_only = QuestionLog(tmp_path / "a.sqlite3", store="clause")
    clause_only.record("glais", "Can I post sports day videos?", "conditional", "parent", "c2")
    clause_only.record("glais", "Can I bring my dog?", "not_covered")
    assert clause_only.questions() == [f"{WITHHELD} (cited clause c2)", f"{WITHHELD} (no clause cited)"]
    report = clause_only.report("glais")
    assert (report.total, report.not_covered_total) == (2, 1)
    clause_only.close()
    everything = QuestionLog(tmp_path / "b.sqlite3", store="redacted")
    everything.record("glais", "Can Tom bring his phone on 3rd March?", "no")
    assert everything.questions() == ["Can Tom bring his phone on {{DATE}}?"]
    everything.close()


# --- the log -------------------------------------------------------------------------------


@pytest.mark.unit
def test_log_stores_redacted_questions_only_and_purges_old_ones(tmp_path):
    path = tmp_path / "q.sqlite3"
    log = QuestionLog(path, retention_days=90)
    now = time.time()
    log.record("glais", "my son Tom (tom@example.com) wants his phone", "no", "parent", "c1", asked_at=now - 91 * DAY)
    log.record("glais", "Can I post sports day videos?", "conditional", "parent", "c2", asked_at=now - 89 * DAY)
    log.record("glais", "my son Tom (tom@example.com) wants his phone", "no", "parent", "c1")
    assert log.count() == 3
    assert log.purge() == 1  # the 91-day-old one
    assert log.questions() == ["Can I post sports day videos?", "my son {{NAME}} ({{EMAIL}}) wants his phone"]
    log.close()
    columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(questions)")]
    assert not {"ip", "client", "host", "address", "history"} & set(columns)
    assert b"tom@example.com" not in path.read_bytes() and b"Tom (" not in path.read_bytes()
    # Retention is applied on opening too.
    old = QuestionLog(path, retention_days=1)
    assert old.count() == 1
    old.close()


@pytest.mark.unit
def test_report_lists_the_most_asked_and_the_not_covered(tmp_path):
    log = QuestionLog(tmp_path / "q.sqlite3")
    for _ in range(3):
        log.record("glais", "Can I post sports day videos?", "conditional")
    log.record("glais", "can i post sports day videos", "conditional")  # the same question, typed differently
    for _ in range(2):
        log.record("glais", "Can I bring my dog to sports day?", "not_covered")
    log.record("glais", "Is there a uniform policy?", "not_covered")
    log.record("st-michaels", "Can I bring my dog to sports day?", "not_covered")
    report = log.report("glais")
    assert (report.total, report.not_covered_total) == (7, 3)
    assert [(r.count, r.verdict) for r in report.most_asked] == [(4, "conditional"), (2, "not_covered"), (1, "not_covered")]
    assert [(r.question, r.count) for r in report.not_covered] == [
        ("Can I bring my dog to sports day?", 2),
        ("Is there a uniform policy?", 1),
    ]
    log.close()


# --- through the API, the admin page and the CLI ------------------------------------------


@pytest.mark.integration
def test_asked_questions_reach_the_report_redacted_and_without_the_client_address(index_dir, bot, tmp_path, capsys):
    path = tmp_path / "data" / "questions.sqlite3"
    web = WebSettings(index_dir=index_dir, reload_interval=0, question_log=str(path), admin_token=TOKEN, rate_limit="off")
    with TestClient(create_app(web, assistant=bot)) as c:
        body = {
            "question": "My daughter Emily (07911 123456) wants to bring a drone to sports day, ok?",
            "school": "glais",
            "audience": "parent",
        }
        for _ in range(2):
            assert c.post("/api/ask", json=body).status_code == 200
        assert c.post("/api/ask", json={**body, "question": "Can I post sports day videos?"}).status_code == 200
        page = c.get("/admin/report?school=glais", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200
    assert "My daughter {{NAME}}" in page.text and "PHONE" in page.text and "wants to bring a drone" in page.text
    assert "Emily" not in page.text and "07911" not in page.text
    stored = path.read_bytes() + b"".join(p.read_bytes() for p in path.parent.glob("questions.sqlite3-*"))
    for secret in (b"Emily", b"07911", b"testclient", b"127.0.0.1"):
        assert secret not in stored

    assert cli_main(["report", "--school", "glais", "--log", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 questions logged" in out and "2 × My daughter {{NAME}}" in out
    assert cli_main(["report", "--school", "glais", "--log", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 3
    assert cli_main(["report", "--school", "glais", "--log", str(tmp_path / "none.sqlite3")]) == 1
    assert "no question log" in capsys.readouterr().err


@pytest.mark.integration
def test_question_log_off_writes_nothing(index_dir, bot, tmp_path):
    web = WebSettings(index_dir=tmp_path / "index", reload_interval=0, question_log="off")
    with TestClient(create_app(web, assistant=bot)) as c:
        assert c.post("/api/ask", json={"question": "Can I post sports day videos?", "school": "glais"}).status_code == 200
    assert c.app.state.question_log is None
    assert not (tmp_path / "data").exists()


# --- durability: kill -9 loses no acknowledged question ------------------------------------


@pytest.mark.system
def test_acknowledged_questions_survive_kill_9_of_the_server(index_dir, tmp_path):
    path = tmp_path / "questions.sqlite3"
    port = free_port()
    server = start_app(port, index_dir, app_env(ASSISTANT_QUESTION_LOG=str(path)), tmp_path / "app.log", "--log-level", "warning")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(port, server, timeout=180)
        acknowledged = []
        with httpx.Client(base_url=base, timeout=30) as http:
            for n in range(25):
                question = f"Can I post photos of sports day number {n}?"
                if http.post("/api/ask", json={"question": question, "school": "st-michaels", "audience": "parent"}).status_code == 200:
                    acknowledged.append(question)
        os.kill(server.pid, signal.SIGKILL)  # no shutdown handler runs
        server.wait(timeout=30)
    finally:
        stop(server)
    assert len(acknowledged) == 25
    stored = QuestionLog(path).questions("st-michaels")
    assert stored == acknowledged
