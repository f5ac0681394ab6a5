"""The HTTP API, policy viewer and widget pages, against the real app on the real index.

Uses FastAPI's TestClient over `create_app` (the same app `python app.py` serves), with
the session's index and `Assistant` (see conftest). The hot-reload tests build their
own index in a tmp dir, edit a policy and re-ingest while the app keeps running.
"""

from __future__ import annotations

import html
import re
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from server_helpers import copy_index, create_app

from assistant import AUDIENCES, Clause
from assistant.index import build_index
from assistant.web.holder import AssistantHolder
from assistant.web.settings import WebSettings
from assistant.web.viewer import document_html

ROOT = Path(__file__).resolve().parents[1]
SPORTS_DAY = "can I post sports day videos?"
OTHER_CHILDREN_PHOTOS = "Can I post photos of other children on Facebook?"


@pytest.fixture(scope="module")
def client(index_dir, bot):
    """The real app over the session index (no reloading: the session index never changes)."""
    app = create_app(WebSettings(index_dir=index_dir, reload_interval=0), assistant=bot)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def schools(client) -> dict[str, dict]:
    """``/api/schools`` keyed by school id."""
    return {s["school"]: s for s in client.get("/api/schools").json()["schools"]}


def ask(client, question, school, audience=None, history=None):
    body = {"question": question, "school": school, "audience": audience, "history": history or []}
    response = client.post("/api/ask", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def quoted(answer) -> str:
    return " ".join(c["text"] for c in answer["citations"]).lower()


# --- answers -------------------------------------------------------------------------


@pytest.mark.integration
def test_ask_answers_a_parent_with_a_cited_clause_and_a_link_to_it(client):
    # The policy: "Parents must not, however, post photographs or video containing other
    # children on social media websites." (The starter bank's s001, "can I post sports day
    # videos?", cites the same clause but is answered "unsure" since 2026-11-29:
    # tests/test_assistant.py's ANSWERABLE.)
    answer = ask(client, OTHER_CHILDREN_PHOTOS, "st-michaels", "parent")
    assert answer["verdict"] in ("conditional", "no"), answer
    assert answer["text"]
    assert answer["citations"], "a covered question is answered with at least one clause"
    assert any(word in quoted(answer) for word in ("video", "photograph")), answer
    for citation in answer["citations"]:
        assert citation["school"] == "st-michaels"
        assert citation["url"] == f"/policies/st-michaels/{citation['document']}#{citation['clause_id']}"
        assert {"document", "section", "clause_id", "text", "score"} <= citation.keys()


@pytest.mark.integration
def test_citation_links_open_the_policy_at_that_clause(client):
    citation = ask(client, SPORTS_DAY, "st-michaels", "parent")["citations"][0]
    page = client.get(citation["url"].split("#")[0])
    assert page.status_code == 200
    anchor = re.search(rf'id="{citation["clause_id"]}"[^>]*>(.*?)</span>', page.text, re.S)
    assert anchor, "the policy page has an anchor for the cited clause"
    shown = re.sub(r"<[^>]+>", "", anchor.group(1)).replace("&#x27;", "'").strip()
    assert shown and shown[:40].lower() in citation["text"].lower()


FRIEND_PARENTS = "Can staff add parents as friends on Facebook?"


@pytest.mark.integration
def test_follow_up_question_is_read_with_the_chat_history(client):
    follow_up = ask(client, "what about pupils?", "glais", "staff", history=[FRIEND_PARENTS])
    assert follow_up["verdict"] == "no", follow_up  # "Staff must never add pupils … as friends"
    assert "friend" in quoted(follow_up), "the follow-up is about befriending pupils online"


def _search_follow_up(client, history: list[str]) -> tuple[list[str], list[str]]:
    """Clause ids and lower-cased texts of /api/search's top 3 for "what about pupils?" at St Margaret's."""
    body = {"question": "what about pupils?", "school": "st-margarets", "audience": "staff", "history": history, "k": 3}
    response = client.post("/api/search", json=body)
    assert response.status_code == 200
    citations = response.json()["citations"]
    return [c["clause_id"] for c in citations], [c["text"].lower() for c in citations]


@pytest.mark.integration
def test_follow_up_search_depends_on_the_history(client):
    with_history, texts = _search_follow_up(client, [FRIEND_PARENTS])
    assert any("never 'friend' a pupil" in text for text in texts), (
        "read with the previous question, the follow-up is about befriending pupils"
    )
    without_history, texts_alone = _search_follow_up(client, [])
    assert not any("friend" in text for text in texts_alone), "alone, 'what about pupils?' says nothing of befriending"
    assert with_history != without_history, "the chat's history changes what the follow-up retrieves"


@pytest.mark.integration
@pytest.mark.xfail(
    strict=True,
    reason="issue 16 open: since the encoder's learning rate rose to 1e-4 (2026-11-29) St Margaret's "
    "befriending clause is third (0.27), after 'staff should not give their personal e-mail addresses' (0.48)",
)
def test_follow_up_search_puts_the_befriending_clause_first(client):
    _, texts = _search_follow_up(client, [FRIEND_PARENTS])
    assert "never 'friend' a pupil" in texts[0], texts


@pytest.mark.integration
def test_every_school_is_answered_only_from_its_own_policies(client, schools):
    for school, info in schools.items():
        own_documents = {d["document"] for d in info["documents"]}
        answer = ask(client, "Can I take photos of the children on my mobile phone?", school, "staff")
        assert answer["citations"], (school, answer["verdict"])  # every school has a rule on photos: a not_covered would check nothing
        for citation in answer["citations"]:
            assert citation["school"] == school
            assert citation["document"] in own_documents
            assert citation["url"].startswith(f"/policies/{school}/")


@pytest.mark.integration
def test_search_returns_k_clauses_of_the_school_best_first(client):
    response = client.post("/api/search", json={"question": "mobile phones in school", "school": "glais", "audience": "staff", "k": 7})
    assert response.status_code == 200
    citations = response.json()["citations"]
    assert len(citations) == 7
    assert all(c["school"] == "glais" for c in citations)
    scores = [c["score"] for c in citations]
    assert scores == sorted(scores, reverse=True)
    assert any("phone" in c["text"].lower() for c in citations[:3])


@pytest.mark.integration
def test_schools_lists_ids_names_and_documents_that_open(client, schools, bot):
    assert set(schools) == {s.school for s in bot.schools()}
    for school, info in schools.items():
        assert info["name"] == bot.school_name(school)
        assert info["documents"]
        for document in info["documents"]:
            assert document["clauses"] > 0
            assert client.get(document["url"]).status_code == 200


@pytest.mark.integration
def test_healthz_reports_the_served_generation(client, bot):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "generation": bot.generation.name, "schools": len(bot.schools())}


