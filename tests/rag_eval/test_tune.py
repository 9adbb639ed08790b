"""Tuning the fusion weights: every point of the grid is a valid setting, and the report lists the
best first."""

from __future__ import annotations

import itertools
import json

from rag import RetrievalSettings
from rag_eval import tune


def test_every_point_of_the_grid_is_a_valid_retrieval_setting():
    for values in itertools.product(*tune.GRID.values()):
        RetrievalSettings(**dict(zip(tune.GRID, values, strict=True)))  # raises on a value that cannot work


def test_the_report_shows_the_rows_in_the_order_given_and_keeps_them_all(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    rows = [dict.fromkeys(tune.GRID, 0.5) | {"mrr@10": 0.9 - n / 100, "recall@5": 0.8, "en_mrr@10": 0.7} for n in range(20)]
    markdown = tune.write(rows)
    table = [line for line in markdown.splitlines() if line.startswith("| 0.5")]
    assert len(table) == 15 and table[0].endswith("| 0.9 | 0.8 | 0.7 |")  # the 15 best, as sorted by tune()
    assert json.loads((tmp_path / "eval" / "reports" / "tuning.json").read_text()) == rows
