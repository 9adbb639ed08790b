"""Exporting the reader: its updates merged into the base weights, as training and export both merge them."""

from __future__ import annotations

import numpy as np

from rag.reader_export import reader_weights


def test_reader_weights_add_low_rank_updates_and_replace_the_rest():
    rng = np.random.default_rng(0)
    down, up = rng.normal(size=(2, 4)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)
    state = {
        "q.weight": np.ones((3, 4), np.float32),
        "q.bias": np.zeros(3, np.float32),
        "k.bias": np.ones(3, np.float32),
    }
    merged = reader_weights(state, {"q.down": down, "q.up": up, "q.bias": np.full(3, 2.0, np.float32)})
    assert np.allclose(merged["q.weight"], 1 + up @ down) and np.all(merged["q.bias"] == 2.0)
    assert merged["k.bias"] is state["k.bias"] and "q.up" not in merged and np.all(state["q.weight"] == 1)
