"""What a file's bytes say it is, whatever its name says, and the refusal when the two disagree."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ..errors import CorpusError

#: Each format `sniff` can return, as a person would name it.
_FORMAT_NAMES = {
    "pdf": "a PDF document",
    "docx": "a Word (.docx) document",
    "html": "a web page (HTML)",
    "text": "plain text",
    "doc": "a Word 97-2003 (.doc) document",
    "zip": "a ZIP archive",
    "odt": "an OpenDocument text (.odt) file",
    "image": "an image",
    "rtf": "an RTF document",
}
#: The suffix to suggest when a readable format arrives under the wrong name.
_SUFFIX_FOR = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "text": ".txt"}


def sniff(raw: bytes) -> str:
    """The format ``raw`` content is in, judged by its bytes, not its name.

    Args:
        raw: the whole file.

    Returns:
        One of ``pdf``, ``docx``, ``odt``, ``zip``, ``doc``, ``rtf``, ``image``, ``html``
        or ``text`` (anything else that is not clearly binary).
    """
    head = raw[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"PK\x05\x06"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(raw)).namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return "zip"
        if "word/document.xml" in names:
            return "docx"
        if "content.xml" in names and "mimetype" in names:
            return "odt"
        return "zip"
    if raw.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"
    if raw.startswith(b"{\\rtf"):
        return "rtf"
    if raw.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")):
        return "image"
    probe = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if probe.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in raw[:4096].lower():
        return "html"
    return "text"


def check_content_matches(path: Path, fmt: str, raw: bytes) -> None:
    """Refuse a file whose content is not the format its extension promises.

    An HTML fragment (no doctype, so sniffed as text) is accepted as HTML.

    Args:
        path: the file, for the message.
        fmt: the format its extension promises (a value of ``FORMAT_OF_SUFFIX``).
        raw: the whole file.

    Raises:
        CorpusError: naming what the content really is, and the suffix to rename it to
            when that is a format ingest reads.
    """
    content = sniff(raw)
    if content == fmt or (fmt == "html" and content == "text"):  # an HTML fragment has no doctype
        return
    what = _FORMAT_NAMES.get(content, content)
    hint = f": rename it to {_SUFFIX_FOR[content]}" if content in _SUFFIX_FOR else ""
    if content == "zip" and fmt == "docx":
        raise CorpusError(path, "is corrupt: a ZIP file without a Word document inside (is it damaged or truncated?)")
    if content == "text" and fmt in ("pdf", "docx"):
        raise CorpusError(path, f"is not {_FORMAT_NAMES[fmt]}: its content is {_describe_text_content(raw)} (is it corrupt or misnamed?)")
    raise CorpusError(path, f"has the extension {path.suffix} but its content is {what}{hint}")


def _describe_text_content(raw: bytes) -> str:
    """``"unrecognised binary data"`` when the first 200 bytes hold control bytes, else ``"plain text"``."""
    sample = raw[:200]
    if b"\x00" in sample or sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 10:
        return "unrecognised binary data"
    return "plain text"
