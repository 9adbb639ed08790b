"""A document's manifest entry: everything but the text, one JSON line; its checksum changes with
anything shown; an entry of an older manifest reads back with unknown keys ignored."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from rag.document import Document, from_entry, text_fingerprint

DOCUMENT = Document(id="007_ab", file="007_ab.pdf", title="标题", script="zh-Hans", sha256="0" * 64, text="正文。", name="报告.pdf")


def test_the_entry_is_everything_but_the_text_and_reads_back():
    entry = DOCUMENT.entry()
    assert entry == {"id": "007_ab", "file": "007_ab.pdf", "title": "标题", "script": "zh-Hans", "sha256": "0" * 64,
                     "source": None, "date": None, "drop_from": None, "name": "报告.pdf", "published": None, "date_basis": None}  # fmt: skip
    assert json.loads(DOCUMENT.manifest_line()) == entry and "\n" not in DOCUMENT.manifest_line() and "标题" in DOCUMENT.manifest_line()
    assert from_entry(entry | {"retired_field": 1}, "正文。") == DOCUMENT


def test_the_checksum_changes_with_the_text_or_anything_shown_with_it():
    checksums = {DOCUMENT.checksum, replace(DOCUMENT, text="另一段正文。").checksum, replace(DOCUMENT, title="新标题").checksum}
    assert len(checksums) == 3 and all(len(c) == 16 for c in checksums)


def test_name_and_format_come_from_the_upload_or_the_file():
    assert (DOCUMENT.original_name, DOCUMENT.format) == ("报告.pdf", "pdf")
    placed = replace(DOCUMENT, name="", file="notes.MD")
    assert (placed.original_name, placed.format) == ("notes.MD", "md")


def test_the_text_fingerprint_is_the_sha256_of_the_cleaned_text():
    assert text_fingerprint("正文。") == hashlib.sha256("正文。".encode()).hexdigest()
