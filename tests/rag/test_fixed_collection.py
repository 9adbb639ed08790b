"""An evaluation set: documents given when it opens, indexed once, re-embedded only where they
changed, and closed to changes."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from fakes import FakeEncoder

from rag import Assistant, ChunkSettings, Document, DocumentError, Settings


def _document(doc_id: str, text: str) -> Document:
    return Document(id=doc_id, file="", title=text[:10], script="zh-Hans", sha256=hashlib.sha256(text.encode()).hexdigest(), text=text)


DOCUMENTS = [
    _document("p1", "米拉·穆拉蒂宣布辞去OpenAI首席技术官一职。她在公司工作了六年半。"),
    _document("p2", "台积电是全球最大的晶圆代工厂。奥特曼曾提出建造36座晶圆厂的计划。"),
]


@pytest.fixture()
def settings(tmp_path):
    return Settings(root=tmp_path, cache_dir=tmp_path / "cache", store=None, collection="eval-set", chunk=ChunkSettings(size=40, overlap=10))


def test_an_evaluation_set_is_embedded_once_and_then_only_where_a_document_changed(settings):
    first = FakeEncoder()
    built = Assistant.over(DOCUMENTS, settings, encoder=first)
    assert {d.id for d in built.documents()} == {"p1", "p2"} and first.passages > 0
    again = FakeEncoder()
    Assistant.over(DOCUMENTS, settings, encoder=again)
    assert again.passages == 0  # the index records the documents' checksums: nothing to embed
    changed = [DOCUMENTS[0], replace(DOCUMENTS[1], text="台积电是全球最大的晶圆代工厂。")]
    alone, one = FakeEncoder(), FakeEncoder()
    reopened = Assistant.over(changed, settings, encoder=alone)
    Assistant.over([changed[1]], replace(settings, collection="eval-one"), encoder=one)
    assert alone.passages == one.passages > 0  # exactly the changed document's pieces
    assert reopened.document("p2").text == "台积电是全球最大的晶圆代工厂。"


def test_a_new_date_or_title_is_written_from_the_stored_pieces_without_embedding(settings):
    Assistant.over(DOCUMENTS, settings, encoder=FakeEncoder())
    described = [replace(DOCUMENTS[0], title="穆拉蒂离职", published="2024-09-26"), DOCUMENTS[1]]
    again = FakeEncoder()
    reopened = Assistant.over(described, settings, encoder=again)
    assert again.passages == 0  # the text is the same: its pieces are kept
    shown = reopened.document("p1")
    assert (shown.title, shown.published, shown.text) == ("穆拉蒂离职", "2024-09-26", DOCUMENTS[0].text)
    assert reopened.ask("穆拉蒂辞去了什么职务？").passages[0].doc_id == "p1"


def test_an_evaluation_set_takes_no_changes_and_writes_no_corpus_folder(settings, tmp_path):
    assistant = Assistant.over(DOCUMENTS, settings, encoder=FakeEncoder())
    article = tmp_path / "new.txt"
    article.write_text("一篇新的文章。内容完整。", encoding="utf-8")
    for change in (lambda: assistant.add([article]), lambda: assistant.remove(["p1"]), assistant.drop):
        with pytest.raises(DocumentError, match="'eval-set' is a fixed evaluation set; it takes no changes"):
            change()
    assert not settings.corpus_dir.exists() and {d.id for d in assistant.documents()} == {"p1", "p2"}
