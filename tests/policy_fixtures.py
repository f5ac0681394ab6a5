"""Make realistic DOCX, HTML and PDF copies of the seed policies with real tools.

A school's Word file has heading styles, real nested lists and tables where the plain-text
seeds have ALL-CAPS or short title lines, space-indented bullets and tab-separated rows.
`seed_to_markdown` restores that structure (lightly: the words are not changed) so that
``pandoc`` writes the Word document a school would have; LibreOffice then exports it to
PDF as "Save as PDF" would, and ``pandoc`` writes the web-page version.

Which lines are headings, and at which level, is `SEED_HEADINGS`: written by a person
reading the seeds, not derived from the chunker's heading rules, so the format-equivalence
test (tests/test_formats.py) compares the chunker's reading of plain text with a structure
the chunker did not decide.

Tools (Debian packages, installed by ``make fixtures-tools``): ``pandoc`` and
``soffice`` (libreoffice-writer-nogui).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FORMATS = ("docx", "html", "pdf")

_BULLET = re.compile(r"^(?P<indent> *)(?P<marker>[-*]|\d{1,2}[.)])\s+(?P<body>\S.*)$")

#: "<school>/<seed file>" → {heading line as written in the seed: its level} for the seeds
#: written without markdown headings (1: the title, 2: a part, 3: a section, 4: a subsection).
#: Sign-off lines ("Signed", "Date", "Agreed: March 2016"), a motto and the policies listed
#: under "See also" are no headings to a reader, so they stay paragraphs in the Word file.
SEED_HEADINGS: dict[str, dict[str, int]] = {
    "beaudesert-park/acceptable-use-policy-ict-social-media.txt": {
        "BEAUDESERT PARK SCHOOL": 1,
        "ACCEPTABLE USE POLICY & CODE OF CONDUCT FOR ICT AND SOCIAL MEDIA": 2,
        "INTRODUCTION": 2,
        "STATEMENT OF INTENT": 2,
        "PRINCIPLES OF ICT PROVISION": 2,
        "Equal Access to ICT Services": 3,
        "The Right to Privacy in Electronic Communication and Work": 3,
        "Safety from Harassment": 3,
        "Intellectual Freedom": 3,
        "RESPONSIBILITIES OF USERS": 2,
        "Use of equipment": 3,
        "Use of the Network": 3,
        "Respecting Copyright Law": 3,
        "Behaviour on the Network/Internet Access": 3,
        "Printing": 3,
        "Children's use of mobile devices (eg. iPods)": 3,
        "In the boarding house": 3,
        "During the day": 3,
        "USE OF SOCIAL MEDIA SITES": 2,
        "USE OF PERSONAL SOCIAL MEDIA SITES BY EMPLOYEES": 2,
        "USE OF SCHOOL SOCIAL MEDIA SITES BY STAFF": 2,
        "COMMENTS POSTED BY PARENTS/CARERS ON SOCIAL MEDIA SITES": 2,
        "DEALING WITH INCIDENTS OF ONLINE (CYBER) BULLYING": 2,
        "COMMUNICATING THE SCHOOL'S ACCEPTABLE USE POLICY & CODE OF CONDUCT FOR ICT AND SOCIAL MEDIA": 2,
        "Informing Pupils": 3,
        "Informing Staff": 3,
        "Informing Parents/carers": 3,
        "SECURITY": 2,
        "CODE OF CONDUCT FOR ICT": 2,
        "APPENDIX 1": 2,
        "STAFF CODE OF CONDUCT FOR ICT AND SOCIAL MEDIA": 2,
        "APPENDIX 2": 2,
        "PUPIL CODE OF CONDUCT FOR ICT AND SOCIAL MEDIA": 2,
        "APPENDIX 3": 2,
        "PARENT/CARER CODE OF CONDUCT FOR ICT AND SOCIAL MEDIA": 2,
    },
    "shirley-warren/ict-use-policy.txt": {
        "Shirley Warren": 1,
        "General ICT Use": 3,
        "Personal Use of Equipment": 3,
        "Use of personal equipment": 3,
        "Installation of Software": 3,
        "Internet Access away from the school": 3,
        "Acceptable Behaviour when Accessing the Internet": 3,
        "Offensive and Inappropriate Material": 3,
        "Social Networking": 3,
        "Definitions": 3,
        "Friends/Befriending": 3,
        "Content of interactions": 3,
        "Security": 3,
        "Data Protection and Confidentiality": 3,
        "Discussing Pupils, Families, Governors and Staff": 3,
        "Recorded Information": 3,
        "Child Protection Information": 3,
        "Transfer of Information": 3,
        "Retention of Records": 3,
        "Internal Information": 3,
        "Responsibility and Accountability": 3,
        "Headteachers/Managers": 4,  # under Responsibility and Accountability
    },
    "st-margarets/social-networking-policy.txt": {
        "St. Margaret's C of E Primary School": 1,
        "Objectives": 3,
        "Key Principles": 3,
        "Aims": 3,
        "Overview and Expectations": 3,
        "Code of Conduct: Social Networking": 3,
        "Potential and Actual Breaches of the Code of Conduct": 3,
        "Safer Online Behaviour": 3,
        "Mobile Phones/Camera/Video Recorder Usage": 3,
        "Protection of Personal Information": 3,
        "Access to Inappropriate Images and Internet Usage": 3,
        "Cyberbullying": 3,
        "Link with Other Policies": 3,
        "Review of Policy": 3,
    },
    "st-michaels/ict-code-of-conduct.txt": {
        "ICT CODE OF CONDUCT": 1,
        "Purpose": 3,
        "Scope": 3,
        "Use of website and social media": 3,
        "Our rules": 3,
        "Privacy": 3,
        "Respect": 3,
        "Use of mobile devices, including phones and digital photography": 3,
        "Staff professional responsibilities": 3,
        "Conclusion": 3,
        "See also": 3,
    },
}


def tools_missing() -> list[str]:
    """Names of the command-line tools the generators need that are not on PATH."""
    return [tool for tool in ("pandoc", "soffice") if shutil.which(tool) is None]


def _pipe_table(rows: list[list[str]]) -> list[str]:
    width = max(len(r) for r in rows)
    rows = [[c.replace("|", "\\|") for c in r] + [""] * (width - len(r)) for r in rows]
    header, body = rows[0], rows[1:]
    out = ["| " + " | ".join(c or " " for c in header) + " |", "|" + "|".join(["---"] * width) + "|"]
    out += ["| " + " | ".join(c or " " for c in r) + " |" for r in body]
    return ["", *out, ""]


def seed_to_markdown(text: str, headings: dict[str, int] | None = None) -> str:
    """Turn a markdown-ish seed policy into the pandoc markdown of the school's Word file.

    * tab-separated lines (signature/date blocks) become a table;
    * the lines ``headings`` names become headings of their level (Word heading styles);
    * space-indented bullets are re-indented by four spaces per level (real nested lists).

    The words of the document are not changed.

    Args:
        text: the seed policy.
        headings: heading line (as written, without surrounding spaces) → level 1-6, for a
            seed without markdown headings (`SEED_HEADINGS`).

    Raises:
        ValueError: a line of ``headings`` is not in ``text`` (the seed changed).
    """
    headings = headings or {}
    lines = text.replace("\r\n", "\n").split("\n")
    missing = sorted(set(headings) - {ln.strip() for ln in lines})
    if missing:
        raise ValueError(f"SEED_HEADINGS names lines the seed does not have: {missing}")
    out: list[str] = []
    i = 0
    indents: list[int] = []
    while i < len(lines):
        line = lines[i]
        if "\t" in line and line.strip():
            rows = []
            while i < len(lines) and "\t" in lines[i] and lines[i].strip():
                cells = [c.strip() for c in lines[i].strip("\n").split("\t")]
                if not all(re.fullmatch(r"-*", c) for c in cells):
                    rows.append(cells[1:] if cells and cells[0] == "" and len(cells) > 1 and i == 0 else cells)
                i += 1
            if rows:
                out += _pipe_table(rows)
            continue
        stripped = line.strip()
        m = _BULLET.match(line)
        if m:
            indent = len(m.group("indent"))
            while indents and indents[-1] > indent:
                indents.pop()
            if not indents or indents[-1] < indent:
                indents.append(indent)
            level = len(indents) - 1
            if out and out[-1].strip() and not _BULLET.match(out[-1]):
                out.append("")  # pandoc needs a blank line before a list
            out.append("    " * level + f"{m.group('marker')} {m.group('body')}")
            i += 1
            continue
        if stripped:
            if indents and out and out[-1].strip():
                out.append("")  # and after one, or the paragraph continues the last item
            indents = []
        if stripped in headings:
            out += ["", "#" * headings[stripped] + " " + stripped, ""]
            i += 1
            continue
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def _run(cmd: list[str], cwd: Path | None = None, timeout: int = 300) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-2000:]}")


def pandoc(markdown: str, dest: Path) -> Path:
    """Write ``markdown`` (pandoc markdown, no smart punctuation) to ``dest`` (.docx or .html)."""
    fmt = {".docx": "docx", ".html": "html", ".htm": "html"}[dest.suffix]
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as fh:
        fh.write(markdown)
        src = fh.name
    try:
        cmd = ["pandoc", "-f", "markdown-smart", "-t", fmt, "-o", str(dest), src]
        if fmt == "html":
            cmd[1:1] = ["--standalone", "--metadata", f"pagetitle={dest.stem}"]
        _run(cmd)
    finally:
        os.unlink(src)
    return dest


def soffice_to_pdf(sources: list[Path], outdir: Path) -> list[Path]:
    """Export documents to PDF with headless LibreOffice (one process for all of them)."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        _run(
            [
                "soffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(outdir),
                *map(str, sources),
            ],
            timeout=600,
        )
    out = [outdir / f"{s.stem}.pdf" for s in sources]
    missing = [p for p in out if not p.exists()]
    if missing:
        raise RuntimeError(f"soffice wrote no PDF for {missing}")
    return out


