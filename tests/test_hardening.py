"""Hardening of the public endpoints, against the real app on the real index (FastAPI's TestClient).

Input limits (422 naming the field, 413 for a huge body, control characters stripped),
per-client rate limits (429 with Retry-After), no stack trace or internal path in any
response, per-school origins (CSP frame-ancestors, CORS, 403 for another school's site)
and the admin token. The browser side of the origins is in ``test_hardening_browser.py``.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_helpers import create_app

from assistant.index import build_index
from assistant.web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Can I post sports day videos?"
TOKEN = "test-admin-token-0123456789"
GLAIS_SITE = "https://www.glais.example"  # from corpus/glais/school.toml


@pytest.fixture(scope="module")
def app(index_dir, bot, tmp_path_factory):
    """The real app, rate limit off, a question log in a tmp dir and an admin token."""
    log = tmp_path_factory.mktemp("hardening") / "questions.sqlite3"
    web = WebSettings(
        index_dir=index_dir,
        reload_interval=0,
        rate_limit="off",
        question_log=str(log),
        admin_token=TOKEN,
        widget_origins="",
        allowed_hosts="testserver",  # TestClient's Host: the assistant's own name here
    )
    return create_app(web, assistant=bot)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def body(**fields):
    return {"question": QUESTION, "school": "glais", "audience": "parent", "history": [], **fields}


def fields_of(response) -> list[str]:
    return [problem["field"] for problem in response.json()["detail"]]


# --- input limits ----------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        (body(question="x" * 1001), "question"),
        (body(history=["what about videos?"] * 51), "history"),
        (body(history=["y" * 1001]), "history.0"),
        (body(history="what about videos?"), "history"),
        (body(history=[3]), "history.0"),
        (body(school=7), "school"),
        (body(audience="headteacher"), "audience"),
        (body(question=["Can I", "post videos?"]), "question"),
        (body(question="\x00\x07\u202e\u200b"), "question"),  # nothing left once control characters are stripped
        (body(extra="x"), "extra"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(client, request_body, field):
    response = client.post("/api/ask", json=request_body)
    assert response.status_code == 422, response.text
    assert field in fields_of(response)
    assert field in response.json()["message"]


@pytest.mark.integration
def test_control_characters_are_stripped_before_answering(client):
    clean = client.post("/api/ask", json=body()).json()
    dirty = client.post("/api/ask", json=body(question="Can I post\x00 sports\u202e day\x1b videos?\u200b")).json()
    assert clean["citations"], clean  # a not_covered pair would compare two empty lists
    assert dirty["verdict"] == clean["verdict"]
    assert [c["clause_id"] for c in dirty["citations"]] == [c["clause_id"] for c in clean["citations"]]


@pytest.mark.integration
def test_a_body_that_is_not_utf8_is_422_naming_the_body(client):
    response = client.post("/api/ask", content=b"\xff\xfe\x02\x80", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and fields_of(response) == ["body"]


@pytest.mark.integration
def test_a_huge_body_is_refused_with_413_before_it_is_read(client):
    response = client.post("/api/ask", content=json.dumps(body(question="x" * 400_000)), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


# --- rate limits -----------------------------------------------------------------------


@pytest.mark.integration
def test_rate_limit_answers_429_with_retry_after_and_counts_pages_separately(index_dir, bot, tmp_path):
    web = WebSettings(index_dir=index_dir, reload_interval=0, rate_limit="3/minute", question_log=str(tmp_path / "q.sqlite3"))
    with TestClient(create_app(web, assistant=bot)) as c:
        codes = [c.post("/api/ask", json=body()).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        refused = c.post("/api/search", json=body())  # questions to /api/ask and /api/search share one budget
        assert refused.status_code == 429
        retry = int(refused.headers["Retry-After"])
        assert 1 <= retry <= 60
        assert f"try again in {retry} second" in refused.json()["detail"]
        # The widget page has its own budget, so asking did not use it up; its 4th load in the minute is refused.
        assert [c.get("/widget?school=glais").status_code for _ in range(4)] == [200, 200, 200, 429]


@pytest.mark.integration
def test_rate_limit_off_lets_a_client_ask_many_questions(client):
    assert {client.post("/api/search", json=body(k=1)).status_code for _ in range(40)} == {200}


@pytest.mark.unit
def test_a_malformed_rate_limit_setting_is_refused_with_its_notation():
    with pytest.raises(ValueError, match="not a rate like 30/minute"):
        WebSettings(rate_limit="thirty a minute")


# --- no stack trace, no internal path ----------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "question": st.one_of(st.text(max_size=60), json_values),
            "school": st.one_of(st.sampled_from(["glais", "st-michaels", "../../etc/passwd", ""]), json_values),
            "audience": st.one_of(st.sampled_from(["parent", "staff", "nobody"]), json_values),
            "history": st.one_of(st.lists(st.text(max_size=40), max_size=3), json_values),
            "k": json_values,
        },
    )
    | json_values
)


def assert_no_internals(text: str) -> None:
    for leak in ("Traceback", 'File "', "site-packages", str(ROOT), "/usr/lib/python"):
        assert leak not in text, text


@pytest.mark.integration
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=bodies, endpoint=st.sampled_from(["/api/ask", "/api/search"]))
def test_arbitrary_json_gets_a_clear_4xx_never_a_500_or_a_traceback(client, payload, endpoint):
    response = client.post(endpoint, json=payload)
    assert response.status_code in (200, 404, 422), response.text
    assert_no_internals(response.text)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/ask", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("post", "/api/ask", {"content": b"\xff\xfe\x00", "headers": {"Content-Type": "application/json"}}),
        ("post", "/api/ask", {"content": b'{"question": "\\ud800", "school": "glais"}', "headers": {"Content-Type": "application/json"}}),
        ("post", "/api/ask", {"content": b'{"question": "hi", "school": "\\ud800"}', "headers": {"Content-Type": "application/json"}}),
        ("get", "/api/ask", {}),
        ("get", "/policies/glais/..%2F..%2Fetc%2Fpasswd", {}),
        ("get", "/widget?school=%00", {}),
        ("get", "/pa-static/../../assistant/config.py", {}),
    ],
)
def test_odd_requests_never_show_internals(client, method, path, kwargs):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code < 500, response.text
    assert_no_internals(response.text)


# --- each school only on its own site ---------------------------------------------------


@pytest.mark.integration
def test_widget_may_be_framed_only_by_its_own_schools_sites(client):
    glais = client.get("/widget?school=glais").headers["content-security-policy"]
    michaels = client.get("/widget?school=st-michaels").headers["content-security-policy"]
    assert "frame-ancestors 'self' https://www.glais.example https://glais.example" in glais
    assert "st-michaels" not in glais and "glais" not in michaels
    assert "frame-ancestors 'self'" in client.get("/widget?school=nowhere").headers["content-security-policy"]


@pytest.mark.integration
def test_cors_preflight_allows_exactly_the_schools_sites(client):
    def preflight(origin, query=""):
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        return client.options(f"/api/ask{query}", headers=headers)

    allowed = preflight(GLAIS_SITE)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == GLAIS_SITE
    assert "POST" in allowed.headers["access-control-allow-methods"]
    refused = preflight("https://evil.example")
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    # With the school in the query, the preflight is decided by that school's list alone.
    assert preflight(GLAIS_SITE, "?school=glais").status_code == 200
    assert preflight(GLAIS_SITE, "?school=st-michaels").status_code == 403


@pytest.mark.integration
def test_one_schools_site_cannot_ask_about_another_school(client):
    own = client.post("/api/ask", json=body(), headers={"Origin": GLAIS_SITE})
    assert own.status_code == 200 and own.headers["access-control-allow-origin"] == GLAIS_SITE
    other = client.post("/api/ask", json=body(school="st-michaels"), headers={"Origin": GLAIS_SITE})
    assert other.status_code == 403 and "not allowed" in other.json()["detail"]
    stranger = client.post("/api/search", json=body(), headers={"Origin": "https://evil.example"})
    assert stranger.status_code == 403 and "access-control-allow-origin" not in stranger.headers
    # No Origin header: not a browser page (curl, a server) — origins do not apply.
    assert client.post("/api/ask", json=body(school="st-michaels")).status_code == 200
    # The widget page calls the API from the assistant's own origin.
    assert client.post("/api/ask", json=body(school="st-michaels"), headers={"Origin": "http://testserver"}).status_code == 200


@pytest.mark.integration
def test_deployment_origins_add_to_every_school_and_star_overrides(index_dir, bot, tmp_path):
    portal = "https://portal.trust.example"
    extra = WebSettings(index_dir=index_dir, reload_interval=0, widget_origins=portal, question_log="off")
    with TestClient(create_app(extra, assistant=bot)) as c:
        csp = c.get("/widget?school=st-michaels").headers["content-security-policy"]
        assert portal in csp and "https://www.st-michaels.example" in csp
        assert c.post("/api/search", json=body(school="st-michaels"), headers={"Origin": portal}).status_code == 200
    anything = WebSettings(index_dir=index_dir, reload_interval=0, widget_origins="*", question_log="off")
    with TestClient(create_app(anything, assistant=bot)) as c:
        assert "frame-ancestors *" in c.get("/widget?school=glais").headers["content-security-policy"]
        assert c.post("/api/search", json=body(), headers={"Origin": "https://anywhere.example"}).status_code == 200


@pytest.fixture(scope="module")
def own_corpus_index(tmp_path_factory) -> tuple[Path, Path]:
    """A corpus copy and an index built from it (its manifest records the copy's paths; vectors come from the embedding cache)."""
    root = tmp_path_factory.mktemp("origins")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    build_index(corpus, index)
    return corpus, index


@pytest.mark.integration
def test_origins_are_read_from_school_toml_live_and_a_school_without_a_list_may_be_embedded_anywhere(own_corpus_index):
    corpus, index = own_corpus_index
    web = WebSettings(index_dir=index, reload_interval=0, widget_origins="", question_log="off")
    with TestClient(create_app(web)) as c:
        assert "https://www.glais.example" in c.get("/widget?school=glais").headers["content-security-policy"]
        toml = corpus / "glais" / "school.toml"
        text = toml.read_text(encoding="utf-8")
        toml.write_text(text.replace('"https://www.glais.example", "https://glais.example"', '"https://new.glais.example"'), "utf-8")
        csp = c.get("/widget?school=glais").headers["content-security-policy"]
        assert "frame-ancestors 'self' https://new.glais.example" in csp and "www.glais.example" not in csp
        toml.write_text("\n".join(line for line in text.splitlines() if not line.startswith("widget_origins")), "utf-8")
        assert "frame-ancestors *" in c.get("/widget?school=glais").headers["content-security-policy"]
        toml.write_text(text.replace('"https://glais.example"', '"glais.example/path"'), "utf-8")
        assert "frame-ancestors 'self'" in c.get("/widget?school=glais").headers["content-security-policy"]  # a broken list allows no one
        toml.write_text(text, "utf-8")


# --- admin token -------------------------------------------------------------------------


@pytest.mark.integration
def test_admin_endpoints_need_the_token(client):
    assert client.get("/admin/report?school=glais").status_code == 401
    wrong = client.get("/admin/report?school=glais", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
    assert client.get("/admin/report?school=glais", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    ok = client.get("/admin/report?school=glais", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "Question report" in ok.text
    basic = base64.b64encode(f"admin:{TOKEN}".encode()).decode()
    assert client.get("/admin/report.json?school=glais", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    reload = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reload.status_code == 200 and reload.json()["reloaded"] is False
    assert client.get("/admin/report?school=nowhere", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


@pytest.mark.integration
def test_admin_endpoints_are_off_without_a_token(index_dir, bot):
    web = WebSettings(index_dir=index_dir, reload_interval=0, question_log="off", admin_token="")
    with TestClient(create_app(web, assistant=bot)) as c:
        for response in (
            c.get("/admin/report?school=glais"),
            c.post("/admin/reload", headers={"Authorization": "Bearer anything-at-all-here"}),
        ):
            assert response.status_code == 403
            assert "ASSISTANT_ADMIN_TOKEN" in response.json()["detail"]
    assert "/admin" not in json.dumps(TestClient(create_app(web, assistant=bot)).get("/openapi.json").json()["paths"])


@pytest.mark.integration
def test_admin_reload_serves_a_new_ingest_at_once(own_corpus_index):
    corpus, index = own_corpus_index
    web = WebSettings(index_dir=index, reload_interval=0, question_log="off", admin_token=TOKEN)
    app = create_app(web)
    with TestClient(app) as c:
        before = app.state.holder.generation.name
        policy = next((corpus / "st-margarets").glob("*.txt"))
        original = policy.read_text(encoding="utf-8")
        policy.write_text(original + "\n\nParents must not fly drones over the school playground.\n", encoding="utf-8")
        try:
            build_index(corpus, index)
            response = c.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200 and response.json()["reloaded"] is True
            assert response.json()["generation"] != before
            found = c.post("/api/search", json=body(question="Can parents fly drones over the playground?", school="st-margarets", k=1))
            assert "drones" in found.json()["citations"][0]["text"]
        finally:
            policy.write_text(original, encoding="utf-8")
