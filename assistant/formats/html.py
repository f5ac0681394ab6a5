"""Web-page policies (``.html``, ``.htm``): the policy's blocks without the site around it.

Scripts, navigation, forms and hidden elements are skipped, and so are a page's header,
footer and sidebar when the policy has no ``<main>``; ``h1``–``h6`` become headings, lists
keep their numbering (``<ol start/type>``, ``<li value>``), and a table row of short cells
becomes one tab-separated line.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CorpusError
from .base import DEFAULT_LIMITS, Extracted, ExtractLimits, LimitExceeded
from .writer import BlockWriter, as_bold, clean_inline, number_in_style, plausible_title, row_text

_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "button", "select", "nav", "head", "form", "input"}  # fmt: skip
_CHROME_TAGS = {"header", "footer", "aside"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "blockquote", "ul", "ol", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "pre", "dl", "dt", "dd", "figure", "figcaption", "address", "header", "footer", "aside", "hr", "details", "summary",
    "center", "body", "html", "tr", "td", "th", "tbody", "thead", "tfoot", "caption", "fieldset", "legend",
}  # fmt: skip


def read_html(path: Path, raw: bytes, sha256: str, limits: ExtractLimits = DEFAULT_LIMITS) -> Extracted:
    """Read a web page: the policy in its ``<main>`` (or single ``<article>``, else ``<body>``), without site chrome.

    Args:
        path: the file, for messages.
        raw: the whole file (a page or a fragment).
        sha256: hex SHA-256 of ``raw``.
        limits: ``max_html_tags`` (counted before parsing) and ``max_characters``.

    Returns:
        An `Extracted` of format ``"html"`` with the title from ``<title>``, else the first ``h1``.

    Raises:
        CorpusError: over a limit, or a page the parser cannot read.
    """
    from bs4 import BeautifulSoup

    tags = raw.count(b"<")  # every tag needs one: an upper bound on what BeautifulSoup would build
    if tags > limits.max_html_tags:
        raise CorpusError(
            path,
            f"has {tags:,} tags, over the limit of {limits.max_html_tags:,} tags for one web page "
            "(save the policy itself as its own page or document)",
        )
    try:
        soup = BeautifulSoup(raw, "lxml")
    except Exception as exc:
        raise CorpusError(path, f"is not a readable web page ({type(exc).__name__}: {exc})") from exc
    title_el = soup.find("title")
    root = soup.find("main") or soup.find(attrs={"role": "main"})
    if root is None:
        articles = soup.find_all("article")
        root = articles[0] if len(articles) == 1 else (soup.body or soup)
    reader = _HtmlReader(chrome_root=root, limits=limits)
    try:
        reader.walk(root, 0)
        reader.flush()
    except LimitExceeded as exc:
        raise CorpusError(path, exc.reason) from exc
    title = plausible_title(title_el.get_text(" ", strip=True) if title_el else None, path)
    if title is None:
        h1 = root.find("h1")
        title = plausible_title(h1.get_text(" ", strip=True) if h1 else None, path)
    return Extracted(reader.writer.text(), sha256, "html", None, title, ())


class _HtmlReader:
    """Turns a BeautifulSoup tree into blocks: inline text gathers until a block element."""

    def __init__(self, chrome_root, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
        self.writer = BlockWriter(limits)
        self.buffer: list[str] = []
        self.bold_chars = 0
        self.chrome_root = chrome_root
        self.in_pre = False

    def _inline_text(self, node) -> tuple[str, int]:
        """Text of an inline subtree and how many of its characters are bold."""
        from bs4 import NavigableString, Tag

        if isinstance(node, NavigableString):
            if type(node).__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction", "CData"):
                return "", 0
            return (str(node) if self.in_pre else re.sub(r"\s+", " ", str(node))), 0
        if not isinstance(node, Tag) or node.name in _SKIP_TAGS:
            return "", 0
        if node.name == "br":
            return "\n", 0
        if node.name == "img":
            return "", 0
        parts = [self._inline_text(c) for c in node.children]
        text = "".join(t for t, _ in parts)
        bold = sum(b for _, b in parts)
        if node.name in ("strong", "b") or "font-weight:bold" in (node.get("style") or "").replace(" ", ""):
            bold = len(text.strip())
        return text, bold

    def flush(self, kind: str = "para", prefix: str = "") -> None:
        text = clean_inline(re.sub(r"[ \t\r]*\n[ \t\r]*", "\n", re.sub(r"[ \t\r]+", " ", "".join(self.buffer))))
        bold = self.bold_chars
        self.buffer, self.bold_chars = [], 0
        if not text:
            return
        if kind == "para" and bold >= len(re.sub(r"\s", "", text)) > 0:
            text = as_bold(text.replace("\n", " "))
        if kind in ("heading", "item"):
            text = text.replace("\n", " ")
        self.writer.block(kind, prefix + text)

    def walk(self, node, depth: int) -> None:
        from bs4 import NavigableString, Tag

        for child in node.children:
            if isinstance(child, NavigableString):
                text, _ = self._inline_text(child)
                self.buffer.append(text)
                continue
            if not isinstance(child, Tag) or child.name in _SKIP_TAGS:
                continue
            if child.get("hidden") is not None or re.search(r"display\s*:\s*none", child.get("style") or ""):
                continue
            name = child.name
            if name in _CHROME_TAGS and child.parent is not None and child.parent.name == "body" and self.chrome_root.name == "body":
                continue
            if name not in _BLOCK_TAGS:
                text, bold = self._inline_text(child)
                self.buffer.append(text)
                self.bold_chars += bold
                continue
            self.flush()
            if re.fullmatch(r"h[1-6]", name):
                self.buffer.append(self._inline_text(child)[0])
                self.flush("heading", "#" * int(name[1]) + " ")
            elif name in ("ul", "ol"):
                self._list(child, depth)
            elif name == "table":
                self._table(child, depth)
            elif name == "pre":
                self.in_pre = True
                for line in self._inline_text(child)[0].splitlines():
                    self.buffer.append(line)
                    self.flush()
                self.in_pre = False
            elif name == "hr":
                continue
            else:
                self.walk(child, depth)
                self.flush()

    def _list(self, lst, depth: int) -> None:
        from bs4 import Tag

        ordered = lst.name == "ol"
        try:
            n = int(lst.get("start", "1")) - 1
        except ValueError:
            n = 0
        style = lst.get("type", "1")
        for li in lst.children:
            if not isinstance(li, Tag):
                continue
            if li.name in ("ul", "ol"):  # a nested list outside an li (invalid, but common)
                self._list(li, depth + 1)
                continue
            if li.name != "li":
                continue
            n += 1
            if (li.get("value") or "").strip().isdigit():
                n = int(li.get("value"))
            marker = f"{number_in_style(style, n)}." if ordered else "-"
            nested = []
            for child in li.children:
                if isinstance(child, Tag) and child.name in ("ul", "ol"):
                    nested.append(child)
                elif isinstance(child, Tag) and child.name in ("p", "div"):
                    self.buffer.append(" ")
                    self.buffer.append(self._inline_text(child)[0].replace("\n", " "))
                    self.buffer.append(" ")
                else:
                    self.buffer.append(self._inline_text(child)[0])
            self.bold_chars = 0
            self.flush("item", "    " * min(depth, 8) + f"{marker} ")
            for sub in nested:
                self._list(sub, depth + 1)

    def _table(self, table, depth: int) -> None:
        for tr in table.find_all("tr"):
            if tr.find_parent("table") is not table:
                continue
            cells = [c for c in tr.find_all(["td", "th"]) if c.find_parent("tr") is tr]
            row = row_text([c.get_text(" ", strip=True) for c in cells])
            if row is None:
                for cell in cells:
                    self.walk(cell, depth)
                    self.flush()
            elif row:
                self.writer.block("row", row)
