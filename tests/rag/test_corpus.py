"""The corpus folder: files read into documents (any supported type, with the refusal naming the
file), ids and file names, the script, date and source told from the text, and the manifest."""

from __future__ import annotations

import hashlib
import html

import pytest

from documents import news_docx, reportlab_pdf
from rag.corpus import CorpusFolder, detect_date, detect_script, detect_source, document_from_bytes, document_name, new_document_id, read_bytes
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
