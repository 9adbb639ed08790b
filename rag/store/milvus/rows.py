"""Rows of the aux table (documents, their texts in parts, term statistics) and the caches of rows
that never change."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rag.store.base import StoredDocument, stored_names
from rag.store.milvus.schema import DUMMY

TEXT_PART_BYTES = 60_000  # a VARCHAR holds at most 65,535 bytes


@dataclass(frozen=True)
class Doc:
    """A document as a view holds it: the shared stored-document row and where its rows are."""

    dkey: int  # this version's key: a document updated gets a new one
    stored: StoredDocument
    names: Mapping[str, tuple[str, ...]]
    parts: int  # rows of its text
    chunks: int
    sentences: int
    length: int  # tokens in its chunks

    def data(self) -> dict[str, Any]:
        return self.stored.row(self.names) | {"parts": self.parts, "chunks": self.chunks, "sentences": self.sentences, "length": self.length}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Doc:
        data = row["data"]
        return cls(int(row["dkey"]), StoredDocument.from_row(data), stored_names(data), int(data["parts"]),
                   int(data["chunks"]), int(data["sentences"]), int(data["length"]))  # fmt: skip


def text_parts(text: str) -> list[str]:
    """The text in pieces of at most ``TEXT_PART_BYTES`` of UTF-8, cut between characters."""
    data, parts, start = text.encode(), [], 0
    while start < len(data):
        end = min(start + TEXT_PART_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: inside a character
            end -= 1
        parts.append(data[start:end].decode())
        start = end
    return parts or [""]


def aux_row(key: str, kind: str, dkey: int, number: int, data: Mapping[str, Any], text: str = "") -> dict[str, Any]:
    return {"key": key, "kind": kind, "dkey": dkey, "number": number, "data": dict(data), "text": text, "dummy": DUMMY}


def term_row(term: int, df: int, generation: int, previous_df: int, previous_generation: int) -> dict[str, Any]:
    return aux_row(f"t{term}", "term", -1, generation, {"df": df, "prev_df": previous_df, "prev_gen": previous_generation})


def term_frequency(row: Mapping[str, Any], generation: int) -> int:
    """A term's df as of ``generation`` from its row, which holds the latest value and the one before."""
    data = row["data"]
    if int(row["number"]) <= generation:
        return int(data["df"])
    # written by a later commit (or a write still running): the value before it. A reader two
    # commits behind (a question in flight across two commits) gets this closest value as well.
    return int(data["prev_df"])


class Cache:
    """A bounded, thread-safe map (least recently used out) for rows that never change."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Caches:
    """What a store's views share: rows by table and id never change once written (ids are never
    reused), so they stay true across commits; a collection created again empties them."""

    def __init__(self) -> None:
        self.records = Cache(200_000)  # (table, id) → (dkey, start, end, related ids)
        self.texts = Cache(256)  # (table, dkey) → the document's text
        self.vectors = Cache(20_000)  # (table, sentence id) → its vector (30 MB at 384 dimensions)
        # (table, chunk id) → the chunk's row with its term counts, from a chunk search: BM25 re-ranks
        # those candidates next without reading them again (Milvus 2.3). A few questions' worth.
        self.terms = Cache(2_000)
        # table → (the end of the ids read, id → row with term counts): every chunk of a small
        # collection without sparse vectors, for exact BM25 (``MilvusView.lexical_recall``)
        self.scanned: dict[str, tuple[int, dict[int, dict[str, Any]]]] = {}

    def clear(self) -> None:
        for cache in (self.records, self.texts, self.vectors, self.terms):
            cache.clear()
        self.scanned.clear()


class Rows:
    """Rows in document-key order, taken a document at a time."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self._rows = rows
        self._next: dict[str, Any] | None = next(rows, None)

    def take(self, dkey: int) -> list[dict[str, Any]]:
        taken = []
        while self._next is not None and int(self._next["dkey"]) <= dkey:
            if int(self._next["dkey"]) == dkey:
                taken.append(self._next)
            self._next = next(self._rows, None)
        return taken
