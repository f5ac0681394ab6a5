"""Plain-text policies (``.txt``, ``.md``): UTF-8, a byte-order mark, or a detected legacy encoding."""

from __future__ import annotations

from pathlib import Path

from ..errors import CorpusError
from .base import Extracted, ExtractLimits, check_characters

#: Legacy encodings preferred when charset-normalizer finds several equally likely.
_WESTERN = ("cp1252", "iso8859_15", "latin_1")


def read_text(path: Path, raw: bytes, sha256: str, limits: ExtractLimits) -> Extracted:
    """Read a plain-text policy: its decoded text is the chunker's text as it stands.

    Args:
        path: the file, for messages.
        raw: the whole file.
        sha256: hex SHA-256 of ``raw``.
        limits: only ``max_characters`` applies.

    Returns:
        An `Extracted` of format ``"text"``; ``notes`` names a legacy encoding if one was assumed.

    Raises:
        CorpusError: see `decode_text`; or more text than ``limits.max_characters``.
    """
    text, notes = decode_text(path, raw)
    check_characters(path, len(text), limits)
    return Extracted(text, sha256, "text", None, None, notes)


def decode_text(path: Path, raw: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode a text file: UTF-8 (BOM dropped), a UTF-16/32 BOM, or a detected legacy encoding.

    Args:
        path: the file, for messages.
        raw: the whole file.

    Returns:
        ``(text, notes)``; ``notes`` says which legacy encoding was assumed, if any.

    Raises:
        CorpusError: binary content, or text in no encoding that can be detected.
    """
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):  # fmt: skip
        if raw.startswith(bom):
            try:
                return raw.decode(codec), ()
            except UnicodeDecodeError as exc:
                raise CorpusError(path, f"is not valid {codec.upper()} text despite its byte-order mark (offset {exc.start})") from exc
    if b"\x00" in raw:
        raise CorpusError(path, "is a binary file, not text (it contains NUL bytes)")
    try:
        return raw.decode("utf-8"), ()
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    from charset_normalizer import from_bytes

    matches = from_bytes(raw)
    best = matches.best()
    if best is None:
        raise CorpusError(path, f"is not UTF-8 text (undecodable byte at offset {first_bad}) and its encoding cannot be detected")
    text, encoding = str(best), best.encoding
    # Several legacy code pages often decode a file equally cleanly (charset-normalizer's
    # "chaos"), and its language-coherence tie-break is noise on a short English text; an
    # English school's file is far likelier Windows-1252 than Mac Icelandic or Windows-1250.
    tied = [m for m in matches if abs(m.chaos - best.chaos) < 1e-3]
    for preferred in _WESTERN:
        if any(preferred in m.could_be_from_charset for m in tied):
            try:
                text, encoding = raw.decode(preferred), preferred
            except UnicodeDecodeError:
                continue
            break
    if sum(not c.isprintable() and c not in "\t\n\r\f" for c in text) > max(3, len(text) // 100):
        raise CorpusError(
            path,
            f"is not UTF-8 text and its encoding cannot be detected (read as {encoding} it is mostly control characters: a binary file?)",
        )
    return text, (f"{path.name} is not UTF-8; read it as {encoding} (detected by charset-normalizer)",)