@pytest.mark.integration
def test_api_is_documented_with_openapi(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/search", "/api/schools", "/healthz"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


# --- bad input -----------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "", "school": "glais"}, "question"),
        ({"question": "   \n ", "school": "glais"}, "question"),
        ({"question": "x" * 1001, "school": "glais"}, "question"),
        ({"question": "Can I film?", "school": "glais", "audience": "headteacher"}, "audience"),
        ({"school": "glais"}, "question"),
        ({"question": "Can I film?"}, "school"),
        ({"question": 42, "school": "glais"}, "question"),
        ({"question": "Can I film?", "school": ["glais"]}, "school"),
        ({"question": "Can I film?", "school": "glais", "history": "earlier question"}, "history"),
        ({"question": "Can I film?", "school": "glais", "history": [1, 2]}, "history"),
        ({"question": "Can I film?", "school": "glais", "colour": "blue"}, "colour"),
    ],
)
def test_invalid_ask_is_422_naming_the_field(client, body, field):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    data = response.json()
    assert any(problem["field"].split(".")[0] == field for problem in data["detail"]), data
    assert field in data["message"]


@pytest.mark.integration
@pytest.mark.parametrize(("k", "ok"), [(0, False), (51, False), ("3", False), (2.5, False), (1, True), (50, True)])
def test_search_k_must_be_a_whole_number_from_1_to_50(client, k, ok):
    response = client.post("/api/search", json={"question": "phones", "school": "glais", "k": k})
    assert response.status_code == (200 if ok else 422)
    if not ok:
        assert response.json()["detail"][0]["field"] == "k"


