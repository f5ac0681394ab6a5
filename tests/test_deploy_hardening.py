"""On the open internet (issue 17, items 1, 4 and 11): the shipped nginx config, slowloris, and the smaller holes.

Everything runs for real: ``app.py`` as a subprocess on a free 127.0.0.1 port (the session's
index), a real nginx (``/usr/sbin/nginx``) running ``deploy/nginx.conf`` with only its upstream
names and port rewritten (`test_chroma_server.render_nginx_conf`), and Debian's Chromium driving
the real widget through nginx with its real ``Origin``.

Different clients are different source addresses: Linux answers the whole of 127.0.0.0/8 on
the loopback interface, so a client bound to 127.0.0.2 reaches nginx as a different address
from one bound to 127.0.0.3, as two parents' phones would.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_helpers import launch_chromium, screenshot
from server_helpers import app_env, free_port, sign_in, start_app, stop, wait_healthy
from test_chroma_server import nginx

from assistant import Clause
from assistant.question_log import QuestionLog
from assistant.web.render import answer_html
from assistant.web.viewer import document_html

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 5  # questions (and, separately, page loads) per client per minute in the app below
TOKEN = "deploy-admin-token-0123456789"
SCHOOL = "glais"
SCHOOL_SITE = "https://www.glais.example"  # corpus/glais/school.toml lists it
#: A question the API refuses (422) after the rate limit has counted it: cheap to send many of.
EMPTY = {"question": "", "school": SCHOOL}
#: How long a socket read may wait for the far end to close before the test fails (a bound on
#: failure, not a timing measurement: the servers close at 2 s and 10 s).
CLOSE_WITHIN = 40


def client_at(address: str, base: str, **kwargs) -> httpx.Client:
    """An httpx client whose connections come from ``address`` (a 127.0.0.0/8 address)."""
    return httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=address), timeout=120, **kwargs)


@pytest.fixture(scope="module")
def app(index_dir, tmp_path_factory) -> Iterator[tuple[int, Path]]:
    """app.py on the session's index: a low rate limit, a 2 s request-head timeout, an admin token,
    the example page served, and only nginx's address (127.0.0.1) trusted for X-Forwarded-For."""
    root = tmp_path_factory.mktemp("deploy-app")
    port = free_port()
    env = app_env(
        ASSISTANT_RATE_LIMIT=f"{LIMIT}/minute",
        ASSISTANT_HEADER_TIMEOUT="2",
        ASSISTANT_ADMIN_TOKEN=TOKEN,
        ASSISTANT_QUESTION_LOG=str(root / "questions.sqlite3"),
    )
    log = root / "app.log"
    proc = start_app(port, index_dir, env, log, "--reload-interval", "0", "--forwarded-allow-ips", "127.0.0.1")
    try:
        wait_healthy(port, proc)
        yield port, log
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def proxy(app, tmp_path_factory) -> Iterator[str]:
    """The real nginx running deploy/nginx.conf in front of the app (API pool and chat alike)."""
    port, _ = app
    with nginx(tmp_path_factory.mktemp("deploy-nginx"), [port, port], chat_port=port) as base:
        yield base


# --- item 1: the shipped deploy config --------------------------------------------------------------


@pytest.mark.unit
def test_app_py_takes_forwarded_allow_ips_and_names_a_bad_one(capsys):
    import app as app_py

    settings = app_py.parse_args(["--forwarded-allow-ips", "172.28.0.10, 10.0.0.0/8", "--allowed-hosts", "Policies.Example.org"])
    assert settings.forwarded_allow_ips == ["172.28.0.10", "10.0.0.0/8"] and settings.allowed_hosts == ["policies.example.org"]
    with pytest.raises(SystemExit):
        app_py.parse_args(["--forwarded-allow-ips", "nginx"])
    assert "--forwarded-allow-ips: 'nginx' is not an IP address or network" in capsys.readouterr().err


