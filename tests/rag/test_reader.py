"""The reader: exact span offsets, the no-answer head, and the CMRC 2018 metrics."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rag.errors import ModelMissingError
from rag.model import read_stamp
from rag.reader import MAX_SPAN_TOKENS, Reader, best_span, best_spans, reader_weights
from rag_eval.reader_metrics import exact_match, f1, normalise, sliding_windows

# (question, windows, the answer that window 0's span holds)
CASES = [
    (
        "哪位OpenAI首席技术官宣布离职?",
        ["OpenAI首席技术官米拉·穆拉蒂(Mira Murati)9月25日宣布离职。", "今天晚饭吃红烧肉。"],
        "米拉·穆拉蒂",
    ),
    ("奧特曼否認自己持有OpenAI多少股份?", ["面對外界質疑,奧特曼急忙澄清:自己絕對沒有拿7%的股份!"], "7%"),
    ("How much was OpenAI valued at?", ["这轮融资后,OpenAI的估值将达到1570亿美元,约合1.1万亿元人民币。"], "1570亿美元"),
    (
        "《战国无双3》是由哪两个公司合作开发的？",
        ["《战国无双3》（）是由光荣和ω-force开发的战国无双系列的正统第三续作。"],
        "光荣和ω-force",
    ),
    ("台積電在哪一年成立?", ["  台灣積體電路製造公司 (TSMC) 於 1987 年成立,總部位於新竹科學園區。  "], "1987"),
]


def test_metrics_match_hand_computed_values():
    assert normalise(" 1,570 亿美元。") == "1570亿美元"
    assert exact_match("《光荣》", ["光荣"]) == 1.0
    assert exact_match("光荣和", ["光荣"]) == 0.0
    # longest common substring 光荣 (2): precision 2/3, recall 2/2 -> F1 0.8
    assert f1("光荣和", ["光荣"]) == pytest.approx(0.8)
    # against 光荣公司 (4): LCS 2, precision 2/3, recall 2/4 -> 4/7; the best over the answers counts
    assert f1("光荣和", ["光荣公司"]) == pytest.approx(4 / 7)
    assert f1("光荣和", ["光荣公司", "光荣"]) == pytest.approx(0.8)
    # common characters that are not contiguous do not count beyond the longest run: 1 of 3 each way
    assert f1("甲乙丙", ["甲丙乙"]) == pytest.approx(1 / 3)
    assert f1("。", ["光荣"]) == 0.0


def test_sliding_windows_cover_the_text():
    assert sliding_windows("a" * 10, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    assert sliding_windows("abc", 160, 80) == [(0, 3)]
    assert sliding_windows("", 160, 80) == [(0, 0)]


def test_best_span_respects_bounds_order_and_length():
    start = np.array([0.0, 5.0, 0.0, 0.0, 9.0])
    end = np.array([0.0, 0.0, 8.0, 0.0, 0.0])
    bounds = np.array([False, True, True, True, True])
    i, j, score = best_span(start, end, bounds)
    assert (i, j) == (1, 2)  # 4 scores higher alone but would end before it starts
    assert 0 < score < 1
    assert best_span(start, end, np.zeros(5, dtype=bool)) == (0, 0, 0.0)
    width = MAX_SPAN_TOKENS + 5
    start, end = np.zeros(width), np.zeros(width)
    start[0], end[-1] = 10.0, 10.0
    i, j, _ = best_span(start, end, np.ones(width, dtype=bool))
    assert j - i < MAX_SPAN_TOKENS


def test_best_spans_are_the_most_probable_valid_spans_best_first():
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=12), rng.normal(size=12)
    bounds = np.ones(12, dtype=bool)
    bounds[[0, 5]] = False
    spans = best_spans(start, end, bounds, 6)
    assert spans[0] == best_span(start, end, bounds) and len(set(spans)) == 6
    assert [s for _, _, s in spans] == sorted((s for _, _, s in spans), reverse=True)
    assert all(i <= j and bounds[i] and bounds[j] for i, j, _ in spans)
    # every valid span left out scores no higher than the last one kept
    allowed = np.flatnonzero(bounds)
    p_start = np.exp(start[allowed]) / np.exp(start[allowed]).sum()
    p_end = np.exp(end[allowed]) / np.exp(end[allowed]).sum()
    every = sorted((p_start[a] * p_end[b] for a in range(allowed.size) for b in range(a, allowed.size)), reverse=True)
    assert [s for _, _, s in spans] == pytest.approx(every[:6])
    assert len(best_spans(start[:2], end[:2], np.array([False, True]), 5)) == 1  # one position: one span
    assert best_spans(start, end, np.zeros(12, dtype=bool), 3) == []


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


@pytest.mark.model
def test_stale_reader_is_reported(tmp_path):
    from rag.config import Settings

    folder = tmp_path / "model"
    folder.mkdir()
    for path in Settings().model_dir.iterdir():  # links: the large files are not copied
        (folder / path.name).symlink_to(path)
    (folder / "prepared.json").unlink()
    shutil.copy(Settings().model_dir / "prepared.json", folder)
    assert read_stamp(folder).path == folder
    stamp = json.loads((folder / "prepared.json").read_text())
    (folder / "prepared.json").write_text(json.dumps(stamp | {"reader_sha256": "0" * 64}))
    with pytest.raises(ModelMissingError, match="current reader"):
        read_stamp(folder)


@pytest.fixture(scope="module", params=[True, False], ids=["int8", "fp32"])
def reader(request):
    from rag.config import Settings

    return Reader.load(Settings().model_dir, int8=request.param)


@pytest.mark.model
@pytest.mark.parametrize("question,windows,answer", CASES)
def test_spans_are_exact_slices_on_token_boundaries(reader, question, windows, answer):
    spans = reader.read(question, windows)
    assert [span.window for span in spans] == list(range(len(windows)))
    for span, window in zip(spans, windows, strict=True):
        text = window[span.start : span.end]
        assert 0 <= span.start < span.end <= len(window)
        assert text == text.strip() and text
        encoding = reader.tokenizer.encode(window, add_special_tokens=False)
        starts = {a for a, _ in encoding.offsets} | {a + 1 for a, _ in encoding.offsets}  # "▁word" covers its space
        assert span.start in starts and span.end in {b for _, b in encoding.offsets}
        assert 0.0 <= span.score <= 1.0 and 0.0 <= span.no_answer <= 1.0
    first = spans[0]
    assert answer in windows[0][first.start : first.end]  # the reader may take in a unit or a clause


@pytest.mark.model
@pytest.mark.parametrize("question,windows,answer", CASES[:3])
def test_n_best_spans_of_each_window_start_with_its_best_span(reader, question, windows, answer):
    best = reader.read(question, windows)
    spans = reader.read(question, windows, n_best=4)
    for window, first in enumerate(best):
        own = [span for span in spans if span.window == window]
        assert own[0] == first and 1 <= len(own) <= 4
        assert len({(span.start, span.end) for span in own}) == len(own)  # each text once
        assert [span.score for span in own] == sorted((span.score for span in own), reverse=True)
        assert {span.no_answer for span in own} == {first.no_answer}
    assert [span.window for span in spans] == sorted(span.window for span in spans)
    assert any(answer in windows[0][span.start : span.end] for span in spans if span.window == 0)


@pytest.mark.model
def test_unrelated_window_reads_as_no_answer(reader):
    question = "哪位OpenAI首席技术官宣布离职?"
    windows = [
        "OpenAI首席技术官米拉·穆拉蒂(Mira Murati)宣布离职。",
        "红烧肉要用五花肉,先焯水再炒糖色。",
        "台風は沖縄に上陸した。",
    ]
    answering, *unrelated = reader.read(question, windows)
    assert all(span.no_answer > answering.no_answer for span in unrelated)
    assert answering.no_answer < 0.5


@pytest.mark.model
def test_empty_and_long_windows_are_read(reader):
    spans = reader.read("谁?", ["", "  ", "张三说:" + "很好。" * 400])
    assert [(span.start, span.end, span.score) for span in spans[:2]] == [(0, 0, 0.0), (0, 0, 0.0)]
    assert 0 < spans[2].end <= len("张三说:" + "很好。" * 400)
    assert reader.read("谁?", []) == []


@pytest.mark.model
def test_the_reader_refuses_a_sentence_about_the_subject_that_lacks_the_detail(reader):
    """On-topic, unanswerable: the sentence is about the same round of funding, not SoftBank's share."""
    valuation = "此轮融资后,OpenAI的估值将达到1500亿美元。"
    (refusal,) = reader.read("软银在这轮融资中占多少股份?", [valuation])
    (answer,) = reader.read("OpenAI这轮融资后的估值是多少?", [valuation])
    assert refusal.no_answer > 0.5 > answer.no_answer and valuation[answer.start : answer.end] == "1500亿美元"


@pytest.mark.model
def test_int8_reads_like_fp32():
    from rag.config import Settings

    fast, exact = (Reader.load(Settings().model_dir, int8=int8) for int8 in (True, False))
    same = 0
    for question, windows, _ in CASES:
        for quick, full in zip(fast.read(question, windows), exact.read(question, windows), strict=True):
            same += (quick.start, quick.end) == (full.start, full.end)
            assert abs(quick.no_answer - full.no_answer) < 0.15
    assert same >= len(CASES) - 1  # the span itself may move by a token in one case of six
