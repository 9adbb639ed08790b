"""The text layer of a PDF, one paragraph per line, with PDFium (PyPI ``pypdfium2``).

PDFium was the only extractor here that read Chinese PDFs from reportlab, Chromium and fpdf2 without
a wrong character (pypdf gave radical variants or NUL bytes, pdfminer.six garbled text). No
extractor keeps paragraphs, so wrapped lines are joined again from the page's geometry, and page
headers and footers repeated on most pages are dropped. The work is bounded before it starts:
pages, the objects the file declares, and the size the compressed streams inflate to (PDFium
inflates without any limit).
"""

from __future__ import annotations

import base64
import ctypes
import re
import threading
import unicodedata
import zlib
from dataclasses import dataclass
from itertools import pairwise
from statistics import median

import pypdfium2
import pypdfium2.raw as pdfium_c

from rag.errors import DocumentError
from rag.formats_limits import MAX_TEXT_CHARS, MAX_UNPACKED_BYTES, looks_like

MAX_PDF_PAGES = 2_000  # about 30 s of CPU at worst (13 ms a page with fonts not embedded)
# Objects a PDF may declare. PDFium enters every object a cross-reference stream declares (its /Size,
# or the counts of its /Index) in a table before it reads a page, at 70 bytes and up to 1.3 µs each,
# and the /N objects of an object stream when it needs one of them: files of 100 to 175 KB declaring
# 10 million objects took 680 MB and 4 to 13 s (rag_eval.perf.crafted_file_refusals). A real PDF
# declares each object one to three times (the trailers of a linearized file, /N if compressed).
# Chromium's tagged PDFs have 120 objects a page: 240,000 for 2,000 pages, and some 60 MB. The
# smallest real objects, tags and link annotations, take 21 bytes each compressed in an object stream
# with their cross-reference row: 230,000 of them fill the 5 MB upload limit.
MAX_PDF_OBJECTS = 2_000_000

# PDFium is not thread-safe, and the app may read uploads on several threads at once.
_PDFIUM_LOCK = threading.Lock()


def pdf_text(data: bytes, name: str) -> str:
    """The text layer of a PDF, one paragraph per line (wrapped lines joined again)."""
    if data.find(b"%PDF-", 0, 1024) < 0:
        raise DocumentError(f"{name}: not a PDF file (it looks like {looks_like(data)}); export it as PDF again")
    if b"%%EOF" not in data[-1024:]:
        raise DocumentError(f"{name}: the PDF is truncated (its end is missing); download or export it again")
    _check_pdf_objects(data, name)
    _check_pdf_streams(data, name)
    with _PDFIUM_LOCK:
        try:
            pdf = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError:
            if pdfium_c.FPDF_GetLastError() == pdfium_c.FPDF_ERR_PASSWORD:
                raise DocumentError(
                    f"{name}: the PDF is password-protected; save an unprotected copy (e.g. print it to PDF)"
                    " and add that"
                ) from None
            raise DocumentError(
                f"{name}: the PDF is damaged and cannot be read; download or export it again"
            ) from None
        try:
            if len(pdf) > MAX_PDF_PAGES:
                raise DocumentError(f"{name}: {len(pdf):,} pages is more than the limit of {MAX_PDF_PAGES:,}; split it")
            lines: list[_Line] = []
            chars = 0
            for index in range(len(pdf)):
                page = pdf[index]
                textpage = page.get_textpage()
                try:
                    chars += textpage.count_chars()  # counted before the page's text is read
                    if chars > MAX_TEXT_CHARS:
                        raise DocumentError(f"{name}: more than {MAX_TEXT_CHARS:,} characters of text; split it")
                    lines += _page_lines(textpage, index)
                finally:
                    textpage.close()
                    page.close()
        finally:
            pdf.close()
    text = "\n".join(_paragraphs(_drop_page_furniture(lines)))
    _check_text_layer(text, name)
    return text


def _check_pdf_objects(data: bytes, name: str) -> None:
    """Refuse a PDF that declares more than ``MAX_PDF_OBJECTS`` objects: the sum of every /Size,
    /N and /Index count in it, read once with comments between a key and its value (PDFium skips
    them) and once without (a "%" in a string is no comment), keeping the larger sum."""
    declared = max(sum(map(_declared_count, pattern.finditer(data))) for pattern in _DECLARATIONS)
    if declared > MAX_PDF_OBJECTS:
        raise DocumentError(f"{name}: declares more than {MAX_PDF_OBJECTS:,} objects; this is not a normal PDF")


def _pdf_name(key: bytes) -> bytes:
    """A regex for the name /key however it is spelt: PDFium reads /Si#7Ae as /Size."""
    return b"/" + b"".join(b"(?:%c|#(?i:%02x))" % (char, char) for char in key)


