"""Settings: defaults, where a collection lives, and values that cannot work refused where they are
defined, each with a message naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import ChunkSettings, RetrievalSettings, Settings, VectorIndexSettings, check_collection_name
from rag.errors import InvalidCollectionError


def test_the_default_collection_is_the_corpus_folder_and_others_live_under_collections():
    root = Path("/project")
    news, sport = Settings(root=root), Settings(root=root).for_collection("sport")
    assert (news.corpus_dir, news.index_dir) == (root / "corpus", root / "index" / "news")
    assert (sport.corpus_dir, sport.index_dir) == (root / "collections" / "sport", root / "index" / "sport")


@pytest.mark.parametrize("name", ["", "../etc", "News", "a/b", "-x", "x" * 49, 7])
def test_a_collection_name_is_a_slug(name):
    with pytest.raises(InvalidCollectionError, match="invalid collection name"):
        check_collection_name(name)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"mode": "semantic"}, "mode must be one of dense, lexical, hybrid"),
        ({"candidates": 0}, "candidates must be a whole number ≥ 1"),
        ({"answer_passages": 0}, "answer_passages must be a whole number ≥ 1"),
        ({"reader_passages": 0}, "reader_passages must be a whole number ≥ 1"),
        ({"span_n_best": 0}, "span_n_best must be a whole number ≥ 1"),
        ({"dense_weight": -0.1}, "dense_weight must be ≥ 0"),
        ({"lexical_weight": -1}, "lexical_weight must be ≥ 0"),
        ({"sentence_weight": -0.5}, "sentence_weight must be ≥ 0"),
        ({"overlap_weight": -0.1}, "overlap_weight must be ≥ 0"),
        ({"reader_rerank_weight": -0.6}, "reader_rerank_weight must be ≥ 0"),
        ({"answer_rank_penalty": -0.01}, "answer_rank_penalty must be ≥ 0"),
        ({"answer_read": -1}, "answer_read must be a whole number ≥ 0"),
        ({"supporting_sentences": 1.5}, "supporting_sentences must be a whole number ≥ 0"),
        ({"context_turns": -1}, "context_turns must be a whole number ≥ 0"),
        ({"time_passages": -3}, "time_passages must be a whole number ≥ 0"),
        ({"history_weight": -0.5}, "history_weight must be ≥ 0"),
        ({"period_weight": -0.15}, "period_weight must be ≥ 0"),
        ({"recency_weight": -0.15}, "recency_weight must be ≥ 0"),
        ({"span_min_score": 1.5}, r"span_min_score is a probability: it must be in \[0, 1\]"),
        ({"span_min_score": -0.1}, r"span_min_score is a probability: it must be in \[0, 1\]"),
        ({"span_min_judged": 1.2}, r"span_min_judged is a probability: it must be in \[0, 1\]"),
        ({"span_max_share": 1.2}, r"span_max_share is a probability: it must be in \[0, 1\]"),
        ({"supporting_probability": -0.2}, r"supporting_probability is a probability: it must be in \[0, 1\]"),
    ],
)
def test_retrieval_settings_that_cannot_work_are_refused_naming_the_setting(changes, message):
    with pytest.raises(ValueError, match=message):
        RetrievalSettings(**changes)
    with pytest.raises(ValueError, match=message):
        Settings().with_retrieval(**changes)  # a changed copy is checked too


def test_more_answer_passages_than_the_reader_reads_is_fine():
    # the reader also reads the answer_read best sentences of the answer passages (rag.rerank.read_sentence_ids)
    assert RetrievalSettings(answer_passages=8, reader_passages=5).answer_passages == 8


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"encode_batch_size": 0}, "encode_batch_size must be a whole number ≥ 1"),
        ({"max_question_chars": 0}, "max_question_chars must be a whole number ≥ 1"),
        ({"max_document_bytes": -5}, "max_document_bytes must be a whole number ≥ 1"),
        ({"max_segments": 0}, "max_segments must be a whole number ≥ 1"),
        ({"lock_timeout_s": -1.0}, "lock_timeout_s must be ≥ 0"),
        ({"encoder_backend": "tensorflow"}, "encoder_backend must be one of onnx, torch"),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_setting(changes, message):
    with pytest.raises(ValueError, match=message):
        Settings(**changes)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"exact_max": -1}, "exact_max must be a whole number ≥ 0"),
        ({"ivf_lists_per_sqrt": 0.0}, "ivf_lists_per_sqrt must be > 0"),
        ({"ivf_probe": 0}, "ivf_probe must be a whole number ≥ 1"),
        ({"chunk_probe_share": 1.5}, "chunk_probe_share must be within"),
    ],
)
def test_vector_index_settings_that_cannot_work_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        VectorIndexSettings(**changes)


@pytest.mark.parametrize(
    "part, lists, probes",
    [
        ("chunk", 4_277, 385),  # the 1.14M-chunk archive: ⌈0.09 · 4,277⌉ = ⌈384.93⌉
        ("chunk", 1_355, 128),  # 115k chunks: 0.09 · 1,355 = 121.95, below ivf_probe
        ("chunk", 60, 60),  # never more than the lists
        ("sentence", 9_500, 128),  # sentences probe ivf_probe whatever their lists
        ("sentence", 20, 20),
    ],
)
def test_chunks_probe_a_share_of_their_lists_and_sentences_a_fixed_number(part, lists, probes):
    assert VectorIndexSettings().probes(part, lists) == probes


@pytest.mark.parametrize("size, overlap", [(10, 0), (300, 300), (300, -1)])
def test_chunks_need_a_size_of_20_and_an_overlap_below_it(size, overlap):
    with pytest.raises(ValueError, match="chunk size must be >= 20"):
        ChunkSettings(size, overlap)


def test_the_defaults_are_valid_and_a_count_is_not_a_bool_or_a_fraction():
    Settings()
    for value in (True, 2.5):
        with pytest.raises(ValueError, match="candidates must be a whole number"):
            RetrievalSettings(candidates=value)  # type: ignore[arg-type]
