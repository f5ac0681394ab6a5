"""PDF, DOCX and HTML policies made by real tools ingest as well as the plain-text seeds.

The fixtures are the five seed policies converted by pandoc (DOCX, HTML) and LibreOffice
(PDF, exported from the DOCX); see ``policy_fixtures.py``. They are made once per machine
and cached in the temp folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from policy_fixtures import cached_format_corpora, pandoc, scanned_pdf, soffice_to_pdf, with_running_footer
from server_helpers import copy_index

from assistant import Assistant
from assistant.chunking import chunk_document, normalise_for_match
from assistant.errors import CorpusError
from assistant.formats import extract, sniff
from assistant.index import build_index
from assistant.loading import load_school
from evals.metrics import load_bank, score
from evals.run import run_ours

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
BANKS = [ROOT / "evals" / "banks" / "starter.jsonl", ROOT / "evals" / "banks" / "policy_bank.jsonl"]
ARTIFACTS = ROOT / "tests" / "artifacts"
TOLERANCE = 0.03


@pytest.fixture(scope="session")
def format_corpora() -> dict[str, Path]:
    """format → corpus folder of the five seed policies in that format (cached)."""
    try:
        return cached_format_corpora(CORPUS)
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _clauses(school_folder: Path):
    school = load_school(school_folder)
    out = []
    for doc in school.documents:
        out += chunk_document(doc, school.name, list(doc.page_starts) if doc.page_starts else None)
    return school, out


@pytest.mark.system
@pytest.mark.parametrize("fmt", ["docx", "html", "pdf"])
def test_clauses_and_section_paths_match_the_text_version(format_corpora, fmt):
    """At least 95% of the text version's (section path, clause) pairs come out identically."""
    total = same = 0
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        _, text_clauses = _clauses(folder)
        school, fmt_clauses = _clauses(format_corpora[fmt] / folder.name)
        assert {d.source_format for d in school.documents} == {fmt}
        theirs = {(c.section, normalise_for_match(c.display_text)) for c in fmt_clauses}
        mine = [(c.section, normalise_for_match(c.display_text)) for c in text_clauses]
        same += sum(pair in theirs for pair in mine)
        total += len(mine)
        # no clause is markup debris: every clause of the format version has words
        assert all(re.search(r"[A-Za-z]{3}", c.text) for c in fmt_clauses)
    assert same / total >= 0.95, f"{fmt}: only {same}/{total} clauses match the text version"


@pytest.mark.system
def test_pdf_clauses_carry_the_page_they_are_printed_on(format_corpora):
    import pdfplumber

    checked = 0
    for pdf_path in sorted(format_corpora["pdf"].glob("*/*.pdf")):
        _, clauses = _clauses(pdf_path.parent)
        with pdfplumber.open(pdf_path) as pdf:
            pages = [re.sub(r"\s+", " ", page.extract_text() or "") for page in pdf.pages]
        assert len(pages) > 1
        for clause in clauses:
            head = " ".join(clause.text.split()[:5])
            assert clause.page is not None and 1 <= clause.page <= len(pages)
            assert head in pages[clause.page - 1], f"{pdf_path.name}: {head!r} is not on p. {clause.page}"
            checked += 1
    assert checked > 400
    assert len({c.page for c in clauses}) > 3  # the last document's clauses span several pages


@pytest.mark.system
def test_docx_headings_lists_and_tables_become_chunker_markup(tmp_path):
    markdown = (
        "# Mobile Phone Policy\n\n## 1. Staff\n\n### Use in class\n\nStaff must not use phones in class.\n\n"
        "Staff must:\n\n1. keep phones locked away\n2. switch them off:\n    - during lessons\n    - during trips\n3. report loss\n\n"
        "| Approved by | Date |\n|---|---|\n| Chair of Governors | 12/03/2019 |\n\n"
        "Pupils:\n\nA.  leave phones at the office\nB.  collect them at home time\n\nVisitors:\n\n(i) sign in\n(ii) wear a badge\n"
    )
    result = extract(pandoc(markdown, tmp_path / "phones.docx"))
    lines = result.text.splitlines()
    assert "# Mobile Phone Policy" in lines
    assert "## 1. Staff" in lines
    assert "### Use in class" in lines
    assert [ln for ln in lines if re.match(r"^\s*(\d\.|-) ", ln)] == [
        "1. keep phones locked away",
        "2. switch them off:",
        "    - during lessons",
        "    - during trips",
        "3. report loss",
    ]
    assert "Chair of Governors\t12/03/2019" in lines
    # numbers as Word shows them (the level's lvlText filled with its counters)
    assert "A. leave phones at the office" in lines and "B. collect them at home time" in lines
    assert "(i) sign in" in lines and "(ii) wear a badge" in lines
    assert result.format == "docx" and result.page_starts is None


