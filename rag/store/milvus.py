"""The Milvus store: a collection's index in Milvus Lite (a ``.db`` path, inside this process) or in a
Milvus server or cluster (``http(s)://host:port``), behind the same ``Store`` interface as local files.
Facts it relies on were measured on Lite 3.2.2 and the 2.3.5 server (docs/milvus-notes.md, cited §n).

**Collections** of the rag collection ``<slug>`` (escaped injectively: ``_`` → ``__``, ``-`` → ``_h``)::

    rag_meta_<slug>            the state row (the commit point) and the fence row; never replaced
    rag_chunks_<n>_<slug>      id, document key, offsets, token count, sentence ids, term counts, the
                               dense vector and, where sparse vectors exist, a BM25 sparse vector
    rag_sentences_<n>_<slug>   id, document key, offsets, chunk ids, the dense vector
    rag_aux_<n>_<slug>         documents (manifest entry, checksums, names), their full texts in parts
                               of ≤ 60,000 bytes, and one row per term with its document frequency

Every collection needs a vector field (2.5 refuses one without, 2.3 cannot load it, §3), so the
aux and meta collections carry a dummy 2-d vector. The state row names the tables in use: a
rebuild (new model, settings or code) writes new ones (a higher ``<n>``), and so does a table in use
that grows past ``exact_max`` (its rows are copied into one with an approximate index); the state row
switches to them at the commit point and the old ones are dropped after it.

**Commit protocol** (one writer at a time, under the file lock in ``index/<slug>/``):

1. clean up: rows of a dead write (document keys at or above the state's ``next_dkey``; term rows
   of a later generation are reverted), rows of the documents the last commit removed, and tables
   the state does not name. A delete by expression waits until it sees every row (measured on
   2.3: 1,000 rows inserted by another connection just before were all deleted, 5 of 5 trials).
   Then the fence row is set to the new generation: a write is under way (``has_leftovers``);
2. insert the added documents' pieces under new document keys. Searches and scans filter with
   ``dkey < next_dkey and dkey not in removed``, reads by key check the document key against the
   snapshot's documents, so rows of an unfinished write are never seen;
3. update the df of each touched term. A term row keeps its previous df and that value's
   generation too, so a reader of the previous generation still finds its own df;
4. flush where needed (``FLUSH_CHUNKS``), switch or move the indexes of tables past ``exact_max``,
   upsert the fence row again and keep its timestamp;
5. **the commit point**: one upsert of the state row: generation + 1, tables, next ids, counts,
   total length, the keys it removed, the fence's timestamp.

A crash before 5 leaves the old state (step 1 of the next writer removes what was written); after
5, the change is whole. Removed documents' rows stay until the next commit deletes them, hidden by
the state's ``removed`` keys meanwhile, so a reader still on the previous generation keeps them.

**Consistency.** ``refresh()`` reads the state row at Session level: one query (≈ 3 ms), which sees
this process's commits at once and another process's within ~0.1–0.4 s (§5). Every read of a
snapshot then passes the snapshot's fence timestamp as its guarantee (Customized level): the server
answers once it has applied every write of that commit — at most one time tick (≈ 200 ms) right
after a commit, immediately afterwards. Strong would wait for the next tick on every read (≈ 200 ms
a search on 2.3, §5); Bounded could miss the commit's rows and, on 2.3, Session misses own deletes.
Lite sees every write at once and returns no timestamps; its reads are Strong, which costs nothing
there.

**Capabilities** are read once (``get_server_version``, §7). On Lite and servers ≥ 2.4 chunks carry
a SPARSE_FLOAT_VECTOR: the document side holds BM25 term weights ``tf / (tf + k1·(1 − b + b·dl/avgdl))``
(avgdl as it was when written), the query side IDF × occurrences; it finds the lexical candidates.
2.3 has no sparse vectors and one vector field per collection, so there lexical scores re-rank the
dense candidates only (see ``MilvusView.lexical_search``); a server upgraded past 2.3 keeps doing so
until a rebuild gives its chunks sparse vectors. Either way the scores returned are exact:
candidates are re-scored by ``rag.bm25`` from their stored term counts with the current chunk count,
average length and df, so they equal the local store's.

**Indexes.** Dense vectors are searched exactly (FLAT) up to ``Settings.vectors.exact_max`` rows a
table, and beyond through an inverted file with the local store's lists and probes (4·√N lists;
nprobe 128 by default, passed with each search), which kept recall@10 at 0.973 at 100k and 0.965 at 1M with FAISS where HNSW32 with
ef 128 had 0.92 and 0.70 (eval/reports/bench.md). IVF_FLAT rather than the local store's SQ8: the
cosines it returns are exact, so fusion sees the same scores as with FLAT; a server holds the raw
vectors in memory anyway. Measured in Milvus: docs/milvus-notes.md §11.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import grpc
import numpy as np
from pymilvus import DataType, MilvusClient
from pymilvus.client import ts_utils
from pymilvus.exceptions import MilvusException

from rag import bm25
from rag.config import Settings, VectorIndexSettings
from rag.document import Document, from_entry, text_fingerprint
from rag.errors import IndexCorruptError, RagError, StoreUnavailableError, UnknownDocumentError
from rag.locking import writer_lock
from rag.store.base import (
    Change,
    Check,
    ChunkRecord,
    Damage,
    Fingerprint,
    IndexedDocument,
    SentenceRecord,
    StoredDocument,
    StoreInfo,
    Terms,
    TermsOf,
    top_k,
)

FORMAT = 1
REBUILD_HINT = "run `rag build` to rebuild the index"
CONNECT_TIMEOUT_S = 3.0  # MilvusClient's own timeout bounds only connecting (§6)
READ_TIMEOUT_S = 10.0  # every call passes its own timeout: without one a frozen server blocks forever (§6)
WRITE_TIMEOUT_S = 120.0
INDEX_TIMEOUT_S = 900.0  # loading, index builds (HNSW over 100k rows took 127 s on 2.3, §8)
MAX_LIMIT = 16_384  # the server refuses a larger top-k or query limit (§4)
BATCH_ROWS = 1_000
BATCH_BYTES = 8 << 20  # well under gRPC's 64 MB message limit
# Lite scans unflushed rows in Python on every search (814 vs 13 ms at 10k rows, §8): it is flushed
# after every commit. A server searches its growing segments well enough and seals them itself; a
# flush costs it 0.5–2.5 s, paid after large writes only (FLAT over 11.6k chunks: 16 → 9.6 ms).
FLUSH_CHUNKS = 5_000
TEXT_PART_BYTES = 60_000  # a VARCHAR holds at most 65,535 bytes
EMPTY_SPARSE = {2**32 - 2: 1e-30}  # Milvus refuses an empty sparse row; re-scoring gives this "term" 0
LEXICAL_CANDIDATES = 4  # sparse candidates fetched per chunk asked for, re-scored exactly
FLAT: Mapping[str, Any] = {"type": "FLAT"}
DUMMY = np.zeros(2, dtype=np.float32)  # the vector of tables that need none (§3)
STATE_ID, FENCE_ID = 0, 1
TABLES = ("chunks", "sentences", "aux")

Lexical = Literal["sparse", "rerank"]

# pymilvus logs every failed call with a traceback, and Lite's in-process gRPC server every call it
# lacks (pymilvus asks it for AllocTimestamp while creating an index): ours say what failed
for _name in ("pymilvus", "milvus_lite", "grpc._server"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


# ---- where the store is, and what it is called there


@dataclass(frozen=True)
class Location:
    uri: str  # what MilvusClient connects to
    lite: bool
    shown: str  # for messages: the path, or the URI without credentials


def parse_location(value: str) -> Location:
    """``RAG_STORE``'s value as a Milvus location, or ``StoreUnavailableError`` saying what is accepted."""
    text = value.strip()
    if text.endswith(".db") and "://" not in text:
        path = Path(text).expanduser().resolve()
        if not path.parent.is_dir():
            raise StoreUnavailableError(f"RAG_STORE={value!r}: the folder {path.parent} does not exist; create it first")
        return Location(str(path), True, str(path))
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port, parts = None, parts._replace(netloc="")
    if parts.scheme in ("http", "https") and parts.hostname:
        return Location(text, False, f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else ""))
    raise StoreUnavailableError(
        f"RAG_STORE={value!r} is not a Milvus location: use a path ending in .db (Milvus Lite, one process) "
        "or http://host:port or https://host[:port] (a Milvus server); unset it to keep the index in local files"
    )


