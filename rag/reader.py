"""The reader: finds the exact answer span in a few short texts, and says when a text does not answer.

A cross-encoder made from the lower layers of multilingual-e5-small: question and window are read
as one sequence, ``<s> question </s></s> window </s>``, and heads on the last layer score each
window token as the span's start and end, and the first token as "this window does not answer".
Only the low-rank updates, layer norms, biases and heads are trained (``rag/reader.npz``, by
``python -m rag_eval.reader_training``); ``export_reader`` merges them into the base weights and
writes ``reader.onnx`` into the prepared model folder, so reading needs ONNX Runtime, not torch.

Offsets come from the tokenizer's offset mapping: a span starts and ends on token boundaries and
``windows[i][start:end]`` is exactly the span's text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.files import file_sha256
from rag.model import READER_FILE, READER_GRAPH, read_stamp

if TYPE_CHECKING:
    from tokenizers import Tokenizer

READER_GRAPH_INT8 = "reader.int8.onnx"
BOS, PAD, EOS = 0, 1, 2  # XLM-R's <s>, <pad>, </s>
MAX_QUESTION_TOKENS = 48
MAX_WINDOW_TOKENS = 200  # a longer window is read up to here: split long texts into windows
MAX_SPAN_TOKENS = 30  # 99% of the training answers fit (median answer: 5 characters)
PREFIXES = ("query: ", "passage: ")  # E5's prompts, when the reader was trained with them


@dataclass(frozen=True)
class ReadSpan:
    window: int  # index of the input window
    start: int  # character offsets inside that window's text: windows[window][start:end] is the span
    end: int
    score: float  # P(start) · P(end) inside the window: the span's confidence if the window answers
    no_answer: float  # P(this window does not answer the question)


@dataclass(frozen=True)
class EncodedWindow:
    """One window's tokens: ids (any prompt first), character offsets, and which may bound a span."""

    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    bounds: tuple[bool, ...]  # False for prompt tokens and SentencePiece's bare "▁"


@dataclass(frozen=True)
class Batch:
    """Question + window sequences, right-padded; ``first`` is each window's first token position."""

    ids: np.ndarray  # [rows, tokens] int64
    mask: np.ndarray  # [rows, tokens] int64
    first: np.ndarray  # [rows] int64
    bounds: np.ndarray  # [rows, tokens] bool: positions a span may start or end at


def reader_settings(path: Path = READER_FILE) -> dict[str, Any]:
    with np.load(path) as arrays:
        return json.loads(str(arrays["settings"]))


def question_ids(tokenizer: Tokenizer, question: str, prefixes: bool) -> list[int]:
    text = PREFIXES[0] + question if prefixes else question
    return tokenizer.encode(text, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]


def encode_window(tokenizer: Tokenizer, window: str, prefixes: bool) -> EncodedWindow:
    encoding = tokenizer.encode(window, add_special_tokens=False)
    ids, offsets, tokens = encoding.ids, encoding.offsets, encoding.tokens
    keep = MAX_WINDOW_TOKENS
    bounds = [token != "▁" and end > start for token, (start, end) in zip(tokens, offsets, strict=True)]
    prompt = tokenizer.encode(PREFIXES[1].strip(), add_special_tokens=False).ids if prefixes else []
    return EncodedWindow(
        tuple(prompt + ids[:keep]),
        tuple([(0, 0)] * len(prompt) + [tuple(o) for o in offsets[:keep]]),  # type: ignore[misc]
        tuple([False] * len(prompt) + bounds[:keep]),
    )


