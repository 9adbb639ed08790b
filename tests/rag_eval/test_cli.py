"""``rag-eval``: its commands, and options it refuses before anything loads."""

from __future__ import annotations

from typer.testing import CliRunner

from rag_eval.cli import app

WIDE = {"COLUMNS": "400"}  # rich wraps error boxes at the terminal's width


def test_the_yardstick_lists_its_commands():
    listed = CliRunner().invoke(app, ["--help"], env=WIDE).output
    for command in ("gold", "public", "fit-abstention", "adapter", "tune", "bench", "scale", "load", "train-reader", "reader-scores"):
        assert f" {command} " in listed, command


def test_an_unknown_configuration_or_a_folder_that_is_no_dataset_is_refused_before_the_model_loads(tmp_path):
    gold = CliRunner().invoke(app, ["gold", "--config", "nope"], env=WIDE)
    assert gold.exit_code == 2 and "no configuration named nope" in gold.output
    public = CliRunner().invoke(app, ["public", str(tmp_path)], env=WIDE)
    assert public.exit_code == 2 and "is not a dataset folder" in public.output
