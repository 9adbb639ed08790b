"""A segment of the local store: an immutable folder holding some documents' pieces, vectors and
postings, written once and never changed (a removal is recorded by the store, not here).

Arrays are raw little-endian files whose dtype and shape ``segment.json`` records, with each file's
size and sha256: they are memory-mapped, so a large segment costs memory only for the rows a
question touches. A segment above ``exact_max`` vectors also stores an IVF-SQ8 index of them.
Documents are lines of ``entries.jsonl`` and ``manifest.jsonl``, read when first needed; their ids
and names, which opening needs, are also in ``ids.json`` and ``names.json`` (``LOOKUPS``).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Iterable, Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.config import VectorIndexSettings
from rag.document import Document, from_entry, text_fingerprint
from rag.errors import IndexCorruptError
from rag.files import file_sha256, fsync_dir
from rag.store.base import REBUILD_HINT, IndexedDocument, StoredDocument, TermsOf
from rag.store.entries import Lines, Names, Stored, names_of_entries, names_of_lookup
from rag.vectors import IndexKind, build_ivf, choose_kind

SEGMENT_FILE = "segment.json"
IN_MEMORY = ("chunk_ids", "chunk_docs", "chunk_spans", "chunk_lengths", "sentence_ids", "sentence_docs", "sentence_spans",
             "chunk_sentence_ptr", "chunk_sentence_rows", "sentence_chunk_ptr", "sentence_chunk_rows", "terms", "term_ptr")
MAPPED = ("chunk_vectors.bin", "sentence_vectors.bin", "posting_rows.bin", "posting_counts.bin")  # besides texts and IVF files
FORMAT = 2  # 2: manifest.jsonl
# Added to format 2 without changing it (a reader of format 2 that does not know them ignores them);
# a segment written without them gets them from the next writer (``link_with_lookups``).
LOOKUPS = ("ids.json", "names.json")


class _Column:
    """An array written to a raw file as it grows, hashed on the way."""

    def __init__(self, path: Path, dtype: str, width: int | None = None) -> None:
        self.path, self.dtype, self.width, self.rows = path, np.dtype(dtype), width, 0
        self._handle = path.open("wb")
        self._digest = hashlib.sha256()

    def append(self, values: np.ndarray) -> None:
        data = np.ascontiguousarray(values, dtype=self.dtype)
        if self.width is not None and data.size:
            data = data.reshape(-1, self.width)
        raw = data.tobytes()
        self._handle.write(raw)
        self._digest.update(raw)
        self.rows += len(data)

    def finish(self) -> dict[str, Any]:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        shape = [self.rows] if self.width is None else [self.rows, self.width]
        return {"dtype": self.dtype.str, "shape": shape, "bytes": self.path.stat().st_size, "sha256": self._digest.hexdigest()}


class _Lines:
    """A file of lines written as it grows, hashed on the way: JSON values, or (``encode=False``)
    lines that are JSON already."""

    def __init__(self, path: Path, encode: bool = True) -> None:
        self.path = path
        self.encode = encode
        self._handle = path.open("wb")
        self._digest = hashlib.sha256()

    def append(self, value: object) -> None:
        line = (json.dumps(value, ensure_ascii=False) if self.encode else str(value)).encode() + b"\n"
        self._handle.write(line)
        self._digest.update(line)

    def finish(self) -> dict[str, Any]:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        return {"bytes": self.path.stat().st_size, "sha256": self._digest.hexdigest()}


class SegmentWriter:
    """Writes a segment into an empty folder, document by document; ``finish`` seals it."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        self.dimension = dimension
        columns = {
            "chunk_ids": ("<i8", None), "chunk_docs": ("<i4", None), "chunk_spans": ("<i4", 2), "chunk_lengths": ("<i4", None),
            "sentence_ids": ("<i8", None), "sentence_docs": ("<i4", None), "sentence_spans": ("<i4", 2),
            "chunk_vectors": ("<f4", dimension), "sentence_vectors": ("<f4", dimension),
        }  # fmt: skip
        self._columns = {name: _Column(folder / f"{name}.bin", dtype, width) for name, (dtype, width) in columns.items()}
        self._entries = _Lines(folder / "entries.jsonl")
        self._texts = _Lines(folder / "texts.jsonl")
        self._manifest_lines = _Lines(folder / "manifest.jsonl", encode=False)
        self._ids: list[str] = []
        self._names: dict[int, Names] = {}  # row → names, for the documents that have any
        self._documents = 0
        self._chunk_sentences: list[np.ndarray] = []  # per chunk, sentence rows of this segment
        self._postings: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (terms, chunk rows, counts)

    @property
    def chunks(self) -> int:
        return self._columns["chunk_ids"].rows

    @property
    def sentences(self) -> int:
        return self._columns["sentence_ids"].rows

    def add(self, indexed: IndexedDocument, first_chunk_id: int, first_sentence_id: int) -> None:
        """Append a document; its chunks and sentences get consecutive ids from the given ones."""
        document = indexed.document
        chunk_count, sentence_count = len(indexed.chunks), len(indexed.sentences)
        stored = StoredDocument.of(document)
        self._append_document(stored, indexed.names, document.text)
        sentence_row = self.sentences
        self._append_pieces(
            chunk_ids=np.arange(first_chunk_id, first_chunk_id + chunk_count),
            chunk_spans=np.asarray(indexed.chunks, dtype=np.int32).reshape(-1, 2),
            chunk_lengths=np.asarray(indexed.chunk_lengths, dtype=np.int32),
            sentence_ids=np.arange(first_sentence_id, first_sentence_id + sentence_count),
            sentence_spans=np.asarray(indexed.sentences, dtype=np.int32).reshape(-1, 2),
            chunk_vectors=indexed.chunk_vectors,
            sentence_vectors=indexed.sentence_vectors,
        )
        self._chunk_sentences += [np.asarray(inside, dtype=np.int64) + sentence_row for inside in indexed.chunk_sentences]
        chunk_row = self.chunks - chunk_count
        for offset, counts in enumerate(indexed.chunk_terms):
            terms = np.fromiter(counts.keys(), dtype=np.uint32, count=len(counts))
            values = np.fromiter(counts.values(), dtype=np.int32, count=len(counts))
            self._postings.append((terms, np.full(len(counts), chunk_row + offset, dtype=np.int32), values))
        self._documents += 1

    def copy_documents(self, segment: Segment, rows: Iterable[int], derive: TermsOf | None = None) -> None:
        """Append documents of another segment as they are (same ids, vectors, postings), or with
        their chunks' terms and their names derived again from their texts by ``derive``."""
        for row in rows:
            stored = segment.stored[row]
            text = segment.text(row)
            chunks, sentences = segment.chunk_rows_of(row), segment.sentence_rows_of(row)
            derived = derive(text, [(int(s), int(e)) for s, e in segment.chunk_spans[chunks]]) if derive else None
            self._append_document(stored, derived.names if derived else segment.names[row], text)
            sentence_row, chunk_row = self.sentences, self.chunks
            self._append_pieces(
                chunk_ids=segment.chunk_ids[chunks], chunk_spans=segment.chunk_spans[chunks],
                chunk_lengths=np.asarray(derived.chunk_lengths, dtype=np.int32) if derived else segment.chunk_lengths[chunks],
                sentence_ids=segment.sentence_ids[sentences], sentence_spans=segment.sentence_spans[sentences],
                chunk_vectors=segment.chunk_vectors[chunks], sentence_vectors=segment.sentence_vectors[sentences],
            )  # fmt: skip
            first_sentence = sentences[0] if len(sentences) else 0
            self._chunk_sentences += [segment.sentences_of_chunk(c) - first_sentence + sentence_row for c in chunks]
            for offset, chunk in enumerate(chunks):
                if derived:
                    counted = derived.chunk_terms[offset]
                    terms = np.fromiter(counted.keys(), dtype=np.uint32, count=len(counted))
                    counts = np.fromiter(counted.values(), dtype=np.int32, count=len(counted))
                else:
                    terms, counts = segment.terms_of_chunk(int(chunk))
                self._postings.append((terms, np.full(len(terms), chunk_row + offset, dtype=np.int32), counts))
            self._documents += 1

    def _append_document(self, stored: StoredDocument, names: Names, text: str) -> None:
        self._entries.append(stored.row(names))
        self._texts.append(text)
        self._manifest_lines.append(stored.manifest_line)
        self._ids.append(stored.id)
        if names:
            self._names[self._documents] = names

    def _append_pieces(self, **arrays: np.ndarray) -> None:
        document_row = self._documents
        for name, values in arrays.items():
            self._columns[name].append(values)
        self._columns["chunk_docs"].append(np.full(len(arrays["chunk_ids"]), document_row, dtype=np.int32))
        self._columns["sentence_docs"].append(np.full(len(arrays["sentence_ids"]), document_row, dtype=np.int32))

    def finish(self, name: str, vector_settings: VectorIndexSettings) -> dict[str, Any]:
        """Write the maps, postings and vector indexes, then ``segment.json``; returns its content."""
        files: dict[str, Any] = {f"{column}.bin": spec for column, spec in ((c, col.finish()) for c, col in self._columns.items())}
        files["entries.jsonl"] = self._entries.finish()
        files["texts.jsonl"] = self._texts.finish()
        files["manifest.jsonl"] = self._manifest_lines.finish()
        files |= _write_lookups(self.folder, self._ids, self._names)
        chunk_ptr, chunk_sentence_rows = _csr(self._chunk_sentences)
        sentence_ptr, sentence_chunk_rows = _transpose(chunk_ptr, chunk_sentence_rows, self.sentences)
        terms, term_ptr, posting_rows, posting_counts = _postings(self._postings)
        for column, values in (("chunk_sentence_ptr", chunk_ptr), ("chunk_sentence_rows", chunk_sentence_rows),
                               ("sentence_chunk_ptr", sentence_ptr), ("sentence_chunk_rows", sentence_chunk_rows),
                               ("terms", terms), ("term_ptr", term_ptr), ("posting_rows", posting_rows),
                               ("posting_counts", posting_counts)):  # fmt: skip
            writer = _Column(self.folder / f"{column}.bin", values.dtype.str)
            writer.append(values)
            files[f"{column}.bin"] = writer.finish()
        description = {
            "format": FORMAT, "name": name, "documents": self._documents, "chunks": self.chunks,
            "sentences": self.sentences, "dimension": self.dimension, "files": files,
        }  # fmt: skip
        return _seal(self.folder, description, vector_settings)


