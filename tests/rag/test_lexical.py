"""Lexical matching: tokens on Simplified, half-width, lower-cased text, without stopwords; stable term ids."""

from __future__ import annotations

from rag.lexical import normalize_for_matching, term_counts, term_id, tokenize


def test_mixed_script_tokens_are_simplified_lowercased_and_content_only():
    tokens = tokenize("OpenAI首席技術官Mira Murati宣布離職了嗎?你好")
    assert "openai" in tokens and "mira" in tokens and "murati" in tokens
    assert "首席" in tokens or "首席技术官" in tokens  # Traditional folded to Simplified
    assert "离职" in tokens and "離職" not in tokens
    assert not {"了", "吗", "你好", "?"} & set(tokens)
    assert tokenize("ＧＰＴ－４ｏ 的 1500亿") == tokenize("GPT-4o 的 1500亿")


def test_term_ids_are_a_hash_every_process_and_store_agrees_on():
    # blake2b(token, 8 bytes), little-endian, modulo 2³² − 1 (Milvus takes sparse indices below it)
    assert (term_id("openai"), term_id("穆拉蒂")) == (3_795_030_580, 897_067_344)
    assert term_counts(["openai", "穆拉蒂", "openai"]) == {3_795_030_580: 2, 897_067_344: 1}


def test_matching_text_is_simplified_half_width_and_lower_case():
    assert normalize_for_matching("ＯｐｅｎＡＩ首席技術官") == "openai首席技术官"
