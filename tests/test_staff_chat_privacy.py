"""Issue 17, items 2, 3 and 5: the staff chat needs sign-in and is rate-limited like ``/api/ask``, Gradio takes
no uploads, the question log has a size cap, and personal data typed into the chat never reaches the log.

Every test runs the real app (uvicorn on a free 127.0.0.1 port) and drives Gradio's own endpoints
(``POST /gradio_api/queue/join`` and its event stream, ``POST /gradio_api/upload``), as a script would.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from browser_helpers import serve_app
from server_helpers import STAFF_PASSWORD, create_app, sign_in, staff_client

from assistant.question_log import WITHHELD, QuestionLog
from assistant.web.settings import WebSettings
from assistant.web.staff_auth import STAFF_COOKIE, StaffSignIn, resolve_staff_password

ROOT = Path(__file__).resolve().parents[1]


def ask_in_chat(client: httpx.Client, question: str, school: str = "glais", audience: str = "staff") -> str:
    """Ask ``question`` through the staff chat's real queue (``/gradio_api/queue/join`` and ``/queue/data``,
    as the chat page does); returns the HTML of the chat's last reply."""
    config = client.get("/config")
    assert config.status_code == 200, config.text
    config = config.json()
    ask_button = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "pa-ask")
    fn_index = next(i for i, dep in enumerate(config["dependencies"]) if [ask_button, "click"] in [list(t) for t in dep["targets"]])
    session = uuid.uuid4().hex[:11]
    joined = client.post(
        "/gradio_api/queue/join",
        json={"data": [question, school, audience, None, None], "fn_index": fn_index, "trigger_id": ask_button, "session_hash": session},
    )
    assert joined.status_code == 200, joined.text
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as events:
        for line in events.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                assert message.get("success"), message
                chat = message["output"]["data"][2]
                return chat[-1]["content"] if isinstance(chat[-1]["content"], str) else json.dumps(chat[-1]["content"])
    raise AssertionError("the queue's event stream ended without a result")


@pytest.fixture()
def log_path(tmp_path) -> Path:
    return tmp_path / "data" / "questions.sqlite3"


@pytest.fixture()
def limited_app(index_dir, bot, log_path):
    """The real app, questions limited to 3 a minute per client, question log on."""
    settings = WebSettings(index_dir=index_dir, reload_interval=0, question_log=str(log_path), rate_limit="3/minute")
    with serve_app(create_app(settings, assistant=bot)) as base:
        yield base


# --- item 2: sign-in ------------------------------------------------------------------------------