def _escape(slug: str) -> str:
    """Collection slugs may hold ``-``, Milvus names may not: ``_`` → ``__`` and ``-`` → ``_h`` can be undone."""
    return slug.replace("_", "__").replace("-", "_h")


def meta_name(slug: str) -> str:
    return f"rag_meta_{_escape(slug)}"


def table_name(kind: str, serial: int, slug: str) -> str:
    return f"rag_{kind}_{serial}_{_escape(slug)}"


def _owned(name: str, slug: str) -> bool:
    """Whether ``name`` is one of this collection's tables (``rag_<kind>_<n>_<escaped slug>``)."""
    parts = name.split("_", 3)
    return len(parts) == 4 and parts[0] == "rag" and parts[1] in TABLES and parts[2].isdigit() and parts[3] == _escape(slug)


# ---- the client: every call bounded, every failure ours


def _message(error: BaseException) -> str:
    if isinstance(error, MilvusException):
        text = error.message
    elif isinstance(error, grpc.RpcError):
        text = f"{error.code().name}: {error.details()}"  # type: ignore[attr-defined]
    else:
        text = str(error)
    return " ".join(str(text).split())[:300]


def _lite_held_elsewhere(path: str) -> bool:
    """Lite locks its folder with ``flock``; pymilvus only says "Open local milvus failed" (§6)."""
    lock = Path(path) / "LOCK"
    if not lock.exists():
        return False
    with lock.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


_lite_users: Counter[str] = Counter()  # Lite runs one engine per file and process: stopped with its last store
_lite_lock = threading.Lock()


class _Milvus:
    """A ``MilvusClient`` whose every call has a timeout and fails as ``StoreUnavailableError``."""

    def __init__(self, location: Location, token: str | None) -> None:
        self.location = location
        try:
            self.client = MilvusClient(location.uri, token=token or "", timeout=CONNECT_TIMEOUT_S)
        except (MilvusException, grpc.RpcError) as error:
            if location.lite and _lite_held_elsewhere(location.uri):
                raise StoreUnavailableError(
                    f"{location.shown} is open in another process: Milvus Lite allows one process per file; "
                    "use a Milvus server (RAG_STORE=http://host:port) for several processes"
                ) from None
            raise self.failure("connect", error) from None
        detail = self.call("read its version", self.client.get_server_version, detail=True)
        version = str(detail.get("version", "")) if isinstance(detail, dict) else str(detail)
        numbers = [int(n) for n in version.lstrip("v").split("-")[0].split(".")[:3] if n.isdigit()]
        self.release = ".".join(map(str, numbers))  # "2.3.5" (the PyPI server calls itself "v2.3.5-lite")
        # Lite has sparse vectors; servers from 2.4 on (§7). The server's "-lite" suffix is no Lite.
        self.sparse = location.lite or tuple(numbers) >= (2, 4)
        if location.lite:
            with _lite_lock:
                _lite_users[location.uri] += 1

    def failure(self, what: str, error: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError(f"the Milvus store at {self.location.shown} could not {what} ({_message(error)})")

    def call(self, what: str, method: Callable[..., Any], *args: Any, timeout: float = READ_TIMEOUT_S, **kwargs: Any) -> Any:
        try:
            return method(*args, timeout=timeout, **kwargs)
        except (MilvusException, grpc.RpcError) as error:  # a timeout is a raw gRPC error, not a MilvusException (§6)
            raise self.failure(what, error) from None

    def last_write_ts(self, collection: str) -> int:
        """The timestamp of this process's last write to ``collection`` (0 on Lite). MilvusClient drops
        it from write results; pymilvus keeps it for Session reads, keyed by server address."""
        handler = self.client._get_connection()
        return int(ts_utils.get_collection_ts(collection, handler.server_address, "") or 0)

    def close(self) -> None:
        self.client.close()
        if self.location.lite:
            with _lite_lock:
                _lite_users[self.location.uri] -= 1
                last = _lite_users[self.location.uri] <= 0
            if last:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.location.uri)


# ---- the state row


@dataclass(frozen=True)
class _State:
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
    def from_json(cls, data: Mapping[str, Any], where: str) -> _State:
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
        return _visible(self.next_dkey, self.removed)


def _newer(state: _State, than: _State | None) -> bool:
    return than is None or state.instance != than.instance or state.generation > than.generation


def _visible(next_dkey: int, removed: Iterable[int]) -> str:
    hidden = sorted(removed)
    return f"dkey < {next_dkey}" + (f" and dkey not in {hidden}" if hidden else "")


# ---- documents as a view holds them


@dataclass(frozen=True)
class _Doc:
    dkey: int  # this version's key: a document updated gets a new one
    stored: StoredDocument
    names: Mapping[str, tuple[str, ...]]
    parts: int  # rows of its text
    chunks: int
    sentences: int
    length: int  # tokens in its chunks

    def data(self) -> dict[str, Any]:
        return {"entry": dict(self.stored.entry), "checksum": self.stored.checksum, "characters": self.stored.characters,
                "text_sha256": self.stored.text_sha256, "names": {w: list(t) for w, t in self.names.items()},
                "parts": self.parts, "chunks": self.chunks, "sentences": self.sentences, "length": self.length}  # fmt: skip

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> _Doc:
        data = row["data"]
        stored = StoredDocument(data["entry"], data["checksum"], int(data["characters"]), data["text_sha256"],
                                json.dumps(data["entry"], ensure_ascii=False))  # as Document.manifest_line writes it
        return cls(int(row["dkey"]), stored, {w: tuple(t) for w, t in data["names"].items()}, int(data["parts"]),
                   int(data["chunks"]), int(data["sentences"]), int(data["length"]))  # fmt: skip


def _text_parts(text: str) -> list[str]:
    """The text in pieces of at most ``TEXT_PART_BYTES`` of UTF-8, cut between characters."""
    data, parts, start = text.encode(), [], 0
    while start < len(data):
        end = min(start + TEXT_PART_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: inside a character
            end -= 1
        parts.append(data[start:end].decode())
        start = end
    return parts or [""]


class _Cache:
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


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.float32)


