"""The corpus folder: files read into documents (any supported type, with the refusal naming the
file), ids and file names, the script, date and source told from the text, and the manifest."""

from __future__ import annotations

import hashlib
import html

import pytest

from conftest import CORPUS
from date_formats import FORMATS
from documents import docx_with_part, news_docx, reportlab_pdf
from rag.corpus import CorpusFolder, checked_date, detect_date, detect_script, detect_source, document_from_bytes, document_name, new_document_id, read_bytes
from rag.errors import DocumentError
from rag.formats import SUPPORTED_SUFFIXES


def _read(path, doc_id):
    return document_from_bytes(read_bytes(path, 5_000_000, path.name), path.suffix, doc_id, label=path.name, file=path.name)


def test_pdf_and_docx_files_become_documents(tmp_path, seed_documents):
    assert {".pdf", ".docx"} <= set(SUPPORTED_SUFFIXES)
    seed = seed_documents["000"]
    paragraphs = [("STSong-Light", html.escape(text)) for text in seed.text.split("\n")]
    (tmp_path / "a.pdf").write_bytes(reportlab_pdf(paragraphs, furniture=True))
    (tmp_path / "b.docx").write_bytes(news_docx())
    pdf_document, docx_document = (_read(tmp_path / name, name[0]) for name in ("a.pdf", "b.docx"))
    assert (pdf_document.format, docx_document.format) == ("pdf", "docx")
    assert (pdf_document.title, pdf_document.script) == (seed.title, "zh-Hans")  # not the running header
    assert "内部参考" not in pdf_document.text and "第 2 页" not in pdf_document.text
    assert docx_document.title == "OpenAI完成新一轮融资"
    assert "甲公司 | 1500亿美元 | C轮" in docx_document.text


def test_refusal_reaches_the_user_through_the_corpus(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"<html></html>")
    with pytest.raises(DocumentError, match=r"^scan\.pdf: not a PDF file \(it looks like an HTML page\)"):
        _read(path, "x")


def test_a_new_id_is_numbered_after_the_highest_and_carries_the_files_hash():
    data = "一篇文章。".encode()
    digest = hashlib.sha256(data).hexdigest()[:16]
    assert new_document_id(["000_aa", "004_bb", "a"], data) == f"005_{digest}"
    assert new_document_id([], data) == f"000_{digest}"


def test_a_file_name_is_kept_cleaned_and_shortened_but_never_a_path():
    assert document_name("报告\x07.pdf") == "报告.pdf"
    long = document_name("标" * 300 + ".docx")
    assert len(long) == 255 and long.endswith("…" + ".docx")
    for name in ("..", "a/b.txt", "\x00\x01"):
        with pytest.raises(DocumentError, match="is not a file name"):
            document_name(name)


def test_script_date_and_source_are_told_from_the_text():
    assert detect_script("台積電是全球最大的晶圓代工廠。") == "zh-Hant" and detect_script("台积电是全球最大的晶圆代工厂。") == "zh-Hans"
    assert detect_date("标题\n2024年9月26日 10:00\n正文") == "2024年9月26日"
    assert detect_source("文章来自微信公众号“新智元”。") == "新智元"


def test_the_manifest_is_one_document_a_line():
    assert CorpusFolder.manifest_bytes(['{"id": "a"}', '{"id": "b"}']) == b'{"documents": [\n{"id": "a"},\n{"id": "b"}\n]}\n'
    assert CorpusFolder.manifest_bytes([]) == b'{"documents": []}\n'


# ---- the publication date (issue 28, item 1)

def _doc(data: bytes, suffix: str, **overrides):
    return document_from_bytes(data, suffix, "x", label=f"a{suffix}", file=f"a{suffix}", overrides=overrides or None)