@pytest.mark.integration
def test_unknown_school_is_404_naming_it(client):
    for path in ("/api/ask", "/api/search"):
        response = client.post(path, json={"question": "Can I film?", "school": "hogwarts"})
        assert response.status_code == 404
        assert response.json() == {"detail": "unknown school 'hogwarts'"}


@pytest.mark.integration
def test_malformed_json_is_422_not_500(client):
    response = client.post("/api/ask", content=b'{"question": "Can I', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "body"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.mark.integration
@settings(max_examples=80, deadline=None)
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "question": st.text(max_size=60) | _json,
            "school": st.sampled_from(["glais", "st-michaels", "nowhere", ""]) | _json,
            "audience": st.sampled_from([*AUDIENCES, None, "Parent"]) | _json,
            "history": st.lists(st.text(max_size=40), max_size=3) | _json,
            "k": st.integers(-5, 60) | _json,
        },
    ),
    path=st.sampled_from(["/api/ask", "/api/search"]),
)
def test_any_json_body_gets_200_404_or_422_without_internals_and_cites_only_its_school(client, index_dir, body, path):
    response = client.post(path, json=body)
    assert response.status_code in (200, 404, 422), response.text
    assert "Traceback" not in response.text and str(index_dir) not in response.text
    if response.status_code == 200:
        for citation in response.json()["citations"]:
            assert citation["school"] == body["school"]


# --- pages ---------------------------------------------------------------------------


@pytest.mark.integration
def test_policy_page_has_one_anchor_per_clause_of_the_document(client, bot, schools):
    for school, info in schools.items():
        for document in info["documents"]:
            page = client.get(document["url"]).text
            for clause in bot.clauses(school, document["document"]):
                assert page.count(f'id="{clause.clause_id}"') == 1, (school, document["document"], clause.clause_id)
            assert [html.unescape(h) for h in re.findall(r"<h1>(.*?)</h1>", page)] == [document["title"]]


@pytest.mark.integration
def test_unknown_policy_pages_are_404(client):
    assert client.get("/policies/glais/no-such-policy").status_code == 404
    assert client.get("/policies/hogwarts/anything").status_code == 404
    assert client.get("/widget?school=hogwarts").status_code == 404
    assert client.get("/widget").status_code == 404


@pytest.mark.unit
def test_policy_text_is_escaped_in_the_viewer():
    text = "# Rules <b>now</b>\n\n- Do not run <script>alert(1)</script> in **school**.\n- Be <img src=x onerror=alert(2)> kind.\n"
    start = text.index("Do not")
    clause = Clause("s", "d", "D", "Rules", 1, "c1", "Do not run …", "", start, text.index("\n", start), ("everyone",))
    body = document_html(text, [clause])
    assert "<script>" not in body and "<img" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'id="c1"' in body and "<strong>school</strong>" in body


@pytest.mark.integration
def test_widget_page_names_the_school_and_may_be_framed_by_allowed_sites(client, bot):
    response = client.get("/widget?school=glais")
    assert response.status_code == 200
    assert f"<h1>{bot.school_name('glais')}</h1>" in response.text
    assert 'data-audience="parent"' in response.text
    # Only glais's own sites (corpus/glais/school.toml widget_origins) may frame its widget.
    assert "frame-ancestors 'self' https://www.glais.example https://glais.example" in response.headers["content-security-policy"]
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "Ask about our policies" in script.text


