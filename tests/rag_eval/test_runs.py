"""The gold runs' configurations: the ablations of the design, each a valid change of the default."""

from __future__ import annotations

from rag import RetrievalSettings
from rag_eval.runs import CONFIGURATIONS, DEFAULT


def test_each_configuration_is_a_valid_change_of_the_default_and_named_once():
    names = [configuration.name for configuration in CONFIGURATIONS]
    assert len(set(names)) == len(names) and DEFAULT in names
    for configuration in CONFIGURATIONS:
        RetrievalSettings(**configuration.retrieval)  # raises on a setting that does not exist or cannot work
    default = next(c for c in CONFIGURATIONS if c.name == DEFAULT)
    assert default.retrieval == {} and default.chunk is None  # the product as it ships


def test_the_ablations_neither_abstain_nor_rerank_so_the_default_is_the_only_one_that_does():
    plain = [c for c in CONFIGURATIONS if c.chunk is None and c.name != DEFAULT]
    assert all(c.retrieval.get("reader_rerank_weight") == 0.0 for c in plain)
    assert [c.name for c in plain if c.retrieval.get("abstain", True)] == ["hybrid+sentence+expansion+adapter"]
