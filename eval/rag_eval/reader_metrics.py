"""Reader scores: CMRC 2018's exact match and F1, and reading whole paragraphs with sliding windows.

CMRC 2018's definition: lower-case, drop punctuation and whitespace, then EM is string equality and
F1 is the harmonic mean of precision and recall of the longest common substring, each the best over
the gold answers. Segments are single characters here (the official script keeps Latin words whole;
the answers here are almost all Chinese).

``python -m rag_eval.reader_metrics --data FILE`` reads every paragraph of FILE with the exported
reader (fp32 and int8) and prints EM/F1; ``--latency`` times the product's call instead: a gold
question against five sentences of its article, next to encoding the bare question.

Past the facade: it scores the reader alone (``rag.reader``), apart from retrieval, as its training
does, on sentences split as the index splits them (``rag.chunk``).
"""

from __future__ import annotations

import argparse
import json
import string
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.reader import Reader, Reading
from rag_eval.paths import gold_file
from rag_eval.reader_data import load_question, split_dev

_EXTRA_PUNCTUATION = set(string.punctuation) | set("，。：？！“”；’‘《》……·、「」『』（）－～—【】")


def normalise(text: str) -> str:
    return "".join(
        ch for ch in text.lower()
        if not ch.isspace() and ch not in _EXTRA_PUNCTUATION and not unicodedata.category(ch).startswith("P")
    )  # fmt: skip


def _longest_common_substring(a: str, b: str) -> int:
    best, previous = 0, [0] * (len(b) + 1)
    for ch in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            if ch == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    return float(any(normalise(prediction) == normalise(answer) for answer in answers))


def f1(prediction: str, answers: Iterable[str]) -> float:
    predicted, scores = normalise(prediction), [0.0]
    for answer in map(normalise, answers):
        common = _longest_common_substring(predicted, answer)
        if common:
            precision, recall = common / len(predicted), common / len(answer)
            scores.append(2 * precision * recall / (precision + recall))
    return max(scores)


def sliding_windows(text: str, size: int, stride: int) -> list[tuple[int, int]]:
    """(start, end) character windows covering ``text``; the last one ends at the text's end."""
    starts = list(range(0, max(1, len(text) - size + stride), stride))
    return [(start, min(len(text), start + size)) for start in starts if start < len(text)] or [(0, len(text))]


# How the answer is picked among a paragraph's windows: the best span of the window least likely
# not to answer. Dev F1 (fp32, windows 140/70): 0.720, against 0.689 for score·(1 − no_answer)
# and 0.587 for the span score alone; all three are printed.
CHOICES: dict[str, Callable[[Reading], float]] = {
    "1-no_answer": lambda reading: 1.0 - reading.no_answer,
    "score*(1-no_answer)": lambda reading: reading.score * (1.0 - reading.no_answer),
    "score": lambda reading: reading.score,
}


@dataclass(frozen=True)
class Scores:
    choice: str
    exact_match: float
    f1: float
    questions: int


def read_paragraphs(reader: Reader, rows: Sequence[dict], size: int, stride: int) -> list[Scores]:
    """Each question against its whole paragraph, read as sliding windows in one batch; the scores
    of each way of choosing the answer among the windows."""
    em: dict[str, list[float]] = {choice: [] for choice in CHOICES}
    f: dict[str, list[float]] = {choice: [] for choice in CHOICES}
    for row in rows:
        bounds = sliding_windows(row["context"], size, stride)
        windows = [row["context"][start:end] for start, end in bounds]
        readings = reader.read(row["question"], windows)
        answers = [answer["text"] for answer in row["answers"]]
        for choice, key in CHOICES.items():
            window = max(range(len(windows)), key=lambda i: key(readings[i]))  # the first of equals, as max() picks
            best = readings[window]
            prediction = windows[window][best.start : best.end]
            em[choice].append(exact_match(prediction, answers))
            f[choice].append(f1(prediction, answers))
    return [Scores(choice, float(np.mean(em[choice])), float(np.mean(f[choice])), len(rows)) for choice in CHOICES]


