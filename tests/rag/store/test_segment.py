"""A segment's documents are parsed when asked for; what open reads of them (ids, names) equals a
full parse of its lines."""

from __future__ import annotations

import json
from pathlib import Path

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
