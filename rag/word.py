"""The text of a Word .docx: paragraphs and headings in document order, a table row per line.

python-docx opens and checks the file, but the body XML is read here: its ``Paragraph.text`` drops
tracked insertions and paragraphs inside content controls, both common in edited drafts. Sizes are
checked before anything is unpacked, so a zip bomb is refused unread.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator

from docx import Document as open_docx
from lxml import etree

from rag.errors import DocumentError
from rag.formats_limits import MAX_TEXT_CHARS, MAX_UNPACKED_BYTES, looks_like

# One XML part of a .docx (word/document.xml above all), checked before lxml parses it whole
# (2.0 million characters of text make a word/document.xml of about 5 MB).
MAX_XML_PART_BYTES = 64_000_000


def docx_text(data: bytes, name: str) -> str:
    """The paragraphs of a Word .docx in document order; a table gives one line per row."""
    if not data.startswith(b"PK\x03\x04"):
        raise DocumentError(f"{name}: not a Word .docx file (it looks like {looks_like(data)}); save it as .docx")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise DocumentError(f"{name}: the .docx is truncated or damaged; save it again from Word") from None
    # Declared sizes can be trusted: zipfile never inflates a member past its declared size.
    too_big = [m.filename for m in members if m.filename.endswith(".xml") and m.file_size > MAX_XML_PART_BYTES]
    if too_big or sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        where = ", ".join(too_big) or "in total"
        raise DocumentError(f"{name}: unpacks to too much data ({where}); this is not a normal Word file")
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
