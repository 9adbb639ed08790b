"""The Python API: on the seed articles, three languages, citations, bad input, adding documents; with
the fake encoder, several collections in one project, each answering from its own articles only."""

from __future__ import annotations

import pytest

from rag import Assistant, InvalidCollectionError, InvalidQuestionError, Settings, UnknownCollectionError

MURATI = "004_c511aff020beec01"


@pytest.mark.parametrize(
    "question",
    ["哪位OpenAI首席技术官宣布离职?", "哪位OpenAI首席技術官宣布離職?", "Which OpenAI CTO announced she was leaving?"],
)
def test_cto_question_finds_murati_at_rank_one(news, question):
    top = news.ask(question, top_k=5).passages[0]
    assert top.doc_id == MURATI and "穆拉蒂" in top.text  # the article about her resignation, not a mention elsewhere


def test_traditional_question_reaches_simplified_article_and_back(news):
    simplified_article = news.ask("OpenAI這輪融資後估值將達到多少?", top_k=3)
    assert "1500" in simplified_article.text
    traditional_article = news.ask("多少名OpenAI员工签署了公开信?", top_k=3)
    assert traditional_article.passages[0].doc_id == "001_86f10aefa8bc7cfc"
    assert "500" in traditional_article.passages[0].text


def test_answer_is_verbatim_and_cited(news):
    answer = news.ask("OpenAI的融资预计什么时候完成?", top_k=5)
    # two sentences of one article answer it; they stand apart in the article, so the answer joins them
    # with " … " in the article's order (the second-ranked passage's sentence comes first)
    assert answer.text == ("The Information汇集各方资料后总结道:OpenAI的融资回合预计将在10月份第一周完成。 … "
                           "近日,首席财务官Sarah Friar在给投资者的备忘录中表示,OpenAI预计将在10月第一周前完成融资。")  # fmt: skip
    first, second = answer.citations
    document = news.document(first.doc_id)
    assert answer.text == document.text[first.start : first.end] + " … " + document.text[second.start : second.end]
    assert (first.rank, second.rank, second.doc_id) == (2, 1, first.doc_id) and first.end < second.start
    for citation in answer.citations:
        passage = answer.passages[citation.rank - 1]
        assert passage.text[citation.passage_start : citation.passage_end] == document.text[citation.start : citation.end]
        assert document.text[passage.start : passage.end] == passage.text
    assert [p.rank for p in answer.passages] == [1, 2, 3, 4, 5]
    assert [p.score for p in answer.passages] == sorted((p.score for p in answer.passages), reverse=True)


def test_passages_carry_titles_and_highlights(news):
    answer = news.ask("Sora为什么没有公开推出?", top_k=3)
    for passage in answer.passages:
        assert passage.title == news.document(passage.doc_id).title
        assert passage.highlight is not None  # every passage marks its best sentence
        start, end = passage.highlight
        assert 0 <= start < end <= len(passage.text)
    (citation,) = answer.citations
    cited = answer.passages[citation.rank - 1]
    assert citation.rank == 1 and cited.highlight == (citation.passage_start, citation.passage_end)  # the answer's sentence
    assert cited.text[slice(*cited.highlight)] == answer.text and answer.text.startswith("另据The information,今年2月推出的视频生成模型Sora")


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_rejected(news, question):
    with pytest.raises(InvalidQuestionError, match="empty"):
        news.ask(question)


def test_overlong_question_is_rejected(news):
    with pytest.raises(InvalidQuestionError, match="2,000"):
        news.ask("问" * 2001)
    with pytest.raises(ValueError):  # the project error is a ValueError too
        news.ask("问", top_k=0)


@pytest.mark.parametrize("top_k", ["5", None, 5.5, True])
def test_top_k_of_the_wrong_type_is_a_clear_error(news, top_k):
    with pytest.raises(InvalidQuestionError, match="top_k"):
        news.ask("OpenAI估值多少?", top_k=top_k)


