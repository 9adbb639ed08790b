"""The scale benchmark (rag_eval.scale): synthetic sentences and their vectors, and a small run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag_eval import scale
from rag_eval.scale import Pool, PoolEncoder


class _Questions:
    model_id, model_sha256, dimension, backend = "fake", "0" * 64, 2, "fake"


POOL = Pool(["甲乙丙丁。", "戊己庚辛。", "子丑寅卯。"], np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32))


def _recipes(tmp_path: Path, sentences: list[str], first: list[int], second: list[int], weight: list[float]) -> Path:
    hashes = scale.text_hash(sentences)
    order = np.argsort(hashes)
    path = tmp_path / "recipes.npz"
    np.savez(path, hashes=hashes[order], first=np.array(first, np.int32)[order], second=np.array(second, np.int32)[order],
             weight=np.array(weight, np.float32)[order])  # fmt: skip
    return path


def test_a_splice_is_the_first_half_of_one_sentence_and_the_second_half_of_another() -> None:
    assert scale.splice("甲乙丙丁。", "戊己庚辛。") == ("甲乙庚辛。", 2 / 5)  # 5 // 2 characters of each


def test_a_spliced_sentence_gets_its_halves_vectors_weighted_by_their_characters(tmp_path: Path) -> None:
    recipes = _recipes(tmp_path, ["甲乙庚辛。", "子丑丙丁。"], [0, 2], [1, 0], [0.4, 0.6])
    encoder = PoolEncoder(POOL, recipes, _Questions())  # type: ignore[arg-type]
    first, second = encoder.encode_passages(["甲乙庚辛。", "子丑丙丁。"])
    np.testing.assert_allclose(first, np.array([0.4, 0.6]) / np.hypot(0.4, 0.6), rtol=1e-6)
    np.testing.assert_allclose(second, np.array([0.76, 0.48]) / np.hypot(0.76, 0.48), rtol=1e-6)  # 0.6·(0.6, 0.8) + 0.4·(1, 0)
    assert encoder.misses == 0


def test_a_chunk_is_the_normalised_sum_of_its_sentences_and_unknown_sentences_are_counted(tmp_path: Path) -> None:
    recipes = _recipes(tmp_path, ["甲乙庚辛。"], [0], [1], [0.4])
    encoder = PoolEncoder(POOL, recipes, _Questions())  # type: ignore[arg-type]
    (chunk,) = encoder.encode_passages(["甲乙庚辛。甲乙庚辛。"])
    np.testing.assert_allclose(chunk, np.array([0.4, 0.6]) / np.hypot(0.4, 0.6), rtol=1e-6)
    assert (encoder.sentences, encoder.misses) == (2, 0)
    encoder.encode_passages(["没见过的句子。"])
    assert (encoder.sentences, encoder.misses) == (3, 1)


@pytest.mark.model
def test_a_small_archive_is_built_once_measured_and_rebuilt_when_its_fingerprint_changes(tmp_path: Path) -> None:
    questions = ["华为发布了什么?", "Who won the match?", "台风什么时候登陆?"]
    (row,) = scale.run([300], [], tmp_path, questions)
    assert row["chunks"] >= 300 and row["questions"] == 3
    assert row["store"] == "local files" and row["recall@10"] == {"chunk": 1.0, "sentence": 1.0}  # exact at this size
    assert row["ask_minus_encode_read_p50_ms"] > 0 and row["read_p50_ms"] > 0
    assert row["open_s"] >= 0 and row["add_again_s"] > 0 and row["remove_again_s"] > 0  # open_s: the index alone, in a process of its own
    built = tmp_path / "scale-300" / "built.json"
    first_build = built.read_text()
    (again,) = scale.run([300], [], tmp_path, questions)
    assert built.read_text() == first_build and again["build_s"] == row["build_s"]  # reused, not rebuilt
    record = json.loads(first_build)
    record["fingerprint"]["versions"]["chunk"] = 0  # older chunking
    built.write_text(json.dumps(record))
    scale.run([300], [], tmp_path, questions)
    assert json.loads(built.read_text())["fingerprint"]["versions"]["chunk"] != 0  # stale: built again