def make_batch(questions: Sequence[Sequence[int]], windows: Sequence[EncodedWindow]) -> Batch:
    """``<s> question </s></s> window </s>`` for each (question ids, window) pair."""
    rows = [[BOS, *q, EOS, EOS, *w.ids, EOS] for q, w in zip(questions, windows, strict=True)]
    width = max(len(row) for row in rows)
    ids = np.full((len(rows), width), PAD, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    bounds = np.zeros((len(rows), width), dtype=bool)
    first = np.array([len(q) + 3 for q in questions], dtype=np.int64)
    for i, (row, window) in enumerate(zip(rows, windows, strict=True)):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
        bounds[i, first[i] : first[i] + len(window.ids)] = window.bounds
    return Batch(ids, mask, first, bounds)


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, bounds: np.ndarray) -> tuple[int, int, float]:
    """Token positions (start, end) maximising P(start)·P(end) with start ≤ end < start + MAX_SPAN_TOKENS,
    both on allowed positions; and that probability. Softmaxes run over the allowed positions only."""
    return (best_spans(start_logits, end_logits, bounds, 1) or [(0, 0, 0.0)])[0]


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, bounds: np.ndarray, n: int) -> list[tuple[int, int, float]]:
    """The ``n`` most probable token spans as ``best_span`` scores them, best first (fewer when
    fewer fit; none when no position is allowed)."""
    allowed = np.flatnonzero(bounds)
    if allowed.size == 0:
        return []
    starts = _log_softmax(start_logits[allowed].astype(np.float64))
    ends = _log_softmax(end_logits[allowed].astype(np.float64))
    scores = starts[:, None] + ends[None, :]
    gap = allowed[None, :] - allowed[:, None]  # token distance end - start
    scores[(gap < 0) | (gap >= MAX_SPAN_TOKENS)] = -np.inf
    flat = scores.ravel()
    if n == 1:
        top = np.array([int(np.argmax(flat))])
    else:
        top = np.argpartition(-flat, min(n, flat.size) - 1)[:n]
        top = top[np.argsort(-flat[top], kind="stable")]
    rows, columns = np.unravel_index(top[np.isfinite(flat[top])], scores.shape)
    return [(int(allowed[i]), int(allowed[j]), float(np.exp(scores[i, j]))) for i, j in zip(rows, columns, strict=True)]


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())


def decode(
    batch: Batch, windows: Sequence[EncodedWindow], texts: Sequence[str], outputs: Sequence[np.ndarray], n_best: int = 1
) -> list[ReadSpan]:
    """The best span of each row from the graph's (start, end, no-answer) logits; with ``n_best``,
    up to that many spans of each row, best first, each text once (tokens that differ only by the
    space before a word give the same text)."""
    start_logits, end_logits, no_answer_logits = outputs
    spans = []
    for row, (window, text) in enumerate(zip(windows, texts, strict=True)):
        no_answer = float(1.0 / (1.0 + np.exp(-no_answer_logits[row])))
        wanted = 1 if n_best == 1 else 2 * n_best  # room for the texts found twice
        found = best_spans(start_logits[row], end_logits[row], batch.bounds[row], wanted)
        if not found:  # nothing readable in the window (empty or only spaces)
            spans.append(ReadSpan(row, 0, 0, 0.0, no_answer))
            continue
        read: dict[tuple[int, int], ReadSpan] = {}
        for i, j, score in found:
            start, end = window.offsets[i - batch.first[row]][0], window.offsets[j - batch.first[row]][1]
            while start < end and text[start].isspace():  # "▁word" tokens cover the space before the word
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            read.setdefault((start, end), ReadSpan(row, start, end, score, no_answer))
        spans.extend(list(read.values())[:n_best])
    return spans


@dataclass
class Reader:
    """Reads a question against a few windows (sentences, passages) in one ONNX Runtime call."""

    tokenizer: Tokenizer
    token_vectors: np.ndarray  # the prepared model's word embeddings, memory-mapped
    session: Any
    prefixes: bool

    @classmethod
    def load(cls, model_dir: Path, threads: int | None = None, int8: bool = True) -> Reader:
        """``int8`` (the default) reads with the dynamically quantised graph: see ``export_reader``."""
        import onnxruntime
        from tokenizers import Tokenizer

        read_stamp(model_dir)  # raises ModelMissingError with the fix when the reader is missing or stale
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        # Idle threads sleep instead of spinning: the query encoder's session and this one take turns
        # in ``ask``. Measured (100 gold questions × 5 sentences, shared cores at load 5–8): encode then
        # read 137 ms against 77 ms to encode alone; with spinning, 319 ms against 55–64 ms.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        graph = model_dir / (READER_GRAPH_INT8 if int8 else READER_GRAPH)
        session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        token_vectors = np.load(model_dir / "word_embeddings.npy", mmap_mode="r")
        settings = json.loads((model_dir / "reader.json").read_text())
        return cls(Tokenizer.from_file(str(model_dir / "tokenizer.json")), token_vectors, session, settings["prefixes"])

    def read(self, question: str, windows: Sequence[str], n_best: int = 1) -> list[ReadSpan]:
        """The best span of each window, in the windows' order, in one batch. With ``n_best``, up to
        that many spans of each window, window by window, best first (``ReadSpan.window`` says
        whose): for choosing among a window's spans, e.g. the one of the kind the question asks for."""
        if not windows:
            return []
        question_tokens = question_ids(self.tokenizer, question, self.prefixes)
        encoded = [encode_window(self.tokenizer, window, self.prefixes) for window in windows]
        batch = make_batch([question_tokens] * len(encoded), encoded)
        outputs = self.session.run(None, {"token_vectors": self.token_vectors[batch.ids], "attention_mask": batch.mask})
        return decode(batch, encoded, windows, outputs, n_best)


