"""Plain text out of an article file's bytes, by file type (UTF-8 text, Markdown, HTML, PDF, Word
.docx). What comes out is then cleaned (``rag.clean``); offsets in the index refer to the cleaned
text, so a citation points at exact characters of the extracted text, which the source viewer shows."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from rag.errors import DocumentError


class _TextExtractor(HTMLParser):
    _BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "title"}
    _SKIPPED = {"script", "style", "noscript", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+)|[*_`]{1,3}", re.MULTILINE)


def decode_text(data: bytes, name: str) -> str:
    if b"\x00" in data:
        raise DocumentError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{name}: not valid UTF-8 (byte {error.start}); save it as UTF-8") from None


def html_text(data: bytes, name: str) -> str:
    parser = _TextExtractor()
    parser.feed(decode_text(data, name))
    return "".join(parser.parts)


def markdown_text(data: bytes, name: str) -> str:
    """Link and image syntax becomes its label, so an image URL never reaches the text."""
    return _MD_MARKS.sub("", _MD_LINK.sub(r"\1", decode_text(data, name)))


def pdf_text(data: bytes, name: str) -> str:
    """The text layer of a PDF (``rag.pdf``). PDFium is loaded with the first PDF read, not with the
    library: most processes (a question, the store, the harness) never read one."""
    from rag.pdf import pdf_text as read_pdf

    return read_pdf(data, name)


def docx_text(data: bytes, name: str) -> str:
    """The text of a Word .docx (``rag.word``); python-docx and lxml load with the first one read."""
    from rag.word import docx_text as read_docx

    return read_docx(data, name)


EXTRACTORS: dict[str, Callable[[bytes, str], str]] = {
    ".txt": decode_text,
    ".md": markdown_text,
    ".html": html_text,
    ".htm": html_text,
    ".pdf": pdf_text,  # its text layer (rag.pdf)
    ".docx": docx_text,  # rag.word
}
SUPPORTED_SUFFIXES = tuple(EXTRACTORS)
# Bump an extractor's version when it returns other text for some file (rag.pdf and rag.word too):
# indexes then read the files of that kind again and embed the documents whose text changed
# (tests/rag/test_ingest.py compares its outputs on fixed inputs with tests/rag/snapshots/probe.json).
# pdf 2: running headers and footers dropped only from PDFs of three pages or more (a 2-page PDF lost
# 4 of its 40 lines), and only when on more than half of the pages.
EXTRACTION_VERSIONS = {"txt": 1, "md": 1, "html": 1, "pdf": 2, "docx": 1}


# HTML metadata naming an article's publication date, most specific first (Open Graph's article
# namespace, schema.org, Dublin Core, the names news sites use)
_HTML_DATE_KEYS = ("article:published_time", "datepublished", "pubdate", "publishdate", "publish-date", "publish_date",
                   "dc.date.issued", "dcterms.issued", "dc.date", "parsely-pub-date", "sailthru.date", "date")  # fmt: skip


class _MetaDates(HTMLParser):
    """``<meta>`` values by key (property, name or itemprop, lower case) and ``<time datetime>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or values.get("itemprop") or "").strip().lower()
            if key and values.get("content", "").strip():
                self.found.setdefault(key, values["content"].strip())
        elif tag == "time" and values.get("datetime", "").strip() and ("pubdate" in values or values.get("itemprop", "").lower() == "datepublished"):
            self.found.setdefault("pubdate", values["datetime"].strip())


def metadata_date(data: bytes, suffix: str) -> tuple[str, str] | None:
    """The publication date a file's metadata records, as (the value as written, where it was
    found): an HTML page's ``<meta>`` (``article:published_time`` …), a PDF's properties
    (CreationDate), a .docx's core properties (``dcterms:created``); None when there is none. Read
    after the file's text, which refused a broken file."""
    kind = extraction_kind(suffix)
    if kind == "html":
        parser = _MetaDates()
        try:
            parser.feed(data.decode("utf-8-sig", errors="replace"))
        except (ValueError, AssertionError):
            return None
        key = next((key for key in _HTML_DATE_KEYS if key in parser.found), None)
        return (parser.found[key], f"the page's metadata ({key})") if key else None
    if kind == "pdf":
        from rag.pdf import pdf_properties_date

        value = pdf_properties_date(data)
        return (value, "the PDF's properties (its creation date)") if value else None
    if kind == "docx":
        from rag.word import docx_properties_date

        value = docx_properties_date(data)
        return (value, "the .docx's properties (its creation date)") if value else None
    return None


def extraction_kind(suffix: str) -> str:
    """The key of ``EXTRACTION_VERSIONS`` for a file suffix (``.htm`` is read as HTML)."""
    kind = suffix.lower().lstrip(".")
    return "html" if kind == "htm" else kind


def extract_text(data: bytes, suffix: str, name: str) -> str:
    """Plain text of a file of type ``suffix`` (lower case, with the dot), before cleaning."""
    extractor = EXTRACTORS.get(suffix)
    if extractor is None:
        supported = ", ".join(SUPPORTED_SUFFIXES)
        raise DocumentError(f"{name}: unsupported file type {suffix or '(none)'}; use {supported}")
    return extractor(data, name)
