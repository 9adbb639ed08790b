"""Chunk and sentence offsets always point at the exact text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_text, split_sentences
from rag.config import ChunkSettings

# Chinese, Latin, digits, the separators the splitter uses, and repeated phrases.
pieces = st.sampled_from(["OpenAI", "奥特曼", "離職", "。", "!", "?", ";", ",", "、", "\n", " ", "1500亿", "Sam Altman.", "…", "「引號」", "x"])
documents = st.lists(pieces, min_size=0, max_size=400).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=documents, size=st.integers(20, 120), overlap_share=st.floats(0, 0.5))
def test_chunk_offsets_are_exact(text, size, overlap_share):
    chunk_settings = ChunkSettings(size=size, overlap=int(size * overlap_share))
    chunks = chunk_text("doc", text, chunk_settings)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
    starts = [chunk.start for chunk in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    covered = "".join(text[c.start : c.end] for c in chunks)
    assert set(covered) >= set(text) - {" ", "\n"}  # nothing but whitespace is left out


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


def test_chunks_of_seed_article_follow_sentence_ends(seed_documents):
    doc = seed_documents["004"]
    chunks = chunk_text(doc.id, doc.text, ChunkSettings(size=300, overlap=60))
    assert all(len(chunk.text) <= 300 for chunk in chunks)
    ends = sum(chunk.text.endswith(("。", "!", "?", "”", ":", ";")) for chunk in chunks)
    assert ends / len(chunks) > 0.8
    assert any(a.end > b.start for a, b in zip(chunks, chunks[1:]))  # overlapping neighbours


def test_sentences_split_on_chinese_and_english_ends():
    text = "他离职了。她也走了!为什么?Sam left. They stayed…\n新段落"
    assert [text[s:e] for s, e in split_sentences(text)] == ["他离职了。", "她也走了!", "为什么?", "Sam left.", "They stayed…", "新段落"]


def test_a_closing_bracket_stays_with_its_sentence():
    text = "「Your conduct」\n(你們的行為危及了公司。)\n下一句。"
    assert [text[s:e] for s, e in split_sentences(text)] == ["「Your conduct」", "(你們的行為危及了公司。)", "下一句。"]