def _declarations(comments: bool) -> re.Pattern[bytes]:
    """/Size or /N and its number, or /Index and its array. Every quantifier is possessive and what
    follows the key is optional, so a match never backtracks nor fails once past its key: the scan
    stays linear however the file is made."""
    space = rb"(?:[\x00\t\n\x0c\r ]" + (rb"|%[^\r\n]*+" if comments else b"") + b")"
    return re.compile(
        rb"(?:%s|%s)%s++(\+?\d+)?" % (_pdf_name(b"Size"), _pdf_name(b"N"), space)
        + rb"|%s%s*+\[?+((?:%s|[+\-.\d]++)*+)" % (_pdf_name(b"Index"), space, space)
    )


_DECLARATIONS = [_declarations(comments=False), _declarations(comments=True)]
_COMMENT = re.compile(rb"%[^\r\n]*")


def _declared_count(match: re.Match[bytes]) -> int:
    """The objects one /Size, /N or /Index declares: every number of an /Index array counts, its
    first object numbers too, which can only make the sum larger."""
    number, index = match.groups()
    if index is not None:
        return sum(int(digits) for digits in re.findall(rb"\d+", _COMMENT.sub(b"", index)))
    return int(number or 0)


_STREAM_START = re.compile(rb"stream\r?\n")
_ASCII_STREAM = re.compile(rb"[!-~\s]*")


def _check_pdf_streams(data: bytes, name: str) -> None:
    """Refuse a PDF whose compressed streams inflate past ``MAX_UNPACKED_BYTES`` in total.

    PDFium inflates a content stream whole with no limit (a 1 MB stream of spaces took 2.2 GB).
    Every stream sits in the file after a ``stream`` keyword (object streams cannot hold
    streams), so inflating each one here, discarding the output, bounds what PDFium will do.
    ASCII85 and hex layers in front of the deflate data (reportlab writes those) are decoded
    first. Streams that are not deflate data (images, encrypted streams) fail at once.
    """
    budget = MAX_UNPACKED_BYTES
    for match in _STREAM_START.finditer(data):
        end = data.find(b"endstream", match.end())
        body = _without_ascii_layers(data[match.end() : end if end >= 0 else len(data)])
        budget -= _inflated_size(body, budget)
        if budget < 0:
            raise DocumentError(
                f"{name}: its content unpacks to more than {MAX_UNPACKED_BYTES:,} bytes; this is not a normal PDF"
            )


def _without_ascii_layers(body: bytes) -> bytes:
    """``body`` with its ASCII85 or hex encodings undone (a filter chain may stack them)."""
    for _ in range(3):
        if not _ASCII_STREAM.fullmatch(body[:4096]):
            break
        text = body.strip()
        try:
            if text.endswith(b"~>"):
                body = base64.a85decode(text[:-2], ignorechars=b" \t\n\r\x0b\x0c")
            elif text.endswith(b">"):
                body = bytes.fromhex(text[:-1].decode("ascii"))
            else:
                break
        except ValueError:
            break
    return body


def _inflated_size(body: bytes, budget: int) -> int:
    """How many bytes ``body`` inflates to, counting no further than just past ``budget``;
    0 when it is not deflate data."""
    inflater = zlib.decompressobj()
    size = 0
    pending = body
    try:
        while pending and not inflater.eof and size <= budget:
            size += len(inflater.decompress(pending, 1 << 20))
            pending = inflater.unconsumed_tail
    except zlib.error:
        return 0
    return size


def _check_text_layer(text: str, name: str) -> None:
    """Refuse a PDF without text (scanned pages) or whose text decodes to symbols, not words
    (fonts without a Unicode map): in a real article most visible characters are letters or digits."""
    visible = [char for char in text if not char.isspace()]
    if not visible:
        raise DocumentError(
            f"{name}: the PDF has no text layer (it looks scanned or is only pictures); run OCR on it first"
            " (e.g. save it as a searchable PDF) and add that"
        )
    if sum(char.isalnum() for char in visible) < 0.5 * len(visible):
        raise DocumentError(
            f"{name}: the PDF's text layer is not readable text (its fonts have no Unicode map); run OCR on it first"
        )


@dataclass(frozen=True)
class _Line:
    """One visual line of a page, with the geometry needed to tell wrapped lines from paragraphs."""

    text: str
    page: int
    left: float
    right: float
    baseline: float
    height: float  # of the font: ascent to descent
    first_word_right: float  # where the line's first word ends: the room it needed on the line above


# Punctuation that may not start a line, or not end one: it stays with its neighbour when a line wraps.
_CLOSING = set("、。,.;:!?)]}」』】〕〉》”’…")
_OPENING = set("([{「『【〔〈《“‘")


def _first_word_end(units: str, first: int, last: int) -> int:
    """Index of the last character of the line's first unbreakable unit: what a line breaker
    would have had to fit on the line above. Punctuation stays with its neighbours, and a Latin
    word follows a Han character's punctuation without a break ("言,Altman")."""
    end = first
    while end < last and units[end] in _OPENING:
        end += 1
    latin = not _is_wide(units[end])
    if not latin:
        while end < last and units[end + 1] in _CLOSING:
            end += 1
            latin = True
    while latin and end < last and not units[end + 1].isspace() and not _is_wide(units[end + 1]):
        end += 1
    return end


