"""The state row: what one commit publishes, the consistency every read of it uses, and which rows it shows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from rag.errors import IndexCorruptError
from rag.fingerprint import Fingerprint
from rag.store.base import REBUILD_HINT
from rag.store.milvus.client import TABLES

FORMAT = 1

Lexical = Literal["sparse", "rerank"]


@dataclass(frozen=True)
class State:
    """What a commit publishes: everything a reader needs to see exactly that commit."""

    instance: str  # a new value when the collection is created again after a drop
    generation: int
    ts: int  # the fence's timestamp: reads of this state wait until the server has applied it
    updated: str
    fingerprint: Fingerprint
    corpus_state: str
    tables: dict[str, str]  # "chunks", "sentences", "aux" → collection name
    serial: int  # the highest table number used
    dimension: int
    lexical: Lexical
    index: dict[str, dict[str, Any]]  # "chunks", "sentences" → FLAT, or IVF_FLAT with its nlist (nprobe: per search)
    next_dkey: int
    removed: tuple[int, ...]  # document keys this commit removed (their rows go at the next commit)
    next_chunk_id: int
    next_sentence_id: int
    documents: int
    chunks: int
    sentences: int
    total_length: int  # tokens in all live chunks: BM25's average length

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        # Milvus JSON numbers may pass through a double: a 64-bit timestamp travels as text
        return data | {"format": FORMAT, "ts": str(self.ts), "fingerprint": self.fingerprint.as_dict(), "removed": list(self.removed)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> State:
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')} is not {FORMAT}")
            values = {f.name: data[f.name] for f in fields(cls)}
            state = cls(**values | {"ts": int(values["ts"]), "fingerprint": Fingerprint.from_dict(values["fingerprint"]),
                                    "removed": tuple(int(k) for k in values["removed"])})  # fmt: skip
            if set(state.tables) != set(TABLES):
                raise ValueError(f"tables {sorted(state.tables)}")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise IndexCorruptError(f"the index state in {where} is unreadable ({error}): {REBUILD_HINT}") from None
        return state

    @property
    def visible(self) -> str:
        """The filter of every search and scan: rows of committed documents not removed."""
        return visible(self.next_dkey, self.removed)

    def reads(self) -> dict[str, Any]:
        """The consistency of every read of this state (see the package's docstring)."""
        if self.ts:
            return {"consistency_level": "Customized", "guarantee_timestamp": self.ts}
        return {"consistency_level": "Strong"}  # Lite: no timestamps, and Strong costs nothing there (§5)


def newer(state: State, than: State | None) -> bool:
    return than is None or state.instance != than.instance or state.generation > than.generation


def visible(next_dkey: int, removed: Iterable[int]) -> str:
    hidden = sorted(removed)
    return f"dkey < {next_dkey}" + (f" and dkey not in {hidden}" if hidden else "")
