"""The performance report's ratios, on hand-made rows."""

from __future__ import annotations

from rag_eval.perf import int8_over_fp32


def test_int8_ratio_compares_the_onnx_graphs_on_all_cores():
    rows = [
        {"backend": "onnx", "graph": "fp32", "threads": 2, "encode_p50_ms": 15.0},
        {"backend": "onnx", "graph": "fp32", "threads": 1, "encode_p50_ms": 20.0},
        {"backend": "onnx", "graph": "int8", "threads": 2, "encode_p50_ms": 9.0},
        {"backend": "onnx", "graph": "int8", "threads": 1, "encode_p50_ms": 11.0},
        {"backend": "torch", "graph": "fp32", "threads": 2, "encode_p50_ms": 50.0},
    ]
    assert int8_over_fp32(rows) == 0.6  # 9 / 15, not 11 / 20 nor against torch
