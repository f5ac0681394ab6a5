"""Decompression and size bombs (issue 17 item 6): what a file unpacks to is capped, not only its size.

The 20 MB file limit did not bound memory: a 2.5 KB PDF (a stream compressed twice) took 2.1 GB
and 111 s and was served; a 431 KB DOCX took 1.3 GB and 131 s and yielded 75 million characters;
an 816 KB DOCX took 1.7 GB and was reported "corrupt"; a 20,000-page PDF took 1.9 GB and 408 s.
Every bomb here is made at test time (a few KB to a few MB on disk) and read by
`assistant.formats.extract` in a child process capped at `CHILD_MEMORY_MB` of address space, so
the code of before fails each test within that cap (out of memory, or no message naming a limit)
instead of taking the machine's memory; the fixed code refuses each one naming the file and the
limit, and the child's peak RSS shows memory stayed bounded. The last test runs the real ingest CLI.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from server_helpers import copy_index

from assistant.ingest_cli import main

ROOT = Path(__file__).resolve().parents[1]
#: Address space a child reading one bomb may use: the fixed code needs ~250 MB, the code of before GBs.
CHILD_MEMORY_MB = 1536
#: Peak RSS the fixed code stays under for every bomb here.
BOUNDED_RSS_MB = 600

# --- bomb builders -------------------------------------------------------------------------------

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)


def docx(path: Path, body_chunks) -> Path:
    """A minimal valid DOCX whose ``word/document.xml`` body is ``body_chunks`` (bytes), streamed into the zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {_W}><w:body>'.encode())
            for chunk in body_chunks:
                fh.write(chunk)
            fh.write(b"</w:body></w:document>")
    return path


