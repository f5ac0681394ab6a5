"""Bounds on what reading a PDF may cost, enforced inside pdfminer (issue 17: decompression bombs).

A 9 KB PDF can inflate to gigabytes, and a page can draw a form that draws a form, nested,
to millions of characters. `bounded_pdf_streams` makes pdfminer's stream decoders stop at
``ExtractLimits.max_pdf_decoded_bytes``; `counting_layout_classes` lays a page out with a
device that stops at ``ExtractLimits.max_page_objects``; `declared_pages` reads the page
count before any page is parsed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import threading
import zlib
from collections.abc import Iterator

from .base import ExtractLimits, LimitExceeded, megabytes

_PDF_STREAMS_LOCK = threading.Lock()


class _DecodeBudget:
    """Bytes a PDF's streams may still decode to (`ExtractLimits.max_pdf_decoded_bytes`)."""

    def __init__(self, limits: ExtractLimits) -> None:
        self.limit = limits.max_pdf_decoded_bytes
        self.left = self.limit

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise LimitExceeded(
                f"has compressed content that unpacks to more than {megabytes(self.limit)}, over the limit of "
                f"{megabytes(self.limit)} of decoded streams for one PDF (a decompression bomb?)"
            )


class _BoundedInflater:
    """A ``zlib.decompressobj`` that charges what it inflates to a `_DecodeBudget`."""

    def __init__(self, budget: _DecodeBudget) -> None:
        self.budget = budget
        self._d = zlib.decompressobj()

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        cap = self.budget.left + 1  # one byte more than the budget holds proves it is over
        out = self._d.decompress(data, min(max_length, cap) if max_length else cap)
        self.budget.spend(len(out))
        return out

    def __getattr__(self, name: str):
        return getattr(self._d, name)


class _BoundedZlib:
    """Stands in for the ``zlib`` module inside ``pdfminer.pdftypes`` while a PDF is read.

    A stream inflates incrementally and stops (`LimitExceeded`) once the file's streams have
    decoded to more than the budget, instead of allocating whatever the stream says.
    """

    error = zlib.error

    def __init__(self, budget: _DecodeBudget) -> None:
        self.budget = budget

    def decompressobj(self, *args, **kwargs) -> _BoundedInflater:
        return _BoundedInflater(self.budget)

    def decompress(self, data: bytes, *args, **kwargs) -> bytes:
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, self.budget.left + 1)
        self.budget.spend(len(out))
        if not inflater.eof:
            raise zlib.error("Error -5 while decompressing data: incomplete or truncated stream")
        return out


@contextlib.contextmanager
def bounded_pdf_streams(limits: ExtractLimits) -> Iterator[_DecodeBudget]:
    """While a PDF is read, make pdfminer's stream decoders (Flate, LZW, RunLength) stop at the file's decode budget.

    pdfminer inflates a stream whole (``zlib.decompress``), so a 9 KB file could allocate
    gigabytes before any check could run (issue 17). One PDF at a time per process: the
    decoders are pdfminer's module globals, swapped under a lock and restored on exit.

    Args:
        limits: ``max_pdf_decoded_bytes`` is the budget for all of the file's streams together.

    Yields:
        The budget, as it is spent.

    Raises:
        LimitExceeded: (from inside pdfminer) the streams decode to more than the budget.
    """
    import pdfminer.pdftypes as pdftypes
    from pdfminer.lzw import LZWDecoder

    budget = _DecodeBudget(limits)
    original_rl = pdftypes.rldecode

    def lzwdecode(data: bytes) -> bytes:
        out = []
        for chunk in LZWDecoder(io.BytesIO(data)).run():
            budget.spend(len(chunk))
            out.append(chunk)
        return b"".join(out)

    def rldecode(data: bytes) -> bytes:
        i, n, size = 0, len(data), 0
        while i < n:  # the decoded size first: a run-length stream can expand 128 times
            length = data[i]
            if length == 128:
                break
            if length < 128:
                size, i = size + length + 1, i + length + 2
            else:
                size, i = size + 257 - length, i + 2
        budget.spend(size)
        return original_rl(data)

    with _PDF_STREAMS_LOCK:
        saved = (pdftypes.zlib, pdftypes.lzwdecode, pdftypes.rldecode)
        pdftypes.zlib, pdftypes.lzwdecode, pdftypes.rldecode = _BoundedZlib(budget), lzwdecode, rldecode
        try:
            yield budget
        finally:
            pdftypes.zlib, pdftypes.lzwdecode, pdftypes.rldecode = saved


def declared_pages(pdf) -> int | None:
    """The page count a PDF's page tree declares (``/Count`` of its root), read before any page is parsed.

    Args:
        pdf: an open ``pdfplumber.PDF``.

    Returns:
        The declared count, or None when the tree has none that is an integer.
    """
    from pdfminer.pdftypes import resolve1

    try:
        count = resolve1(resolve1(pdf.doc.catalog["Pages"])["Count"])
    except Exception:
        return None
    return count if isinstance(count, int) else None


def pages_reason(n: int | str, limits: ExtractLimits) -> str:
    """The `CorpusError` reason for a PDF of ``n`` pages (a number or words) over ``limits.max_pages``."""
    return f"has {n} pages, over the limit of {limits.max_pages:,} pages for one policy file (split it into one file per policy)"


@functools.cache
def counting_layout_classes() -> tuple[type, type]:
    """A pdfplumber page device and a pdfminer interpreter that count what a page draws.

    They stop (`LimitExceeded`) past `ExtractLimits.max_page_objects`: characters, paths,
    images and form XObjects invoked (a form drawing a form ten times, nested, multiplies them).
    Made on first use, so that importing this module does not import pdfminer.

    Returns:
        ``(aggregator, interpreter)``: the aggregator takes pdfplumber's page-aggregator
        arguments plus ``max_objects``; the interpreter takes pdfminer's.
    """
    from pdfminer.pdfinterp import PDFPageInterpreter
    from pdfplumber.page import PDFPageAggregatorWithMarkedContent

    class CountingAggregator(PDFPageAggregatorWithMarkedContent):
        def __init__(self, *args, max_objects: int, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.max_objects = max_objects
            self.drawn = 0

        def count(self) -> None:
            self.drawn += 1
            if self.drawn > self.max_objects:
                raise LimitExceeded(
                    f"page {self.pageno} draws more than {self.max_objects:,} characters, shapes and forms, over the limit of "
                    f"{self.max_objects:,} for one page (a PDF bomb?)"
                )

        def render_char(self, *args, **kwargs) -> float:
            self.count()
            return super().render_char(*args, **kwargs)

        def paint_path(self, *args, **kwargs) -> None:
            self.count()
            return super().paint_path(*args, **kwargs)

        def render_image(self, *args, **kwargs) -> None:
            self.count()
            return super().render_image(*args, **kwargs)

    class CountingInterpreter(PDFPageInterpreter):
        def do_Do(self, xobjid) -> None:  # pdfminer names its operator handlers do_<operator>
            self.device.count()
            return super().do_Do(xobjid)

    return CountingAggregator, CountingInterpreter
