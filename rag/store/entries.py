"""A local segment's documents: ``entries.jsonl`` and ``manifest.jsonl`` hold them, a line each;
``ids.json`` and ``names.json`` hold what opening needs of them (segments written before these two
files existed derive it from the lines)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from rag.errors import IndexCorruptError
from rag.store.base import StoredDocument

Names = Mapping[str, tuple[str, ...]]  # a document's Latin name words → the Chinese tokens it writes them with
Lines = tuple[list[str], list[str]]  # (entries.jsonl, manifest.jsonl) lines
NO_NAMES: Names = MappingProxyType({})


class Stored(Sequence[StoredDocument]):
    """A segment's documents, each parsed from its ``entries.jsonl`` line when first asked for.
    Opening needs only their ids (and names, kept apart): on the 1M-chunk archive (165,158
    documents) reading both line files took 1.2 s and splitting them 0.32 s of the 2.67 s open, so
    the lines are read when a document is first asked for. Questions read only the documents they
    cite; a write or a listing reads them all, which a segment of more than ``WARM_AFTER``
    documents does in a background thread from the start (the first add at 100k took 1.42 s
    instead of 0.89 s when it had to parse them itself)."""

    WARM_AFTER = 2_000

    def __init__(self, ids: list[str], read_lines: Callable[[], Lines]) -> None:
        self.ids = ids
        self._read_lines = read_lines
        self._lines: Lines | None = None
        self._lock = threading.Lock()
        self._parsed: dict[int, StoredDocument] = {}

    @classmethod
    def of_lines(cls, entries: list[str], manifest_lines: list[str]) -> Stored:
        """Documents whose lines are read already (a segment without ``ids.json``)."""
        if len(entries) != len(manifest_lines):
            raise ValueError(f"{len(entries)} entries but {len(manifest_lines)} manifest lines")
        return cls([_id_of(line) for line in manifest_lines], lambda: (entries, manifest_lines))

    def warm(self) -> None:
        """Parse every document now, or in a background thread for a large segment."""
        if len(self.ids) > self.WARM_AFTER:
            threading.Thread(target=self._parse_all, args=(True,), name="rag-entries", daemon=True).start()
        else:
            self._parse_all(False)

    def _parse_all(self, in_background: bool) -> None:
        try:
            for row in range(len(self.ids)):
                self[row]  # noqa: B018 - parsed and kept
        except IndexCorruptError:
            if not in_background:
                raise  # in the background: said by the first question or write that reads the lines

    def lines(self) -> Lines:
        """The documents' lines, read once; their count must be the ids'."""
        with self._lock:
            if self._lines is None:
                entries, manifest_lines = self._read_lines()
                if not len(entries) == len(manifest_lines) == len(self.ids):
                    raise IndexCorruptError(f"a segment holds {len(self.ids)} documents, {len(entries)} entries and "
                                            f"{len(manifest_lines)} manifest lines: rebuild it with `rag build`")  # fmt: skip
                self._lines = (entries, manifest_lines)
            return self._lines

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, row: int) -> StoredDocument:  # type: ignore[override]
        found = self._parsed.get(row)
        if found is None:
            entries, manifest_lines = self.lines()
            line = json.loads(entries[row])
            found = StoredDocument(line["entry"], line["checksum"], line["characters"], line["text_sha256"], manifest_lines[row])
            self._parsed[row] = found
        return found


def names_of_entries(entries: Sequence[str]) -> list[Names]:
    """Per document, its names: the object each ``entries.jsonl`` line ends with (``SegmentWriter``
    writes it last), parsed alone; most are empty."""
    found: list[Names] = []
    for line in entries:
        if line.endswith(_NO_NAMES):
            found.append(NO_NAMES)
            continue
        start = line.rfind(_NAMES)
        names = json.loads(line[start + len(_NAMES) : -1]) if start >= 0 else json.loads(line)["names"]
        found.append({word: tuple(tokens) for word, tokens in names.items()})
    return found


def names_of_lookup(documents: int, by_row: Mapping[str, Mapping[str, Sequence[str]]]) -> list[Names]:
    """Per document, its names from ``names.json`` (row → names, only the documents that have any)."""
    found = [NO_NAMES] * documents
    for row, names in by_row.items():
        if not 0 <= int(row) < documents:  # a negative row would name a document from the end
            raise ValueError(f"names.json names row {row} of {documents} documents")
        found[int(row)] = {word: tuple(tokens) for word, tokens in names.items()}
    return found


_NAMES, _NO_NAMES = '"names": ', '"names": {}}'
_ID = re.compile(r'^\{"id": "([^"\\]*)"')


def _id_of(manifest_line: str) -> str:
    """A document's id from its manifest line (``Document.manifest_line``: the id comes first)."""
    match = _ID.match(manifest_line)
    return match.group(1) if match else str(json.loads(manifest_line)["id"])