def repeated(unit: bytes, total: int):
    """``unit`` repeated to ``total`` bytes, in 1 MB chunks."""
    block = unit * max(1, (1 << 20) // len(unit))
    for _ in range(0, total, len(block)):
        yield block


def paragraph(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def pdf(path: Path, objects: list[bytes]) -> Path:
    """A PDF of ``objects`` (numbered from 1; object 1 the catalog) with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())
    return path


def flated(chunks, times: int) -> bytes:
    """``chunks`` (bytes) compressed ``times`` times over, streamed: a GB of input never sits in memory."""
    for _ in range(times):
        compressor, out = zlib.compressobj(9), []
        for chunk in chunks:
            out.append(compressor.compress(chunk))
        out.append(compressor.flush())
        chunks = out
    return b"".join(chunks)


def stream(data: bytes, extra: bytes = b"", flate: int = 0, padding: int = 0) -> bytes:
    """A stream object: ``data`` then ``padding`` spaces, compressed ``flate`` times (``/Filter [/FlateDecode …]``)."""
    if flate:
        data = flated([data, *repeated(b" ", padding)], flate)
    filters = b" /Filter [%s]" % b" ".join([b"/FlateDecode"] * flate) if flate else b""
    return b"<< /Length %d%s%s >>\nstream\n%s\nendstream" % (len(data), filters, extra, data)


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_TEXT = b"BT /F1 12 Tf 72 720 Td (Staff must not share their passwords with pupils.) Tj ET\n"
_PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"


def pdf_pages(path: Path, pages: int, flate: int = 1, padding: int = 0, declared: int | None = None) -> Path:
    """``pages`` pages sharing one content stream (a line of text, then ``padding`` spaces); the
    page tree declares ``declared`` pages (default: the truth)."""
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    tree = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages if declared is None else declared)
    content = stream(_TEXT, flate=flate, padding=padding)
    return pdf(path, [b"<< /Type /Catalog /Pages 2 0 R >>", tree, _FONT, content, *[_PAGE] * pages])


def pdf_form_bomb(path: Path, depth: int = 6, fan: int = 10) -> Path:
    """One page drawing form F``depth``, each form drawing the one below ``fan`` times: ``fan**depth`` lines of text."""
    forms = []
    for level in range(depth + 1):
        content = _TEXT if level == 0 else b"/X Do\n" * fan
        xobject = b"" if level == 0 else b"/X %d 0 R" % (6 + level - 1)
        resources = b"/Resources << /Font << /F1 3 0 R >> /XObject << %s >> >>" % xobject
        forms.append(stream(content, b" /Type /XObject /Subtype /Form /BBox [0 0 612 792] " + resources))
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> /XObject << /X %d 0 R >> >> /Contents 4 0 R >>" % (6 + depth)
    )
    catalog, tree = b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>"
    return pdf(path, [catalog, tree, _FONT, stream(b"/X Do\n"), page, *forms])


def _docx_part_bomb(path: Path) -> Path:
    # 100 MB of document XML in ~350 KB: over the one-part limit (and the ratio limit)
    return docx(path, repeated(paragraph("Staff must not share passwords with pupils."), 100 << 20))


def _docx_ratio_bomb(path: Path) -> Path:
    # 20 MB of text in one run, ~20 KB compressed: under the part limit, 1,000 to 1
    return docx(path, [b"<w:p><w:r><w:t>", *repeated(b"A", 20 << 20), b"</w:t></w:r></w:p>"])


def _docx_paragraphs(path: Path) -> Path:
    # 120,000 short paragraphs (9 MB, compressed ~25 to 1 like real Word XML): only the paragraph count is over
    return docx(path, (paragraph(f"Rule {i}: staff must not share password {i * 7919 % 100003}.") for i in range(120_000)))


def _pdf_flate_bomb(path: Path) -> Path:
    # one page whose content stream is 256 MB of spaces: ~250 KB compressed once
    return pdf_pages(path, 1, flate=1, padding=256 << 20)


def _pdf_double_flate_bomb(path: Path) -> Path:
    # 1 GB compressed twice: 2.5 KB on disk (the 8.9 KB PDF that took 5.1 GB)
    return pdf_pages(path, 1, flate=2, padding=1 << 30)


def _pdf_many_pages(path: Path) -> Path:
    return pdf_pages(path, 20_000)


def _pdf_lying_page_count(path: Path) -> Path:
    # the page tree says 1 page and holds 2,100
    return pdf_pages(path, 2_100, declared=1)


def _text_characters(path: Path) -> Path:
    path.write_text(("Staff must not share their passwords with pupils. " * 20 + "\n\n") * 5_200, encoding="utf-8")
    return path


def _html_tags(path: Path) -> Path:
    # 1,000,000 empty paragraphs in 9 MB: BeautifulSoup would keep ~1 GB of them
    path.write_bytes(b"<html><body><h1>Staff code</h1>" + b"<p>x</p>" * 1_000_000 + b"</body></html>")
    return path


BOMBS = {
    # name: (builder, file name, what the refusal must say)
    "docx-part": (_docx_part_bomb, "staff-code.docx", ["word/document.xml", "over the limit of 64.0 MB for one part"]),
    "docx-ratio": (_docx_ratio_bomb, "staff-code.docx", ["compressed", "over the limit of 100 to 1"]),
    "docx-paragraphs": (_docx_paragraphs, "staff-code.docx", ["more than 100,000 paragraphs", "over the limit of 100,000 paragraphs"]),
    "pdf-flate": (_pdf_flate_bomb, "staff-code.pdf", ["over the limit of 64.0 MB of decoded streams"]),
    "pdf-double-flate": (_pdf_double_flate_bomb, "staff-code.pdf", ["over the limit of 64.0 MB of decoded streams"]),
    "pdf-20000-pages": (_pdf_many_pages, "staff-code.pdf", ["has 20,000 pages", "over the limit of 2,000 pages"]),
    "pdf-lying-page-count": (_pdf_lying_page_count, "staff-code.pdf", ["more than 2,000 pages", "over the limit of 2,000 pages"]),
    "pdf-form-bomb": (pdf_form_bomb, "staff-code.pdf", ["page 1 draws more than 100,000", "over the limit of 100,000 for one page"]),
    "html-tags": (_html_tags, "staff-code.html", ["has 2,000,006 tags", "over the limit of 250,000 tags"]),
    "text-characters": (_text_characters, "staff-code.txt", ["more than 5,000,000 characters", "over the limit of 5,000,000 characters"]),
}

_CHILD = """
import json, resource, sys
cap = int(sys.argv[2]) << 20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from pathlib import Path
from assistant.formats import extract
try:
    result = extract(Path(sys.argv[1]))
except BaseException as exc:
    answer = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
else:
    answer = {"ok": len(result.text)}
status = open("/proc/self/status", encoding="ascii").read()
answer["peak_rss_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024  # this process's own high-water mark
print(json.dumps(answer))
"""


def extract_in_child(path: Path, timeout: float = 180) -> tuple[dict, float]:
    """``extract(path)`` in a child process capped at `CHILD_MEMORY_MB` of address space.

    Returns:
        (its JSON answer, with ``peak_rss_mb`` its own VmHWM; seconds). A child that runs out
        of memory or time fails the test.
    """
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(CHILD_MEMORY_MB)], cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading {path.name} did not finish within {timeout:.0f} s (a bomb that was not refused)")
    lines = done.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), f"the child reading {path.name} failed (status {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(lines[-1]), time.monotonic() - started


@pytest.mark.system
@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_is_refused_naming_the_file_and_the_limit_in_bounded_memory(name, tmp_path):
    build, file_name, expected = BOMBS[name]
    path = build(tmp_path / file_name)
    answer, seconds = extract_in_child(path)
    rss_mb = answer["peak_rss_mb"]
    print(f"{name}: {path.stat().st_size / 1024:,.0f} KB on disk, {seconds:.1f} s, peak RSS {rss_mb:,.0f} MB: {answer}")
    assert "error" in answer, f"{name} was read as {answer['ok']:,} characters of text: nothing capped it"
    message = answer["error"]
    assert message.startswith(f"CorpusError: {path}: "), message  # names the file
    for words in expected:
        assert words in message, message
    assert "corrupt" not in message and "out of memory" not in message, message
    assert rss_mb < BOUNDED_RSS_MB, f"{name}: reading it took {rss_mb:,.0f} MB"


@pytest.mark.system
def test_real_policies_are_far_below_every_limit(tmp_path):
    """The limits leave room: a Word document of 20,000 varied paragraphs (~200 pages) still reads."""
    path = docx(
        tmp_path / "long-policy.docx", (paragraph(f"Clause {i}: staff must lock screen {i} when they leave it.") for i in range(20_000))
    )
    answer, _ = extract_in_child(path)
    assert answer.get("ok", 0) > 1_000_000, answer


@pytest.mark.integration
def test_ingest_names_each_bomb_and_its_limit_and_allow_partial_serves_the_rest(tmp_path, corpus_copy, index_dir, capsys):
    """The real ingest CLI: each bomb is a bad file like any other, reported by name with the limit."""

    served = tmp_path / "index"
    copy_index(index_dir, served)
    school = corpus_copy / "st-michaels"
    _docx_part_bomb(school / "zip-bomb.docx")
    _pdf_double_flate_bomb(school / "flate-bomb.pdf")
    pdf_form_bomb(school / "form-bomb.pdf")
    code = main([str(corpus_copy), "--index-dir", str(served), "--allow-partial", "--quiet"])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 3, text
    for file_name, limit in (
        ("zip-bomb.docx", "over the limit of 64.0 MB for one part"),
        ("flate-bomb.pdf", "over the limit of 64.0 MB of decoded streams"),
        ("form-bomb.pdf", "over the limit of 100,000 for one page"),
    ):
        lines = [ln for ln in text.splitlines() if file_name in ln and limit in ln]
        assert lines, f"{file_name}: no line naming it and {limit!r} in:\n{text}"
    assert "corrupt" not in text
    from assistant import Assistant

    bot = Assistant.load(served)
    assert {s.school for s in bot.schools()} >= {"glais", "st-michaels"}
    assert bot.search("Can I share my password?", school="st-michaels", k=1)
