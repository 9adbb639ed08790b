"""What a file's first bytes say it is, for the message about a file whose suffix is wrong."""

from __future__ import annotations

import pytest

from rag.formats_limits import looks_like


@pytest.mark.parametrize(
    "data, kind",
    [(b"%PDF-1.7 ...", "a PDF file"), (b"PK\x03\x04....", "a ZIP archive"), (b"\xd0\xcf\x11\xe0....", "an old Word .doc file or a password-protected .docx"),
     (b"{\\rtf1 ...", "an RTF file"), (b"\x89PNG\r\n", "a PNG image"), (b"\xff\xd8\xff\xe0", "a JPEG image"),
     (b"  <!DOCTYPE html><html>", "an HTML page"), (b"  \n ", "an empty file"), ("新闻".encode("gbk") + b"\xff", "unknown binary data"),
     ("正文。".encode(), "plain text")],
)  # fmt: skip
def test_a_files_kind_is_told_from_its_first_bytes(data, kind):
    assert looks_like(data) == kind
