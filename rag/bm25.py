"""BM25 (the Lucene variant, k1 = 1.5, b = 0.75), computed at query time from postings.

Document frequencies, the number of chunks and their average length change with every add or
remove, so nothing derived from them is stored: a store keeps raw term counts and chunk lengths,
and the weights are computed for the query's terms only. The arithmetic follows bm25s step for
step, in float32, so the scores equal bm25s's on the same chunks (``tests/test_bm25.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

K1 = 1.5
B = 0.75


def idf(document_frequency: np.ndarray | int, chunks: int) -> np.ndarray:
    """ln(1 + (N − df + 0.5) / (df + 0.5)), as bm25s's Lucene variant, in float32."""
    df = np.asarray(document_frequency, dtype=np.float64)
    return np.log(1 + (chunks - df + 0.5) / (df + 0.5)).astype(np.float32)


def term_weights(term_frequency: np.ndarray, lengths: np.ndarray, average_length: float) -> np.ndarray:
    """tf / (k1·(1 − b + b·dl/avgdl) + tf) in float32: bm25s adds a float64 scalar to a float32
    array, which rounds the scalar to float32 first; the cast below does the same."""
    tf = np.asarray(term_frequency, dtype=np.float32)
    normaliser = (K1 * ((1 - B) + B * np.asarray(lengths, dtype=np.float64) / average_length)).astype(np.float32)
    return tf / (normaliser + tf)


@dataclass(frozen=True)
class TermPostings:
    """One query term's live postings in one store: chunk ids, term counts and chunk lengths."""

    ids: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray


def score(query_postings: Sequence[Sequence[TermPostings]], chunks: int, total_length: int,
          frequencies: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(chunk ids, scores) of every chunk holding a query term. ``query_postings`` has one entry per
    query token, in the query's order (a repeated token counts again, as in bm25s): that term's
    live postings, one part per segment of the store. ``frequencies``: each token's document
    frequency in the whole store, for postings that cover only some chunks (a store re-scoring its
    candidates); by default the postings' own length."""
    if chunks == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    average = total_length / chunks
    ids, weights = [], []
    for position, parts in enumerate(query_postings):
        frequency = frequencies[position] if frequencies is not None else sum(len(part.ids) for part in parts)
        if frequency == 0:
            continue
        term_idf = idf(frequency, chunks)
        for part in parts:
            ids.append(part.ids)
            weights.append(term_idf * term_weights(part.counts, part.lengths, average))
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    unique, inverse = np.unique(np.concatenate(ids), return_inverse=True)
    scores = np.zeros(len(unique), dtype=np.float32)
    np.add.at(scores, inverse, np.concatenate(weights))  # in query-token order, as bm25s sums
    return unique, scores