def _write_lookups(folder: Path, ids: list[str], names: Mapping[int, Names]) -> dict[str, Any]:
    """``ids.json`` (the documents' ids, in row order) and ``names.json`` (row → names, for the
    documents that have any); their specs for ``segment.json``."""
    ids_file, names_file = _Lines(folder / "ids.json"), _Lines(folder / "names.json")
    ids_file.append(ids)
    names_file.append({str(row): {word: list(tokens) for word, tokens in found.items()} for row, found in names.items()})
    return {"ids.json": ids_file.finish(), "names.json": names_file.finish()}


def _seal(folder: Path, description: dict[str, Any], vector_settings: VectorIndexSettings) -> dict[str, Any]:
    """Build the vector indexes ``vector_settings`` ask for, then write ``segment.json`` and sync."""
    files = dict(description["files"])
    kinds: dict[str, IndexKind] = {}
    for part in ("chunk", "sentence"):
        kinds[part] = choose_kind(description[f"{part}s"], vector_settings)
        if kinds[part] == "ivf-sq8":
            vectors = _map(folder / f"{part}_vectors.bin", files[f"{part}_vectors.bin"])
            path = folder / f"{part}_vectors.ivf"
            faiss.write_index(build_ivf(vectors, vector_settings), str(path))
            files[path.name] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    return _describe(folder, {**description, "kinds": kinds, "files": files})


