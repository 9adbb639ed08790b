"""Chunks and sentences with exact character offsets into a document's cleaned text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.config import ChunkSettings

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

_CLOSERS = "”」』)\"'"  # closing quotes and brackets after 。 stay with their sentence
# Coarsest first: paragraphs, sentences (Chinese and English), clauses, words, characters.
SEPARATORS = [
    r"\n",
    rf"(?:[。!?]+|\.{{3}}|…+|\.(?=\s))[{_CLOSERS}]?",
    r";",
    r"[,、:]",
    r" ",
    "",
]
_SENTENCE_END = re.compile(rf"(?:[。!?;]+|\.{{3}}|…+|\.(?=\s))[{_CLOSERS}]*|\n")


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``document.text[start:end] == text``."""

    doc_id: str
    start: int
    end: int
    text: str


def _splitter(settings: ChunkSettings) -> RecursiveCharacterTextSplitter:
    from langchain_text_splitters import RecursiveCharacterTextSplitter  # only when indexing: 0.3 s to import

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=settings.size,
        chunk_overlap=settings.overlap,
        strip_whitespace=True,
    )


def chunk_text(doc_id: str, text: str, settings: ChunkSettings) -> list[Chunk]:
    """Split a document into overlapping chunks on sentence boundaries, with offsets.

    The splitter returns substrings in document order; each is located by searching forward
    from just after the previous chunk's start, which makes the offsets exact even when the
    same sentence occurs twice.
    """
    chunks: list[Chunk] = []
    search_from = 0
    for piece in _splitter(settings).split_text(text):
        start = text.find(piece, search_from)
        if start < 0:  # the splitter promises verbatim substrings; fail loudly if that changes
            raise RuntimeError(f"chunk not found in document {doc_id}: {piece[:40]!r}")
        chunks.append(Chunk(doc_id, start, start + len(piece), piece))
        search_from = start + 1
    return chunks


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence offsets inside ``text[start:end]``, whitespace trimmed, empty ones dropped."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((begin, match.end()))
        begin = match.end()
    spans.append((begin, end))
    trimmed = []
    for left, right in spans:
        while left < right and text[left].isspace():
            left += 1
        while right > left and text[right - 1].isspace():
            right -= 1
        if right > left:
            trimmed.append((left, right))
    return trimmed
