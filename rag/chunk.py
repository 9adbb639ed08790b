"""Chunks and sentences with exact character offsets into a document's cleaned text."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag.config import ChunkSettings

# Bump when chunk offsets (``chunk_spans``, or which sentences a chunk holds: rag.ingest.contained_sentences)
# or sentence offsets (``split_sentences``) change for some text: indexes are embedded again
# (tests/rag/test_ingest.py compares its outputs on fixed inputs with tests/rag/snapshots/probe.json).
CHUNKING_VERSION = 1
SENTENCES_VERSION = 1

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


def _candidates(text: str, piece: str, previous: tuple[int, int], overlap: int) -> list[int]:
    """Where the splitter's next chunk may start: at most ``overlap`` characters before the
    previous chunk's end and without a gap after it (but whitespace). Those reaching beyond the
    previous end come first (a chunk of overlap alone may lie inside the previous one)."""
    first, end = max(previous[0], previous[1] - overlap), previous[1]
    latest = end
    while latest < len(text) and text[latest].isspace():
        latest += 1
    fitting = []
    start = text.find(piece, first)
    while 0 <= start <= latest:
        fitting.append(start)
        start = text.find(piece, start + 1)
    return sorted(fitting, key=lambda s: s + len(piece) <= end)


def chunk_spans(text: str, settings: ChunkSettings) -> list[tuple[int, int]]:
    """Overlapping chunks on sentence boundaries, as offsets: ``text[start:end]`` is each chunk.

    The splitter returns verbatim substrings in order; a repeated phrase can fit at several places
    ("Altman.Sam Altman." in "Sam Altman.Sam Altman.Sam Altman."), so the places are chosen
    together: a depth-first search for the sequence that covers the text to its end without gaps.
    """
    pieces = _splitter(settings).split_text(text)
    if not pieces:
        return []
    end_of_text = len(text.rstrip())
    first = len(text) - len(text.lstrip())
    stack: list[list[int]] = [[first] if text.startswith(pieces[0], first) else []]
    chosen: list[tuple[int, int]] = []
    while stack:
        if not stack[-1]:  # no place left for this piece: undo the previous one
            stack.pop()
            if chosen:
                chosen.pop()
            continue
        start = stack[-1].pop(0)
        chosen.append((start, start + len(pieces[len(chosen)])))
        if len(chosen) == len(pieces):
            if chosen[-1][1] >= end_of_text:
                return chosen
            chosen.pop()
            continue
        stack.append(_candidates(text, pieces[len(chosen)], chosen[-1], settings.overlap))
    raise RuntimeError(f"chunks not found in their document: {pieces[0][:40]!r} …")  # the splitter broke its promise


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence offsets in ``text``, whitespace trimmed, empty ones dropped."""
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((begin, match.end()))
        begin = match.end()
    spans.append((begin, len(text)))
    trimmed = []
    for left, right in spans:
        while left < right and text[left].isspace():
            left += 1
        while right > left and text[right - 1].isspace():
            right -= 1
        if right > left:
            trimmed.append((left, right))
    return trimmed
