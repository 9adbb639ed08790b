"""Chunk and sentence offsets always point at the exact text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_spans, split_sentences
from rag.config import ChunkSettings

# Chinese, Latin, digits, the separators the splitter uses, and repeated phrases.
pieces = st.sampled_from(["OpenAI", "奥特曼", "離職", "。", "!", "?", ";", ",", "、", "\n", " ", "1500亿", "Sam Altman.", "…", "「引號」", "x"])
documents = st.lists(pieces, min_size=0, max_size=400).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=documents, size=st.integers(20, 120), overlap_share=st.floats(0, 0.5))
def test_chunk_offsets_are_exact(text, size, overlap_share):
    chunk_settings = ChunkSettings(size=size, overlap=int(size * overlap_share))
    spans = chunk_spans(text, chunk_settings)
    for start, end in spans:
        assert text[start:end] == text[start:end].strip() and end > start
    starts = [start for start, _ in spans]
    assert starts == sorted(starts)
    covered = set().union(*(range(start, end) for start, end in spans)) if spans else set()
    assert covered >= {i for i, c in enumerate(text) if not c.isspace()}  # every character but whitespace is in a chunk


@settings(max_examples=200, deadline=None)
@given(text=documents)
def test_sentence_offsets_are_exact_and_ordered(text):
    spans = split_sentences(text)
    previous_end = 0
    for start, end in spans:
        assert start >= previous_end and end > start
        assert text[start:end] == text[start:end].strip()
        previous_end = end
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "").replace("\n", "")


@pytest.mark.parametrize(
    ("text", "size", "overlap"),
    [("Sam Altman.Sam Altman.", 20, 0), ("Sam Altman.Sam Altman.Sam Altman.", 23, 10), ("OpenAIOpenAIOpenAIOpenAIOpenAI", 20, 0),
     ("OpenAIOpenAIOpenAI  OpenAI離職Sam Altman.OpenAI奥特曼", 28, 14), ("。。。Sam Altman.。「引號」。\n", 20, 10)],
)  # fmt: skip
def test_repeated_phrases_get_the_offsets_that_cover_the_text(text, size, overlap):
    """Found by the property above: the first three lost text with the old lookup (the first
    occurrence after the previous chunk's start), the fourth raised; the fifth is a chunk of
    overlap alone, inside the previous one."""
    spans = chunk_spans(text, ChunkSettings(size=size, overlap=overlap))
    covered = set().union(*(range(start, end) for start, end in spans))
    assert covered >= {i for i, c in enumerate(text) if not c.isspace()}


def test_chunks_of_seed_article_follow_sentence_ends(seed_documents):
    doc = seed_documents["004"]
    spans = chunk_spans(doc.text, ChunkSettings(size=300, overlap=60))
    assert all(end - start <= 300 for start, end in spans)
    ends = sum(doc.text[start:end].endswith(("。", "!", "?", "”", ":", ";")) for start, end in spans)
    assert ends / len(spans) > 0.8
    assert any(a[1] > b[0] for a, b in zip(spans, spans[1:]))  # overlapping neighbours


def test_sentences_split_on_chinese_and_english_ends():
    text = "他离职了。她也走了!为什么?Sam left. They stayed…\n新段落"
    assert [text[s:e] for s, e in split_sentences(text)] == ["他离职了。", "她也走了!", "为什么?", "Sam left.", "They stayed…", "新段落"]


def test_a_closing_bracket_stays_with_its_sentence():
    text = "「Your conduct」\n(你們的行為危及了公司。)\n下一句。"
    assert [text[s:e] for s, e in split_sentences(text)] == ["「Your conduct」", "(你們的行為危及了公司。)", "下一句。"]
