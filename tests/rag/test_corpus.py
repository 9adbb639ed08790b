"""The corpus folder: files read into documents (any supported type, with the refusal naming the
file), ids and file names, the script, date and source told from the text, and the manifest."""

from __future__ import annotations

import html

import pytest

from documents import news_docx, reportlab_pdf
from rag.corpus import document_from_bytes, read_bytes
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
