"""BM25 (the Lucene variant, k1 = 1.5, b = 0.75), computed at query time from postings.

Document frequencies, the number of chunks and their average length change with every add or
remove, so nothing derived from them is stored: a store keeps raw term counts and chunk lengths,
and the weights are computed for the query's terms only, added into a dense float32 array of a
segment's rows in the query's token order, as bm25s adds them. The arithmetic follows bm25s step
for step, so the scores equal bm25s's on the same chunks (``tests/rag/test_bm25.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def add_term(scores: np.ndarray, rows: np.ndarray, counts: np.ndarray, lengths: np.ndarray, term_idf: np.ndarray,
             average_length: float) -> None:  # fmt: skip
    """Add one query token's contribution to ``scores`` (float32, one per row) in place. A term's
    postings hold each row once, so a plain indexed add is exact."""
    scores[rows] += term_idf * term_weights(counts, lengths[rows], average_length)


def idfs(frequencies: Mapping[int, int], chunks: int) -> dict[int, np.ndarray]:
    """The idf of each term some chunk holds (a term of df 0 scores nothing)."""
    return {term: idf(df, chunks) for term, df in frequencies.items() if df}


def score(term_ids: Sequence[int], postings: Mapping[int, tuple[np.ndarray, np.ndarray]], lengths: np.ndarray,
          term_idfs: Mapping[int, np.ndarray], average_length: float) -> np.ndarray | None:  # fmt: skip
    """BM25 of the ``len(lengths)`` rows whose ``postings`` (term → (rows, counts)) are given: each
    query token in the query's order, a repeated token again, as bm25s sums. Both stores score
    through this loop, so their scores are equal bit for bit. None when no row holds a term."""
    scores: np.ndarray | None = None
    for term in term_ids:
        found = postings.get(term)
        if found is None or term not in term_idfs or not len(found[0]):
            continue
        if scores is None:
            scores = np.zeros(len(lengths), dtype=np.float32)
        add_term(scores, found[0], found[1], lengths, term_idfs[term], average_length)
    return scores
