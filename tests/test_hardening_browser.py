"""Each school only on its own site, in a real browser: Debian's Chromium (Playwright) against the real app.

Two example school sites run on two 127.0.0.1 ports. The school lists only the first in its
``school.toml`` (a test copy of the corpus: the shipped corpus names only example domains).
On the first site the widget opens and answers; on the second Chromium refuses to show
the framed widget (CSP ``frame-ancestors``) and refuses the page's own API calls (CORS).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from browser_helpers import screenshot, serve_app, serve_example_site

from assistant.index import build_index
from assistant.web import WebSettings, create_app

pytestmark = [
    pytest.mark.system,
    pytest.mark.browser,
]
playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

ROOT = Path(__file__).resolve().parents[1]
SCHOOL = re.search(r'data-school="([^"]+)"', (ROOT / "examples" / "school-site.html").read_text()).group(1)
FETCH = """async ([base, school]) => {
  try {
    const r = await fetch(base + "/api/ask", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({question: "Can I use my phone in school?", school: school, audience: "parent"})});
    return "status " + r.status;
  } catch (e) { return "blocked: " + e.message; }
}"""


@pytest.fixture(scope="module")
def corpus_and_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("own-site")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    build_index(corpus, index)  # the served index records this copy, whose school.toml the test edits
    app = create_app(WebSettings(index_dir=index, reload_interval=0, widget_origins="", question_log="off", rate_limit="off"))
    with serve_app(app) as base:
        yield corpus, base


def test_widget_loads_on_the_schools_site_and_is_refused_on_another(corpus_and_app, browser):
    corpus, base = corpus_and_app
    with serve_example_site(base) as allowed_page, serve_example_site(base) as other_page:
        allowed = re.match(r"http://[^/]+", allowed_page).group(0)
        toml = corpus / SCHOOL / "school.toml"
        text = toml.read_text(encoding="utf-8")
        toml.write_text(re.sub(r"(?m)^widget_origins = .*$", f'widget_origins = ["{allowed}"]', text), encoding="utf-8")

        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(allowed_page)
        page.get_by_role("button", name="Ask about our policies").click()
        frame = page.frame_locator("iframe[title='Ask about our policies']")
        frame.get_by_label("Your question").fill("Can my child bring a mobile phone to school?")
        frame.get_by_role("button", name="Ask", exact=True).click()
        expect(frame.locator(".pa-answer .pa-badge")).to_be_visible()
        assert page.evaluate(FETCH, [base, SCHOOL]) == "status 200"
        screenshot(page, "widget-allowed-site")

        refused = context.new_page()
        refused.set_default_timeout(30_000)
        refused.goto(other_page)
        refused.get_by_role("button", name="Ask about our policies").click()
        # widget.js asks first and says why instead of framing a refused page (issue 18)
        expect(refused.locator("[data-policy-assistant] .pa-message")).to_contain_text("not enabled for this website")
        assert refused.locator("iframe[title='Ask about our policies']").count() == 0
        # and the page itself still refuses to be framed there (CSP frame-ancestors)
        refused.evaluate(
            """src => { const f = document.createElement('iframe'); f.title = 'framed by hand'; f.src = src;
                       document.body.appendChild(f); }""",
            f"{base}/widget?school={SCHOOL}",
        )
        iframe = refused.locator("iframe[title='framed by hand']")
        expect(iframe).to_be_visible()
        widget_frame = iframe.element_handle().content_frame()
        # Chromium replaces a frame whose frame-ancestors refuse the parent with its error page ("refused to connect").
        for _ in range(100):
            if widget_frame.url.startswith("chrome-error:"):
                break
            refused.wait_for_timeout(100)
        assert widget_frame.url.startswith("chrome-error:"), widget_frame.url
        assert widget_frame.locator("#pa-question").count() == 0
        assert refused.evaluate(FETCH, [base, SCHOOL]).startswith("blocked")
        screenshot(refused, "widget-refused-site")
        context.close()
        toml.write_text(text, encoding="utf-8")