def reader_weights(state: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The base weights with the reader's updates: ``{name}.down``/``{name}.up`` low-rank deltas
    (up @ down) added to ``{name}.weight``; every other array replaces the weight of its name."""
    merged = dict(state)
    for key, value in arrays.items():
        if key.endswith(".down"):
            name = key.removesuffix(".down")
            delta = arrays[f"{name}.up"] @ value
            weight = merged[f"{name}.weight"]
            merged[f"{name}.weight"] = weight + (delta if isinstance(weight, np.ndarray) else weight.new_tensor(delta))
        elif not key.endswith(".up"):
            merged[key] = value if isinstance(state.get(key, value), np.ndarray) else state[key].new_tensor(value)
    return merged


def reader_arrays(path: Path = READER_FILE) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key].astype(np.float32) for key in data.files if key not in ("settings", "stamp")}


def export_reader(model_dir: Path, reader_file: Path = READER_FILE) -> None:
    """Write ``reader.onnx`` (fp32), ``reader.int8.onnx`` (dynamic int8 quantisation of its matrix
    products) and ``reader.json`` into the model folder, from its base weights and ``reader_file``.

    Like the embedding graphs, the graph starts from token vectors (``word_embeddings.npy`` is
    shared, memory-mapped) and uses eager attention with zero token types."""
    import torch
    from transformers import BertModel

    settings = reader_settings(reader_file)
    model = BertModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.encoder.layer = model.encoder.layer[: settings["layers"]]  # the reader's depth
    model.config.num_hidden_layers = settings["layers"]
    heads = reader_heads(model.config.hidden_size)
    arrays = reader_arrays(reader_file)
    model.load_state_dict(
        reader_weights(model.state_dict(), {k: v for k, v in arrays.items() if not k.startswith("heads.")})
    )
    heads.load_state_dict(
        {k.removeprefix("heads."): torch.from_numpy(v) for k, v in arrays.items() if k.startswith("heads.")}
    )
    model.eval()

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.heads = model, heads

        def forward(self, token_vectors: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            zeros = torch.zeros_like(attention_mask)
            hidden = self.model(
                inputs_embeds=token_vectors, attention_mask=attention_mask, token_type_ids=zeros
            ).last_hidden_state
            return self.heads(hidden)

    example = (torch.ones((2, 8, model.config.hidden_size)), torch.ones((2, 8), dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    outputs = ["start_logits", "end_logits", "no_answer_logits"]
    torch.onnx.export(
        Graph(), example, str(model_dir / READER_GRAPH), input_names=["token_vectors", "attention_mask"],
        output_names=outputs, opset_version=17, dynamo=False,
        dynamic_axes={"token_vectors": axes, "attention_mask": axes, "start_logits": axes, "end_logits": axes,
                      "no_answer_logits": {0: "batch"}},
    )  # fmt: skip
    quantize_int8(model_dir / READER_GRAPH, model_dir / READER_GRAPH_INT8)
    info = {"prefixes": settings["prefixes"], "layers": settings["layers"], "reader_sha256": file_sha256(reader_file)}
    (model_dir / "reader.json").write_text(json.dumps(info, indent=2))


def quantize_int8(graph: Path, target: Path) -> None:
    """The reader's int8 graph: dynamic quantisation of its matrix products. Per-channel weight
    scales, MatMul only: dev F1 0.673 against 0.627 for the default settings (fp32: 0.720); the
    weights were 4-bit blocks, which one scale per matrix fits badly."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(graph, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])


def reader_heads(hidden: int) -> Any:
    """The torch module of the heads: span start/end logits over every token, and the no-answer
    logit from the first token (<s>). Built on demand so that reading needs no torch."""
    import torch

    class Heads(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.span = torch.nn.Linear(hidden, 2)
            self.no_answer = torch.nn.Linear(hidden, 1)

        def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            start, end = self.span(hidden_states).unbind(-1)
            return start, end, self.no_answer(hidden_states[:, 0]).squeeze(-1)

    return Heads()
