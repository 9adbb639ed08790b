"""The reader: exact span offsets, the no-answer head, int8 against fp32, and a stale reader refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rag.errors import ModelMissingError
from rag.reader import MAX_SPAN_TOKENS, Reader, Reading, best_span, best_spans

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
    flat = np.zeros(40)  # every span equally likely: the n best start with the one argmax takes
    everywhere = np.ones(40, dtype=bool)
    assert best_spans(flat, flat, everywhere, 4)[0] == best_span(flat, flat, everywhere) == (0, 0, pytest.approx(1 / 40**2))


@pytest.mark.model
def test_stale_reader_is_reported(tmp_path):
    from rag.config import Settings

    folder = tmp_path / "model"
    folder.mkdir()
    for path in Settings().model_dir.iterdir():  # links: the large files are not copied
        (folder / path.name).symlink_to(path)
    (folder / "prepared.json").unlink()
    shutil.copy(Settings().model_dir / "prepared.json", folder)
    assert Reader.load(folder).read("谁?", ["穆拉蒂。"])  # the linked folder reads
    stamp = json.loads((folder / "prepared.json").read_text())
    (folder / "prepared.json").write_text(json.dumps(stamp | {"reader_sha256": "0" * 64}))
    with pytest.raises(ModelMissingError, match="lacks the current reader: run `rag model`"):
        Reader.load(folder)


@pytest.fixture(scope="module", params=[True, False], ids=["int8", "fp32"])
def reader(request):
    from rag.config import Settings

    return Reader.load(Settings().model_dir, int8=request.param)


@pytest.mark.model
@pytest.mark.parametrize("question,windows,answer", CASES)
def test_spans_are_exact_slices_on_token_boundaries(reader, question, windows, answer):
    spans = reader.read(question, windows)
    assert len(spans) == len(windows)  # one reading a window, in their order
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
def test_n_best_readings_of_each_window_start_with_its_reading(reader, question, windows, answer):
    best = reader.read(question, windows)
    n_best = reader.read_n_best(question, windows, 4)
    assert len(n_best) == len(windows)  # a list a window, in their order
    for first, own in zip(best, n_best, strict=True):
        assert own[0] == first and 1 <= len(own) <= 4
        assert len({(span.start, span.end) for span in own}) == len(own)  # each text once
        assert [span.score for span in own] == sorted((span.score for span in own), reverse=True)
        assert {span.no_answer for span in own} == {first.no_answer}
    assert any(answer in windows[0][span.start : span.end] for span in n_best[0])
    assert reader.read_n_best(question, [], 4) == []
    assert reader.read_n_best(question, [""], 4) == [[Reading(0, 0, 0.0, reader.read(question, [""])[0].no_answer)]]


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