@pytest.mark.integration
def test_widget_origins_setting_limits_who_may_frame_the_widget(index_dir, bot):
    web_settings = WebSettings(
        index_dir=index_dir, reload_interval=0, widget_origins="https://www.glais.example, https://glais.example:8443"
    )
    with TestClient(create_app(web_settings, assistant=bot)) as c:
        csp = c.get("/widget?school=glais").headers["content-security-policy"]
        assert "frame-ancestors 'self' https://www.glais.example https://glais.example:8443" in csp
        allowed = c.options("/api/ask", headers={"Origin": "https://www.glais.example", "Access-Control-Request-Method": "POST"})
        refused = c.options("/api/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert allowed.headers.get("access-control-allow-origin") == "https://www.glais.example"
        assert "access-control-allow-origin" not in refused.headers


@pytest.mark.unit
def test_widget_origins_must_be_origins():
    with pytest.raises(ValueError, match="not an origin"):
        WebSettings(widget_origins="www.glais.example/path")


# --- a running server sees a finished ingest -------------------------------------------

DRONE_QUESTION = "Can parents fly drones over the school playground during sports day?"


@pytest.fixture(scope="module")
def tmp_index(index_dir, tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the corpus and of the session's index of it, in a tmp dir (the tests edit and re-ingest them).

    Starting from a copy of the built index makes each re-ingest incremental: only the
    edited document is re-embedded, as on a school's server.
    """
    root = tmp_path_factory.mktemp("reload")
    corpus = root / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    index = root / "index"
    copy_index(index_dir, index)
    return corpus, index


def _add_clause(corpus: Path, school: str, heading: str, clause: str) -> None:
    policy = next((corpus / school).glob("*.txt"))
    # A section of its own, as a school adds a rule: a level-4 heading would nest it inside the
    # last section of the file (Glais's staff code of conduct), where the pair model for verdicts
    # reads a parents' "must not" as conditional.
    policy.write_text(policy.read_text(encoding="utf-8").rstrip() + f"\n\n## {heading}\n\n- {clause}\n", encoding="utf-8")


@pytest.mark.integration
def test_running_app_answers_from_a_new_ingest_without_restart(tmp_index):
    corpus, index = tmp_index
    app = create_app(WebSettings(index_dir=index, reload_interval=0.2))
    with TestClient(app) as c:
        before = c.get("/healthz").json()["generation"]
        assert "drone" not in quoted(ask(c, DRONE_QUESTION, "glais", "parent"))

        _add_clause(corpus, "glais", "G. Drones", "Parents must not fly drones over the school playground during sports day.")
        report = build_index(corpus, index)
        assert report.changed

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = ask(c, DRONE_QUESTION, "glais", "parent")
            if "drone" in quoted(answer):
                break
            time.sleep(0.2)
        assert "drones over the school playground" in quoted(answer), "the new clause is answered without a restart"
        assert answer["verdict"] == "no"
        assert c.get("/healthz").json()["generation"] == report.generation != before
        url = next(x["url"] for x in answer["citations"] if "drone" in x["text"].lower())
        assert "drones over the school playground" in c.get(url.split("#")[0]).text


@pytest.mark.integration
def test_a_generation_that_fails_to_load_leaves_the_old_one_serving(tmp_index):
    corpus, index = tmp_index
    attempts = []

    def broken_loader(generation):
        attempts.append(generation.name)
        raise RuntimeError("disk on fire")

    holder = AssistantHolder(index, reload_interval=0.05, loader=broken_loader)
    served = holder.generation
    with TestClient(create_app(WebSettings(index_dir=index), holder=holder)) as c:
        _add_clause(corpus, "st-margarets", "Kites", "Kites must not be flown on the school field.")
        report = build_index(corpus, index)
        deadline = time.monotonic() + 10
        while not attempts and time.monotonic() < deadline:
            assert c.post("/api/ask", json={"question": "Can we fly kites?", "school": "st-margarets"}).status_code == 200
            time.sleep(0.05)
        assert attempts == [report.generation]
        assert holder.wait_for_reload()
        assert holder.generation == served
        assert c.get("/healthz").json()["generation"] == served.name
        assert c.post("/api/ask", json={"question": SPORTS_DAY, "school": "st-michaels"}).status_code == 200
