"""Preparing the model: done once, offline, from the installed packages; a damaged folder is
prepared again; the query adapter's low-rank updates are added to the named matrices."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from rag.config import Settings
from rag.errors import ModelMissingError
from rag.model import adapted_weights, prepare_model
from rag.prepared import read_stamp


def test_preparation_is_skipped_when_done(encoder):
    folder = Settings().model_dir
    before = (folder / "model.onnx").stat().st_mtime
    assert prepare_model(folder) == read_stamp(folder)
    assert (folder / "model.onnx").stat().st_mtime == before


@pytest.fixture()
def model_copy(tmp_path, encoder):
    folder = tmp_path / "model"
    shutil.copytree(Settings().model_dir, folder)
    return folder


def test_a_corrupt_model_file_is_found_by_its_checksum_and_prepared_again(model_copy):
    path = model_copy / "tokenizer.json"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    read_stamp(model_copy)  # same size: loading does not read whole files
    with pytest.raises(ModelMissingError, match="checksum"):
        read_stamp(model_copy, verify=True)
    prepare_model(model_copy)  # `rag model` repairs it
    read_stamp(model_copy, verify=True)


def test_adapted_weights_add_the_low_rank_update_to_the_named_matrices(tmp_path):
    rng = np.random.default_rng(0)
    down, up = rng.normal(size=(2, 4)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)
    adapter = tmp_path / "adapter.npz"
    np.savez(adapter, source=np.array("toy"), **{"layer.q.down": down, "layer.q.up": up})
    state = {"layer.q.weight": np.ones((3, 4), np.float32), "layer.q.bias": np.zeros(3, np.float32)}
    adapted = adapted_weights(state, adapter)
    assert np.allclose(adapted["layer.q.weight"], 1 + up @ down)
    assert adapted["layer.q.bias"] is state["layer.q.bias"] and np.all(state["layer.q.weight"] == 1)
