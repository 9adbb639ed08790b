"""A segment's documents are parsed when asked for; what open reads of them (ids, names) equals a
full parse of its lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexCorruptError
from rag.store.entries import Stored
from rag.store.segment import Segment, has_lookups, link_with_lookups

RELEASE = Path(__file__).resolve().parents[2] / "fixtures" / "release-9c005f4" / "index" / "news" / "segments"


def test_ids_and_names_read_on_open_equal_the_parsed_entries():
    for folder in sorted(RELEASE.iterdir()):
        segment = Segment(folder)
        lines = [json.loads(line) for line in (folder / "entries.jsonl").read_text(encoding="utf-8").splitlines()]
        assert segment.stored.ids == [line["entry"]["id"] for line in lines]
        assert segment.names == [{word: tuple(tokens) for word, tokens in line["names"].items()} for line in lines]
        assert [dict(segment.stored[row].entry) for row in range(len(lines))] == [line["entry"] for line in lines]
    assert any(segment.names for folder in RELEASE.iterdir() for segment in [Segment(folder)])  # "米拉·穆拉蒂(Mira Murati)"


def test_a_segment_whose_pieces_are_out_of_document_order_is_refused_at_open(tmp_path: Path):
    folder = tmp_path / "seg"
    shutil.copytree(RELEASE / "seg-00000001", folder)
    owners = np.fromfile(folder / "chunk_docs.bin", dtype="<i4")
    assert list(owners) == [0, 1, 2]  # three documents, one chunk each
    owners[::-1].tofile(folder / "chunk_docs.bin")  # same size, so only the order can tell
    with pytest.raises(IndexCorruptError, match="out of document order"):
        Segment(folder)


def test_a_segment_given_its_look_up_files_reads_its_documents_when_first_asked_even_after_its_folder_is_gone(tmp_path: Path, monkeypatch):
    old = Segment(RELEASE / "seg-00000001")  # written before ids.json and names.json
    assert not has_lookups(old)
    folder = tmp_path / "seg"
    folder.mkdir()
    link_with_lookups(old, folder, "seg")
    monkeypatch.setattr(Stored, "warm", lambda self: None)  # nothing parsed at open
    upgraded = Segment(folder)
    assert has_lookups(upgraded) and upgraded.name == "seg"
    assert upgraded.stored.ids == old.stored.ids and upgraded.names == old.names and any(upgraded.names)
    shutil.rmtree(folder)  # a newer generation collected it: the files opened with the segment still read
    assert [dict(upgraded.stored[row].entry) for row in range(len(old.stored))] == [dict(old.stored[row].entry) for row in range(len(old.stored))]
    assert upgraded.stored[0].manifest_line == old.stored[0].manifest_line


def test_look_up_files_that_disagree_with_the_documents_lines_are_refused(tmp_path: Path, monkeypatch):
    folder = tmp_path / "seg"
    folder.mkdir()
    link_with_lookups(Segment(RELEASE / "seg-00000001"), folder, "seg")
    data = (folder / "entries.jsonl").read_bytes()
    (folder / "entries.jsonl").unlink()  # a hard link: write a copy, not the release's file
    joined = data[:-1].rsplit(b"\n", 1)
    (folder / "entries.jsonl").write_bytes(joined[0] + b" " + joined[1] + b"\n")  # two lines where three were, same size
    monkeypatch.setattr(Stored, "warm", lambda self: None)
    segment = Segment(folder)
    with pytest.raises(IndexCorruptError, match="3 documents, 2 entries"):
        segment.stored[0]  # noqa: B018