def make_format_corpora(seed_corpus: Path, dest: Path, formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
    """Copy ``seed_corpus`` once per format with every document converted to that format.

    Returns:
        format → corpus folder (``dest/<format>/<school>/school.toml`` + ``<doc>.<format>``).
    """
    corpora: dict[str, Path] = {}
    docx_sources: list[tuple[Path, Path]] = []  # (docx in the work folder, its PDF's place in the corpus)
    work = dest / "_work"
    work.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        corpora[fmt] = dest / fmt
    for school in sorted(p for p in seed_corpus.iterdir() if p.is_dir()):
        for fmt in formats:
            (corpora[fmt] / school.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(school / "school.toml", corpora[fmt] / school.name / "school.toml")
        for doc in sorted(school.iterdir()):
            if doc.suffix not in (".txt", ".md"):
                continue
            markdown = seed_to_markdown(doc.read_text(encoding="utf-8"), SEED_HEADINGS.get(f"{school.name}/{doc.name}"))
            if "docx" in formats:
                pandoc(markdown, corpora["docx"] / school.name / f"{doc.stem}.docx")
            if "html" in formats:
                pandoc(markdown, corpora["html"] / school.name / f"{doc.stem}.html")
            if "pdf" in formats:
                src = work / f"{school.name}--{doc.stem}.docx"
                pandoc(markdown, src)
                docx_sources.append((src, corpora["pdf"] / school.name / f"{doc.stem}.pdf"))
    if docx_sources:
        pdfs = soffice_to_pdf([s for s, _ in docx_sources], work / "pdf")
        for pdf, (_, target) in zip(pdfs, docx_sources, strict=True):
            shutil.move(pdf, target)
    shutil.rmtree(work, ignore_errors=True)
    return corpora


# --- bad files, as schools really send them ------------------------------------------------


def encrypted_pdf(src: Path, dest: Path, user_password: str = "governors") -> Path:
    """``src`` encrypted with qpdf (AES-256); an empty ``user_password`` gives a PDF that
    opens without one but carries owner restrictions (as many published PDFs do)."""
    _run(["qpdf", "--encrypt", user_password, "owner-secret", "256", "--", str(src), str(dest)])
    return dest


def scanned_pdf(src: Path, dest: Path, pages: int = 2, scale: float = 1.2) -> Path:
    """A PDF of page images only, as a scanner makes: the first ``pages`` pages of ``src``
    rendered to bitmaps (pdfium) and saved as an image PDF (Pillow). No text layer."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(src))
    images = [pdf[i].render(scale=scale).to_pil().convert("RGB") for i in range(min(pages, len(pdf)))]
    pdf.close()
    images[0].save(dest, "PDF", resolution=72 * scale, save_all=True, append_images=images[1:])
    return dest


def truncated(src: Path, dest: Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of ``src``'s bytes: an interrupted download or copy."""
    raw = src.read_bytes()
    dest.write_bytes(raw[: int(len(raw) * fraction)])
    return dest


def legacy_text(text: str, dest: Path, encoding: str = "cp1252") -> Path:
    """``text`` saved in a legacy Windows encoding (as old Word "Save as text" does)."""
    dest.write_bytes(text.encode(encoding))
    return dest


def cached_format_corpora(seed_corpus: Path) -> dict[str, Path]:
    """`make_format_corpora` once per machine: the result is kept in the temp folder under a
    key made of the seed files and this module's source, so every test session (and every
    test module) reuses it until a seed or a generator changes.

    Raises:
        RuntimeError: pandoc or soffice is missing (``make fixtures-tools`` installs them).
    """
    import hashlib

    missing = tools_missing()
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not installed: run `make fixtures-tools` (Debian packages pandoc, libreoffice-writer-nogui, qpdf)"
        )
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(seed_corpus.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(seed_corpus)).encode() + b"\0" + path.read_bytes())
    root = Path(tempfile.gettempdir()) / f"policy-assistant-format-fixtures-{digest.hexdigest()[:16]}"
    if not (root / "done").exists():
        building = Path(tempfile.mkdtemp(prefix="policy-fixtures-building-"))
        make_format_corpora(seed_corpus, building)
        (building / "done").write_text("ok\n", encoding="utf-8")
        try:
            os.replace(building, root)
        except OSError:  # another session finished first
            shutil.rmtree(building, ignore_errors=True)
    return {fmt: root / fmt for fmt in FORMATS}


_FOOTER_XML = (
    '<w:fldSimple xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" w:instr=" PAGE ">'
    "<w:r><w:t>1</w:t></w:r></w:fldSimple>"
)


def with_running_footer(docx_path: Path, dest: Path, footer_text: str) -> Path:
    """A copy of a Word document with a running header and a "text – Page N" footer on
    every page (python-docx; the page number is a real PAGE field)."""
    import docx
    from docx.oxml import parse_xml

    document = docx.Document(str(docx_path))
    section = document.sections[0]
    section.header.paragraphs[0].text = footer_text
    para = section.footer.paragraphs[0]
    para.text = "Page "
    para._p.append(parse_xml(_FOOTER_XML))
    document.save(str(dest))
    return dest
