"""Plain text by file type: UTF-8 text, Markdown without its marks and link targets, HTML without its
tags, scripts and styles; anything else refused naming the file and the types accepted."""

from __future__ import annotations

import pytest

from documents import refusal
from rag.formats import SUPPORTED_SUFFIXES, decode_text, extract_text, html_text, markdown_text


def test_markdown_keeps_its_words_and_the_labels_of_links_and_images_but_no_url():
    text = "# 标题\n\n> 引用的**重点**\n- 第[一](https://example.com/a)条\n![图片说明](http://x.test/i.png)"
    # (a line's marks may take the blank line before them with them: cleaning drops blank lines anyway)
    assert markdown_text(text.encode(), "a.md") == "标题\n引用的重点\n第一条\n图片说明"


def test_html_gives_its_text_block_by_block_without_scripts_or_styles():
    page = "<html><head><title>题</title><style>p{}</style></head><body><p>第一段</p><script>x()</script><div>第二&amp;段</div></body></html>"
    assert [line for line in html_text(page.encode(), "a.html").split("\n") if line] == ["题", "第一段", "第二&段"]


def test_text_must_be_utf8_and_not_binary():
    assert decode_text("\ufeff正文".encode(), "a.txt") == "正文"  # a byte-order mark is dropped
    assert "not valid UTF-8 (byte 0); save it as UTF-8" in refusal(decode_text, "新闻".encode("gbk"), "gbk.txt")
    assert "looks like a binary file" in refusal(decode_text, b"ab\x00cd", "a.txt")


def test_every_supported_type_has_an_extractor_and_others_are_refused_with_the_list():
    assert SUPPORTED_SUFFIXES == (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
    message = refusal(lambda data, name: extract_text(data, ".rtf", name), b"{\\rtf1}", "memo.rtf")
    assert message == "memo.rtf: unsupported file type .rtf; use .txt, .md, .html, .htm, .pdf, .docx"


@pytest.mark.parametrize("suffix", [".pdf", ".docx"])
def test_pdf_and_word_files_go_to_their_readers(suffix):
    assert "it looks like plain text" in refusal(lambda data, name: extract_text(data, suffix, name), "正文。".encode(), f"a{suffix}")