def test_lone_surrogate_is_a_clear_error(news):
    with pytest.raises(InvalidQuestionError, match="surrogate"):
        news.ask("OpenAI\udc80估值多少?")


def test_add_makes_a_new_article_answerable(project_copy, encoder, tmp_path):
    assistant = Assistant.load(Settings(root=project_copy), encoder=encoder)
    before = assistant.info().chunks
    article = tmp_path / "new.md"
    article.write_text("# 深海研究所发布报告\n\n深海研究所表示,马里亚纳海沟的新物种数量达到了27种。研究由李明教授领导。\n", encoding="utf-8")
    (added,) = assistant.add([article])
    assert added.status == "added" and added.document.title == "深海研究所发布报告"
    assert (project_copy / "corpus" / added.document.file).exists()
    answer = assistant.ask("马里亚纳海沟发现了多少新物种?", top_k=3)
    assert answer.passages[0].doc_id == added.document.id and "27" in (answer.text or "")
    reopened = Assistant.load(Settings(root=project_copy), encoder=encoder)
    assert reopened.info().chunks > before and added.document.id in {d.id for d in reopened.documents()}


def test_every_span_on_the_gold_set_is_exact_and_inside_its_cited_sentence(news):
    from rag_eval.paths import gold_file
    from rag_eval.runs import gold_questions

    spans = 0
    for question in gold_questions(news, gold_file()):
        answer = news.ask(question.question)
        if answer.span is None:
            continue
        spans += 1
        assert news.document(answer.span.doc_id).text[answer.span.start : answer.span.end] == answer.span.text
        assert any(c.doc_id == answer.span.doc_id and c.start <= answer.span.start and answer.span.end <= c.end for c in answer.citations)
    assert spans >= 40  # measured: 68 of 205 questions get a span


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


def test_the_seed_articles_dates_and_a_question_filtered_to_a_period(news):
    """001 states 2023 年 11 月 21 日; 002 and 004 a day without a year (09/13 11:20, 9月26日), 2024 by
    the years they mention; 000 and 003 state none."""
    assert {d.id[:3]: d.published for d in news.documents()} == {"000": None, "001": "2023-11-21", "002": "2024-09-13", "003": None,
                                                                 "004": "2024-09-26"}  # fmt: skip
    answer = news.ask("哪位OpenAI首席技术官宣布离职?", top_k=5, since="2024-09-20")  # only 004 is that recent
    assert len(answer.passages) == 5 and {p.doc_id for p in answer.passages} == {MURATI} and {p.date for p in answer.passages} == {"2024-09-26"}
    assert answer.citations and all(c.date == "2024-09-26" for c in answer.citations)
    older = news.ask("多少名OpenAI员工签署了公开信?", top_k=3, until="2023-12-31", sources=["虎嗅網"])
    assert {p.doc_id for p in older.passages} == {"001_86f10aefa8bc7cfc"} and len(older.passages) == 3


def test_a_bad_filter_is_refused_and_changes_nothing(tiny):
    settings, encoder = tiny
    assistant = Assistant.load(settings, encoder=encoder)
    before = assistant.ask("谁辞去了首席技术官?", top_k=2)
    for given, message in (({"since": "2024-09-31"}, "no date of the calendar"), ({"since": "2024-09-02", "until": "2024-09-01"}, "is after until"),
                           ({"documents": ["a", "nope"]}, "no document 'nope' in the collection")):  # fmt: skip
        with pytest.raises(InvalidQuestionError, match=message):
            assistant.ask("谁辞去了首席技术官?", **given)
    assert assistant.ask("谁辞去了首席技术官?", top_k=2) == before and [d.id for d in assistant.documents()] == ["a", "b"]
    only_b = assistant.ask("谁辞去了首席技术官?", top_k=2, documents=["b"])
    assert {p.doc_id for p in only_b.passages} == {"b"}