def test_every_seed_article_that_states_its_date_gets_it_as_an_iso_date(seed_documents):
    entries = {str(entry["file"])[:3]: entry for entry in CorpusFolder(CORPUS).read_manifest().entries}
    found = {prefix: _doc((CORPUS / str(entry["file"])).read_bytes(), ".txt", **entry) for prefix, entry in entries.items()}
    assert {prefix: (d.published, d.date) for prefix, d in found.items()} == {
        "000": (None, None), "001": ("2023-11-21", "2023 年 11 月 21 日"), "002": ("2024-09-13", "09/13 11:20"),
        "003": (None, None), "004": ("2024-09-26", "9月26日"),
    }  # fmt: skip
    assert found["001"].date_basis == "stated in the text"
    assert found["004"].date_basis == "stated in the text without a year; the year is the latest year the article mentions (2024)"


@pytest.mark.parametrize(("stated", "iso"), FORMATS)
def test_the_dateline_of_an_article_in_each_format_of_the_date_table_becomes_its_published_date(stated, iso):
    """The table of tests/rag/test_dates.py, as the dateline of an article file (the year of a date
    without one: the latest the article mentions, 2024)."""
    document = _doc(f"标题\n{stated} 来源:新华社\n正文提到2024年的融资。".encode(), ".txt")
    assert document.published == iso


HTML_PAGE = """<html><head><title>标题</title><meta property="article:published_time" content="2023-11-21T08:30:00+08:00">
</head><body><p>正文第一段,2022年1月2日的往事。</p></body></html>"""


def test_a_pages_metadata_comes_before_the_text_and_a_files_properties_after_it(tmp_path):
    page = _doc(HTML_PAGE.encode(), ".html")
    assert (page.published, page.date, page.date_basis) == ("2023-11-21", "2023-11-21T08:30:00+08:00", "the page's metadata (article:published_time)")
    timed = _doc(b'<html><body><time pubdate datetime="2024-09-26">x</time><p>Some article text.</p></body></html>', ".html")
    assert timed.published == "2024-09-26"
    # python-docx keeps its template's creation date: properties say when a file was made, hence last
    assert _doc(news_docx(), ".docx").published == "2013-12-23"
    core = news_docx_core().replace(b"2013-12-23T23:15:00Z</dcterms:created>", b"2024-10-02T09:00:00Z</dcterms:created>")
    dated = docx_with_part("docProps/core.xml", core)
    assert (_doc(dated, ".docx").published, _doc(dated, ".docx").date_basis) == ("2024-10-02", "the .docx's properties (its creation date)")
    pdf = reportlab_pdf([("STSong-Light", "正文第一段没有日期。")])  # reportlab records when it made the file
    made = _doc(pdf, ".pdf")
    assert made.date_basis == "the PDF's properties (its creation date)" and made.published == made.date[2:6] + "-" + made.date[6:8] + "-" + made.date[8:10]
    stated = _doc(reportlab_pdf([("STSong-Light", "2023年11月21日 正文。")]), ".pdf")
    assert (stated.published, stated.date_basis) == ("2023-11-21", "stated in the text")  # the text before the file's properties


def news_docx_core() -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(news_docx())) as archive:
        return archive.read("docProps/core.xml")


def test_a_users_date_wins_and_must_be_a_day_of_the_calendar():
    given = _doc("标题\n2023年11月21日 正文。".encode(), ".txt", published="2024-01-31", date_basis="given when it was added")
    assert (given.published, given.date, given.date_basis) == ("2024-01-31", "2023年11月21日", "given when it was added")
    for bad in ("2024-02-30", "31/01/2024"):
        with pytest.raises(DocumentError, match=r"^a\.txt: .*(no date of the calendar|YYYY-MM-DD)"):
            _doc("正文第一段。".encode(), ".txt", published=bad)
    with pytest.raises(DocumentError, match=r"^the date: '2024-13-01' is no date of the calendar"):
        checked_date("2024-13-01", "the date")


def test_a_manifest_of_a_release_without_iso_dates_is_described_anew_or_read_as_written():
    text = "标题\n9月26日 正文,2024年的事。".encode()
    assert _doc(text, ".txt", date="9月26日").published == "2024-09-26"  # as described
    assert _doc(text, ".txt", date=None).published == "2024-09-26"  # the old description found none: described anew
    hand = _doc(text, ".txt", date="2023年5月1日")  # written by hand into the manifest
    assert (hand.published, hand.date_basis) == ("2023-05-01", "the manifest's date")