@pytest.mark.system
def test_through_nginx_each_client_has_its_own_rate_limit_and_cannot_choose_its_address(proxy):
    # A client sending a fresh X-Forwarded-For with every request is still one client.
    with client_at("127.0.0.2", proxy) as spoofer:
        statuses = [
            spoofer.post("/api/ask", json=EMPTY, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(LIMIT + 1)
        ]
    assert statuses == [422] * LIMIT + [429], statuses
    # Another client is not locked out by the first (without X-Forwarded-For all used to share one bucket).
    with client_at("127.0.0.3", proxy) as parent:
        assert parent.post("/api/ask", json=EMPTY).status_code == 422
    # A client naming a victim's address in X-Forwarded-For uses up its own limit, not the victim's.
    with client_at("127.0.0.4", proxy) as attacker:
        statuses = [attacker.post("/api/ask", json=EMPTY, headers={"X-Forwarded-For": "127.0.0.5"}).status_code for _ in range(LIMIT + 1)]
    assert statuses[-1] == 429
    with client_at("127.0.0.5", proxy) as victim:
        assert victim.post("/api/ask", json=EMPTY).status_code == 422


@pytest.mark.system
@pytest.mark.browser
def test_the_widget_answers_through_nginx_in_a_real_browser(proxy):
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import expect

    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(60_000)
        asked = []
        page.on("request", lambda r: asked.append(r) if r.url.endswith("/api/ask") else None)
        page.goto(f"{proxy}/examples/school-site.html")
        page.get_by_role("button", name="Ask about our policies").click()
        frame = page.frame_locator("iframe[title='Ask about our policies']")
        frame.get_by_label("Your question").fill("Can my child bring a mobile phone to school?")
        frame.get_by_role("button", name="Ask", exact=True).click()
        expect(frame.locator(".pa-answer .pa-badge").or_(frame.locator(".pa-error"))).to_be_visible(timeout=120_000)
        screenshot(page, "widget-through-nginx")
        errors = frame.locator(".pa-error").all_inner_texts()
        assert not errors, errors  # it used to be 403: "This site (…) is not allowed to ask about …"
        assert asked and asked[0].all_headers().get("origin") == proxy  # the widget's real request, with its real Origin


# --- item 4: slowloris ------------------------------------------------------------------------------


def _closed_by_server(sock: socket.socket) -> bool:
    """Read until the far end closes (True) or `CLOSE_WITHIN` passes (False)."""
    sock.settimeout(CLOSE_WITHIN)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


@pytest.mark.system
def test_the_app_closes_connections_that_never_finish_their_request_head(app):
    port, _ = app
    half_open = []
    for n in range(50):
        sock = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.6", 0))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (b"X-a: b\r\n" if n % 2 else b""))
        half_open.append(sock)
    try:
        assert all(_closed_by_server(sock) for sock in half_open), "a half-open connection was kept open"
    finally:
        for sock in half_open:
            sock.close()
    # A keep-alive connection that goes quiet in the middle of its second request is closed too.
    with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.6", 0)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        assert _closed_by_server(sock)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60).status_code == 200


@pytest.mark.system
def test_nginx_answers_a_half_open_connection_408_and_closes_it(proxy):
    host, port = proxy.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), source_address=("127.0.0.7", 0)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert _closed_by_server(sock), "nginx kept a half-open connection past client_header_timeout"


# --- item 11: the smaller ones ------------------------------------------------------------------------