@pytest.mark.unit
def test_html_page_chrome_is_dropped_and_structure_kept(tmp_path):
    page = tmp_path / "policy.htm"
    page.write_text(
        """<!DOCTYPE html><html><head><title>Online Safety Policy | Oak Primary</title><style>p{color:red}</style>
        <script>var tracking = 1;</script></head><body>
        <header><a href="/">Home</a> <a href="/policies">Policies</a></header>
        <nav><ul><li>About us</li><li>Term dates</li></ul></nav>
        <main><h1>Online Safety Policy</h1><p>Pupils <strong>must not</strong> bring phones
        to school.</p><h2>Staff</h2><p><b>Personal devices</b></p>
        <ol start="4"><li>Staff may use phones in the staff room.<ul><li>never near pupils</li></ul></li><li>Photos need consent.</li></ol>
        <p>Agreed: March 2019<br>Next review: March 2021</p></main>
        <footer>© Oak Primary 2024 · Cookies</footer></body></html>""",
        encoding="utf-8",
    )
    result = extract(page)
    text = result.text
    assert "tracking" not in text and "Term dates" not in text and "Cookies" not in text and "Home" not in text
    assert "# Online Safety Policy" in text.splitlines()
    assert "Pupils must not bring phones to school." in text.splitlines()
    assert "**Personal devices**" in text.splitlines()
    assert "4. Staff may use phones in the staff room." in text.splitlines()
    assert "    - never near pupils" in text.splitlines()
    assert "5. Photos need consent." in text.splitlines()
    assert "Agreed: March 2019\nNext review: March 2021" in text
    assert result.title == "Online Safety Policy | Oak Primary"


@pytest.mark.system
def test_pdf_running_headers_footers_and_page_numbers_are_not_text(format_corpora, tmp_path):
    docx = format_corpora["docx"] / "glais" / "social-media-mobile-phones-photography-policy.docx"
    footer_docx = with_running_footer(docx, tmp_path / "glais-with-footer.docx", "Glais Primary School – Social Media Policy")
    (pdf,) = soffice_to_pdf([footer_docx], tmp_path)
    plain = extract(format_corpora["pdf"] / "glais" / "social-media-mobile-phones-photography-policy.pdf")
    framed = extract(pdf)
    assert "Social Media Policy\n" not in framed.text and not re.search(r"^Page \d+$", framed.text, re.MULTILINE)
    assert framed.text == plain.text
    assert len(framed.page_starts) == len(plain.page_starts) > 1  # several pages: the footer repeats


@pytest.mark.system
def test_a_pdf_with_some_scanned_pages_is_read_and_the_pages_are_named(format_corpora, tmp_path):
    text_pdf = format_corpora["pdf"] / "st-michaels" / "ict-code-of-conduct.pdf"
    scan = scanned_pdf(text_pdf, tmp_path / "scan.pdf", pages=1)
    mixed = tmp_path / "policy-with-signed-page.pdf"
    subprocess.run(["qpdf", "--empty", "--pages", str(text_pdf), str(scan), "--", str(mixed)], check=True)
    plain, result = extract(text_pdf), extract(mixed)
    pages = len(plain.page_starts)
    assert result.text == plain.text and len(result.page_starts) == pages + 1
    assert result.notes == (
        f"policy-with-signed-page.pdf: page(s) {pages + 1} have no text layer (scanned) and were left out: OCR is not supported",
    )


@pytest.mark.system
def test_sniffing_judges_content_not_the_name(format_corpora):
    pdf = (format_corpora["pdf"] / "glais" / "social-media-mobile-phones-photography-policy.pdf").read_bytes()
    docx = (format_corpora["docx"] / "glais" / "social-media-mobile-phones-photography-policy.docx").read_bytes()
    html = (format_corpora["html"] / "glais" / "social-media-mobile-phones-photography-policy.html").read_bytes()
    assert [sniff(pdf), sniff(docx), sniff(html), sniff(b"Plain words.\n")] == ["pdf", "docx", "html", "text"]


