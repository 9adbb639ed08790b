"""The reader: finds the exact answer span in a few short texts, and says when a text does not answer.

A cross-encoder made from the lower layers of multilingual-e5-small: question and window are read
as one sequence, ``<s> question </s></s> window </s>``, and heads on the last layer score each
window token as the span's start and end, and the first token as "this window does not answer".
Only the low-rank updates, layer norms, biases and heads are trained (``rag/reader.npz``, by
``python -m rag_eval.reader_training``); ``rag.reader_export`` merges them into the base weights and
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

from rag.prepared import READER_GRAPH, READER_GRAPH_INT8, READER_SETTINGS, load_tokenizer, read_stamp

if TYPE_CHECKING:
    from tokenizers import Tokenizer

BOS, PAD, EOS = 0, 1, 2  # XLM-R's <s>, <pad>, </s>
MAX_QUESTION_TOKENS = 48
MAX_WINDOW_TOKENS = 200  # a longer window is read up to here: split long texts into windows
MAX_SPAN_TOKENS = 30  # 99% of the training answers fit (median answer: 5 characters)
PREFIXES = ("query: ", "passage: ")  # E5's prompts, when the reader was trained with them


@dataclass(frozen=True)
class Reading:
    """What the reader made of one window (a candidate sentence, a stretch of a paragraph): its best
    span, ``window[start:end]``, and how sure it is."""

    start: int  # character offsets inside the window's text
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


def best_spans(
    start_logits: np.ndarray, end_logits: np.ndarray, bounds: np.ndarray, n: int
) -> list[tuple[int, int, float]]:
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
        # sorted, with argmax's pick: among equal scores the first comes first, so the best is read()'s
        top = np.union1d(np.argpartition(-flat, min(n, flat.size) - 1)[:n], [int(np.argmax(flat))])
        top = top[np.argsort(-flat[top], kind="stable")][:n]
    rows, columns = np.unravel_index(top[np.isfinite(flat[top])], scores.shape)
    return [(int(allowed[i]), int(allowed[j]), float(np.exp(scores[i, j]))) for i, j in zip(rows, columns, strict=True)]


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())


def decode(
    batch: Batch, windows: Sequence[EncodedWindow], texts: Sequence[str], outputs: Sequence[np.ndarray], n_best: int = 1
) -> list[list[Reading]]:
    """The readings of each row from the graph's (start, end, no-answer) logits: up to ``n_best``
    spans, best first, each text once (tokens that differ only by the space before a word give the
    same text); at least one, an empty span scored 0, when nothing in the window is readable."""
    start_logits, end_logits, no_answer_logits = outputs
    readings = []
    for row, (window, text) in enumerate(zip(windows, texts, strict=True)):
        no_answer = float(1.0 / (1.0 + np.exp(-no_answer_logits[row])))
        wanted = 1 if n_best == 1 else 2 * n_best  # room for the texts found twice
        found = best_spans(start_logits[row], end_logits[row], batch.bounds[row], wanted)
        if not found:  # nothing readable in the window (empty or only spaces)
            readings.append([Reading(0, 0, 0.0, no_answer)])
            continue
        read: dict[tuple[int, int], Reading] = {}
        for i, j, score in found:
            start, end = window.offsets[i - batch.first[row]][0], window.offsets[j - batch.first[row]][1]
            while start < end and text[start].isspace():  # "▁word" tokens cover the space before the word
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            read.setdefault((start, end), Reading(start, end, score, no_answer))
        readings.append(list(read.values())[:n_best])
    return readings


@dataclass
class Reader:
    """Reads a question against a few windows (sentences, passages) in one ONNX Runtime call."""

    tokenizer: Tokenizer
    token_vectors: np.ndarray  # the prepared model's word embeddings, memory-mapped
    session: Any
    prefixes: bool

    @classmethod
    def load(cls, model_dir: Path, threads: int | None = None, int8: bool = True) -> Reader:
        """``int8`` (the default) reads with the dynamically quantised graph: see ``rag.reader_export``."""
        import onnxruntime

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
        settings = json.loads((model_dir / READER_SETTINGS).read_text())
        return cls(load_tokenizer(model_dir), token_vectors, session, settings["prefixes"])

    def read(self, question: str, windows: Sequence[str]) -> list[Reading]:
        """The reading of each window, in the windows' order, in one batch."""
        return [best[0] for best in self.read_n_best(question, windows, 1)]

    def read_n_best(self, question: str, windows: Sequence[str], n_best: int) -> list[list[Reading]]:
        """Up to ``n_best`` readings of each window (at least one), in the windows' order, each
        window's best first, in one batch: for choosing among a window's spans, e.g. the one of
        the kind the question asks for. Its first readings are ``read``'s."""
        if not windows:
            return []
        question_tokens = question_ids(self.tokenizer, question, self.prefixes)
        encoded = [encode_window(self.tokenizer, window, self.prefixes) for window in windows]
        # All rows in one batch padded to the longest, on purpose: the int8 graph quantises each matrix
        # product's input with one scale over the whole batch, padding included, so the other rows move
        # every row's reading. The gold questions' 3,431 rows read alone instead: P(no answer) moved
        # 0.042 on average (at most 0.41), 28% of the best spans moved, 44 of 511 answers changed and
        # dev MRR@10 fell 0.8745 → 0.8614. Splitting or length-sorting the batch is no free speed-up.
        batch = make_batch([question_tokens] * len(encoded), encoded)
        outputs = self.session.run(None, {"token_vectors": self.token_vectors[batch.ids], "attention_mask": batch.mask})
        return decode(batch, encoded, windows, outputs, n_best)
