"""What a document is, apart from how it is read: the cleaned article and its metadata
(``Document``), what lists show of it (``DocumentSummary``), and the manifest entry every store and
the corpus folder's ``manifest.json`` keep of it.

A leaf: it imports nothing of the project, so storage and retrieval can name documents without
loading the readers of PDF and Word files (``rag.corpus``, ``rag.formats``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

Script = Literal["zh-Hans", "zh-Hant"]
# Bump when the row a store keeps of a document changes for some document: its fields, its manifest
# entry (``Document.entry``), its ``checksum`` or ``text_fingerprint``. Indexes then read every file
# again and index again the documents whose row changed (``rag.fingerprint``; tests/rag/test_ingest.py
# compares its outputs on fixed inputs with tests/rag/snapshots/probe.json). 2: ``published`` and
# ``date_basis`` (a row without them, written before, reads as unknown).
DOCUMENT_VERSION = 2


@dataclass(frozen=True)
class Document:
    """One cleaned article. ``text`` is what every offset in the index refers to."""

    id: str
    file: str  # its file in the corpus folder
    title: str
    script: Script
    sha256: str  # of the file's bytes
    text: str = field(repr=False)
    source: str | None = None
    date: str | None = None  # the article's date as its text states it ("2023 年 11 月 21 日", "9月26日")
    drop_from: str | None = None
    name: str = ""  # the file name it was added under ("" for files placed in the folder)
    published: str | None = None  # its publication date, ISO (YYYY-MM-DD); None when unknown
    date_basis: str | None = None  # how ``published`` was known, in words (``rag.corpus.publication``)

    @property
    def original_name(self) -> str:
        return self.name or self.file

    @property
    def format(self) -> str:
        """The file type, e.g. ``txt`` or ``pdf``."""
        return Path(self.file).suffix.lower().lstrip(".")

    def entry(self) -> dict[str, object]:
        """The document's manifest entry (everything but the text)."""
        entry = asdict(self)
        del entry["text"]
        return entry

    def manifest_line(self) -> str:
        """The entry as the manifest writes it: one line of JSON."""
        return json.dumps(self.entry(), ensure_ascii=False)

    @property
    def checksum(self) -> str:
        """Changes whenever the indexed text or anything shown with it changes."""
        payload = json.dumps({**self.entry(), "text": self.text}, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DocumentSummary:
    """A document without its text: what lists show."""

    id: str
    name: str
    format: str
    title: str
    script: Script
    source: str | None
    date: str | None  # as the text states it
    characters: int
    published: str | None = None  # ISO YYYY-MM-DD, None when unknown
    date_basis: str | None = None  # how it was known


def from_entry(entry: Mapping[str, object], text: str) -> Document:
    """A document from a manifest entry and its text (unknown keys of older manifests ignored)."""
    known = {f.name for f in fields(Document)}
    return Document(**{key: value for key, value in entry.items() if key in known and key != "text"}, text=text)  # type: ignore[arg-type]


def text_fingerprint(text: str) -> str:
    """Two files whose cleaned texts agree are the same article."""
    return hashlib.sha256(text.encode()).hexdigest()