def product_inputs(gold: Path, documents: Mapping[str, str], count: int, seed: int = 0) -> list[tuple[str, list[str]]]:
    """Gold questions, each with five sentences (at most 100 characters) of an article it names
    (``documents``: id → cleaned text): the evidence sentence when it is found, and four others, as
    the reader would get them."""
    import random

    from rag.chunk import split_sentences

    rng = random.Random(seed)
    inputs = []
    for line in gold.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not row.get("docs") or row["docs"][0] not in documents:
            continue
        text = documents[row["docs"][0]]
        sentences = [text[a:b][:100] for a, b in split_sentences(text) if b - a >= 10]
        evidence = [s for s in sentences if any(e["text"][:20] in s for e in row.get("evidence", []))][:1]
        inputs.append(
            (row["question"], evidence + rng.sample([s for s in sentences if s not in evidence], 5 - len(evidence)))
        )
    return inputs[:count]


def latency(model_dir: Path, inputs: list[tuple[str, list[str]]], threads: int) -> dict[str, float]:
    """p50 milliseconds of one ``Reader.read`` call (fp32 and int8 graphs) and of encoding the bare
    question (``Encoder.encode_questions``, the product's query encoding), in one run."""
    from rag.embed import OnnxEncoder

    def p50(call: Callable[[tuple[str, list[str]]], object]) -> float:
        for item in inputs[:10]:  # warm-up
            call(item)
        times = []
        for item in inputs:
            began = time.perf_counter()
            call(item)
            times.append(time.perf_counter() - began)
        return round(1000 * float(np.median(times)), 2)

    encoder = OnnxEncoder.load(model_dir, threads=threads)
    result = {"query_encoding_ms": p50(lambda item: encoder.encode_questions([item[0]]))}
    for int8 in (False, True):
        reader = Reader.load(model_dir, threads=threads, int8=int8)
        result[f"reader_{'int8' if int8 else 'fp32'}_ms"] = p50(lambda item, reader=reader: reader.read(*item))
        if int8:  # as in ``ask``: the question's encoding and the reader's call take turns on the cores
            result["encode_then_read_int8_ms"] = p50(
                lambda item, reader=reader: (encoder.encode_questions([item[0]]), reader.read(*item))
            )
    result["query_encoding_again_ms"] = p50(lambda item: encoder.encode_questions([item[0]]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="jsonl rows {question, context, answers}")
    parser.add_argument("--dev-of", type=Path, help="score the dev split that reader_training carved out of this file")
    parser.add_argument("--latency", action="store_true", help="time the product's reader call instead")
    parser.add_argument("--model-dir", type=Path, help="the prepared model folder (default: rag's settings)")
    parser.add_argument("--window", type=int, default=140, help="window size in characters")
    parser.add_argument("--stride", type=int, default=70)
    parser.add_argument("--graphs", nargs="+", choices=["fp32", "int8"], default=["fp32", "int8"])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from rag.config import Settings

    model_dir = args.model_dir or Settings().model_dir
    if args.latency:
        from rag import Assistant

        assistant = Assistant.load()  # the articles as the product cleaned them
        documents = {summary.id: assistant.document(summary.id).text for summary in assistant.documents()}
        inputs = product_inputs(gold_file(), documents, args.limit or 100)
        print(json.dumps({"inputs": len(inputs), **latency(model_dir, inputs, args.threads)}))
        return
    if args.dev_of:
        from rag.prepared import READER_FILE

        rows = [json.loads(line) for line in args.dev_of.read_text(encoding="utf-8").splitlines()]
        with np.load(READER_FILE) as arrays:  # the split the committed reader was trained with
            trained = json.loads(str(arrays["stamp"]))["settings"]
        _, dev = split_dev([load_question(row) for row in rows], trained["dev_share"], trained["seed"])
        rows = [rows[i] for i in dev]
    else:
        rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    rows = rows[: args.limit]
    for graph_name in args.graphs:
        int8 = graph_name == "int8"
        reader = Reader.load(model_dir, threads=args.threads, int8=int8)
        began = time.perf_counter()
        for scores in read_paragraphs(reader, rows, args.window, args.stride):
            graph = {"graph": graph_name, "window": args.window, "stride": args.stride}
            print(json.dumps(graph | asdict(scores) | {"seconds": round(time.perf_counter() - began, 1)}), flush=True)


if __name__ == "__main__":
    main()
