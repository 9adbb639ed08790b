"""A local segment's documents as ``entries.jsonl`` and ``manifest.jsonl`` hold them, a line each."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence

from rag.store.base import StoredDocument


class Stored(Sequence[StoredDocument]):
    """A segment's documents, each parsed from its ``entries.jsonl`` line when first asked for;
    their ids (from ``manifest.jsonl``) and names at once. On the 100k-chunk archive (14,353
    documents) parsing every line (0.21 s) and its names (0.16 s) took most of the 0.65 s the store
    took to open; reading ids and names alone, it opens in 0.24 s. Questions read only the
    documents they cite; a write or a listing reads them all, which a segment of more than
    ``WARM_AFTER`` documents does in a background thread from the start (the first add at 100k
    took 1.42 s instead of 0.89 s when it had to parse them itself)."""

    WARM_AFTER = 2_000

    def __init__(self, entries: list[str], manifest_lines: list[str]) -> None:
        if len(entries) != len(manifest_lines):
            raise ValueError(f"{len(entries)} entries but {len(manifest_lines)} manifest lines")
        self._entries, self._manifest_lines = entries, manifest_lines
        self._parsed: dict[int, StoredDocument] = {}
        self.ids = [_id_of(line) for line in manifest_lines]
        if len(entries) > self.WARM_AFTER:
            threading.Thread(target=self._parse_all, name="rag-entries", daemon=True).start()
        else:
            self._parse_all()

    def _parse_all(self) -> None:
        for row in range(len(self._entries)):
            self[row]  # noqa: B018 - parsed and kept

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, row: int) -> StoredDocument:  # type: ignore[override]
        found = self._parsed.get(row)
        if found is None:
            line = json.loads(self._entries[row])
            found = StoredDocument(line["entry"], line["checksum"], line["characters"], line["text_sha256"], self._manifest_lines[row])
            self._parsed[row] = found
        return found

    def names(self) -> list[dict[str, tuple[str, ...]]]:
        """Per document, its Latin name words → Chinese tokens: the object each line ends with
        (``SegmentWriter`` writes it last), parsed alone; most are empty."""
        found = []
        for line in self._entries:
            if line.endswith(_NO_NAMES):
                found.append({})
                continue
            start = line.rfind(_NAMES)
            names = json.loads(line[start + len(_NAMES) : -1]) if start >= 0 else json.loads(line)["names"]
            found.append({word: tuple(tokens) for word, tokens in names.items()})
        return found


_NAMES, _NO_NAMES = '"names": ', '"names": {}}'
_ID = re.compile(r'^\{"id": "([^"\\]*)"')


def _id_of(manifest_line: str) -> str:
    """A document's id from its manifest line (``Document.manifest_line``: the id comes first)."""
    match = _ID.match(manifest_line)
    return match.group(1) if match else str(json.loads(manifest_line)["id"])
