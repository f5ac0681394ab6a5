"""Word (``.docx``) policies: headings, numbered lists and tables, read through python-docx.

Headings come from heading styles and outline levels (through the style chain); list items
get the number Word shows (the level's ``lvlText`` filled with the list's counters); a table
row of short cells becomes one tab-separated line. Before python-docx inflates anything,
`check_docx_package` bounds what the package may unpack to (issue 17).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from ..errors import CorpusError
from .base import DEFAULT_LIMITS, MB, Extracted, ExtractLimits, characters_reason, find_limit_exceeded, megabytes
from .writer import BlockWriter, as_bold, clean_inline, number_in_style, plausible_title, row_text

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def read_docx(path: Path, raw: bytes, sha256: str, limits: ExtractLimits = DEFAULT_LIMITS) -> Extracted:
    """Read a Word document: its body in order, headings, numbered lists and tables as blocks.

    Args:
        path: the file, for messages.
        raw: the whole file (sniffed as a DOCX package).
        sha256: hex SHA-256 of ``raw``.
        limits: what the package may unpack to (see `check_docx_package`) and ``max_characters``.

    Returns:
        An `Extracted` of format ``"docx"`` with the title from the document's properties.

    Raises:
        CorpusError: over a limit, or corrupt (not a readable package, a part that cannot be parsed).
    """
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise CorpusError(path, "cannot be read: python-docx is not installed") from exc
    check_docx_package(path, raw, limits)  # before python-docx inflates and parses every part
    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CorpusError(path, f"is corrupt or truncated: not a readable Word document ({type(exc).__name__}: {exc})") from exc
    except MemoryError:
        raise
    except Exception as exc:  # lxml XMLSyntaxError and friends: a damaged part
        raise CorpusError(path, f"is corrupt: a part of the Word document cannot be parsed ({type(exc).__name__}: {exc})") from exc
    try:
        return _DocxReader(document, limits).read(sha256, path)
    except (CorpusError, MemoryError):
        raise
    except Exception as exc:
        over = find_limit_exceeded(exc)
        if over is not None:
            raise CorpusError(path, over.reason) from exc
        raise CorpusError(path, f"is corrupt: the Word document's content cannot be read ({type(exc).__name__}: {exc})") from exc


def check_docx_package(path: Path, raw: bytes, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
    """Refuse a Word file that would unpack past ``limits``, before anything of it is parsed.

    First from the zip's central directory alone (nothing inflated): the number of parts,
    each part's declared uncompressed size and compression ratio, and their total. The zip
    reader never inflates a part past its declared size (a part that lies fails its CRC), so
    these bound what python-docx can read. Then one streaming pass over every XML part (each
    element dropped once read, so memory stays flat) counts XML elements, paragraphs and the
    characters of text runs. A package that is not a readable zip is left for python-docx to
    report as corrupt.

    Raises:
        CorpusError: naming the file, what it would unpack to and the limit it is over.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_zip_members:
            raise CorpusError(
                path, f"has {len(members):,} parts, over the limit of {limits.max_zip_members:,} parts for a Word document (a zip bomb?)"
            )
        total = 0
        for info in members:
            size, packed = info.file_size, max(info.compress_size, 1)
            total += size
            if size > limits.max_part_bytes:
                raise CorpusError(
                    path,
                    f"has a part {info.filename} that unpacks to {megabytes(size)}, over the limit of "
                    f"{megabytes(limits.max_part_bytes)} for one part of a Word document (a zip bomb?)",
                )
            if size > MB and size > limits.max_compression_ratio * packed:
                raise CorpusError(
                    path,
                    f"has a part {info.filename} compressed {size / packed:,.0f} to 1 ({megabytes(packed)} unpacking to "
                    f"{megabytes(size)}), over the limit of {limits.max_compression_ratio} to 1 for a Word document (a zip bomb?)",
                )
        if total > limits.max_unpacked_bytes:
            raise CorpusError(
                path,
                f"unpacks to {megabytes(total)}, over the limit of {megabytes(limits.max_unpacked_bytes)} "
                "for a Word document's unpacked parts (a zip bomb?)",
            )
        counts = {"elements": 0, "paragraphs": 0, "characters": 0}
        for info in members:  # every part, whatever its name: one that is not XML fails at its first bytes
            if not info.is_dir():
                _count_xml_part(path, archive, info, counts, limits)


