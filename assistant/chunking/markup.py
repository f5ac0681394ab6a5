"""Policy text as words: markdown/HTML emphasis stripped, wording normalised for comparison, link stubs.

`clean_markup` gives a clause the text a reader sees; `normalise_for_match` is the form two
wordings are compared in (repeats, clause ids, question banks' gold quotes).
"""

from __future__ import annotations

import re

from ..text import words

_MD_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_URL = re.compile(r"<?https?://\S+>?|www\.\S+")


def clean_markup(text: str) -> str:
    r"""Strip markdown/HTML emphasis and escapes from a span of policy text.

    ``**bold**``, ``*italic*``, ``__x__``, ``<u>x</u>``, ``\_`` and markdown links
    (``[text](url)`` → ``text``) are reduced to their words; whitespace is collapsed.
    """
    text = _MD_LINK.sub(lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"</?(u|b|i|em|strong)>", "", text, flags=re.IGNORECASE)
    text = text.replace("**", "").replace("__", "")
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\\([\\_*#`\[\]()<>-])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def normalise_for_match(text: str) -> str:
    """Lower-case, drop markdown ``*``, ``#`` and backticks, collapse whitespace.

    The normalisation question banks use to compare a citation with a gold quote.
    """
    text = re.sub(r"[*#`]", "", text.lower())
    text = re.sub(r"\\(.)", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def is_link_stub(text: str) -> bool:
    """True for a line that is only a link or a reference to one (fewer than four words of its own).

    Args:
        text: the raw (markdown) text of a paragraph or list item.
    """
    without_links = _URL.sub(" ", _MD_LINK.sub(lambda m: m.group(1), text))
    return len(words(without_links, letters_only=True)) < 4 and bool(_URL.search(text) or _MD_LINK.search(text))
