"""The local store's read side beyond the contract: the rows a filter's documents own in a segment,
found once for a question's searches."""

from __future__ import annotations

import numpy as np

from rag import Assistant
from rag.lexical import term_id
from rag.store import open_store
from rag.store.local_view import rows_of_documents


def test_a_filters_rows_are_the_runs_its_documents_own_in_order():
    owners = np.array([0, 0, 1, 1, 1, 3, 4, 4], dtype=np.int32)  # document 2 has no pieces
    assert rows_of_documents(owners, np.array([1, 4])).tolist() == [2, 3, 4, 6, 7]
    assert rows_of_documents(owners, np.array([0, 2, 3])).tolist() == [0, 1, 5]
    assert rows_of_documents(owners, np.array([2], dtype=np.int64)).tolist() == []
    assert rows_of_documents(owners, np.zeros(0, np.int64)).tolist() == []
    assert rows_of_documents(np.zeros(0, np.int32), np.array([0])).tolist() == []


def test_the_rows_are_those_every_owner_compared_would_give():
    rng = np.random.default_rng(28)
    owners = np.repeat(np.arange(500, dtype=np.int32), rng.integers(0, 6, 500))
    for size in (1, 17, 250, 500):
        documents = np.sort(rng.choice(500, size, replace=False))
        assert np.array_equal(rows_of_documents(owners, documents), np.flatnonzero(np.isin(owners, documents)))


class _CountedLookups(dict):
    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.lookups = 0

    def get(self, key, default=None):
        self.lookups += 1
        return super().get(key, default)


def test_a_questions_three_searches_look_its_filters_documents_up_once(tiny):
    """And the next question under the same filter (a new set, equal) does not look them up again."""
    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)
    store = open_store(settings)
    store.refresh()
    view = store.view()
    view.locations = _CountedLookups(view.locations)
    vector = encoder.encode_questions(["谁辞去了首席技术官?"]).base
    for within in (frozenset({"a", "b", "gone"}), {"b", "a", "gone"}):
        ((found, _),) = view.search_chunks(vector, 3, within)
        view.search_sentences(vector, 3, within)
        view.lexical_search([term_id("首席")], 3, (), within)
        assert len(found) == 3 and view.locations.lookups == 3
    store.close()
