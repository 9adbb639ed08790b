"""rag.fingerprint: what each difference between two fingerprints costs, and the fingerprints of
indexes written before versions existed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import FakeEncoder

from rag import Settings
from rag.fingerprint import _COSTS, ALL_FORMATS, RELEASED_CODE, Fingerprint, Work, settled, work
from rag.ingest import fingerprint


@pytest.fixture()
def current(tmp_path) -> Fingerprint:
    return fingerprint(Settings(root=tmp_path), FakeEncoder())


def changed(fp: Fingerprint, key: str, value: object) -> Fingerprint:
    return Fingerprint.from_items(fp.items() | {key: value})


def test_every_part_of_todays_fingerprint_has_a_cost(current):
    assert set(current.items()) <= set(_COSTS)
    assert Fingerprint.from_dict(current.as_dict()) == current == Fingerprint.from_items(current.items())


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("model_sha256", "f" * 64, Work(embed=True)),
        ("chunk_overlap", 0, Work(embed=True)),
        ("versions.sentences", 2, Work(embed=True)),
        ("libraries.langchain-text-splitters", "9.9", Work(embed=True)),
        ("versions.clean", 2, Work(reread=ALL_FORMATS)),
        ("versions.document", 3, Work(reread=ALL_FORMATS)),  # the stored document row (rag.document)
        ("versions.describe", 3, Work(reread=ALL_FORMATS)),  # title, script, source, date (rag.corpus.describe)
        ("versions.extract.pdf", 3, Work(reread=frozenset({"pdf"}))),
        ("libraries.python-docx", "9.9", Work(reread=frozenset({"docx"}))),
        ("libraries.opencc", "9.9", Work(reread=ALL_FORMATS, tokens=True)),
        ("versions.tokens", 2, Work(tokens=True)),
        ("libraries.jieba", "9.9", Work(tokens=True)),
        ("versions.names", 2, Work(tokens=True)),
        ("ivf_lists_per_sqrt", 8.0, Work(ann=True)),
        ("exact_max", 10, Work(ann=True)),
        ("versions.vector_index", 2, Work(ann=True)),
        ("versions.some_new_step", 1, Work(embed=True)),  # not classified yet: never too little
    ],
)
def test_each_change_costs_its_level_and_no_more(current, key, value, expected):
    found = work(current, changed(current, key, value))
    assert replace(found, reasons=()) == expected
    assert len(found.reasons) == 1 and found.reasons[0].startswith(f"{key} ")


def test_the_levels_add_up_and_a_search_setting_costs_nothing(tmp_path, current):
    both = changed(changed(current, "versions.extract.txt", 2), "ivf_lists_per_sqrt", 2.0)
    assert work(current, both) == Work(reread=frozenset({"txt"}), ann=True, reasons=work(current, both).reasons)
    assert "re-read the .txt files" in work(current, both).describe() and "rebuild the vector indexes" in work(current, both).describe()
    probing = Settings(root=tmp_path, vectors=replace(Settings().vectors, ivf_probe=7))
    assert work(current, fingerprint(probing, FakeEncoder())).nothing


def test_what_is_settled_after_a_step_leaves_the_rest_to_do(current):
    new = changed(changed(current, "versions.extract.pdf", 2), "versions.tokens", 2)
    after_reading = settled(current, new, {"reread"})  # a crash after the files were read again
    assert work(after_reading, new) == Work(tokens=True, reasons=("versions.tokens 1 → 2",))
    assert settled(current, new, {"reread", "tokens", "ann"}) == new
    opencc = changed(current, "libraries.opencc", "9.9")  # decides both: until both are done, both are to do
    assert work(settled(current, opencc, {"reread"}), opencc) == work(current, opencc)


RELEASE_CHANGES = ("versions.describe 1 → 2", "versions.document 1 → 2", "versions.extract.pdf 1 → 2")


@pytest.mark.parametrize("digest", sorted(RELEASED_CODE))
def test_a_released_index_is_migrated_without_embedding_again(current, digest):
    legacy = {key: value for key, value in current.as_dict().items() if key not in ("versions", "libraries")}
    recorded = {"jieba": current.libraries["jieba"], "opencc": current.libraries["opencc"], "faiss-cpu": "1.15.1"}
    migrated = Fingerprint.from_dict(legacy | {"ivf_probe": 128, "code": digest}, recorded)
    # since those releases PDF extraction changed (pdf 2: running headers of 3+ page PDFs only) and documents gained ISO
    # dates (describe 2, document 2): their files are read again (documents whose text is unchanged are not embedded)
    assert migrated.code is None and work(migrated, current) == Work(reread=ALL_FORMATS, reasons=RELEASE_CHANGES)


def test_an_index_of_an_unknown_build_or_other_libraries_says_so(current):
    legacy = {key: value for key, value in current.as_dict().items() if key not in ("versions", "libraries")}
    unknown = Fingerprint.from_dict(legacy | {"code": "0123456789abcdef"})
    assert work(unknown, current).embed and "development build (code 0123456789abcdef)" in work(unknown, current).reasons[0]
    older_jieba = Fingerprint.from_dict(legacy | {"code": sorted(RELEASED_CODE)[0]}, {"jieba": "0.39"})
    assert work(older_jieba, current) == Work(reread=ALL_FORMATS, tokens=True,
                                              reasons=(f"libraries.jieba 0.39 → {current.libraries['jieba']}", *RELEASE_CHANGES))  # fmt: skip


def test_installed_versions_name_the_installed_distributions_and_skip_the_rest():
    from importlib import metadata

    from rag.fingerprint import installed_versions

    assert installed_versions(["numpy", "no-such-distribution-here"]) == {"numpy": metadata.version("numpy")}
