"""Training the reader: what it saves is what the export reads; the int8 cache of the frozen layers."""

from __future__ import annotations

import numpy as np
import pytest

from rag.reader_export import reader_arrays, reader_settings
from rag_eval.reader_training import TrainSettings, save_reader


def test_a_saved_reader_tells_the_export_its_depth_and_prompts_and_keeps_only_weights(tmp_path):
    path = tmp_path / "reader.npz"
    weights = {"heads.span.weight": np.arange(8, dtype=np.float32).reshape(2, 4)}
    save_reader(weights, TrainSettings(layers=3, prefixes=True), {"seed": 7}, path)
    assert reader_settings(path) == {"layers": 3, "prefixes": True}
    arrays = reader_arrays(path)
    assert list(arrays) == ["heads.span.weight"] and np.array_equal(arrays["heads.span.weight"], weights["heads.span.weight"])


@pytest.mark.model
def test_int8_lower_caches_the_frozen_layers_through_the_int8_graph(tmp_path):
    """The trained layers then learn from what the product's int8 reader gives them: close to the
    fp32 layers' output, not equal."""
    from rag.config import Settings
    from rag_eval.reader_training import ReaderModel, lower_session

    outputs = []
    for int8 in (False, True):
        model = ReaderModel(Settings().model_dir, TrainSettings(layers=2, frozen=1, int8_lower=int8))
        session = lower_session(model, tmp_path)
        vectors = np.random.default_rng(0).normal(size=(1, 6, 384)).astype(np.float32)
        (hidden,) = session.run(None, {"token_vectors": vectors, "attention_mask": np.ones((1, 6), dtype=np.int64)})
        outputs.append(hidden.ravel())
    assert (tmp_path / "lower.int8.onnx").is_file()
    fp32, int8 = outputs
    cosine = float(fp32 @ int8 / np.linalg.norm(fp32) / np.linalg.norm(int8))
    assert 0.98 < cosine < 1.0 - 1e-6
