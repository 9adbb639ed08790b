"""Saving and loading the index: atomic generations, a manifest, stale and corrupt detection.

Layout of an index folder::

    CURRENT                 name of the live generation (replaced atomically)
    gen-<time>/manifest.json  fingerprint (model, chunk settings, code, corpus checksums),
                              library versions, counts and the sha256 of every file below
    gen-<time>/documents.json, chunks.json, sentences.json, sentences.npy, chunks.faiss,
               expansions.json

A new generation is written completely in a staging folder and renamed into place before
``CURRENT`` moves to it, so a crash at any point leaves the previous index intact.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.chunk import Chunk
from rag.corpus import Document
from rag.errors import IndexCorruptError, IndexMissingError
from rag.expand import Expansions
from rag.files import file_sha256, write_atomic
from rag.index import Index, Sentence
from rag.lexical import LexicalIndex

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
REBUILD_HINT = "run `rag build` to rebuild the index"
_LIBRARIES = ("faiss-cpu", "sentence-transformers", "torch", "transformers", "bm25s", "jieba", "opencc", "langchain-text-splitters", "numpy")


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def _write_generation(index: Index, folder: Path, fingerprint: dict[str, Any]) -> None:
    _write_json(folder / "documents.json", [{**doc.entry(), "text": doc.text} for doc in index.documents.values()])
    _write_json(
        folder / "chunks.json",
        {
            "doc_id": [chunk.doc_id for chunk in index.chunks],
            "start": [chunk.start for chunk in index.chunks],
            "end": [chunk.end for chunk in index.chunks],
            "tokens": index.lexical.tokens,
        },
    )
    _write_json(
        folder / "sentences.json",
        {key: [getattr(s, key) for s in index.sentences] for key in ("doc_id", "start", "end")},
    )
    _write_json(folder / "expansions.json", asdict(index.expansions))
    np.save(folder / "sentences.npy", index.sentence_vectors)
    faiss.write_index(index.chunk_vectors, str(folder / "chunks.faiss"))
    files = sorted(path.name for path in folder.iterdir())
    manifest = {
        "format": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "fingerprint": fingerprint,
        "libraries": library_versions(),
        "counts": {"documents": len(index.documents), "chunks": len(index.chunks), "sentences": len(index.sentences)},
        "faiss_index": type(index.chunk_vectors).__name__,
        "files": {name: {"bytes": (folder / name).stat().st_size, "sha256": file_sha256(folder / name)} for name in files},
    }
    _write_json(folder / MANIFEST, manifest)
    for path in folder.iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def save_index(index: Index, directory: Path, fingerprint: dict[str, Any]) -> Path:
    """Write ``index`` as a new generation and make it current; older generations are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".staging-"))
    try:
        _write_generation(index, staging, fingerprint)
        generation = directory / f"gen-{time.time_ns()}"
        staging.rename(generation)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_atomic(directory / CURRENT, generation.name.encode())
    for old in directory.glob("gen-*"):
        if old != generation:
            shutil.rmtree(old, ignore_errors=True)
    return generation


def current_generation(directory: Path) -> Path:
    pointer = directory / CURRENT
    if not pointer.is_file():
        raise IndexMissingError(f"no index in {directory}: {REBUILD_HINT}")
    generation = directory / pointer.read_text().strip()
    if not generation.is_dir():
        raise IndexCorruptError(f"{pointer} names a missing folder {generation.name}: {REBUILD_HINT}")
    return generation


def read_manifest(directory: Path) -> dict[str, Any]:
    """The current generation's manifest; ``IndexCorruptError`` when it is unreadable."""
    path = current_generation(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["files"], manifest["fingerprint"]  # noqa: B018 - both keys are required
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IndexCorruptError(f"index manifest {path} is unreadable ({error}): {REBUILD_HINT}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexCorruptError(f"index format {manifest.get('format')} is not {FORMAT_VERSION}: {REBUILD_HINT}")
    return manifest


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists exists with its recorded size and checksum."""
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise IndexCorruptError(f"index file {path} is missing: {REBUILD_HINT}")
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise IndexCorruptError(f"index file {path} is {size} bytes, expected {expected['bytes']} (truncated?): {REBUILD_HINT}")
        if file_sha256(path) != expected["sha256"]:
            raise IndexCorruptError(f"index file {path} does not match its checksum (corrupt): {REBUILD_HINT}")


def stale_reasons(manifest: dict[str, Any], fingerprint: dict[str, Any]) -> list[str]:
    """What differs between the index on disk and what the corpus and settings now ask for."""
    built = manifest["fingerprint"]
    reasons = [f"{key} changed" for key in fingerprint if key != "corpus" and built.get(key) != fingerprint[key]]
    old, new = built.get("corpus", {}), fingerprint.get("corpus", {})
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(doc for doc in set(old) & set(new) if old[doc] != new[doc])
    for label, docs in (("added", added), ("removed", removed), ("changed", changed)):
        if docs:
            reasons.append(f"documents {label}: {', '.join(docs)}")
    return reasons


def load_index(directory: Path) -> tuple[Index, dict[str, Any]]:
    """The current index and its manifest, after checking every file."""
    folder = current_generation(directory)
    manifest = read_manifest(directory)
    verify_files(folder, manifest)
    try:
        documents = [Document(**entry) for entry in json.loads((folder / "documents.json").read_text(encoding="utf-8"))]
        by_id = {doc.id: doc for doc in documents}
        table = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
        chunks = [
            Chunk(doc_id, start, end, by_id[doc_id].text[start:end])
            for doc_id, start, end in zip(table["doc_id"], table["start"], table["end"], strict=True)
        ]
        rows = json.loads((folder / "sentences.json").read_text(encoding="utf-8"))
        sentences = [Sentence(*row) for row in zip(rows["doc_id"], rows["start"], rows["end"], strict=True)]
        expansions = Expansions(**json.loads((folder / "expansions.json").read_text(encoding="utf-8")))
        sentence_vectors = np.load(folder / "sentences.npy", allow_pickle=False)
        chunk_vectors = faiss.read_index(str(folder / "chunks.faiss"))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise IndexCorruptError(f"index in {folder} is unreadable ({error}): {REBUILD_HINT}") from None
    if chunk_vectors.ntotal != len(chunks) or len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"index in {folder} has vectors and rows that disagree: {REBUILD_HINT}")
    index = Index(by_id, chunks, sentences, sentence_vectors, chunk_vectors, LexicalIndex.build(table["tokens"]), expansions)
    return index, manifest


def describe(manifest: dict[str, Any]) -> dict[str, Any]:
    """A summary for ``rag info``."""
    return {key: manifest[key] for key in ("created", "counts", "faiss_index", "libraries")} | {
        "model": manifest["fingerprint"].get("model_id"),
        "chunk": manifest["fingerprint"].get("chunk"),
    }

