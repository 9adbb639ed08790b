"""The performance report's ratios, on hand-made rows, and its measure of crafted files' refusals."""

from __future__ import annotations

from rag_eval.perf import crafted_file_refusals, int8_over_fp32


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
