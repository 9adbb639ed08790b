""".docx extraction on real files written here: paragraphs, headings, tables and tracked changes in
document order, and clear refusals (damage, a file that is something else, zip bombs, parts inflated
to millions of paragraphs or elements, no text)."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.oxml import parse_xml
from lxml import etree

from documents import SIMPLIFIED, TRADITIONAL, docx_with_part, news_docx, refusal
from rag import word
from rag.word import docx_text


def test_docx_paragraphs_headings_and_table_rows_in_document_order():
    assert docx_text(news_docx(), "news.docx").split("\n") == [
        "OpenAI完成新一轮融资",
        SIMPLIFIED[1],
        "公司 | 估值与轮次",
        "甲公司 | 1500亿美元 | C轮",
        "乙公司 | A轮",  # the empty cell adds no separator
        "市场反应",
        TRADITIONAL[0],
    ]


def test_docx_text_in_tracked_changes_links_and_content_controls_counts_once():
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    document = docx.Document()
    paragraph = document.add_paragraph("记者获悉,")
    for xml in [
        f'<w:ins {w} w:id="1" w:author="编辑"><w:r><w:t>融资已经完成</w:t></w:r></w:ins>',
        f'<w:del {w} w:id="2" w:author="编辑"><w:r><w:delText>融资尚未完成</w:delText></w:r></w:del>',
        f'<w:hyperlink {w}><w:r><w:t>,详见公告</w:t></w:r></w:hyperlink>',
        # markup written twice, for new and old Word: read once
        (
            f"<mc:AlternateContent {w} {mc}><mc:Choice Requires='w14'><w:r><w:t>。</w:t></w:r></mc:Choice>"
            "<mc:Fallback><w:r><w:t>。</w:t></w:r></mc:Fallback></mc:AlternateContent>"
        ),
    ]:
        paragraph._p.append(parse_xml(xml))
    body = document.element.body
    control = f"<w:sdt {w}><w:sdtContent><w:p><w:r><w:t>内容控件中的段落。</w:t></w:r></w:p></w:sdtContent></w:sdt>"
    body.insert(len(body) - 1, parse_xml(control))  # before the section properties, which end the body
    buffer = io.BytesIO()
    document.save(buffer)
    assert docx_text(buffer.getvalue(), "edited.docx").split("\n") == ["记者获悉,融资已经完成,详见公告。", "内容控件中的段落。"]


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_docx_is_refused(keep):
    data = news_docx()
    assert "truncated or damaged" in refusal(docx_text, data[: int(len(data) * keep)], "cut.docx")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ("这是一篇纯文本文章。".encode(), "plain text"),
        (b"%PDF-1.7\n...", "a PDF file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "an old Word .doc file or a password-protected .docx"),
    ],
)
def test_file_that_is_not_a_zip_is_refused_as_not_docx(data, kind):
    assert f"not a Word .docx file (it looks like {kind})" in refusal(docx_text, data, "article.docx")


def test_zip_that_is_not_a_word_document_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("article.txt", "一篇文章。")
    assert "a ZIP archive but not a Word document" in refusal(docx_text, buffer.getvalue(), "zip.docx")


def test_docx_zip_bomb_is_refused_before_it_is_unpacked(monkeypatch):
    monkeypatch.setattr(word, "MAX_UNPACKED_BYTES", 1_000_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(news_docx())) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        for member in source.infolist():
            bomb.writestr(member, source.read(member))
        bomb.writestr("word/media/padding.bin", b"\x00" * 2_000_000)
    assert len(buffer.getvalue()) < 100_000
    assert "unpacks to too much data (in total)" in refusal(docx_text, buffer.getvalue(), "bomb.docx")


def test_docx_with_an_oversized_xml_part_is_refused_before_it_is_parsed(monkeypatch):
    with zipfile.ZipFile(io.BytesIO(news_docx())) as archive:
        largest = max(member.file_size for member in archive.infolist() if member.filename.endswith(".xml"))
    monkeypatch.setattr(word, "MAX_XML_PART_BYTES", largest)
    assert docx_text(news_docx(), "news.docx")
    padded = docx.Document(io.BytesIO(news_docx()))
    padded.add_paragraph("补充内容。" * (largest // 10))
    buffer = io.BytesIO()
    padded.save(buffer)
    assert "unpacks to too much data (word/document.xml)" in refusal(docx_text, buffer.getvalue(), "long.docx")


W_MAIN = b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
BODY = b"<w:document xmlns:w=%s><w:body>%%s</w:body></w:document>" % W_MAIN


def test_docx_of_millions_of_empty_paragraphs_is_refused_while_it_is_unpacked(monkeypatch):
    """Issue 23: 60 MB of "<w:p/>" in a 120 KB file. python-docx built their tree (1.3 GB, 25 s)
    only for the file to be refused as empty; counted as it is unpacked, it is refused 6 MB in."""
    crafted = docx_with_part("word/document.xml", BODY % (b"<w:p/>" * 10_000_000))
    assert len(crafted) < 200_000
    monkeypatch.setattr(word, "open_docx", lambda *args: pytest.fail("python-docx parsed the file"))
    unpacked = []
    read = zipfile.ZipExtFile.read

    def counting_read(part: zipfile.ZipExtFile, size: int = -1) -> bytes:
        data = read(part, size)
        unpacked.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    message = refusal(docx_text, crafted, "empty.docx")
    assert "more than 1,000,000 paragraphs, table rows and cells (word/document.xml)" in message
    assert sum(unpacked) < 8_000_000  # a megabyte past the millionth paragraph, not the part's 60 MB


@pytest.mark.parametrize(
    ("part", "xml", "unit", "count", "limit"),
    [
        ("word/document.xml", BODY % b"<w:p>%s</w:p>", b"<w:r/>", 4_100_000, "4,000,000 XML elements and attributes"),
        (
            "word/styles.xml",
            b"<w:styles xmlns:w=%s>%%s</w:styles>" % W_MAIN,
            b"<w:style %s/>" % b" ".join(b'w:a%d=""' % n for n in range(1_000)),
            4_100,
            "4,000,000 XML elements and attributes",
        ),
        (
            "word/document.xml",
            b"<document xmlns=%s><body>%%s</body></document>" % W_MAIN,
            b"<p/>",
            1_100_000,
            "1,000,000 paragraphs, table rows and cells",
        ),
    ],
    ids=["runs", "attributes in another part", "paragraphs without a prefix"],
)
def test_docx_inflated_in_any_part_or_form_is_refused_before_python_docx_parses_it(
    monkeypatch, part, xml, unit, count, limit
):
    crafted = docx_with_part(part, xml % (unit * count))
    assert len(crafted) < 500_000  # a tenth of the upload limit
    monkeypatch.setattr(word, "open_docx", lambda *args: pytest.fail("python-docx parsed the file"))
    assert f"more than {limit} ({part})" in refusal(docx_text, crafted, "inflated.docx")


def test_docx_paragraphs_rows_and_cells_are_counted_exactly(monkeypatch):
    data = news_docx()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = [etree.fromstring(archive.read(name)) for name in archive.namelist() if name.endswith((".xml", ".rels"))]
    names = [etree.QName(element).localname for root in xml for element in root.iter(etree.Element)]
    blocks = sum(name in {"p", "tr", "tc"} for name in names)
    monkeypatch.setattr(word, "MAX_BLOCKS", blocks)
    assert docx_text(data, "news.docx")
    monkeypatch.setattr(word, "MAX_BLOCKS", blocks - 1)
    assert f"more than {blocks - 1:,} paragraphs" in refusal(docx_text, data, "news.docx")


def test_docx_without_text_is_refused():
    document = docx.Document()
    document.add_paragraph("   ")
    document.add_table(rows=2, cols=2)
    buffer = io.BytesIO()
    document.save(buffer)
    assert "contains no text" in refusal(docx_text, buffer.getvalue(), "empty.docx")