@pytest.mark.system
def test_admin_reload_refuses_a_browsers_saved_basic_password(app):
    port, _ = app
    base = f"http://127.0.0.1:{port}"
    # What a form on another site makes a browser send once it has the Basic password for the report page.
    forged = httpx.post(f"{base}/admin/reload", auth=("admin", TOKEN), headers={"Origin": "https://evil.example"}, timeout=60)
    assert forged.status_code == 401 and "Bearer" in forged.json()["detail"]
    assert "www-authenticate" not in forged.headers  # no browser password prompt either
    assert httpx.get(f"{base}/admin/report.json", params={"school": SCHOOL}, auth=("admin", TOKEN), timeout=60).status_code == 200
    done = httpx.post(f"{base}/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert done.status_code == 200 and done.json()["reloaded"] is False


@pytest.mark.system
def test_a_page_is_the_assistants_own_only_with_its_scheme_and_an_allowed_host(app):
    port, _ = app
    with client_at("127.0.0.8", f"http://127.0.0.1:{port}") as c:
        body = {"question": "Can I use my phone in school?", "school": SCHOOL, "k": 1}
        assert c.post("/api/search", json=body, headers={"Origin": f"http://127.0.0.1:{port}"}).status_code == 200
        # An http page is not the https assistant, nor an https page the http one.
        assert c.post("/api/search", json=body, headers={"Origin": f"https://127.0.0.1:{port}"}).status_code == 403
        # DNS rebinding: a site whose name points at the assistant sends its own name as Host.
        rebound = c.post("/api/search", json=body, headers={"Origin": "http://evil.example", "Host": "evil.example"})
        assert rebound.status_code == 403
        assert c.post("/api/search", json=body, headers={"Origin": SCHOOL_SITE}).status_code == 200
        page = c.get("/examples/school-site.html", headers={"Host": "evil.example"})
    assert page.status_code == 200 and "evil.example" not in page.text and 'src="/widget.js"' in page.text


@pytest.mark.system
def test_a_422_does_not_echo_a_huge_unknown_key(app):
    port, _ = app
    key = "k" * 200_000
    with client_at("127.0.0.9", f"http://127.0.0.1:{port}") as c:
        response = c.post("/api/ask", json={"question": "Can I use my phone?", "school": SCHOOL, key: 1})
    assert response.status_code == 422
    assert len(response.content) < 2_000, len(response.content)
    assert "unknown field" in response.json()["message"]


@pytest.mark.system
def test_the_widget_and_viewer_over_their_limit_show_a_page_not_json(app):
    port, _ = app
    with client_at("127.0.0.10", f"http://127.0.0.1:{port}") as c:
        widget = [c.get("/widget", params={"school": SCHOOL}) for _ in range(LIMIT + 1)]
        assert [r.status_code for r in widget] == [200] * LIMIT + [429]
        viewer = c.get(f"/policies/{SCHOOL}/x")  # the viewer counts in the same page-load bucket now
    refused = widget[-1]
    assert refused.headers["content-type"].startswith("text/html")
    assert "Please try again in" in refused.text and int(refused.headers["retry-after"]) >= 1
    assert SCHOOL_SITE in refused.headers["content-security-policy"]  # shown inside the school's iframe
    assert viewer.status_code == 429 and viewer.headers["content-type"].startswith("text/html")


@pytest.mark.system
@pytest.mark.browser
def test_api_docs_load_only_from_the_assistant_itself(app):
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import expect

    port, _ = app
    base = f"http://127.0.0.1:{port}"
    with launch_chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(60_000)
        loaded = []
        page.on("request", lambda r: loaded.append(r.url))
        page.goto(f"{base}/docs")
        expect(page.get_by_text("/api/ask").first).to_be_visible(timeout=60_000)
    others = [url for url in loaded if not url.startswith(base + "/") and not url.startswith("data:")]
    assert not others, others  # Swagger UI came from a CDN, without SRI


@pytest.mark.unit
def test_staff_chat_names_and_titles_cannot_inject_markdown():
    markdown_it = pytest.importorskip("markdown_it")
    from assistant import Answer, Citation

    beacon = "http://127.0.0.1:9/beacon.png"
    citation = Citation(
        school=SCHOOL,
        document="phones\n\n![x](" + beacon + ")",
        document_title="Phones\n\n![x](" + beacon + ")",
        section="Use\r\n\r\n<img src=" + beacon + ">",
        clause_id="c1",
        text="Staff may not use phones.",
        score=1.0,
        start=0,
        end=10,
    )
    answer = Answer(verdict="no", text="No.", citations=[citation])
    html = markdown_it.MarkdownIt("commonmark").render(answer_html(answer, "Glais\n\n![y](" + beacon + ")"))
    assert "<img" not in html, html  # a blank line used to end the HTML block: the rest was markdown


@pytest.mark.unit
def test_the_gap_report_never_shows_a_question_past_its_retention(tmp_path):
    log = QuestionLog(tmp_path / "q.sqlite3", retention_days=1)
    log.record(SCHOOL, "Can I use my phone?", "no", asked_at=time.time() - 2 * 86400)  # expired, not yet swept
    log.record(SCHOOL, "Can I post photos?", "no")
    report = log.report(SCHOOL)
    assert report.total == 1 and [q.question for q in report.most_asked] == ["Can I post photos?"]
    log.close()


class _Counted:
    """A clause whose attribute reads are counted (how much work rendering does, without a clock)."""

    reads = 0

    def __init__(self, clause: Clause) -> None:
        self._clause = clause

    def __getattr__(self, name: str):
        _Counted.reads += 1
        return getattr(self._clause, name)


def _document(n: int) -> tuple[str, list]:
    lines, clauses, offset = [], [], 0
    for i in range(n):
        line = f"- Rule {i}: staff must follow rule {i}."
        clauses.append(
            _Counted(
                Clause(
                    school=SCHOOL,
                    document="big",
                    document_title="Big",
                    section="Rules",
                    position=i + 1,
                    clause_id=f"c{i}",
                    text=line[2:],
                    lead_in="",
                    start=offset + 2,
                    end=offset + len(line),
                )
            )
        )
        lines.append(line)
        offset += len(line) + 1
    return "\n".join(lines), clauses


@pytest.mark.unit
def test_the_policy_viewer_renders_in_linear_work():
    work = []
    for n in (1_000, 4_000):
        text, clauses = _document(n)
        _Counted.reads = 0
        page = document_html(text, clauses)
        assert page.count('id="c') == n
        work.append(_Counted.reads)
    # Four times the clauses: four times the work (it was sixteen times: every clause scanned for every line).
    assert work[1] <= 5 * work[0], work


@pytest.mark.system
def test_a_lone_surrogate_in_the_staff_chat_is_stripped_not_a_traceback(app):
    port, log = app
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
        sign_in(c)
        session = uuid.uuid4().hex[:12]
        config = c.get("/config").json()
        respond = next(d["id"] for d in config["dependencies"] if d.get("targets") and d["targets"][0][1] == "submit")
        body = {
            "data": ["Can I use my phone?\ud800\u200b", SCHOOL, "staff", [], []],
            "fn_index": respond,
            "session_hash": session,
            "event_data": None,
        }
        assert c.post("/gradio_api/queue/join", content=json.dumps(body), headers={"content-type": "application/json"}).status_code == 200
        with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:") and (message := json.loads(line[5:]))["msg"] == "process_completed":
                    break
    assert message["success"], message
    shown = json.dumps(message["output"]["data"][2])
    assert "\\ud800" not in shown and "\\u200b" not in shown and "Can I use my phone?" in shown
    assert "Traceback" not in log.read_text(errors="replace")


@pytest.mark.system
def test_an_open_staff_chat_heartbeat_does_not_hold_shutdown_forever(index_dir, tmp_path):
    port = free_port()
    env = app_env(ASSISTANT_SHUTDOWN_TIMEOUT="2")
    proc = start_app(port, index_dir, env, tmp_path / "app.log", "--reload-interval", "0")
    opened = threading.Event()

    def heartbeat() -> None:
        with contextlib.suppress(httpx.HTTPError), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=None) as c:
            sign_in(c)
            with c.stream("GET", f"/gradio_api/heartbeat/{uuid.uuid4().hex[:12]}") as stream:
                opened.set()
                for _ in stream.iter_bytes():
                    pass

    try:
        wait_healthy(port, proc)
        thread = threading.Thread(target=heartbeat, daemon=True)
        thread.start()
        assert opened.wait(60), "the heartbeat stream did not open"
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("app.py did not stop within 60 s of SIGTERM while a staff chat heartbeat was open")
    finally:
        stop(proc)