def _describe(folder: Path, description: dict[str, Any]) -> dict[str, Any]:
    """Write ``segment.json`` and sync the folder: the segment is complete."""
    (folder / SEGMENT_FILE).write_text(json.dumps(description, indent=1), encoding="utf-8")
    for path in folder.iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    fsync_dir(folder)
    return description


def has_lookups(segment: Segment) -> bool:
    return all(file in segment.description["files"] for file in LOOKUPS)


def link_with_lookups(segment: Segment, folder: Path, name: str) -> dict[str, Any]:
    """``segment`` again as ``name`` in the empty ``folder``, its files shared (hard links) and
    ``ids.json`` and ``names.json`` added: how a segment written before them gets them, with no
    other work (3.05 – 3.40 s, once, for the 1M-chunk archive: eval/reports/experiments.md)."""
    files = dict(segment.description["files"])
    for file in files:
        os.link(segment.folder / file, folder / file)
    files |= _write_lookups(folder, segment.stored.ids, {row: names for row, names in enumerate(segment.names) if names})
    return _describe(folder, segment.description | {"name": name, "files": files})


def has_current_indexes(segment: Segment, vector_settings: VectorIndexSettings) -> bool:
    """Whether the segment's vector indexes are what ``vector_settings`` give: exact search where it
    stays exact; an IVF index was built with the settings' lists, which it does not record, so a
    segment holding one is rebuilt."""
    kinds = segment.description["kinds"]
    return not segment.ann and all(kinds[part] == choose_kind(segment.description[f"{part}s"], vector_settings) for part in kinds)


