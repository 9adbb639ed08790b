"""The filter expression of a Milvus search over some of a snapshot's documents (a question's
``rag.query.Filter``), from their document keys.

Listing every key (``dkey in [...]``) made a period admitting 50,000 of 100,000 documents a 340 KB
expression. What Milvus allows was measured (eval/milvus/notes.md §4): no size limit was met up to
5.4 MB, but the proxy parses about 1 ms a KB on every search (+200 ms at 344 KB on the 2.3 server),
and 2.3 refuses more than 49 conditions joined by ``or`` (the plan's protobuf nesting). So:

- keys that follow one another among the snapshot's keys become one range. Keys in between are held
  by no document of the snapshot, and the caller ANDs the snapshot's visibility filter, under which
  no rows of such keys show (``State.visible``); so a range at either end is open there. Ranges are
  kept for the longest runs only: each is a pass over the column, and few keep the nesting low;
- the keys admitted, or ``not`` the keys left out, whichever is shorter (a wide filter lists the
  few articles it leaves out);
- an expression still longer than ``ExpressionLimits.max_chars`` is split: the admitted keys in
  parts, each listed in an expression that fits, searched at once and their hits merged (the ``k``
  best of the union are among the ``k`` best of each part).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExpressionLimits:
    max_chars: int = 65_536  # ≈ 8,000 keys; parsed in ≈ 5 ms on the 2.3 server (notes §4)
    max_ranges: int = 16  # with the visibility filter's conditions, well under 2.3's 49 (20 measured)
    min_run: int = 32  # keys in a run worth a range: the range is a pass over the column


def document_filters(admitted: np.ndarray, held: np.ndarray, limits: ExpressionLimits = ExpressionLimits()) -> list[str] | None:
    """Expressions on ``dkey`` that together admit exactly the ``admitted`` keys among the ``held``
    ones (both ascending, ``admitted`` among ``held``): one when it fits, else several, each to be
    searched (disjoint). None: every held key is admitted (no filter); []: none is (no search)."""
    if not len(admitted):
        return []
    if len(admitted) == len(held):
        return None
    listed = _terms(admitted, held, limits)
    excluded = _terms(np.setdiff1d(held, admitted, assume_unique=True), held, limits)
    width = len(str(int(held[-1])))
    shortest = _text(*listed, held) if _estimate(*listed, width) <= _estimate(*excluded, width) else f"not ({_text(*excluded, held)})"
    return [shortest] if len(shortest) <= limits.max_chars else _split(admitted, held, limits)


def _split(admitted: np.ndarray, held: np.ndarray, limits: ExpressionLimits) -> list[str]:
    """The admitted keys listed in as many parts as the text needs (again for a part still too long)."""
    text = _text(*_terms(admitted, held, limits), held)
    if len(text) <= limits.max_chars or len(admitted) == 1:
        return [text]
    return [part_text for part in np.array_split(admitted, -(-len(text) // limits.max_chars)) for part_text in _split(part, held, limits)]


def _terms(keys: np.ndarray, held: np.ndarray, limits: ExpressionLimits) -> tuple[list[tuple[int, int]], np.ndarray]:
    """(ranges, listed keys): the ``max_ranges`` longest runs of at least ``min_run`` keys consecutive
    among the held ones, as (first, last) positions in ``held`` in key order; the other keys."""
    positions = np.searchsorted(held, keys)
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    starts, ends = np.concatenate(([0], breaks)), np.concatenate((breaks, [len(keys)]))  # runs: keys[starts[r]:ends[r]]
    lengths = ends - starts
    long = np.flatnonzero(lengths >= limits.min_run)
    chosen = np.sort(long[np.argsort(-lengths[long], kind="stable")][: limits.max_ranges])
    in_range = np.zeros(len(keys), dtype=bool)
    for run in chosen:
        in_range[starts[run] : ends[run]] = True
    return [(int(positions[starts[run]]), int(positions[ends[run] - 1])) for run in chosen], keys[~in_range]


def _estimate(ranges: list[tuple[int, int]], listed: np.ndarray, width: int) -> int:
    """About the characters of ``_text``: keys of ``width`` digits, each listed with ", ", each range
    "(dkey >= … and dkey <= …) or "."""
    return len(listed) * (width + 2) + len(ranges) * (2 * width + 24)


def _text(ranges: list[tuple[int, int]], listed: np.ndarray, held: np.ndarray) -> str:
    terms = [_range(first, last, held) for first, last in ranges]
    if len(listed):
        terms.append(f"dkey in {listed.tolist()}")
    return " or ".join(terms)


def _range(first: int, last: int, held: np.ndarray) -> str:
    bounds = ([f"dkey >= {held[first]}"] if first > 0 else []) + ([f"dkey <= {held[last]}"] if last < len(held) - 1 else [])
    return f"({' and '.join(bounds)})"  # never open at both ends: that is every key, no filter
