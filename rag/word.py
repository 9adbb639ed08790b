"""The text of a Word .docx: paragraphs and headings in document order, a table row per line.

python-docx opens and checks the file, but the body XML is read here: its ``Paragraph.text`` drops
tracked insertions and paragraphs inside content controls, both common in edited drafts. Sizes are
checked before anything is unpacked, so a zip bomb is refused unread, and the XML is counted while
it is unpacked, before python-docx parses it, so a small file of millions of empty paragraphs is
refused without building their tree.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator

from docx import Document as open_docx
from lxml import etree

from rag.errors import DocumentError
from rag.formats_limits import MAX_TEXT_CHARS, MAX_UNPACKED_BYTES, looks_like

# One XML part of a .docx (word/document.xml above all), checked before lxml parses it whole. A 5 MB
# .docx of Chinese text unpacks to a word/document.xml of 12 MB (python-docx's plain markup) to 50 MB
# (Word's markup with a run of its own every 3 to 15 characters).
MAX_XML_PART_BYTES = 64_000_000
# What python-docx may be given to parse, counted in the XML of all parts as it is unpacked. Its
# tree costs about 120 bytes an element and 220 an attribute, and reading it here about 3 µs a
# paragraph, table row or cell: 60 MB of "<w:p/>" (10 million empty paragraphs, a 121 KB file) took
# 25 to 48 s and 1.3 GB to be refused as empty (issue 23; rag_eval.perf.crafted_file_refusals).
# Real files under the 5 MB upload limit stay below both limits. Text is read up to MAX_TEXT_CHARS,
# and 4.9 million characters of news (89 a paragraph) fill 5 MB with 55,000 paragraphs and 164,000
# elements of python-docx's markup; a file at the text limit would need paragraphs, rows and cells
# of 5 characters to reach a million. Word's markup at its most fragmented, a run with its own
# properties every 3 to 15 characters, fills 5 MB with 2.3 million characters in 25,500 paragraphs,
# 266,000 runs, 1.7 million elements and 1.5 million attributes: 3.2 million nodes, 640 MB and 1.8 s
# to read. A crafted file just under the limits takes up to 3.5 s and 940 MB (all attributes).
MAX_XML_NODES = 4_000_000  # elements and attributes
MAX_BLOCKS = 1_000_000  # paragraphs, table rows and table cells


def docx_text(data: bytes, name: str) -> str:
    """The paragraphs of a Word .docx in document order; a table gives one line per row."""
    if not data.startswith(b"PK\x03\x04"):
        raise DocumentError(f"{name}: not a Word .docx file (it looks like {looks_like(data)}); save it as .docx")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            # Declared sizes can be trusted: zipfile never inflates a member past its declared size.
            too_big = [m.filename for m in members if m.filename.endswith(".xml") and m.file_size > MAX_XML_PART_BYTES]
            if too_big or sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
                where = ", ".join(too_big) or "in total"
                raise DocumentError(f"{name}: unpacks to too much data ({where}); this is not a normal Word file")
            _check_markup(archive, name)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise DocumentError(f"{name}: the .docx is truncated or damaged; save it again from Word") from None
    try:
        document = open_docx(io.BytesIO(data))
    except (KeyError, ValueError):  # no [Content_Types].xml, or a main part that is not a Word document
        raise DocumentError(f"{name}: a ZIP archive but not a Word document; save it as .docx") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError):
        raise DocumentError(f"{name}: the .docx is truncated or damaged; save it again from Word") from None
    text = "\n".join(line for line in _block_lines(document.element.body) if line.strip())
    if len(text) > MAX_TEXT_CHARS:
        raise DocumentError(f"{name}: more than {MAX_TEXT_CHARS:,} characters of text; split it")
    if not any(char.isalnum() for char in text):
        raise DocumentError(f"{name}: the document contains no text")
    return text


# A paragraph, table row or cell: any prefix, as the namespace it stands for, not the prefix, makes a
# w:p (DrawingML's a:p in drawings is counted too).
_BLOCK_TAG = re.compile(rb"<(?:[^\s<>/:]+:)?(?:p|tr|tc)[\s/>]")


def _check_markup(archive: zipfile.ZipFile, name: str) -> None:
    """Refuse a .docx whose XML holds more than ``MAX_XML_NODES`` elements and attributes or
    ``MAX_BLOCKS`` paragraphs, rows and cells, counted a megabyte at a time as it is unpacked, so a
    crafted part is refused a megabyte past the limit, before python-docx parses anything.

    Every member is counted, whatever its name: python-docx parses a part by the content type it
    declares. An element is a tag that is not an end tag, an attribute an "=": an upper bound, as
    text may hold "=" too. A tag cut in two by a megabyte's end may be missed: one a megabyte at most.
    """
    nodes = blocks = 0
    for member in archive.infolist():
        with archive.open(member) as part:
            while chunk := part.read(1 << 20):
                nodes += chunk.count(b"<") - chunk.count(b"</") + chunk.count(b"=")
                blocks += len(_BLOCK_TAG.findall(chunk))
                if blocks > MAX_BLOCKS:
                    raise DocumentError(
                        f"{name}: more than {MAX_BLOCKS:,} paragraphs, table rows and cells ({member.filename});"
                        " this is not a normal Word file"
                    )
                if nodes > MAX_XML_NODES:
                    raise DocumentError(
                        f"{name}: more than {MAX_XML_NODES:,} XML elements and attributes ({member.filename});"
                        " this is not a normal Word file"
                    )


_NAMESPACES = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
}
# The text of a paragraph's runs wherever they sit: hyperlinks, tracked insertions (python-docx's
# Paragraph.text drops those), content controls, fields. Not deleted text (w:delText), not text
# boxes (drawn apart from the flow of text), not the fallback copy of markup an old Word would use.
_RUN_TEXT = etree.XPath(
    ".//w:r[not(ancestor::w:txbxContent) and not(ancestor::mc:Fallback)]"
    "/*[self::w:t or self::w:tab or self::w:br or self::w:cr]",
    namespaces=_NAMESPACES,
)
_ROWS = etree.XPath("./w:tr | ./w:sdt/w:sdtContent/w:tr", namespaces=_NAMESPACES)
_CELLS = etree.XPath("./w:tc | ./w:sdt/w:sdtContent/w:tc", namespaces=_NAMESPACES)
_SDT_CONTENT = etree.XPath("./w:sdtContent", namespaces=_NAMESPACES)


def _block_lines(container: etree._Element) -> Iterator[str]:
    """Lines of a document body, table cell or content control in document order: one a
    paragraph (a manual line break starts another), one a table row (cells joined by " | ")."""
    for block in container:
        kind = etree.QName(block).localname if isinstance(block.tag, str) else ""
        if kind == "p":
            yield from "".join(_run_text(node) for node in _RUN_TEXT(block)).split("\n")
        elif kind == "tbl":
            for row in _ROWS(block):
                # a merged cell is one w:tc (gridSpan), or empty below its first row (vMerge)
                cells = [" ".join(line.strip() for line in _block_lines(cell) if line.strip()) for cell in _CELLS(row)]
                yield " | ".join(cell for cell in cells if cell)
        elif kind == "sdt":
            for content in _SDT_CONTENT(block):
                yield from _block_lines(content)


def _run_text(node: etree._Element) -> str:
    kind = etree.QName(node).localname
    return node.text or "" if kind == "t" else "\t" if kind == "tab" else "\n"


_CORE_DATE = re.compile(rb"<dcterms:(created|modified)[^>]*>\s*([^<]{4,40}?)\s*</dcterms:\1>")


def docx_properties_date(data: bytes) -> str | None:
    """The .docx's creation date as its core properties record it (``docProps/core.xml``,
    ``dcterms:created``), else its last modification's; None when it records neither."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            member = archive.getinfo("docProps/core.xml")
            if member.file_size > 1 << 20:
                return None
            core = archive.read(member)
    except (KeyError, zipfile.BadZipFile, zlib.error, EOFError, OSError):
        return None
    found = dict(match.groups() for match in _CORE_DATE.finditer(core))
    value = found.get(b"created") or found.get(b"modified")
    return value.decode("utf-8", errors="replace") if value else None
