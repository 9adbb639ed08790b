"""Real PDF and Word files, written by the tests that read them (never committed binaries)."""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib
from pathlib import Path

import docx
import pypdf
import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate

from rag.errors import DocumentError

SIMPLIFIED = [
    "人工智能公司深夜宣布新一轮融资,估值较去年翻了一倍。",
    (
        "据知情人士透露,这轮融资由多家国际机构共同领投,资金将主要用于建设新的数据中心和招募研究人员。"
        "公司首席财务官在给投资者的备忘录中表示,预计将在下月第一周完成全部交割,此后估值很可能达到此前报道中的水平。"
    ),
    (
        "分析人士指出,大型语言模型的训练成本仍在快速上升,单次训练动辄耗资数亿美元,"
        "只有少数公司能够承担这样的投入,行业集中度因此进一步提高。"
    ),
]
TRADITIONAL = [
    "據外媒報導,當地時間週一,五百多名員工簽署了一封公開信,以集體辭職威脅董事會退出,並恢復前執行長的職務。",
    (
        "信中寫道:董事會解僱執行長的過程危及了我們所有的工作,也破壞了我們的使命和公司。"
        "我們無法為缺乏能力、判斷力和關心員工的人工作,除非董事會全體辭職,否則我們將集體離開。"
    ),
]
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

_FONTS = {"STSong-Light", "MSung-Light"}  # Adobe's standard CID fonts: real text, nothing embedded
for _font in _FONTS:
    pdfmetrics.registerFont(UnicodeCIDFont(_font))


def reportlab_pdf(
    paragraphs: list[tuple[str, str]], *, furniture: bool = False, indent: bool = True, spacing: bool = True
) -> bytes:
    """An A4 PDF of (font, paragraph) pairs wrapped the way Chinese text is (any character may end a
    line), paragraphs with a first-line indent and space after; ``furniture`` adds a running header
    and a "第 N 页" footer to every page."""

    def page_furniture(pdf: canvas.Canvas, doc: SimpleDocTemplate) -> None:
        if furniture:
            pdf.setFont("STSong-Light", 9)
            pdf.drawString(72, A4[1] - 40, "新闻资料库 · 内部参考")
            pdf.drawCentredString(A4[0] / 2, 30, f"第 {doc.page} 页")

    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4)
    layout = {"fontSize": 11, "leading": 16, "wordWrap": "CJK"}
    layout |= {"spaceAfter": 6 * spacing, "firstLineIndent": 22 * indent}
    styles = {font: ParagraphStyle(font, fontName=font, **layout) for font in _FONTS}
    flowables = [Paragraph(text, styles[font]) for font, text in paragraphs]
    document.build(flowables, onFirstPage=page_furniture, onLaterPages=page_furniture)
    return buffer.getvalue()


def hanzi_pdf(paragraphs: list[str], **options: bool) -> bytes:
    return reportlab_pdf([("STSong-Light", text) for text in paragraphs], **options)


HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _page_objects(content: bytes, font: bytes, version: bytes) -> tuple[bytearray, list[int]]:
    """The start of a one-page PDF, objects 1 to 5 (the content stream is 4), and their offsets."""
    resources = b"/Resources << /Font << /F1 5 0 R >> >>"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] %s /Contents 4 0 R >>" % resources
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, content, font]
    out = bytearray(b"%PDF-" + version + b"\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    return out, offsets


def handmade_pdf(content: bytes, *, font: bytes = HELVETICA) -> bytes:
    """A one-page PDF with the given content stream, written byte by byte (for what no library writes)."""
    out, offsets = _page_objects(content, font, b"1.4")
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref)
    return bytes(out)


def pdf_declaring(objects: int, size_entry: bytes = b"/Size %d") -> bytes:
    """handmade_pdf's page with "Hello" on it, indexed by a cross-reference stream (PDF 1.5) that
    declares ``objects`` objects: the rows of its own six, then object 1's row again and again, which
    deflates to almost nothing. ``size_entry`` writes the count into the stream's dictionary."""
    out, offsets = _page_objects(stream(b"BT /F1 24 Tf 72 700 Td (Hello) Tj ET"), HELVETICA, b"1.5")
    xref = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)] + [struct.pack(">BIH", 1, offset, 0) for offset in [*offsets, xref]]
    body = zlib.compress(b"".join(rows) + rows[1] * (objects - len(rows)))
    entry = size_entry % objects
    dictionary = b"/Type /XRef %s /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d" % (entry, len(body))
    out += b"6 0 obj\n<< %s >>\nstream\n%s\nendstream\nendobj\n" % (dictionary, body)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def stream(data: bytes, *, deflated: bool = False, ascii_layer: str = "") -> bytes:
    """A stream object; ``ascii_layer`` ("ASCII85" or "ASCIIHex") encodes the deflated data again."""
    body, filters = (zlib.compress(data), [b"/FlateDecode"]) if deflated else (data, [])
    if ascii_layer == "ASCII85":
        body, filters = base64.a85encode(body, wrapcol=76) + b"~>", [b"/ASCII85Decode", *filters]
    elif ascii_layer == "ASCIIHex":
        body, filters = body.hex().encode() + b">", [b"/ASCIIHexDecode", *filters]
    filter_entry = b" /Filter [%s]" % b" ".join(filters) if filters else b""
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(body), filter_entry, body)


def encrypted(pdf: bytes, user_password: str, algorithm: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def news_docx() -> bytes:
    document = docx.Document()
    document.add_heading("OpenAI完成新一轮融资", level=1)
    document.add_paragraph(SIMPLIFIED[1])
    table = document.add_table(rows=3, cols=3)
    for row, values in zip(table.rows, [["公司", "估值", "轮次"], ["甲公司", "1500亿美元", "C轮"], ["乙公司", "", "A轮"]]):
        for cell, value in zip(row.cells, values):
            cell.text = value
    merged = table.cell(0, 1).merge(table.cell(0, 2))  # a header cell spanning two columns: read once
    merged.text = "估值与轮次"
    document.add_heading("市场反应", level=2)
    document.add_paragraph(TRADITIONAL[0])
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_with_part(part: str, xml: bytes) -> bytes:
    """news_docx() with one part's XML replaced, deflated as Word does (for what no writer makes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(news_docx())) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for member in source.infolist():
            out.writestr(member.filename, xml if member.filename == part else source.read(member))
    return buffer.getvalue()


def scanned_pdf() -> bytes:
    """A page holding only a picture: no text layer."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.drawImage(ImageReader(Image.new("L", (200, 100), 128)), 72, 600, width=400, height=200)
    page.showPage()
    page.save()
    return buffer.getvalue()


def refusal(extract, data: bytes, name: str) -> str:
    """The message of the DocumentError ``extract`` raises for ``data``; it names the file first."""
    with pytest.raises(DocumentError) as caught:
        extract(data, name)
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    return message
