"""A filter's Milvus expression from its documents' keys: runs of keys as ranges, the shorter of the
keys listed and the others excluded, and several expressions when one would be too long. Pure: no
engine (each expression is also Python, so it is checked by evaluating it for every key)."""

from __future__ import annotations

import random

import numpy as np

from rag.store.milvus.expression import ExpressionLimits, document_filters

FIBONACCI = np.array([1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
SMALL = ExpressionLimits(max_chars=10_000, max_ranges=2, min_run=3)


def _filters(admitted: list[int], held: np.ndarray, limits: ExpressionLimits = SMALL) -> list[str] | None:
    return document_filters(np.array(admitted, dtype=np.int64), held, limits)


def test_none_admitted_is_no_search_and_all_admitted_no_filter():
    assert _filters([], FIBONACCI) == [] and _filters(FIBONACCI.tolist(), FIBONACCI) is None


def test_the_keys_listed_or_the_others_excluded_whichever_is_shorter():
    assert _filters([5], FIBONACCI) == ["dkey in [5]"]  # the others: (dkey <= 3) or (dkey >= 8)
    assert _filters([1, 2, 3, 5, 8, 21, 34, 55, 89], FIBONACCI) == ["not (dkey in [13])"]
    assert _filters([2, 3, 5, 8, 34], FIBONACCI) == ["not (dkey in [1, 13, 21, 55, 89])"]  # shorter than a range and 34


def test_keys_that_follow_one_another_among_those_held_are_a_range_open_at_either_end():
    """2..13 are consecutive among the held keys (4, 6, 7 … are held by no document: no row shows them)."""
    assert _filters([2, 3, 5, 8, 13], FIBONACCI) == ["(dkey >= 2 and dkey <= 13)"]
    assert _filters([1, 2, 3, 5, 89], FIBONACCI) == ["not ((dkey >= 8 and dkey <= 55))"]
    assert _filters([1, 2, 3, 5, 8, 13, 21], FIBONACCI) == ["(dkey <= 21)"]  # the others, 34 55 89, are as long
    assert _filters([8, 13, 21, 34, 55, 89], FIBONACCI) == ["(dkey >= 8)"]


def test_only_the_longest_runs_become_ranges_and_the_rest_is_listed():
    held = np.arange(30)
    admitted = [0, 1, 2, 3, 10, 11, 12, 20, 21, 22, 23, 24, 27]  # runs of 4, 3, 5 and 1; the others' of 6, 7, 2, 2: as long
    assert _filters(admitted, held) == ["(dkey <= 3) or (dkey >= 20 and dkey <= 24) or dkey in [10, 11, 12, 27]"]


def test_an_expression_too_long_either_way_is_split_into_expressions_that_fit():
    even = list(range(0, 30, 2))  # "dkey in [0, 2, …, 28]" is 63 characters, the odd keys excluded 69
    assert _filters(even, np.arange(30), ExpressionLimits(max_chars=40, max_ranges=2, min_run=3)) == [
        "dkey in [0, 2, 4, 6, 8, 10, 12, 14]", "dkey in [16, 18, 20, 22, 24, 26, 28]"]  # fmt: skip


def _admitted_by(expressions: list[str], held: np.ndarray) -> list[set[int]]:
    return [{int(key) for key in held if eval(expression, {"dkey": int(key)})} for expression in expressions]  # noqa: S307


def test_the_expressions_admit_exactly_the_keys_each_fits_and_few_ranges_are_joined():
    rng = random.Random(28)
    for _ in range(300):
        held = np.array(sorted(rng.sample(range(1_000), rng.randint(1, 120))))
        admitted = sorted(rng.sample(held.tolist(), rng.randint(0, len(held))))
        if rng.random() < 0.5:  # runs, as a period of an archive added in date order gives
            start = rng.randrange(len(held))
            admitted = sorted(set(admitted[: len(admitted) // 4]) | set(held[start : start + rng.randint(1, 80)].tolist()))
        limits = ExpressionLimits(max_chars=rng.choice([60, 200, 10_000]), max_ranges=rng.choice([1, 3]), min_run=rng.choice([2, 4]))
        expressions = document_filters(np.array(admitted, dtype=np.int64), held, limits)
        if expressions is None:
            assert admitted == held.tolist()
            continue
        parts = _admitted_by(expressions, held)
        assert set().union(*parts) == set(admitted) and sum(map(len, parts)) == len(admitted)  # disjoint parts
        assert all(len(e) <= limits.max_chars or len(p) == 1 for e, p in zip(expressions, parts, strict=True))
        assert all(e.count(" or ") <= limits.max_ranges for e in expressions)


def test_at_archive_size_a_period_is_one_range_and_a_scattered_half_fits_in_parts():
    """100k documents: a period of an archive added in date order is one short expression (listing
    its 50,000 keys took 340 KB); half of them scattered, 400 KB listed, is 7 of at most 64 KB."""
    held = np.arange(100_000, 300_000, 2)
    assert document_filters(held[40_000:90_000], held) == ["(dkey >= 180000 and dkey <= 279998)"]
    scattered = np.sort(np.random.default_rng(28).choice(held, 50_000, replace=False))
    assert len(f"dkey in {scattered.tolist()}") == 400_008
    expressions = document_filters(scattered, held)
    assert expressions is not None and len(expressions) == 7 and all(len(e) <= 65_536 for e in expressions)
    assert sum(e.count(",") + 1 for e in expressions) == 50_000
