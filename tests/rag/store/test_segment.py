"""A segment's documents are parsed when asked for; what open reads of them (ids, names) equals a
full parse of its lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexCorruptError
from rag.store.segment import Segment

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