def _term_frequency(row: Mapping[str, Any], generation: int) -> int:
    """A term's df as of ``generation`` from its row, which holds the latest value and the one before."""
    data = row["data"]
    if int(row["number"]) <= generation:
        return int(data["df"])
    # written by a later commit (or a write still running): the value before it. A reader two
    # commits behind (a question in flight across two commits) gets this closest value as well.
    return int(data["prev_df"])


class MilvusView:
    """A consistent snapshot: one state row and the documents it names."""

    def __init__(self, store: MilvusStore, state: _State | None, docs: Mapping[str, _Doc]) -> None:
        self._store = store
        self.state = state
        self.docs = dict(docs)
        self._by_key = {doc.dkey: doc for doc in self.docs.values()}
        self._frequencies = _Cache(100_000)

    @property
    def generation(self) -> int:
        return self.state.generation if self.state else 0

    @property
    def fingerprint(self) -> Fingerprint | None:
        return self.state.fingerprint if self.state else None

    @property
    def corpus_state(self) -> str | None:
        return self.state.corpus_state if self.state else None

    def _reads(self) -> dict[str, Any]:
        assert self.state is not None
        return _reads(self.state)

    def stored_documents(self) -> list[StoredDocument]:
        return [doc.stored for doc in self.docs.values()]

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        wanted = {doc_id: self.docs[doc_id] for doc_id in ids if doc_id in self.docs}
        aux = self.state.tables["aux"] if self.state else ""
        texts = {doc.dkey: self._store.texts.get((aux, doc.dkey)) for doc in wanted.values()}
        missing = [self._by_key[key] for key, text in texts.items() if text is None]
        parts = {row["key"]: row["text"] for row in self._get("aux", [f"x{d.dkey}.{n}" for d in missing for n in range(d.parts)], ["text"])}
        for doc in missing:
            found = [parts.get(f"x{doc.dkey}.{n}") for n in range(doc.parts)]
            if None in found:
                raise IndexCorruptError(f"the text of {doc.stored.id} in {aux} lacks parts: {REBUILD_HINT}")
            texts[doc.dkey] = "".join(found)  # type: ignore[arg-type]
            self._store.texts.put((aux, doc.dkey), texts[doc.dkey])
        return {doc_id: from_entry(doc.stored.entry, texts[doc.dkey]) for doc_id, doc in wanted.items()}  # type: ignore[arg-type]

    def _get(self, table: str, ids: Sequence[int | str], output: list[str]) -> list[dict[str, Any]]:
        """Rows by primary key. No visibility filter: on Lite any other condition turns the lookup
        into a scan of the table (100 rows of 10,863: 4.3 ms by key, 16 ms with ``and dkey < N``).
        Callers ask only for ids a search of this snapshot returned, or that its records name."""
        if not ids or self.state is None:
            return []
        milvus = self._store.milvus
        return milvus.call("read", milvus.client.get, self.state.tables[table], ids=list(ids), output_fields=output, **self._reads())

    def _search(self, table: str, vector: np.ndarray, k: int, output: list[str]) -> list[dict[str, Any]]:
        state = self.state
        if state is None or k <= 0 or not state.documents:
            return []
        index = state.index[table]
        params = {"metric_type": "IP", "params": {"nprobe": _nprobe(index, self._store.settings.vectors)} if index["type"] == "IVF_FLAT" else {}}
        milvus = self._store.milvus
        hits = milvus.call("search", milvus.client.search, state.tables[table], data=[np.asarray(vector, dtype=np.float32)],
                           anns_field="dense", limit=min(k, MAX_LIMIT), filter=state.visible, output_fields=output,
                           search_params=params, **self._reads())  # fmt: skip
        return list(hits[0])

    def search_chunks(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        hits = self._search("chunks", vector, k, ["dkey", "start", "end", "sentences"])
        self._remember("chunks", [{"id": hit["id"], **hit["entity"]} for hit in hits])
        return np.array([hit["id"] for hit in hits], np.int64), np.array([hit["distance"] for hit in hits], np.float32)

    def search_sentences(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        hits = self._search("sentences", vector, k, ["dkey", "start", "end", "chunks"])
        self._remember("sentences", [{"id": hit["id"], **hit["entity"]} for hit in hits])
        return np.array([hit["id"] for hit in hits], np.int64), np.array([hit["distance"] for hit in hits], np.float32)

    def _frequencies_of(self, terms: Iterable[int]) -> dict[int, int]:
        """Each term's df in this snapshot (0 for a term no chunk holds)."""
        if self.state is None:
            return dict.fromkeys(terms, 0)
        found = {term: self._frequencies.get(term) for term in set(terms)}
        missing = [f"t{term}" for term, df in found.items() if df is None]
        for start in range(0, len(missing), BATCH_ROWS):
            milvus = self._store.milvus
            keys = missing[start : start + BATCH_ROWS]
            rows = milvus.call("read term statistics", milvus.client.query, self.state.tables["aux"], filter=f"key in {keys}",
                               output_fields=["key", "number", "data"], **self._reads())  # fmt: skip
            for row in rows:
                found[int(row["key"][1:])] = _term_frequency(row, self.state.generation)
        for term, df in found.items():
            self._frequencies.put(term, df or 0)
        return {term: df or 0 for term, df in found.items()}

    def known_terms(self, term_ids: Iterable[int]) -> set[int]:
        return {term for term, df in self._frequencies_of(term_ids).items() if df > 0}

    def lexical_search(self, term_ids: Sequence[int], k: int, candidates: Collection[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        state = self.state
        if state is None or not state.chunks or not term_ids or k <= 0:
            return _empty()
        frequencies = self._frequencies_of(term_ids)
        known = [term for term in term_ids if frequencies[term] > 0]
        if not known:
            return _empty()
        if state.lexical == "sparse":
            # Candidates from the sparse vectors: IDF × occurrences on the query side; their
            # document weights used the average length of their time, so a few more are fetched
            weights = {term: float(bm25.idf(frequencies[term], state.chunks)) * count for term, count in Counter(known).items()}
            milvus = self._store.milvus
            hits = milvus.call("search", milvus.client.search, state.tables["chunks"], data=[weights], anns_field="sparse",
                               limit=min(LEXICAL_CANDIDATES * k + 50, MAX_LIMIT), filter=state.visible,
                               output_fields=["terms", "length"], search_params={"metric_type": "IP"}, **self._reads())  # fmt: skip
            rows = [{"id": hit["id"], **hit["entity"]} for hit in hits[0]]
        else:
            # Milvus 2.3: no sparse vectors, one vector field per collection (§3), so nothing can
            # find lexical matches in the whole store; the dense candidates are re-ranked instead.
            # Their records come along: retrieval asks for the best of them next
            rows = self._get("chunks", sorted(candidates), ["terms", "length", "dkey", "start", "end", "sentences"])
            rows = [row for row in rows if int(row["dkey"]) in self._by_key]  # read by key: the snapshot's rows only
            self._remember("chunks", rows)
        return top_k(*self._rescore(term_ids, rows, frequencies), k)

    def _rescore(self, term_ids: Sequence[int], rows: list[dict[str, Any]], frequencies: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Exact BM25 of ``rows`` (``rag.bm25``), from their term counts and the snapshot's statistics."""
        assert self.state is not None
        wanted = set(term_ids)
        postings: dict[int, tuple[list[int], list[int]]] = {}  # term → (positions in rows, counts)
        for position, row in enumerate(rows):
            for term, count in zip(row["terms"]["t"], row["terms"]["c"], strict=True):
                if term in wanted:
                    positions, counts = postings.setdefault(term, ([], []))
                    positions.append(position)
                    counts.append(count)
        ids = np.array([int(row["id"]) for row in rows], dtype=np.int64)
        lengths = np.array([int(row["length"]) for row in rows], dtype=np.int32)
        scores = np.zeros(len(rows), dtype=np.float32)
        average = self.state.total_length / self.state.chunks
        for term in term_ids:  # in the query's token order, a repeated token again: as bm25s sums
            if term in postings and frequencies[term]:
                positions, counts = postings[term]
                term_idf = bm25.idf(frequencies[term], self.state.chunks)
                bm25.add_term(scores, np.array(positions), np.array(counts), lengths, term_idf, average)
        keep = scores > 0
        return ids[keep], scores[keep]

    def _remember(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Records never change once written (ids are never reused), so a cache of them stays true."""
        assert self.state is not None
        name = self.state.tables[table]
        key = "sentences" if table == "chunks" else "chunks"
        for row in rows:
            self._store.records.put((name, int(row["id"])), (int(row["dkey"]), int(row["start"]), int(row["end"]), tuple(row[key]["ids"])))

    def _records(self, table: str, ids: Iterable[int]) -> dict[int, tuple[int, int, int, tuple[int, ...]]]:
        if self.state is None:
            return {}
        name = self.state.tables[table]
        wanted = [int(i) for i in ids]
        found = {i: self._store.records.get((name, i)) for i in wanted}
        missing = [i for i, record in found.items() if record is None]
        if missing:
            fields = ["dkey", "start", "end", "sentences" if table == "chunks" else "chunks"]
            if table == "sentences":  # retrieval asks for their vectors next: one read for both
                missing = [i for i in wanted if found[i] is None or self._store.vectors.get((name, i)) is None]
                fields.append("dense")
            rows = self._get(table, missing, fields)
            self._remember(table, rows)
            for row in rows if table == "sentences" else ():
                self._store.vectors.put((name, int(row["id"])), np.asarray(row["dense"], dtype=np.float32))
            found.update({i: self._store.records.get((name, i)) for i in missing})
        # a row of a document this snapshot does not hold (removed meanwhile) is left out
        return {i: record for i, record in found.items() if record is not None and record[0] in self._by_key}

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRecord]:
        return {i: ChunkRecord(i, self._by_key[dkey].stored.id, start, end, tuple(others))
                for i, (dkey, start, end, others) in self._records("chunks", ids).items()}  # fmt: skip

    def sentences(self, ids: Iterable[int]) -> dict[int, SentenceRecord]:
        return {i: SentenceRecord(i, self._by_key[dkey].stored.id, start, end, tuple(others))
                for i, (dkey, start, end, others) in self._records("sentences", ids).items()}  # fmt: skip

    def sentence_vectors(self, ids: Sequence[int]) -> np.ndarray:
        if self.state is None:
            return np.zeros((len(ids), 0), dtype=np.float32)
        name = self.state.tables["sentences"]
        found = {int(i): self._store.vectors.get((name, int(i))) for i in ids}
        missing = [i for i, vector in found.items() if vector is None]
        found.update({int(row["id"]): np.asarray(row["dense"], dtype=np.float32) for row in self._get("sentences", missing, ["dense"])})
        vectors = np.zeros((len(ids), self.state.dimension), dtype=np.float32)
        for position, sentence_id in enumerate(ids):
            if found[int(sentence_id)] is not None:
                vectors[position] = found[int(sentence_id)]
        return vectors

    def name_translations(self, words: Iterable[str]) -> dict[str, set[str]]:
        wanted = set(words)
        found: dict[str, set[str]] = {}
        for doc in self.docs.values():
            for word in wanted & doc.names.keys():
                found.setdefault(word, set()).update(doc.names[word])
        return found


def _in_parallel(function: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """Calls that each wait for a server time tick (≈ 200 ms on 2.3) overlap instead of adding up."""
    items = list(items)
    with ThreadPoolExecutor(max(1, len(items))) as pool:
        return list(pool.map(function, items))


def _reads(state: _State) -> dict[str, Any]:
    """The consistency of every read of ``state`` (see the module's docstring)."""
    if state.ts:
        return {"consistency_level": "Customized", "guarantee_timestamp": state.ts}
    return {"consistency_level": "Strong"}  # Lite: no timestamps, and Strong costs nothing there (§5)


# ---- writing


def _aux_row(key: str, kind: str, dkey: int, number: int, data: Mapping[str, Any], text: str = "") -> dict[str, Any]:
    return {"key": key, "kind": kind, "dkey": dkey, "number": number, "data": dict(data), "text": text, "dummy": DUMMY}


def _term_row(term: int, df: int, generation: int, previous_df: int, previous_generation: int) -> dict[str, Any]:
    return _aux_row(f"t{term}", "term", -1, generation, {"df": df, "prev_df": previous_df, "prev_gen": previous_generation})


class _Writer:
    """Inserts a change's rows in batches, and counts what it wrote and each term's df change."""

    def __init__(self, milvus: _Milvus, tables: Mapping[str, str], sparse: bool, state: _State | None) -> None:
        self.milvus, self.tables, self.sparse = milvus, tables, sparse
        self.next_dkey = state.next_dkey if state else 0
        self.next_chunk = state.next_chunk_id if state else 0
        self.next_sentence = state.next_sentence_id if state else 0
        self.seen_chunks = state.chunks if state else 0  # for the average length of the sparse weights
        self.seen_length = state.total_length if state else 0
        self.deltas: Counter[int] = Counter()
        self.docs: list[_Doc] = []
        self._rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in TABLES}
        self._bytes: Counter[str] = Counter()

    def add(self, indexed: IndexedDocument) -> _Doc:
        document = indexed.document
        dkey, first_chunk, first_sentence = self.next_dkey, self.next_chunk, self.next_sentence
        self.next_dkey += 1
        self.next_chunk += len(indexed.chunks)
        self.next_sentence += len(indexed.sentences)
        self.seen_chunks += len(indexed.chunks)
        self.seen_length += sum(indexed.chunk_lengths)
        average = self.seen_length / max(1, self.seen_chunks)
        holders: list[list[int]] = [[] for _ in indexed.sentences]
        for position, (start, end) in enumerate(indexed.chunks):
            inside = indexed.chunk_sentences[position]
            for sentence in inside:
                holders[sentence].append(first_chunk + position)
            counts = indexed.chunk_terms[position]
            terms = sorted(counts)
            row = {"id": first_chunk + position, "dkey": dkey, "start": start, "end": end, "length": indexed.chunk_lengths[position],
                   "sentences": {"ids": [first_sentence + s for s in inside]}, "terms": {"t": terms, "c": [counts[t] for t in terms]},
                   "dense": np.asarray(indexed.chunk_vectors[position], dtype=np.float32)}  # fmt: skip
            if self.sparse:
                tf = np.array([counts[t] for t in terms], dtype=np.float32)
                weights = bm25.term_weights(tf, np.full(len(terms), indexed.chunk_lengths[position]), average)
                row["sparse"] = dict(zip(terms, weights.tolist(), strict=True)) or EMPTY_SPARSE
            self.deltas.update(terms)
            self._append("chunks", row, 4 * len(row["dense"]) + 16 * len(terms))
        for position, (start, end) in enumerate(indexed.sentences):
            row = {"id": first_sentence + position, "dkey": dkey, "start": start, "end": end, "chunks": {"ids": holders[position]},
                   "dense": np.asarray(indexed.sentence_vectors[position], dtype=np.float32)}  # fmt: skip
            self._append("sentences", row, 4 * len(row["dense"]))
        parts = _text_parts(document.text)
        for number, part in enumerate(parts):
            self._append("aux", _aux_row(f"x{dkey}.{number}", "text", dkey, number, {}, part), len(part) * 3)
        stored = StoredDocument(document.entry(), document.checksum, len(document.text), text_fingerprint(document.text), document.manifest_line())
        doc = _Doc(dkey, stored, dict(indexed.names), len(parts), len(indexed.chunks), len(indexed.sentences), sum(indexed.chunk_lengths))
        self._append("aux", _aux_row(f"d{dkey}", "doc", dkey, 0, doc.data()), 1024)
        self.docs.append(doc)
        return doc

    def _append(self, kind: str, row: dict[str, Any], size: int) -> None:
        self._rows[kind].append(row)
        self._bytes[kind] += size
        if len(self._rows[kind]) >= BATCH_ROWS or self._bytes[kind] >= BATCH_BYTES:
            self._insert(kind)

    def _insert(self, kind: str) -> None:
        if self._rows[kind]:
            self.milvus.call("save pieces", self.milvus.client.insert, self.tables[kind], self._rows[kind], timeout=WRITE_TIMEOUT_S)
        self._rows[kind], self._bytes[kind] = [], 0

    def finish(self) -> None:
        for kind in TABLES:
            self._insert(kind)


def _schema(client: MilvusClient, kind: str, dimension: int, sparse: bool) -> Any:
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    if kind in ("chunks", "sentences"):
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("dkey", DataType.INT64)
        schema.add_field("start", DataType.INT32)
        schema.add_field("end", DataType.INT32)
        if kind == "chunks":
            schema.add_field("length", DataType.INT32)
            schema.add_field("sentences", DataType.JSON)  # {"ids": [...]}: 2.3 takes only objects as JSON
            schema.add_field("terms", DataType.JSON)  # {"t": [term ids], "c": [counts]}
        else:
            schema.add_field("chunks", DataType.JSON)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        if kind == "chunks" and sparse:
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    elif kind == "aux":
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)  # d<dkey>, x<dkey>.<part>, t<term id>
        schema.add_field("kind", DataType.VARCHAR, max_length=8)  # doc, text, term
        schema.add_field("dkey", DataType.INT64)  # −1 for terms
        schema.add_field("number", DataType.INT64)  # a text's part; the generation of a term's df
        schema.add_field("data", DataType.JSON)
        schema.add_field("text", DataType.VARCHAR, max_length=65_535)
        schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=len(DUMMY))
    else:  # meta
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("state", DataType.JSON)
        schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=len(DUMMY))
    return schema


def approximate_index(rows: int, vectors: VectorIndexSettings) -> dict[str, Any]:
    """IVF_FLAT for a table of ``rows`` vectors with the lists of ``rag.vectors.build_ivf``: 4·√N,
    yet at least 39 vectors a list (FAISS's minimum for training). Searches pass their nprobe."""
    nlist = max(1, min(int(vectors.ivf_lists_per_sqrt * math.sqrt(rows)), rows // 39, 65_536))
    return {"type": "IVF_FLAT", "nlist": nlist}


def _nprobe(index: Mapping[str, Any], vectors: VectorIndexSettings) -> int:
    """The lists a search probes: a search-time setting (an older state's stored nprobe is ignored)."""
    return min(vectors.ivf_probe, int(index["nlist"]))


class _Rows:
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


def _described(index: Mapping[str, Any], vectors: VectorIndexSettings) -> str:
    return str(index["type"]) + (f" (nlist {index['nlist']}, nprobe {_nprobe(index, vectors)})" if "nlist" in index else "")


def _index_params(client: MilvusClient, kind: str, sparse: bool, index: Mapping[str, Any] = FLAT) -> Any:
    params = client.prepare_index_params()
    if kind in ("chunks", "sentences"):
        # pymilvus 3 flattens ``params`` into the request, where Lite does not look (it kept its
        # default of 128 lists); nested once more, they travel as the JSON both engines read
        params.add_index("dense", index_type=index["type"], metric_type="IP", params={"params": {"nlist": index["nlist"]}} if "nlist" in index else {})
        if kind == "chunks" and sparse:
            params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    else:
        params.add_index("dummy", index_type="FLAT", metric_type="L2")
    return params


class MilvusStore:
    """A collection's index in Milvus (see the module's docstring). Writers hold a file lock in
    ``index/<collection>/``: several writers must run on one machine (readers may run anywhere)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.store is not None
        self.settings = settings
        self.location = parse_location(settings.store)
        self.slug = settings.collection
        self.meta = meta_name(self.slug)
        self.milvus = _Milvus(self.location, settings.store_token)
        self.records = _Cache(200_000)  # (table, id) → (dkey, start, end, related ids)
        self.texts = _Cache(256)  # (table, dkey) → the document's text
        self.vectors = _Cache(20_000)  # (table, sentence id) → its vector (30 MB at 384 dimensions)
        self._loaded: set[str] = set()
        self._view = MilvusView(self, None, {})
        self._adopting = threading.Lock()
        self._writing: int | None = None  # the thread holding writer()
        self._fresh = False  # the view is the latest commit (known while holding writer())

    # ---- reading

    def view(self) -> MilvusView:
        return self._view

    def refresh(self) -> bool:
        """One read of the state row: at Session level (sees this process's commits at once), or
        Strong under ``writer()``, whose changes must start from the latest commit — once: while
        this process holds the lock, no other commits."""
        writing = self._writing == threading.get_ident()
        if writing and self._fresh:
            return False
        state = self._read_state("Strong" if writing else "Session")
        self._fresh = writing
        return state is not None and _newer(state, self._view.state) and self._adopt(self._load(state))

    def _adopt(self, view: MilvusView) -> bool:
        """Make ``view`` current unless a newer one came meanwhile (another thread's refresh or
        commit). Cached rows are keyed by table name and id, which a collection created again
        after a drop uses again: a new instance empties the caches."""
        with self._adopting:
            current = self._view.state
            if view.state is None or not _newer(view.state, current):
                return False
            if current is not None and view.state.instance != current.instance:
                for cache in (self.records, self.texts, self.vectors):
                    cache.clear()
            self._view = view
            return True

    def _read_state(self, consistency: str) -> _State | None:
        if self.meta not in self._loaded and not self._load_tables([self.meta], missing_ok=True):
            return None
        rows = self.milvus.call("read the index state", self.milvus.client.get, self.meta, ids=[STATE_ID],
                                output_fields=["state"], consistency_level=consistency)  # fmt: skip
        return _State.from_json(rows[0]["state"], f"{self.location.shown} ({self.meta})") if rows else None

    def _load_tables(self, names: Iterable[str], missing_ok: bool = False) -> bool:
        """Load collections once per process: Lite reopens every collection released (§9)."""
        for name in names:
            if name in self._loaded:
                continue
            if missing_ok and not self.milvus.call("look for its collections", self.milvus.client.has_collection, name):
                return False
            self.milvus.call("load its collections", self.milvus.client.load_collection, name, timeout=INDEX_TIMEOUT_S)
            self._loaded.add(name)
        return True

    def _load(self, state: _State) -> MilvusView:
        self._load_tables(state.tables.values())
        rows = self.milvus.call("read the documents", self.milvus.client.query, state.tables["aux"],
                                filter=f'kind == "doc" and {state.visible}', output_fields=["dkey", "data"], **_reads(state))  # fmt: skip
        docs = {doc.stored.id: doc for doc in map(_Doc.from_row, rows)}
        if len(docs) != state.documents:
            raise IndexCorruptError(f"the index in {self.location.shown} lists {len(docs)} of its {state.documents} documents: {REBUILD_HINT}")
        return MilvusView(self, state, docs)

    # ---- writing

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        with writer_lock(self.settings.index_dir / "LOCK", self.settings.lock_timeout_s, f"the index of {self.slug} in {self.location.shown}"):
            self._writing, self._fresh = threading.get_ident(), False
            try:
                yield
            finally:
                self._writing = None

    def commit(self, change: Change) -> None:
        """Steps 1–5 of the module's docstring; the caller holds ``writer()``."""
        try:
            self._commit(change)
        except BaseException:
            self._fresh = False  # whether the state row was written is unknown: read it again
            raise

    def _commit(self, change: Change) -> None:
        try:
            self.refresh()
            old = self._view.state
        except IndexCorruptError:
            if not change.rebuild:
                raise
            old = None  # a rebuild replaces an unreadable state; its tables are leftovers
        generation = self._view.generation + 1
        self._clean(old)
        base = None if change.rebuild else old
        docs = dict(self._view.docs) if base is not None else {}
        removed = []
        for doc_id in sorted(change.remove) if base is not None else ():
            if doc_id not in docs:
                raise UnknownDocumentError(f"no document {doc_id!r} in the index")
            removed.append(docs.pop(doc_id))
        dimension = change.fingerprint.dimension
        if base is not None and base.dimension != dimension:  # the collection rebuilds when its model changes
            raise IndexCorruptError(f"vectors of {dimension} dimensions for an index of {base.dimension}: {REBUILD_HINT}")
        # a server upgraded to 2.4+ keeps re-ranking until the next rebuild gives its chunks sparse vectors
        lexical: Lexical = base.lexical if base else "sparse" if self.milvus.sparse else "rerank"
        serial = base.serial if base else (old.serial if old else 0) + 1
        tables = dict(base.tables) if base else {kind: table_name(kind, serial, self.slug) for kind in TABLES}
        try:
            if base is None:  # new tables (a first build or a rebuild); otherwise the ones in use
                self._create_tables(tables, dimension, lexical == "sparse")
            self._fence(generation)  # a write of this generation is under way
            writer = _Writer(self.milvus, tables, lexical == "sparse", base)
            for indexed in change.add:
                docs[indexed.document.id] = writer.add(indexed)
            writer.finish()
            self._update_terms(tables["aux"], self._term_changes(writer, removed, base), generation, base)
            counts = {"chunks": sum(d.chunks for d in docs.values()), "sentences": sum(d.sentences for d in docs.values())}
            index = dict(base.index) if base else {"chunks": dict(FLAT), "sentences": dict(FLAT)}
            for kind, count in counts.items():
                if count > self.settings.vectors.exact_max and index[kind] == FLAT:
                    index[kind] = approximate_index(count, self.settings.vectors)
                    if base is None:  # no reader uses this table yet
                        self._switch_index(tables[kind], index[kind])
                    else:  # readers use this table: its rows move to a new one, named at the commit point
                        serial += 1
                        hidden = [d.dkey for d in removed] + list(base.removed)
                        end = writer.next_chunk if kind == "chunks" else writer.next_sentence
                        tables[kind] = self._copy(kind, tables[kind], table_name(kind, serial, self.slug), dimension, lexical == "sparse",
                                                  index[kind], _visible(writer.next_dkey, hidden), end, base)  # fmt: skip
            if self.location.lite or writer.next_chunk - (base.next_chunk_id if base else 0) >= FLUSH_CHUNKS:
                _in_parallel(lambda name: self.milvus.call("flush", self.milvus.client.flush, name, timeout=INDEX_TIMEOUT_S), tables.values())
            state = _State(
                instance=old.instance if old else uuid.uuid4().hex, generation=generation, ts=self._fence(generation),
                updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"), fingerprint=change.fingerprint, corpus_state=change.corpus_state,
                tables=tables, serial=serial, dimension=dimension, lexical=lexical, index=index, next_dkey=writer.next_dkey,
                removed=tuple(sorted(d.dkey for d in removed)), next_chunk_id=writer.next_chunk,
                next_sentence_id=writer.next_sentence, documents=len(docs), chunks=counts["chunks"],
                sentences=counts["sentences"], total_length=sum(d.length for d in docs.values()),
            )  # fmt: skip
        except Exception:
            with contextlib.suppress(RagError):
                self._clean(old)  # what this write left; a crash leaves it to the next writer
            raise
        self._publish(state)
        self._adopt(MilvusView(self, state, docs))
        self._after_publish(old, state)

    def rework(self, fingerprint: Fingerprint, derive: TermsOf | None) -> None:
        """A rebuild into new tables from what the tables hold: offsets, vectors and texts are read
        back (never encoded again), terms and names kept or derived again by ``derive``. Milvus
        changes neither a table's index nor its rows in place while readers use it: new tables,
        named at the commit point, as for any rebuild."""
        self.refresh()
        state = self._view.state
        assert state is not None, "nothing to rework in an empty index"
        self.commit(Change(self._stored(self._view, derive), frozenset(), fingerprint, state.corpus_state, rebuild=True))

    def _stored(self, view: MilvusView, derive: TermsOf | None) -> Iterator[IndexedDocument]:
        """The view's documents as ingestion made them, in document-key order. Pieces are read a
        window of ids at a time, as ``_copy`` does: a document's ids follow one another, and later
        documents have higher ids."""
        assert view.state is not None
        state = view.state
        chunks = _Rows(self._rows(state, "chunks", ["id", "dkey", "start", "end", "length", "sentences", "terms", "dense"], state.next_chunk_id))
        sentences = _Rows(self._rows(state, "sentences", ["id", "dkey", "start", "end", "dense"], state.next_sentence_id))
        docs = sorted(view.docs.values(), key=lambda doc: doc.dkey)
        for start in range(0, len(docs), 100):
            batch = docs[start : start + 100]
            texts = view.documents([doc.stored.id for doc in batch])
            for doc in batch:
                document = texts[doc.stored.id]
                chunk_rows, sentence_rows = chunks.take(doc.dkey), sentences.take(doc.dkey)
                spans = [(int(row["start"]), int(row["end"])) for row in chunk_rows]
                position = {int(row["id"]): n for n, row in enumerate(sentence_rows)}
                terms = derive(document.text, spans) if derive else Terms(
                    tuple(dict(zip(row["terms"]["t"], row["terms"]["c"], strict=True)) for row in chunk_rows),
                    tuple(int(row["length"]) for row in chunk_rows), doc.names)  # fmt: skip
                yield IndexedDocument(
                    document=document, chunks=tuple(spans), sentences=tuple((int(r["start"]), int(r["end"])) for r in sentence_rows),
                    chunk_sentences=tuple(tuple(position[int(i)] for i in row["sentences"]["ids"]) for row in chunk_rows),
                    chunk_terms=terms.chunk_terms, chunk_lengths=terms.chunk_lengths,
                    chunk_vectors=np.asarray([row["dense"] for row in chunk_rows], dtype=np.float32).reshape(-1, state.dimension),
                    sentence_vectors=np.asarray([row["dense"] for row in sentence_rows], dtype=np.float32).reshape(-1, state.dimension),
                    names=terms.names,
                )  # fmt: skip

    def _rows(self, state: _State, kind: str, fields: list[str], end: int) -> Iterator[dict[str, Any]]:
        """The visible rows of a table of ``state`` in id order."""
        for start in range(0, end, BATCH_ROWS):
            rows = self.milvus.call("read pieces", self.milvus.client.query, state.tables[kind], output_fields=fields,
                                    filter=f"id >= {start} and id < {start + BATCH_ROWS} and {state.visible}", **_reads(state))  # fmt: skip
            yield from sorted(rows, key=lambda row: int(row["id"]))

    def _term_changes(self, writer: _Writer, removed: list[_Doc], base: _State | None) -> Counter[int]:
        """Each term's df change: +1 per added chunk holding it, −1 per removed one."""
        changes = Counter(writer.deltas)
        if removed and base is not None:
            rows = self.milvus.call("read the removed pieces", self.milvus.client.query, base.tables["chunks"],
                                    filter=f"dkey in {[d.dkey for d in removed]}", output_fields=["terms"], **_reads(base))  # fmt: skip
            changes.subtract(term for row in rows for term in row["terms"]["t"])
        return changes

    def _update_terms(self, aux: str, changes: Counter[int], generation: int, base: _State | None) -> None:
        """New df rows for the changed terms, each keeping its previous value (readers of the
        previous generation use it). Read-modify-write of full rows: 2.3 has no partial upsert (§3).
        The read waits for the last commit and this write's own reverts (``_clean``), nothing else."""
        changed = [term for term, delta in changes.items() if delta]
        current: dict[str, dict[str, Any]] = {}
        level = self._writer_reads(base, aux)
        for start in range(0, len(changed) if base else 0, BATCH_ROWS):
            keys = [f"t{term}" for term in changed[start : start + BATCH_ROWS]]
            rows = self.milvus.call("read term statistics", self.milvus.client.query, aux, filter=f"key in {keys}",
                                    output_fields=["key", "number", "data"], **level)  # fmt: skip
            current.update((row["key"], row) for row in rows)
        rows = []
        for term in changed:
            row = current.get(f"t{term}")
            before, before_generation = (int(row["data"]["df"]), int(row["number"])) if row else (0, 0)
            rows.append(_term_row(term, before + changes[term], generation, before, before_generation))
        write = self.milvus.client.upsert if base else self.milvus.client.insert
        for start in range(0, len(rows), BATCH_ROWS):
            self.milvus.call("save term statistics", write, aux, rows[start : start + BATCH_ROWS], timeout=WRITE_TIMEOUT_S)

    def _writer_reads(self, base: _State | None, table: str) -> dict[str, Any]:
        """Reads of a writer see the last commit and this process's writes to ``table`` (its
        reverts, its new rows), without waiting for anything newer."""
        ts = max(base.ts if base else 0, self.milvus.last_write_ts(table))
        return {"consistency_level": "Customized", "guarantee_timestamp": ts} if ts else {"consistency_level": "Strong"}

    def _fence(self, generation: int) -> int:
        """The fence row names the generation being written. It is upserted before a write's first
        row (``has_leftovers`` compares it with the state's generation) and after its last: the
        timestamp of that upsert is the commit's (0 on Lite)."""
        self.milvus.call("save the index state", self.milvus.client.upsert, self.meta,
                         [{"id": FENCE_ID, "state": {"generation": generation}, "dummy": DUMMY}], timeout=WRITE_TIMEOUT_S)  # fmt: skip
        return self.milvus.last_write_ts(self.meta)

    def _publish(self, state: _State) -> None:
        """The commit point: one upsert of the state row."""
        self.milvus.call("save the index state", self.milvus.client.upsert, self.meta,
                         [{"id": STATE_ID, "state": state.to_json(), "dummy": DUMMY}], timeout=WRITE_TIMEOUT_S)  # fmt: skip

    def _after_publish(self, old: _State | None, state: _State) -> None:
        """Drop the tables the new state no longer names (a crash here leaves them to the next writer)."""
        for name in set(old.tables.values()) - set(state.tables.values()) if old else ():
            self.milvus.call("drop replaced collections", self.milvus.client.drop_collection, name, timeout=WRITE_TIMEOUT_S)
            self._loaded.discard(name)

    def _create_tables(self, tables: Mapping[str, str], dimension: int, sparse: bool, index: Mapping[str, Any] = FLAT) -> None:
        """Create (and load) the tables, and the meta collection if missing, in parallel: loading
        one takes ≈ 2.4 s on 2.3 whatever its size (≈ 3 s for all four at once)."""
        client = self.milvus.client
        wanted = dict(tables)
        if not self.milvus.call("look for its collections", client.has_collection, self.meta):
            wanted["meta"] = self.meta

        def create(kind: str) -> None:
            self.milvus.call("create its collections", client.create_collection, wanted[kind], schema=_schema(client, kind, dimension, sparse),
                             index_params=_index_params(client, kind, sparse, index), consistency_level="Bounded", timeout=INDEX_TIMEOUT_S)  # fmt: skip
            self._loaded.add(wanted[kind])

        _in_parallel(create, wanted)

    def _switch_index(self, name: str, index: Mapping[str, Any]) -> None:
        """Change the dense index of a table no reader uses yet. The server indexes sealed segments
        only: a flush first, and ``create_index`` returns once the index is built."""
        client = self.milvus.client
        self.milvus.call("change an index", client.release_collection, name, timeout=INDEX_TIMEOUT_S)
        self.milvus.call("change an index", client.drop_index, name, "dense", timeout=INDEX_TIMEOUT_S)
        self.milvus.call("change an index", client.flush, name, timeout=INDEX_TIMEOUT_S)
        self.milvus.call("change an index", client.create_index, name, _index_params(client, "chunks", False, index), timeout=INDEX_TIMEOUT_S)
        self.milvus.call("change an index", client.load_collection, name, timeout=INDEX_TIMEOUT_S)

    def _copy(self, kind: str, source: str, target: str, dimension: int, sparse: bool, index: Mapping[str, Any], visible: str,
              end: int, base: _State) -> str:  # fmt: skip
        """The ``visible`` rows of ``source`` (ids below ``end``) in a new table ``target``, a window of
        ids at a time: ids are dense, and pymilvus' query iterator saw none of the rows just written
        on 2.3."""
        self._create_tables({kind: target}, dimension, sparse, index)
        fields = [f.name for f in _schema(self.milvus.client, kind, dimension, sparse).fields]
        reads = self._writer_reads(base, source)
        for start in range(0, end, BATCH_ROWS):
            rows = self.milvus.call("read pieces", self.milvus.client.query, source, filter=f"id >= {start} and id < {start + BATCH_ROWS} and {visible}",
                                    output_fields=fields, **reads)  # fmt: skip
            if rows:
                self.milvus.call("save pieces", self.milvus.client.insert, target, rows, timeout=WRITE_TIMEOUT_S)
        if not self.location.lite:  # the server builds the index of sealed segments only (Lite is flushed at the end)
            self.milvus.call("change an index", self.milvus.client.flush, target, timeout=INDEX_TIMEOUT_S)
        return target

    # ---- leftovers of dead writes

    def _clean(self, state: _State | None) -> None:
        """Step 1: collections ``state`` does not name, rows of writes after it, rows it removed,
        and term rows of a generation after it (reverted to their previous value)."""
        client = self.milvus.client
        for name in self.milvus.call("list collections", client.list_collections):
            if _owned(name, self.slug) and (state is None or name not in state.tables.values()):
                self.milvus.call("drop leftover collections", client.drop_collection, name, timeout=WRITE_TIMEOUT_S)
                self._loaded.discard(name)
        if state is None:
            return
        self._load_tables(state.tables.values())
        stale = f"dkey >= {state.next_dkey}" + (f" or dkey in {list(state.removed)}" if state.removed else "")

        def clean(name: str | None) -> list[dict[str, Any]]:  # each waits for a time tick: all at once
            if name is not None:
                self.milvus.call("remove leftovers", client.delete, name, filter=stale, timeout=WRITE_TIMEOUT_S)
                return []
            return self.milvus.call("read term statistics", client.query, state.tables["aux"], filter=f'kind == "term" and number > {state.generation}',
                                    output_fields=["key", "number", "data"], consistency_level="Strong")  # fmt: skip

        rows = _in_parallel(clean, [None, *state.tables.values()])[0]
        reverted = [_term_row(int(row["key"][1:]), int(row["data"]["prev_df"]), int(row["data"]["prev_gen"]),
                              int(row["data"]["prev_df"]), int(row["data"]["prev_gen"])) for row in rows]  # fmt: skip
        for start in range(0, len(reverted), BATCH_ROWS):
            self.milvus.call("remove leftovers", client.upsert, state.tables["aux"], reverted[start : start + BATCH_ROWS], timeout=WRITE_TIMEOUT_S)

    def has_leftovers(self) -> bool:
        """Whether a write died: its fence names a generation after the state's, or collections
        the state does not name exist. One read of both rows (Session level: a write killed less
        than ~0.4 s ago may be missed here, never by the next commit's cleanup) and a listing."""
        if not self._load_tables([self.meta], missing_ok=True):
            return False
        rows = self.milvus.call("look for leftovers", self.milvus.client.get, self.meta, ids=[STATE_ID, FENCE_ID],
                                output_fields=["state"], consistency_level="Session")  # fmt: skip
        written = {int(row["id"]): row["state"] for row in rows}
        committed = int(written.get(STATE_ID, {}).get("generation", 0))
        tables = set(written.get(STATE_ID, {}).get("tables", {}).values())
        names = {name for name in self.milvus.call("list collections", self.milvus.client.list_collections) if _owned(name, self.slug)}
        return int(written.get(FENCE_ID, {}).get("generation", 0)) > committed or bool(names - tables)

    def remove_leftovers(self) -> None:
        try:
            self.refresh()
        except IndexCorruptError:
            return  # the rebuild that follows replaces everything
        state = self._view.state
        self._clean(state)
        if self._load_tables([self.meta], missing_ok=True):
            self._fence(state.generation if state else 0)  # nothing is under way any more

    # ---- checking

    def check(self, checksums: bool) -> Check:
        """The state row readable and every collection it names present; with ``checksums``, their
        visible rows as many as it counts. Milvus keeps its own checksums of what it stores: any
        damage found here is repaired by rebuilding the index."""
        try:
            state = self._read_state("Strong")
        except IndexCorruptError as error:
            return Check((Damage(self.meta, str(error), "everything"),), "the state row")
        if state is None:
            return Check((), "no index yet")
        present = set(self.milvus.call("list collections", self.milvus.client.list_collections))
        damage = [Damage(name, "is missing", "everything") for name in state.tables.values() if name not in present]
        if checksums and not damage:
            self._load_tables(state.tables.values())
            expected = {"chunks": (state.chunks, state.visible), "sentences": (state.sentences, state.visible),
                        "aux": (state.documents, f'kind == "doc" and {state.visible}')}  # fmt: skip
            for kind, (count, condition) in expected.items():
                rows = self.milvus.call("count rows", self.milvus.client.query, state.tables[kind], filter=condition,
                                        output_fields=["count(*)"], **_reads(state))  # fmt: skip
                if int(rows[0]["count(*)"]) != count:
                    damage.append(Damage(state.tables[kind], f"holds {rows[0]['count(*)']:,} rows where the state counts {count:,}", "everything"))
        what = "the state row and its collections" + (" with their row counts" if checksums else "")
        return Check(tuple(damage), what)

    def repair(self, damage: Sequence[Damage]) -> None:
        """Nothing to remove: ``check`` finds only damage that a rebuild repairs."""

    # ---- the rest

    def exists(self) -> bool:
        try:
            return self._read_state("Session") is not None
        except IndexCorruptError:
            return True

    def info(self) -> StoreInfo:
        state = self._view.state
        backend = "Milvus Lite" if self.location.lite else f"Milvus {self.milvus.release} server"
        if state is None:
            return StoreInfo(backend, self.location.shown, 0, 0, 0, "", 0)
        lexical = "sparse vectors (SPARSE_INVERTED_INDEX), re-scored exactly" if state.lexical == "sparse" else "BM25 re-ranks the dense candidates (Milvus < 2.4)"
        details = {"chunk vectors": _described(state.index["chunks"], self.settings.vectors),
                   "sentence vectors": _described(state.index["sentences"], self.settings.vectors), "lexical": lexical,
                   "collections": ", ".join([self.meta, *state.tables.values()])}  # fmt: skip
        return StoreInfo(backend, self.location.shown, state.documents, state.chunks, state.sentences, state.updated, state.generation, details)

    def drop(self) -> None:
        client = self.milvus.client
        for name in self.milvus.call("list collections", client.list_collections):
            if _owned(name, self.slug) or name == self.meta:
                self.milvus.call("drop its collections", client.drop_collection, name, timeout=WRITE_TIMEOUT_S)
        self._loaded.clear()
        for cache in (self.records, self.texts, self.vectors):
            cache.clear()
        self._view = MilvusView(self, None, {})

    def close(self) -> None:
        self.milvus.close()
