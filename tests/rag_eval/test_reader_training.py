"""Training the reader: what it saves is what the export reads."""

from __future__ import annotations

import numpy as np

from rag.reader_export import reader_arrays, reader_settings
from rag_eval.reader_training import TrainSettings, save_reader


def test_a_saved_reader_tells_the_export_its_depth_and_prompts_and_keeps_only_weights(tmp_path):
    path = tmp_path / "reader.npz"
    weights = {"heads.span.weight": np.arange(8, dtype=np.float32).reshape(2, 4)}
    save_reader(weights, TrainSettings(layers=3, prefixes=True), {"seed": 7}, path)
    assert reader_settings(path) == {"layers": 3, "prefixes": True}
    arrays = reader_arrays(path)
    assert list(arrays) == ["heads.span.weight"] and np.array_equal(arrays["heads.span.weight"], weights["heads.span.weight"])