def link_with_new_indexes(source: Path, folder: Path, name: str, vector_settings: VectorIndexSettings) -> dict[str, Any]:
    """The segment in ``source`` again as ``name`` in the empty ``folder``: its files shared (hard
    links: segments are never modified) but its vector indexes, built again from its float32 vectors
    (which is also how a damaged IVF file is repaired)."""
    description = json.loads((source / SEGMENT_FILE).read_text(encoding="utf-8"))
    files = {file: spec for file, spec in description["files"].items() if not file.endswith(".ivf")}
    for file in files:
        os.link(source / file, folder / file)
    description = {key: value for key, value in description.items() if key != "kinds"}
    return _seal(folder, description | {"name": name, "files": files}, vector_settings)


def _csr(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=ptr[1:])
    values = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, np.int32)
    return ptr, values


def _transpose(ptr: np.ndarray, values: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Sentence → chunks from chunk → sentences (rows in increasing order within each list)."""
    owners = np.repeat(np.arange(len(ptr) - 1, dtype=np.int32), np.diff(ptr))
    order = np.argsort(values, kind="stable")
    counts = np.bincount(values, minlength=columns) if len(values) else np.zeros(columns, np.int64)
    out_ptr = np.zeros(columns + 1, dtype=np.int64)
    np.cumsum(counts, out=out_ptr[1:])
    return out_ptr, owners[order]


def _postings(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """Term-sorted postings: (terms, term_ptr, chunk rows, counts)."""
    if not parts:
        return np.zeros(0, np.uint32), np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    terms = np.concatenate([p[0] for p in parts])
    rows = np.concatenate([p[1] for p in parts])
    counts = np.concatenate([p[2] for p in parts])
    order = np.lexsort((rows, terms))
    terms, rows, counts = terms[order], rows[order], counts[order]
    unique, starts = np.unique(terms, return_index=True)
    ptr = np.append(starts, len(terms)).astype(np.int64)
    return unique.astype(np.uint32), ptr, rows.astype(np.int32), counts.astype(np.int32)


def _map(path: Path, spec: dict[str, Any]) -> np.ndarray:
    shape = tuple(spec["shape"])
    if spec["bytes"] == 0:
        return np.zeros(shape, dtype=np.dtype(spec["dtype"]))
    return np.memmap(path, dtype=np.dtype(spec["dtype"]), mode="r", shape=shape)


def _mapped_ivf(path: Path) -> faiss.Index:
    """An IVF index whose lists stay in the mapped file. FAISS maps them as OnDiskInvertedLists,
    which by default starts 32 threads per search to read the probed lists ahead, still reading
    after the search returned: on 2 cores they compete with the search itself, and one reading a
    file truncated meanwhile killed the process (SIGBUS, in tests/rag/test_collection.py's damaged
    vector index test). The search reads the lists it probes anyway."""
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
    lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(index).invlists)
    if isinstance(lists, faiss.OnDiskInvertedLists):
        lists.prefetch_nthread = 0
    return index


def _stamp(path: Path) -> tuple[int, int, int]:
    status = os.stat(path)
    return status.st_ino, status.st_size, status.st_mtime_ns


def _ascending(owners: np.ndarray) -> bool:
    return bool(np.all(owners[1:] >= owners[:-1]))


def _corrupt(path: Path, why: str) -> IndexCorruptError:
    return IndexCorruptError(f"index file {path} {why}: {REBUILD_HINT}")


def file_problems(folder: Path, files: dict[str, Any], checksums: bool) -> dict[str, str]:
    """File name → what is wrong with it: missing, another size than recorded, or (``checksums``,
    which reads every byte) another content."""
    problems = {}
    for name, expected in files.items():
        try:
            size = (folder / name).stat().st_size
        except FileNotFoundError:
            problems[name] = "is missing"
            continue
        if size != expected["bytes"]:
            problems[name] = f"is {size:,} bytes, expected {expected['bytes']:,} (truncated?)"
        elif checksums and file_sha256(folder / name) != expected["sha256"]:
            problems[name] = "does not match its checksum (corrupt)"
    return problems


class Segment:
    """A sealed segment, opened read-only. Opening checks that every file has its recorded size, so
    nothing is mapped past a file's end (a truncated mapped file kills the process with SIGBUS);
    checksums are read by ``rag.store.checks.examine`` (``rag build``, ``rag verify``), not on every
    open: the 100k-chunk archive (1.1 GB) took 2.1 s to open when every open hashed every file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        path = folder / SEGMENT_FILE
        try:
            self.description: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            files = self.description["files"]
            if self.description.get("format") != FORMAT:
                raise ValueError(f"written by another version: format {self.description.get('format')}, this version reads {FORMAT}")
        except FileNotFoundError:
            raise _corrupt(path, "is missing") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise _corrupt(path, f"is unreadable ({error})") from None
        problems = file_problems(folder, files, checksums=False)
        if problems:
            name, problem = next(iter(problems.items()))
            raise _corrupt(folder / name, problem)
        arrays = {name.removesuffix(".bin"): _map(folder / name, spec) for name, spec in files.items() if name.endswith(".bin")}
        # Offsets, ids and maps are read into memory (tens of bytes a piece: about 300 MB at 1M chunks and
        # 6.4M sentences) because every question looks some up; vectors and postings stay mapped.
        for name in IN_MEMORY:
            arrays[name] = np.array(arrays[name])
        try:
            self.chunk_ids, self.chunk_docs = arrays["chunk_ids"], arrays["chunk_docs"]
            self.chunk_spans, self.chunk_lengths = arrays["chunk_spans"], arrays["chunk_lengths"]
            self.sentence_ids, self.sentence_docs, self.sentence_spans = arrays["sentence_ids"], arrays["sentence_docs"], arrays["sentence_spans"]
            self.chunk_vectors, self.sentence_vectors = arrays["chunk_vectors"], arrays["sentence_vectors"]
            self.chunk_sentence_ptr, self.chunk_sentence_rows = arrays["chunk_sentence_ptr"], arrays["chunk_sentence_rows"]
            self.sentence_chunk_ptr, self.sentence_chunk_rows = arrays["sentence_chunk_ptr"], arrays["sentence_chunk_rows"]
            self.terms, self.term_ptr = arrays["terms"], arrays["term_ptr"]
            self.posting_rows, self.posting_counts = arrays["posting_rows"], arrays["posting_counts"]
            # open now, read when first needed: a newer generation may delete the folder meanwhile
            self._line_files = {file: (folder / file).open("rb") for file in ("entries.jsonl", "manifest.jsonl")}
            if has_lookups(self):
                self.stored = Stored(json.loads((folder / "ids.json").read_bytes()), self._read_lines)
                self.names = names_of_lookup(len(self.stored), json.loads((folder / "names.json").read_bytes()))
            else:  # written before the look-up files: ids and names from the lines
                self.stored = Stored.of_lines(*self._read_lines())
                self.names = names_of_entries(self.stored.lines()[0])
            self.name_rows: dict[str, list[int]] = {}  # Latin name word → the documents writing it both ways
            for row, names in enumerate(self.names):
                for word in names:
                    self.name_rows.setdefault(word, []).append(row)
            # mapped, not read: the inverted lists a question probes are paged in (1.3% of them at 10k
            # lists and nprobe 128), so opening costs milliseconds and memory is the page cache's
            self.ann = {part: _mapped_ivf(folder / f"{part}_vectors.ivf") for part in ("chunk", "sentence") if f"{part}_vectors.ivf" in files}
            self.ann_lists = {part: int(faiss.extract_index_ivf(index).nlist) for part, index in self.ann.items()}
        except (OSError, KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:
            raise _corrupt(folder, f"holds unusable data ({error})") from None
        if len(self.chunk_ids) != self.description["chunks"] or len(self.stored) != self.description["documents"]:
            raise _corrupt(folder, "has rows that disagree with segment.json")
        # A document's pieces are written together, so their owners ascend; the look-ups by document
        # (``chunk_rows_of``, ``rows_of_documents``) are binary searches that rely on it. Checking took
        # 1.1 ms on the 1.14M-chunk archive (5.6M sentences), so a damaged owner file is refused at open.
        if not (_ascending(self.chunk_docs) and _ascending(self.sentence_docs)):
            raise _corrupt(folder, "has pieces out of document order")
        self.stored.warm()
        self._texts  # noqa: B018 - map the texts now, while the folder certainly exists
        mapped = [name for name in files if name in ("texts.jsonl", *MAPPED) or name.endswith(".ivf")]
        self._stamps = {folder / name: _stamp(folder / name) for name in mapped}

    def changed_under_us(self) -> str | None:
        """What changed in a mapped file since it was opened (a stat per file): a truncated file
        would kill the process with SIGBUS at the next read of a page past its end. A file deleted
        or replaced by another is no danger: the mapping keeps the data it was opened with."""
        for path, stamp in self._stamps.items():
            try:
                now = _stamp(path)
            except FileNotFoundError:
                continue
            if now[0] == stamp[0] and now != stamp:
                return f"index file {path} changed while in use ({stamp[1]:,} bytes when opened, {now[1]:,} now)"
        return None

    @property
    def name(self) -> str:
        return str(self.description["name"])

    def _read_lines(self) -> Lines:
        """The documents' ``entries.jsonl`` and ``manifest.jsonl`` lines, from the files opened with
        the segment (a short read of a file truncated since is found by their count), which are then
        closed: ``Stored`` reads them once, at open or in its background thread."""
        try:
            entries, manifest_lines = (os.pread(handle.fileno(), os.fstat(handle.fileno()).st_size, 0).decode().splitlines()
                                       for handle in self._line_files.values())  # fmt: skip
            return entries, manifest_lines
        except (OSError, ValueError) as error:
            raise _corrupt(self.folder, f"holds unreadable document lines ({error})") from None
        finally:
            for handle in self._line_files.values():
                handle.close()

    @cached_property
    def exact_chunk_vectors(self) -> np.ndarray:
        """The chunk vectors in memory, for a segment searched exactly (at most ``exact_max`` rows):
        a matrix product over mapped pages took 12 ms at 11,675 chunks, in memory about 1 ms."""
        return np.array(self.chunk_vectors)

    @cached_property
    def exact_sentence_vectors(self) -> np.ndarray:
        return np.array(self.sentence_vectors)

    @cached_property
    def _texts(self) -> mmap.mmap | bytes:
        """Texts are read through a mapping opened once, so they stay readable after a newer
        generation deletes this segment's folder."""
        with (self.folder / "texts.jsonl").open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    @cached_property
    def _text_offsets(self) -> np.ndarray:
        data = np.frombuffer(self._texts, dtype=np.uint8)
        return np.concatenate([[0], np.flatnonzero(data == 10) + 1])

    @lru_cache(maxsize=256)  # noqa: B019 - a segment lives as long as the store that opened it
    def text(self, row: int) -> str:
        start, end = self._text_offsets[row], self._text_offsets[row + 1]
        try:
            return str(json.loads(self._texts[int(start) : int(end)]))
        except ValueError:  # damaged after it was opened: sizes are checked on open, contents by rag verify
            raise _corrupt(self.folder / "texts.jsonl", f"holds an unreadable text at row {row}") from None

    def document(self, row: int) -> Document:
        return from_entry(self.stored[row].entry, self.text(row))

    def chunk_rows_of(self, document_row: int) -> np.ndarray:
        """A document's chunk rows: documents are written one after another, so they are a range."""
        start, end = np.searchsorted(self.chunk_docs, [document_row, document_row + 1])
        return np.arange(start, end)

    def sentence_rows_of(self, document_row: int) -> np.ndarray:
        start, end = np.searchsorted(self.sentence_docs, [document_row, document_row + 1])
        return np.arange(start, end)

    def sentences_of_chunk(self, row: int) -> np.ndarray:
        return np.asarray(self.chunk_sentence_rows[self.chunk_sentence_ptr[row] : self.chunk_sentence_ptr[row + 1]], dtype=np.int64)

    def chunks_of_sentence(self, row: int) -> np.ndarray:
        return np.asarray(self.sentence_chunk_rows[self.sentence_chunk_ptr[row] : self.sentence_chunk_ptr[row + 1]], dtype=np.int64)

    def has_term(self, term: int) -> bool:
        position = int(np.searchsorted(self.terms, term))
        return position < len(self.terms) and int(self.terms[position]) == term

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk rows, counts) of one term id in this segment."""
        position = int(np.searchsorted(self.terms, term))
        if position == len(self.terms) or int(self.terms[position]) != term:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        start, end = self.term_ptr[position], self.term_ptr[position + 1]
        return np.asarray(self.posting_rows[start:end]), np.asarray(self.posting_counts[start:end])

    @cached_property
    def _postings_by_chunk(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The postings read the other way, chunk row → (term ids, counts), for merging segments."""
        rows = np.asarray(self.posting_rows)
        order = np.argsort(rows, kind="stable")
        owners = np.repeat(np.arange(len(self.terms)), np.diff(np.asarray(self.term_ptr)))
        ptr = np.zeros(len(self.chunk_ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(self.chunk_ids)), out=ptr[1:])
        return ptr, np.asarray(self.terms)[owners[order]], np.asarray(self.posting_counts)[order]

    def terms_of_chunk(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        ptr, terms, counts = self._postings_by_chunk
        return terms[ptr[row] : ptr[row + 1]], counts[ptr[row] : ptr[row + 1]]
