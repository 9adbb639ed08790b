"""The performance report's ratios, on hand-made rows; its measure of crafted files' refusals and of follow-ups."""

from __future__ import annotations

import time

import pytest

from rag_eval.perf import crafted_file_refusals, int8_over_fp32, with_history


def test_int8_ratio_compares_the_onnx_graphs_on_all_cores():
    rows = [
        {"backend": "onnx", "graph": "fp32", "threads": 2, "encode_p50_ms": 15.0},
        {"backend": "onnx", "graph": "fp32", "threads": 1, "encode_p50_ms": 20.0},
        {"backend": "onnx", "graph": "int8", "threads": 2, "encode_p50_ms": 9.0},
        {"backend": "onnx", "graph": "int8", "threads": 1, "encode_p50_ms": 11.0},
        {"backend": "torch", "graph": "fp32", "threads": 2, "encode_p50_ms": 50.0},
    ]
    assert int8_over_fp32(rows) == 0.6  # 9 / 15, not 11 / 20 nor against torch


def test_crafted_files_are_measured_as_they_are_refused():
    results = crafted_file_refusals()
    assert "more than 1,000,000 paragraphs" in results["docx"]["refusal"]
    assert "declares more than 2,000,000 objects" in results["pdf"]["refusal"]
    for result in results.values():
        assert result["file_kb"] < 200 and result["refuse_s"] >= 0 and result["extra_rss_mb"] >= 0


class _Recording:
    """An assistant that records how it is asked and takes longer with a conversation."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str] | None]] = []

    def with_retrieval(self):
        return self

    def clear_cache(self):
        self.asked.append(("cleared", None))

    def ask(self, question, history=None):
        self.asked.append((question, history))
        time.sleep(0.03 if history else 0.01)  # far apart: a busy machine (or tests running beside) delays a sleep by milliseconds


def test_with_history_asks_the_follow_ups_alone_then_with_their_conversations():
    assistant = _Recording()
    figures = with_history(assistant, [("她呢?", ("谁辞职了?",)), ("估值呢?", ("融资多少?", "谁投资?"))])  # type: ignore[arg-type]
    cleared = ("cleared", None)  # each question is asked for the first time
    alone = [cleared, ("她呢?", None), cleared, ("估值呢?", None)]
    cold = [cleared, ("她呢?", ["谁辞职了?"]), cleared, ("估值呢?", ["融资多少?", "谁投资?"])]
    conversations = [cleared, ("谁辞职了?", None), ("她呢?", ["谁辞职了?"]), cleared, ("融资多少?", None), ("谁投资?", ["融资多少?"]), ("估值呢?", ["融资多少?", "谁投资?"])]
    assert assistant.asked == alone + cold + conversations  # each earlier turn asked with the turns before it, as the page asks
    assert figures["questions"] == 2 and figures["with_history_p50_ms"] > figures["alone_p50_ms"] and figures["cold_history_p50_ms"] > figures["alone_p50_ms"]
    assert figures["history_over_alone"] == pytest.approx(figures["with_history_p50_ms"] / figures["alone_p50_ms"], abs=0.01)