def _count_xml_part(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, counts: dict[str, int], limits: ExtractLimits) -> None:
    """Add one XML part's elements, paragraphs and text characters to ``counts``, raising at a limit."""
    from lxml import etree

    paragraph, text = f"{_W}p", f"{_W}t"
    try:
        with archive.open(info) as fh:
            events = etree.iterparse(fh, events=("end",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
            for _, el in events:
                counts["elements"] += 1
                if el.tag == paragraph:
                    counts["paragraphs"] += 1
                elif el.tag == text and el.text:
                    counts["characters"] += len(el.text)
                el.clear(keep_tail=False)
                parent = el.getparent()
                while parent is not None and el.getprevious() is not None:
                    del parent[0]
                if counts["elements"] > limits.max_xml_elements:
                    raise CorpusError(
                        path,
                        f"has more than {limits.max_xml_elements:,} XML elements, over the limit of "
                        f"{limits.max_xml_elements:,} for a Word document (a bomb, or many policies in one file?)",
                    )
                if counts["paragraphs"] > limits.max_paragraphs:
                    raise CorpusError(
                        path,
                        f"has more than {limits.max_paragraphs:,} paragraphs, over the limit of "
                        f"{limits.max_paragraphs:,} paragraphs for one policy file (split it into one file per policy)",
                    )
                if counts["characters"] > limits.max_characters:
                    raise CorpusError(path, characters_reason(limits))
    except CorpusError:
        raise
    except Exception:  # not well-formed XML, a bad CRC, …: python-docx reports it as corrupt
        return


class _DocxReader:
    """Walks a python-docx document body in order, resolving styles and list numbering."""

    def __init__(self, document, limits: ExtractLimits = DEFAULT_LIMITS) -> None:
        self.document = document
        self.writer = BlockWriter(limits)
        self.styles = {}
        for style in document.styles:
            try:
                self.styles[style.style_id] = style
            except Exception:  # a style python-docx cannot model: skip it
                continue
        self.abstract: dict[str, dict[int, tuple[str, int, str]]] = {}  # abstractNumId → ilvl → (numFmt, start, lvlText)
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}  # numId → (abstractNumId, ilvl → startOverride)
        self.counters: dict[object, dict[int, int]] = {}
        self._read_numbering()

    def _read_numbering(self) -> None:
        try:
            numbering = self.document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        for absn in numbering.iter(f"{_W}abstractNum"):
            levels = {}
            for lvl in absn.iter(f"{_W}lvl"):
                fmt_el = lvl.find(f"{_W}numFmt")
                start_el = lvl.find(f"{_W}start")
                text_el = lvl.find(f"{_W}lvlText")
                ilvl = int(lvl.get(f"{_W}ilvl", "0"))
                levels[ilvl] = (
                    fmt_el.get(f"{_W}val", "decimal") if fmt_el is not None else "decimal",
                    int(start_el.get(f"{_W}val", "1")) if start_el is not None else 1,
                    text_el.get(f"{_W}val", "") if text_el is not None else f"%{ilvl + 1}.",
                )
            self.abstract[absn.get(f"{_W}abstractNumId")] = levels
        for num in numbering.iter(f"{_W}num"):
            abs_el = num.find(f"{_W}abstractNumId")
            overrides = {}
            for ov in num.iter(f"{_W}lvlOverride"):
                so = ov.find(f"{_W}startOverride")
                if so is not None:
                    overrides[int(ov.get(f"{_W}ilvl", "0"))] = int(so.get(f"{_W}val", "1"))
            self.nums[num.get(f"{_W}numId")] = (abs_el.get(f"{_W}val") if abs_el is not None else "", overrides)

    # -- paragraph properties through the style chain

    def _style_chain(self, style_id: str | None):
        seen = 0
        style = self.styles.get(style_id) if style_id else None
        while style is not None and seen < 20:
            yield style
            base = style.base_style
            style = base
            seen += 1

    def _ppr_value(self, p, tag: str):
        ppr = p.find(f"{_W}pPr")
        if ppr is not None and ppr.find(f"{_W}{tag}") is not None:
            return ppr.find(f"{_W}{tag}")
        for style in self._style_chain(self._style_id(p)):
            sppr = style.element.find(f"{_W}pPr")
            if sppr is not None and sppr.find(f"{_W}{tag}") is not None:
                return sppr.find(f"{_W}{tag}")
        return None

    @staticmethod
    def _style_id(p) -> str | None:
        ppr = p.find(f"{_W}pPr")
        if ppr is None:
            return None
        ps = ppr.find(f"{_W}pStyle")
        return ps.get(f"{_W}val") if ps is not None else None

    def _style_name(self, p) -> str:
        style = self.styles.get(self._style_id(p) or "")
        return (style.name or "") if style is not None else ""

    def _heading_level(self, p) -> int | None:
        name = self._style_name(p).lower()
        m = re.match(r"^heading\s*(\d)$", name)
        if m:
            return min(int(m.group(1)), 6)
        if name in ("title",):
            return 1
        if name == "subtitle":
            return 2
        outline = self._ppr_value(p, "outlineLvl")
        if outline is not None:
            level = int(outline.get(f"{_W}val", "9"))
            if level < 9:
                return min(level + 1, 6)
        return None

    def _list_marker(self, p) -> tuple[int, str] | None:
        """``(ilvl, marker)`` for a list paragraph, None otherwise.

        The marker is ``"-"`` for a bullet, else the number as Word shows it: the level's
        ``lvlText`` ("%1.", "(%2)", "%1.%2") filled with the list's counters.
        """
        numpr = self._ppr_value(p, "numPr")
        name = self._style_name(p).lower()
        if numpr is not None:
            ilvl_el = numpr.find(f"{_W}ilvl")
            num_el = numpr.find(f"{_W}numId")
            ilvl = int(ilvl_el.get(f"{_W}val", "0")) if ilvl_el is not None else 0
            num_id = num_el.get(f"{_W}val") if num_el is not None else None
            if num_id is None or num_id == "0":
                return None
            abs_id, overrides = self.nums.get(num_id, ("", {}))
            levels = self.abstract.get(abs_id, {})
            fmt, start, lvl_text = levels.get(ilvl, ("bullet", 1, ""))
            if fmt in ("bullet", "none"):
                return ilvl, "-"
            key: object = num_id if ilvl in overrides else ("abstract", abs_id)
            start = overrides.get(ilvl, start)
            counts = self.counters.setdefault(key, {})
            counts[ilvl] = counts.get(ilvl, start - 1) + 1
            for deeper in [lv for lv in counts if lv > ilvl]:
                del counts[deeper]

            def fill(m: re.Match) -> str:
                level = int(m.group(1)) - 1
                return number_in_style(levels.get(level, ("decimal", 1, ""))[0], counts.get(level, levels.get(level, ("", 1, ""))[1]))

            marker = re.sub(r"%(\d)", fill, lvl_text).strip() or f"{counts[ilvl]}."
            return ilvl, marker
        m = re.match(r"^list (bullet|number|paragraph)\s*(\d)?$", name)
        if m and m.group(1) != "paragraph":
            ilvl = int(m.group(2) or 1) - 1
            if m.group(1) == "bullet":
                return ilvl, "-"
            counts = self.counters.setdefault(("style", name), {})
            counts[ilvl] = counts.get(ilvl, 0) + 1
            return ilvl, f"{counts[ilvl]}."
        return None

    # -- text

    def _text(self, p) -> str:
        out: list[str] = []
        stack = [iter(p)]
        while stack:
            el = next(stack[-1], None)
            if el is None:
                stack.pop()
                continue
            tag = el.tag
            if tag in (_MC_FALLBACK, f"{_W}txbxContent", f"{_W}del", f"{_W}footnoteReference", f"{_W}endnoteReference"):
                continue
            if tag == f"{_W}t":
                out.append(el.text or "")
            elif tag == f"{_W}tab" and el.getparent().tag == f"{_W}r":
                out.append("\t")
            elif tag in (f"{_W}br", f"{_W}cr"):
                out.append("\n")
            elif tag == f"{_W}noBreakHyphen":
                out.append("-")
            else:
                stack.append(iter(el))
        return "".join(out)

    def _all_bold(self, p) -> bool:
        runs = [r for r in p.iter(f"{_W}r") if "".join(t.text or "" for t in r.iter(f"{_W}t")).strip()]
        if not runs:
            return False
        for r in runs:
            rpr = r.find(f"{_W}rPr")
            b = rpr.find(f"{_W}b") if rpr is not None else None
            bold = b is not None and b.get(f"{_W}val", "true") not in ("0", "false")
            if not bold:
                rstyle = rpr.find(f"{_W}rStyle") if rpr is not None else None
                style = self.styles.get(rstyle.get(f"{_W}val")) if rstyle is not None else None
                bold = bool(style is not None and getattr(style.font, "bold", None))
            if not bold:
                pstyle = self.styles.get(self._style_id(p) or "")
                bold = bool(pstyle is not None and getattr(pstyle.font, "bold", None))
            if not bold:
                return False
        return True

    def _paragraph(self, p) -> None:
        text = self._text(p)
        if "\t" in text and len(text.strip()) > 80:
            text = text.replace("\t", " ")
        text = clean_inline(text)
        if not text:
            return
        level = self._heading_level(p)
        if level is not None:
            numbered = self._list_marker(p)  # "1. Introduction" when the heading style is numbered
            if numbered is not None and numbered[1] != "-":
                text = f"{numbered[1]} {text}"
            self.writer.block("heading", "#" * level + " " + text.replace("\n", " "))
            return
        marker = self._list_marker(p)
        if marker is not None:
            ilvl, mark = marker
            self.writer.block("item", "    " * min(ilvl, 8) + f"{mark} " + text.replace("\n", " "))
            return
        if self._all_bold(p) and "\t" not in text:
            text = as_bold(text.replace("\n", " "))
        self.writer.block("para", text)

    def _table(self, tbl) -> None:
        for tr in tbl.findall(f"{_W}tr"):
            cells = [tc for tc in tr if tc.tag == f"{_W}tc"]
            texts = ["\n".join(self._text(p) for p in tc.iter(f"{_W}p")) for tc in cells]
            row = row_text(texts)
            if row is None:
                for tc in cells:
                    for child in tc:
                        self._element(child)
            elif row:
                self.writer.block("row", row)

    def _element(self, el) -> None:
        if el.tag == f"{_W}p":
            self._paragraph(el)
        elif el.tag == f"{_W}tbl":
            self._table(el)
        elif el.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}smartTag"):
            for child in el:
                self._element(child)

    def read(self, sha256: str, path: Path) -> Extracted:
        for child in self.document.element.body:
            self._element(child)
        try:
            title = plausible_title(self.document.core_properties.title, path)
        except Exception:
            title = None
        return Extracted(self.writer.text(), sha256, "docx", None, title, ())
