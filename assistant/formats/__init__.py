"""Text extraction for every file format a school publishes its policies in.

`extract(path)` turns a ``.pdf``, ``.docx``, ``.html``/``.htm``, ``.md`` or ``.txt`` file
into the markdown-like text the clause chunker reads:

* headings become ``#`` headings by level (DOCX heading styles and outline levels, HTML
  ``h1``–``h6``, PDF lines set larger than the body text or bold in a heading face);
  a whole paragraph in bold becomes ``**…**`` (the chunker decides if it is a heading);
* list items become ``- `` or ``1. `` lines (the number restored from the document's
  numbering), indented four spaces per nesting level, one line per item;
* paragraphs are separated by blank lines, each on one line;
* table rows of short cells (signature blocks, review dates) become tab-separated lines,
  which the chunker leaves out; tables of long text become paragraphs.

For PDFs it also returns the offset in that text where each page starts, so a clause
can be cited with its page. Text files are decoded as UTF-8 or, failing that, in the
legacy encoding ``charset-normalizer`` detects (reported as a note).

Every problem is a `CorpusError` naming the file and the reason: too large, empty,
content that does not match the extension, corrupt or truncated, password-protected,
or a PDF with no text layer (OCR is not supported).

The 20 MB file limit does not bound what a file unpacks to (issue 17): a 9 KB PDF can
inflate to gigabytes, a 100 KB DOCX to a billion bytes of XML. So `ExtractLimits` also caps,
per file, what it may unpack to: a DOCX's zip members (declared sizes and compression ratio,
checked before anything is inflated), its XML elements and paragraphs (counted by a streaming
pass before the document is parsed), a PDF's page count (read from the page tree before any
page is parsed), the bytes its streams decode to (counted while they inflate, which stops at
the limit), the characters and shapes one page draws, and the characters extracted from any
file. Each refusal is a `CorpusError` naming the file and the limit.

Modules (a reader per format, the rest shared):

* `assistant.formats.reading`: `extract`, and `READERS`, the reader registry (format → reader);
* `assistant.formats.sniffing`: what a file's bytes say it is (`sniff`), and the refusal when
  that is not what its extension says;
* `assistant.formats.text`, `.docx`, `.html`, `.pdf`: the readers (``read_text`` …);
  `.pdf_layout` turns a PDF's printed lines into blocks, `.pdf_limits` bounds pdfminer;
* `assistant.formats.writer`: `BlockWriter`, the markdown-like output all readers write;
* `assistant.formats.base`: `ExtractLimits`, `Extracted`, `EXTRACTOR_VERSION` and the
  over-limit error.

Everything other modules use is importable from ``assistant.formats`` itself.
"""

from .base import DEFAULT_LIMITS, DEFAULT_MAX_BYTES, EXTRACTOR_VERSION, Extracted, ExtractLimits
from .docx import check_docx_package
from .reading import FORMAT_OF_SUFFIX, READERS, SUPPORTED_SUFFIXES, Reader, extract
from .sniffing import sniff
from .text import decode_text

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BYTES",
    "EXTRACTOR_VERSION",
    "FORMAT_OF_SUFFIX",
    "READERS",
    "SUPPORTED_SUFFIXES",
    "ExtractLimits",
    "Extracted",
    "Reader",
    "check_docx_package",
    "decode_text",
    "extract",
    "sniff",
]
