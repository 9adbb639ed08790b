"""Several collections in one project: each answers from its own articles only, one is removed
without touching the others, names are slugs, never paths. Fake encoder, no model."""

from __future__ import annotations

import threading

import pytest

from rag import Assistant, CancelledError, InvalidCollectionError, Settings, UnknownCollectionError


def write(folder, name: str, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_two_collections_answer_only_from_their_own_articles_and_one_can_go(tiny):
    settings, encoder = tiny
    news = Assistant.load(settings, encoder=encoder)
    sport = news.for_collection("sport", create=True)
    science = news.for_collection("science", create=True)
    sport.add([write(settings.root / "in", "match.txt", "足球联赛决赛昨晚举行。红队以三比一战胜蓝队夺冠。")])
    science.add([write(settings.root / "in", "telescope.txt", "天文台发布新的望远镜图像。图像显示了遥远星系的细节。")])
    assert news.collections() == ["news", "science", "sport"]
    assert {p.doc_id for p in sport.ask("哪支球队夺冠?").passages} == {d.id for d in sport.documents()}
    assert {p.doc_id for p in science.ask("哪支球队夺冠?").passages} == {d.id for d in science.documents()}
    assert (settings.root / "collections" / "sport").is_dir() and (settings.root / "index" / "sport").is_dir()
    sport.drop()
    assert news.collections() == ["news", "science"] and not (settings.root / "collections" / "sport").exists()
    assert not (settings.root / "index" / "sport").exists()
    assert science.ask("望远镜图像显示了什么?").passages and [d.id for d in news.documents()] == ["a", "b"]
    with pytest.raises(UnknownCollectionError, match="no collection named 'sport'"):
        news.for_collection("sport")


@pytest.mark.parametrize("name", ["../etc", "News", "a/b", "", ".hidden", "x" * 49, "名字"])
def test_a_collection_name_must_be_a_slug(tiny, name):
    settings, encoder = tiny
    with pytest.raises(InvalidCollectionError, match="invalid collection name"):
        Assistant.load(settings, collection=name, encoder=encoder)
    with pytest.raises(InvalidCollectionError):
        Settings(root=settings.root, collection=name)


def test_the_default_collection_cannot_be_dropped(tiny):
    settings, encoder = tiny
    with pytest.raises(InvalidCollectionError, match="cannot be removed"):
        Assistant.load(settings, encoder=encoder).drop()
    assert (settings.root / "corpus" / "a.txt").exists()


def test_a_cancelled_add_changes_nothing(tiny):
    settings, encoder = tiny
    assistant = Assistant.load(settings, encoder=encoder)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError, match="nothing was added"):
        assistant.add([write(settings.root / "in", "late.txt", "一篇来不及保存的文章。内容在这里。")], cancel=cancel)
    assert [d.id for d in assistant.documents()] == ["a", "b"]
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["a.txt", "b.txt", "manifest.json"]