@pytest.mark.unit
def test_text_in_legacy_and_utf16_encodings_is_decoded(tmp_path):
    words = "St Michael’s charges £5 for a lost charger – see the office.\n"
    cp1252 = tmp_path / "charges.txt"
    cp1252.write_bytes((words * 20).encode("cp1252"))
    result = extract(cp1252)
    assert result.text.startswith(words)
    assert any("cp1252" in note and "charges.txt" in note for note in result.notes)
    utf16 = tmp_path / "charges16.md"
    utf16.write_bytes(words.encode("utf-16"))
    assert extract(utf16).text == words


@pytest.mark.unit
def test_unsupported_type_is_named(tmp_path):
    odt = tmp_path / "policy.odt"
    odt.write_bytes(b"PK\x03\x04")
    with pytest.raises(CorpusError, match=r"policy\.odt: has an unsupported file type '\.odt'"):
        extract(odt)


# --- the bank answers as well from every format ------------------------------------------------


def _bank():
    return [item for bank in BANKS for item in load_bank(bank)]


@pytest.fixture(scope="session")
def format_indexes(format_corpora, index_dir, tmp_path_factory) -> dict[str, tuple[Path, float]]:
    """format → (index folder, seconds to build it) for each format's corpus.

    Each format's index starts as a copy of the text index, so vectors of clauses whose
    text is unchanged are reused (the update path schools use) rather than re-embedded.
    """
    out = {}
    for fmt in ("pdf", "docx", "html"):
        started = time.perf_counter()
        index = tmp_path_factory.mktemp(f"index-{fmt}") / "index"
        copy_index(index_dir, index)
        report = build_index(format_corpora[fmt], index)
        assert report.changed and not report.problems
        assert report.reused > report.embedded  # most clauses read the same as in the text files
        out[fmt] = (index, time.perf_counter() - started)
    return out


@pytest.fixture(scope="session")
def format_metrics(format_indexes, bot) -> dict[str, dict]:
    """hit@1 and verdict accuracy (and more) of the bank on the text corpus and on each format."""
    bank = _bank()
    results: dict[str, dict] = {}
    started = time.perf_counter()
    results["text"] = {**score(run_ours(bot, bank)).metrics, "seconds": time.perf_counter() - started}
    for fmt, (index, build_seconds) in format_indexes.items():
        started = time.perf_counter()
        metrics = score(run_ours(Assistant.load(index), bank)).metrics
        results[fmt] = {**metrics, "seconds": build_seconds + time.perf_counter() - started}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    keys = ("questions", "hit_at_1", "verdict_acc", "recall_at_5", "answer_citation_acc")
    summary = {fmt: {k: m[k] for k in keys} | {"seconds": round(m["seconds"], 1)} for fmt, m in results.items()}
    (ARTIFACTS / "format_equivalence.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print("\nformat equivalence:", json.dumps(summary, indent=2))
    return results


@pytest.mark.system
@pytest.mark.parametrize("fmt", ["pdf", "docx", "html"])
def test_each_format_answers_the_bank_within_003_of_text(format_metrics, fmt):
    text, other = format_metrics["text"], format_metrics[fmt]
    assert other["questions"] == text["questions"] == len(_bank())
    for key in ("hit_at_1", "verdict_acc"):
        assert abs(other[key] - text[key]) <= TOLERANCE, f"{fmt} {key} {other[key]} vs text {text[key]}"


@pytest.mark.system
def test_pdf_answers_cite_the_page_and_the_viewer_text_matches_offsets(format_indexes, format_corpora):
    import pdfplumber

    bot = Assistant.load(format_indexes["pdf"][0])
    answer = bot.ask("Can I post sports day videos?", school="st-michaels", audience="parent")
    assert answer.citations
    with pdfplumber.open(format_corpora["pdf"] / "st-michaels" / "ict-code-of-conduct.pdf") as pdf:
        pages = [re.sub(r"\s+", " ", page.extract_text()) for page in pdf.pages]
    clauses = {c.clause_id: c for c in bot.clauses("st-michaels")}
    text = bot.document_text("st-michaels", "ict-code-of-conduct")
    assert not text.startswith("%PDF")
    for citation in answer.citations:
        assert answer.to_dict()["citations"][answer.citations.index(citation)]["page"] == citation.page
        clause = clauses[citation.clause_id]
        assert citation.page == clause.page and citation.page is not None
        assert " ".join(clause.text.split()[:6]) in pages[citation.page - 1]  # printed on the cited page
        # the policy viewer gets the extracted text the clause offsets point into
        assert normalise_for_match(clause.text)[:60] in normalise_for_match(text[citation.start : citation.end])