def _is_wide(char: str) -> bool:
    """A Han character or full-width punctuation: no space is lost when a line wraps next to it."""
    return unicodedata.east_asian_width(char) in "WF"


def _page_lines(textpage: pypdfium2.PdfTextPage, page: int) -> list[_Line]:
    # PDFium keeps characters outside the BMP as UTF-16 surrogate pairs, one index each.
    units = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage, i)) for i in range(textpage.count_chars()))
    lines = []
    start = 0
    for part in units.split("\r\n"):  # PDFium's own line breaks
        stripped = part.strip()
        if stripped:
            first = start + part.index(stripped[0])
            last = first + len(stripped) - 1
            word_end = _first_word_end(units, first, last)
            boxes = [textpage.get_charbox(i, loose=True) for i in (first, (first + last) // 2, last, word_end)]
            # A few glyphs (an en dash, 一) get a box of their own outline: the middle of three is the font's.
            height = median(top - bottom for _, bottom, _, top in boxes[:3])
            x, y = ctypes.c_double(), ctypes.c_double()
            pdfium_c.FPDFText_GetCharOrigin(textpage, first, x, y)
            text = stripped.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
            lines.append(_Line(text, page, boxes[0][0], boxes[2][2], y.value, height, boxes[3][2]))
        start += len(part) + 2
    return lines


def _drop_page_furniture(lines: list[_Line]) -> list[_Line]:
    """Drop running headers and footers: a line at the top or bottom of its page whose text (page
    numbers aside) recurs at the same height on most pages of a document of three pages or more.
    They would otherwise split a paragraph that goes on over a page break, and the first page's
    header would become the document's title. On two pages, lines that differ in their digits alone
    (numbered items, dates) would look the same, so every line is kept."""
    pages = len({line.page for line in lines})
    if pages < 3:
        return lines
    heights: dict[int, set[float]] = {}
    for line in lines:
        heights.setdefault(line.page, set()).add(line.baseline)
    edges = {page: sorted(values)[:2] + sorted(values)[-2:] for page, values in heights.items()}
    candidates = [line for line in lines if line.baseline in edges[line.page]]
    seen_on: dict[tuple[str, int], set[int]] = {}
    for line in candidates:
        seen_on.setdefault(_furniture_key(line), set()).add(line.page)
    repeated = {key for key, on in seen_on.items() if len(on) > pages / 2}
    return [line for line in lines if line.baseline not in edges[line.page] or _furniture_key(line) not in repeated]


def _furniture_key(line: _Line) -> tuple[str, int]:
    return re.sub(r"\d+", "#", line.text), round(line.baseline)


def _paragraphs(lines: list[_Line]) -> list[str]:
    """Join visual lines into paragraphs.

    A line goes on the previous one's paragraph when the previous line was wrapped (the first
    word of this line would not have fitted at its end), this line is not indented, has the
    same font size and, on the same page, follows without extra space. Wrong joins only make a
    long line; wrong breaks would cut sentences in half, so ties favour joining.
    """
    column_left: dict[int, float] = {}
    column_right: dict[int, float] = {}
    for line in lines:
        column_left[line.page] = min(column_left.get(line.page, line.left), line.left)
        column_right[line.page] = max(column_right.get(line.page, line.right), line.right)

    def wrapped(previous: _Line, line: _Line) -> bool:
        needed = line.first_word_right - line.left
        return previous.right + needed > column_right[previous.page] - previous.height

    leadings: dict[int, list[float]] = {}
    for previous, line in pairwise(lines):
        if previous.page == line.page and wrapped(previous, line):
            leadings.setdefault(line.page, []).append(previous.baseline - line.baseline)
    usual_leading = {page: median(values) for page, values in leadings.items()}

    def continues(previous: _Line, line: _Line) -> bool:
        height = previous.height
        if not wrapped(previous, line) or abs(line.height - height) > 0.2 * height:
            return False
        if line.left > column_left[line.page] + 0.5 * height:
            return False
        if line.page != previous.page:
            return True
        leading = previous.baseline - line.baseline
        return 0 < leading < usual_leading.get(line.page, leading) + 0.25 * height

    paragraphs: list[str] = []
    previous: _Line | None = None
    for line in lines:
        if previous is not None and continues(previous, line):
            wide = _is_wide(paragraphs[-1][-1]) or _is_wide(line.text[0])
            paragraphs[-1] += line.text if wide else " " + line.text
        else:
            paragraphs.append(line.text)
        previous = line
    return paragraphs



def pdf_properties_date(data: bytes) -> str | None:
    """The PDF's creation date as its properties record it (``D:20231121…``), else its last
    modification's; None when it records neither. Read after ``pdf_text`` accepted the file."""
    with _PDFIUM_LOCK:
        try:
            pdf = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError:
            return None
        try:
            for key in ("CreationDate", "ModDate"):
                value = pdf.get_metadata_value(key)
                if value:
                    return str(value)
            return None
        finally:
            pdf.close()