@pytest.mark.system
def test_every_gradio_endpoint_needs_sign_in_and_the_public_ones_do_not(limited_app):
    base = limited_app
    with httpx.Client(base_url=base, timeout=60) as anonymous:
        page = anonymous.get("/?school=glais", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/staff/sign-in?next=%2F%3Fschool%3Dglais"
        for method, path in [
            ("GET", "/config"),
            ("GET", "/gradio_api/info"),
            ("POST", "/gradio_api/queue/join"),
            ("GET", "/gradio_api/queue/data?session_hash=x"),
            ("POST", "/gradio_api/run/respond"),
            ("GET", "/theme.css"),
        ]:
            response = anonymous.request(method, path, json={} if method == "POST" else None)
            assert response.status_code == 401, (path, response.status_code)
            assert "sign-in" in response.json()["detail"]
        anonymous.cookies.set(STAFF_COOKIE, "9999999999.forged.0000")
        assert anonymous.get("/config").status_code == 401
        anonymous.cookies.clear()
        # Not Gradio's: open as before.
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/api/schools").status_code == 200
        assert anonymous.get("/widget", params={"school": "glais"}).status_code == 200
        assert anonymous.post("/api/ask", json={"question": "Can I post sports day videos?", "school": "glais"}).status_code == 200

        form = anonymous.get("/staff/sign-in", params={"next": "/?school=glais"})
        assert form.status_code == 200 and 'type="password"' in form.text
        wrong = anonymous.post("/staff/sign-in", data={"password": "not-the-password", "next": "/"})
        assert wrong.status_code == 401 and "not the staff password" in wrong.text and STAFF_COOKIE not in anonymous.cookies
        right = anonymous.post("/staff/sign-in", data={"password": STAFF_PASSWORD, "next": "/?school=glais"})
        assert right.status_code == 303 and right.headers["location"] == "/?school=glais"
        assert "httponly" in right.headers["set-cookie"].lower() and "samesite=lax" in right.headers["set-cookie"].lower()
        assert anonymous.get("/?school=glais").status_code == 200
        assert anonymous.get("/config").status_code == 200
        off_site = anonymous.post("/staff/sign-in", data={"password": STAFF_PASSWORD, "next": "//evil.example/"})
        assert off_site.headers["location"] == "/"  # no open redirect
        out = anonymous.get("/staff/sign-out")
        assert out.status_code == 303 and anonymous.get("/config").status_code == 401


@pytest.mark.system
def test_sign_in_attempts_are_rate_limited(limited_app):
    with httpx.Client(base_url=limited_app, timeout=60) as guesser:
        codes = [guesser.post("/staff/sign-in", data={"password": f"guess-{n}"}).status_code for n in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        # Even the right password waits now: guessing cannot go on at the limit's pace.
        assert guesser.post("/staff/sign-in", data={"password": STAFF_PASSWORD}).status_code == 429


@pytest.mark.unit
def test_sessions_expire_and_end_when_the_password_changes():
    now = [1_000_000.0]
    staff = StaffSignIn("a-staff-password-1", session_hours=1, clock=lambda: now[0])
    token = staff.issue()
    assert staff.valid(token) and staff.check_password("a-staff-password-1") and not staff.check_password("a-staff-password")
    assert not StaffSignIn("another-password-2", clock=lambda: now[0]).valid(token)
    now[0] += 3601
    assert not staff.valid(token)


@pytest.mark.unit
def test_without_a_configured_password_one_is_generated_once_and_kept_private(tmp_path):
    index = tmp_path / "index"
    first, path = resolve_staff_password(None, index)
    again, _ = resolve_staff_password(None, index)
    assert first == again and len(first) >= 12 and path == tmp_path / "data" / "staff-password"
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError, match="at least 12 characters"):
        resolve_staff_password("short", index)
    with pytest.raises(ValueError, match="ASSISTANT_STAFF_PASSWORD must be at least 12"):
        WebSettings(staff_password="short")


# --- item 2: the same rate limit as /api/ask, and the log's size cap ------------------------------


@pytest.mark.system
def test_the_chat_queue_has_the_rate_limit_of_api_ask_and_over_it_nothing_is_answered_or_logged(limited_app, log_path):
    with staff_client(limited_app, timeout=120) as staff:
        replies = [ask_in_chat(staff, f"Can I post photos of sports day {n} on Facebook?") for n in range(5)]
        assert all("pa-answer" in reply and "pa-error" not in reply for reply in replies[:3]), replies[:3]
        for reply in replies[3:]:
            assert "pa-error" in reply and "Too many questions from your connection (limit 3 per minute)" in reply
        # The same bucket as /api/ask: this client has used its 3 questions.
        api = staff.post("/api/ask", json={"question": "Can I post sports day videos?", "school": "glais"})
        assert api.status_code == 429
    log = QuestionLog(log_path)
    assert log.count() == 3
    log.close()


@pytest.mark.unit
def test_the_question_log_keeps_at_most_max_rows_newest_first(tmp_path):
    log = QuestionLog(tmp_path / "q.sqlite3", max_rows=5)
    for n in range(12):
        log.record("glais", f"Can I post sports day video number {n}?", "conditional")
    assert log.count() == 5
    assert log.questions() == [f"Can I post sports day video number {n}?" for n in range(7, 12)]
    log.close()
    other_process = QuestionLog(tmp_path / "q.sqlite3", max_rows=5)  # the cap holds across processes sharing the file
    other_process.record("glais", "Can I post sports day video number 12?", "conditional")
    assert other_process.count() == 5
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        QuestionLog(tmp_path / "x.sqlite3", max_rows=0)
    with pytest.raises(ValueError, match="store must be one of checked, clause, redacted"):
        QuestionLog(tmp_path / "x.sqlite3", store="everything")


# --- item 3: no uploads, no server paths ------------------------------------------------------


@pytest.mark.system
def test_gradio_takes_no_uploads_signed_in_or_not_and_shows_no_server_path(limited_app, index_dir):
    gradio_tmp = Path(tempfile.gettempdir()) / "gradio"
    before = set(gradio_tmp.rglob("*")) if gradio_tmp.exists() else set()
    marker = f"upload-{uuid.uuid4().hex}"
    files = {"files": (f"{marker}.html", b"<script>alert(1)</script>" * 1000, "text/html")}
    with httpx.Client(base_url=limited_app, timeout=60) as anonymous:
        refused = anonymous.post("/gradio_api/upload", files=files)
        assert refused.status_code in (401, 403), refused.status_code
        sign_in(anonymous)
        for path in ("/gradio_api/upload", "/gradio_api/upload?upload_id=abc"):
            refused = anonymous.post(path, files=files)
            assert refused.status_code == 403 and "uploads are turned off" in refused.json()["detail"]
        assert anonymous.get("/gradio_api/file=/etc/hostname").status_code == 403
        texts = [anonymous.get(p).text for p in ("/", "/config", "/gradio_api/info")]
    after = set(gradio_tmp.rglob("*")) if gradio_tmp.exists() else set()
    assert not [p for p in after - before if marker in p.name]
    for text in texts:
        for server_path in (str(ROOT), str(index_dir), tempfile.gettempdir() + "/"):
            assert server_path not in text


# --- item 5: what typed text reaches the log ---------------------------------------------------


@pytest.mark.system
def test_a_zero_width_character_in_the_chat_does_not_hide_an_email_or_a_name_from_the_log(index_dir, bot, log_path):
    settings = WebSettings(index_dir=index_dir, reload_interval=0, question_log=str(log_path), rate_limit="off")
    with serve_app(create_app(settings, assistant=bot)) as base, staff_client(base, timeout=120) as staff:
        ask_in_chat(staff, "can I email tom@\u200bexample.com photos from sports day?")
        ask_in_chat(staff, "jack smith in year 2 has autism and ADHD, can I post his photo?")
        ask_in_chat(staff, "Can I post sports day videos\u202e\u0000?")
    log = QuestionLog(log_path)
    stored = log.questions()
    log.close()
    assert stored[0] == "can I email {{EMAIL}} photos from sports day?"
    assert stored[1].startswith(WITHHELD)  # a bare lower-case name: the text is not kept
    assert stored[2] == "Can I post sports day videos?"
    raw = b"".join(p.read_bytes() for p in log_path.parent.glob("questions.sqlite3*"))
    for secret in (b"example.com", b"jack", b"smith", b"autism", b"ADHD", b"\xe2\x80\x8b", b"\xe2\x80\xae"):
        assert secret not in raw, secret
