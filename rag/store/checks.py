"""Checking a local store's segment against what ``segment.json`` records: sizes (cheap, as opening
does) or every byte against its checksum (``rag build``, ``rag verify``), then opening it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IndexCorruptError
from rag.store.segment import FORMAT, SEGMENT_FILE, Segment, file_problems


@dataclass(frozen=True)
class Examination:
    """What a full or cheap check found in a segment's folder (``examine``)."""

    problems: dict[str, str]  # file → what is wrong with it
    documents: int | None  # how many documents segment.json says it holds (None: unreadable)
    files: int
    bytes: int

    @property
    def only_vector_indexes(self) -> bool:
        """Only approximate indexes are damaged: they are rebuilt from the stored vectors."""
        return all(name.endswith(".ivf") for name in self.problems)


def examine(folder: Path, checksums: bool) -> Examination:
    """Check a segment's files against ``segment.json`` and, when they pass, open it (which parses
    its entries and maps): sizes only, or every byte against its checksum."""
    try:
        description = json.loads((folder / SEGMENT_FILE).read_text(encoding="utf-8"))
        files = description["files"]
        if description.get("format") != FORMAT:
            raise ValueError(f"written by another version: format {description.get('format')}, this version reads {FORMAT}")
    except FileNotFoundError:
        return Examination({SEGMENT_FILE: "is missing"}, None, 1, 0)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Examination({SEGMENT_FILE: f"is unreadable ({error})"}, None, 1, 0)
    problems = file_problems(folder, files, checksums)
    if not problems:
        try:
            Segment(folder)
        except IndexCorruptError as error:
            problems[SEGMENT_FILE] = f"describes data that cannot be used ({error})"
    size = sum(int(spec["bytes"]) for spec in files.values())
    return Examination(problems, int(description.get("documents", 0)), len(files) + 1, size)
