"""Helpers for tests that need a real server: uvicorn on a free 127.0.0.1 port, a static example site, Chromium.

The browser is Debian's Chromium (``/usr/bin/chromium``, installed by ``make chromium``),
driven headless by Playwright; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
EXAMPLE_PAGE = ROOT / "examples" / "school-site.html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serve_app(app, timeout: float = 60.0) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on a free 127.0.0.1 port; yields its base URL.

    Waits until ``/healthz`` answers 200; shuts the server down on exit.
    """
    sock = _bound_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the app did not come up on {base}")
            time.sleep(0.1)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextlib.contextmanager
def launch_chromium() -> Iterator:
    """Debian's Chromium (`CHROMIUM`), headless, launched by Playwright; yields the Playwright ``Browser`` and closes it on exit.

    Raises:
        ImportError: Playwright is not installed (tests call ``pytest.importorskip`` first).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def serve_example_site(app_base: str) -> Iterator[str]:
    """Serve ``examples/school-site.html`` (its widget tag pointed at ``app_base``) on another port.

    Yields the page's URL: a different origin from the app, as on a real school site.
    """
    page = re.sub(r'src="[^"]*/widget\.js"', f'src="{app_base}/widget.js"', EXAMPLE_PAGE.read_text(encoding="utf-8")).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] in ("/", "/school-site.html"):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            else:
                self.send_error(404)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="example-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/school-site.html"
    finally:
        httpd.shutdown()
        httpd.server_close()


def sign_in_if_asked(page, password: str | None = None) -> None:
    """If ``page`` shows the staff sign-in form (the staff chat needs sign-in), type the tests' staff
    password and sign in as a person would; the form then returns to the page first asked for."""
    if "/staff/sign-in" not in page.url:
        return
    from server_helpers import STAFF_PASSWORD

    page.get_by_label("Staff password").fill(password or STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/staff/sign-in" not in url)


def screenshot(page, name: str, full_page: bool = False) -> Path:
    """Save a screenshot to ``tests/artifacts/<name>.png`` (kept for a person to look at)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def normalise(text: str) -> str:
    """Collapse whitespace and drop quote marks, for comparing displayed and quoted text."""
    return re.sub(r"\s+", " ", text.replace("“", "").replace("”", "")).strip()


def relative_luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (0–255 channels)."""

    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(css_a: str, css_b: str) -> float:
    """WCAG contrast ratio of two computed CSS colours (``rgb(…)``/``rgba(…)``)."""
    la, lb = (relative_luminance(tuple(float(x) for x in re.findall(r"[\d.]+", c)[:3])) for c in (css_a, css_b))
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)
