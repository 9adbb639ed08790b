"""Ranking: the fusion of the dense and lexical runs, by hand and against ranx."""

from __future__ import annotations

import numpy as np
import pytest
from ranx import Run
from ranx import fuse as ranx_fuse

from rag.retrieve import fuse, min_max


def test_fusion_matches_ranx_wsum_with_min_max():
    dense = {1: 0.9, 2: 0.8, 3: 0.5}
    lexical = {3: 12.0, 4: 7.0, 2: 1.0}
    ours = fuse([dense, lexical], [0.3, 0.7])
    runs = [Run({"q": {f"d{k}": v for k, v in run.items()}}) for run in (dense, lexical)]
    theirs = ranx_fuse(runs, norm="min-max", method="wsum", params={"weights": [0.3, 0.7]}).to_dict()["q"]
    assert {f"d{k}": pytest.approx(v) for k, v in ours.items()} == theirs
    # by hand: d3 = 0.3*0 + 0.7*1, d1 = 0.3*1 + 0, d2 = 0.3*0.75 + 0, d4 = 0.7*(6/11)
    assert ours == pytest.approx({3: 0.7, 1: 0.3, 2: 0.225, 4: 0.7 * 6 / 11})


def test_min_max_scales_a_run_to_0_1_and_a_flat_run_to_ones():
    assert min_max(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert min_max(np.array([7.0, 7.0])).tolist() == [1.0, 1.0]  # nothing to tell apart: each counts fully
    assert min_max(np.array([])).size == 0


def test_a_run_with_weight_zero_or_no_items_adds_nothing():
    # run 1 by hand: (0.5 - 0.1) / 0.4 = 1 and 0; the empty run and the weight-0 run add nothing
    assert fuse([{1: 0.5, 2: 0.1}, {}, {3: 9.0}], [1.0, 0.5, 0.0]) == {1: 1.0, 2: 0.0}
