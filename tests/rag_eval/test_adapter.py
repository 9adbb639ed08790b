"""Training the query adapter: only the low-rank updates move; the held-out check scores both towers."""

from __future__ import annotations

import numpy as np

from rag import Settings
from rag_eval.adapter import AdapterSettings, Example, held_out_accuracy, train_adapter

EXAMPLES = [
    Example("长城有多长?", "长城是军事防御工程。全长两万多千米。", ("长城是军事防御工程。", "全长两万多千米。"), 1),
    Example("大熊猫吃什么?", "大熊猫生活在四川。它们以竹子为食。", ("大熊猫生活在四川。", "它们以竹子为食。"), 1),
]


def test_adapter_training_moves_only_the_low_rank_updates(encoder):
    arrays = train_adapter(EXAMPLES, encoder, Settings().model_dir, AdapterSettings(rank=2, layers=1, steps=2, batch_size=2, hard_negatives=1))
    assert sorted({key.rsplit(".", 1)[1] for key in arrays}) == ["down", "up"] and len(arrays) == 12
    assert arrays["encoder.layer.11.attention.self.query.down"].shape == (2, 384)
    assert arrays["encoder.layer.11.intermediate.dense.up"].shape == (1536, 2)
    assert all(np.abs(arrays[key]).max() > 0 for key in arrays if key.endswith(".up"))  # zero at the start


def test_held_out_check_scores_both_question_towers(encoder):
    right = held_out_accuracy(EXAMPLES, encoder)
    assert set(right) == {"base model", "with the adapter"} and right["with the adapter"] == 1.0
    # two sentences a paragraph: whichever is closest, it is right for one labelling and wrong for the other
    wrong = held_out_accuracy([Example(e.question, e.paragraph, e.sentences, 0) for e in EXAMPLES], encoder)
    assert all(right[tower] + wrong[tower] == 1.0 for tower in right)


def test_the_adapter_command_builds_its_encoder_from_the_settings(monkeypatch, tmp_path):
    """It used to load the ONNX encoder whatever ``encoder_backend`` said."""
    from typer.testing import CliRunner

    from fakes import write_dataset

    from rag_eval import cli

    seen = []

    def load(settings, threads=None):
        seen.append(settings.encoder_backend)
        raise SystemExit(0)

    monkeypatch.setattr(cli, "load_encoder", load)
    monkeypatch.setattr(cli, "Settings", lambda: Settings(encoder_backend="torch"))
    folder = write_dataset(tmp_path / "d", [{"pid": "p", "title": "t", "text": "长城很长。"}], [{"qid": "q", "question": "?", "pid": "p", "answers": ["长"]}])
    CliRunner().invoke(cli.app, ["adapter", str(folder)])
    assert seen == ["torch"]
