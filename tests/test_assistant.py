"""The Python API on the seed articles: three languages, citations, bad input, adding documents."""

from __future__ import annotations

import pytest

from rag import Assistant, DocumentError, InvalidQuestionError, Settings
from rag.answer import Citation, answer_text

MURATI = "004_c511aff020beec01"


@pytest.mark.parametrize(
    "question",
    ["哪位OpenAI首席技术官宣布离职?", "哪位OpenAI首席技術官宣布離職?", "Which OpenAI CTO announced she was leaving?"],
)
def test_cto_question_finds_murati_at_rank_one(news, question):
    answer = news.ask(question, top_k=5)
    top = answer.passages[0]
    assert "穆拉蒂" in top.text or "Murati" in top.text
    assert top.rank == 1 and top.doc_id in {MURATI, "003_4abdecabaf17e48b", "000_a3d17ee69bd47227"}


def test_traditional_question_reaches_simplified_article_and_back(news):
    simplified_article = news.ask("OpenAI這輪融資後估值將達到多少?", top_k=3)
    assert "1500" in simplified_article.text
    traditional_article = news.ask("多少名OpenAI员工签署了公开信?", top_k=3)
    assert traditional_article.passages[0].doc_id == "001_86f10aefa8bc7cfc"
    assert "500" in traditional_article.passages[0].text


def test_answer_is_verbatim_and_cited(news):
    answer = news.ask("OpenAI的融资预计什么时候完成?", top_k=5)
    assert not answer.abstained and answer.text
    parts = []
    for citation in answer.citations:
        passage = answer.passages[citation.rank - 1]
        document = news.index.documents[citation.doc_id]
        cited = document.text[citation.start : citation.end]
        assert passage.text[citation.passage_start : citation.passage_end] == cited
        assert document.text[passage.start : passage.end] == passage.text
        parts.append(cited)
    assert 1 <= len(parts) <= 2 and answer.text in {" … ".join(parts), "".join(parts), " ".join(parts), "\n".join(parts)}
    assert [p.rank for p in answer.passages] == [1, 2, 3, 4, 5]
    assert [p.score for p in answer.passages] == sorted((p.score for p in answer.passages), reverse=True)


def _citation(index, sentence_id: int) -> Citation:
    sentence = index.sentences[sentence_id]
    return Citation(1, sentence.doc_id, sentence.start, sentence.end, 0, sentence.end - sentence.start)


def test_adjacent_cited_sentences_read_as_one_stretch(news):
    index = news.index
    first = next(i for i in range(len(index.sentences) - 1) if index.sentences[i].doc_id == index.sentences[i + 1].doc_id)
    document = index.documents[index.sentences[first].doc_id].text
    adjacent = [_citation(index, first), _citation(index, first + 1)]
    assert answer_text(index, adjacent) == document[index.sentences[first].start : index.sentences[first + 1].end]
    apart = [_citation(index, first), _citation(index, first + 2)]
    assert answer_text(index, apart) == " … ".join(document[c.start : c.end] for c in apart)


def test_passages_carry_titles_and_highlights(news):
    answer = news.ask("Sora为什么没有公开推出?", top_k=3)
    for passage in answer.passages:
        assert passage.title == news.index.documents[passage.doc_id].title
        if passage.highlight:
            start, end = passage.highlight
            assert 0 <= start < end <= len(passage.text)


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_rejected(news, question):
    with pytest.raises(InvalidQuestionError, match="empty"):
        news.ask(question)


def test_overlong_question_is_rejected(news):
    with pytest.raises(InvalidQuestionError, match="2,000"):
        news.ask("问" * 2001)
    with pytest.raises(ValueError):  # the project error is a ValueError too
        news.ask("问", top_k=0)


def test_add_makes_a_new_article_answerable(project_copy, encoder, tmp_path):
    assistant = Assistant.load(Settings(root=project_copy), encoder=encoder)
    before = len(assistant.index.chunks)
    article = tmp_path / "new.md"
    article.write_text("# 深海研究所发布报告\n\n深海研究所表示,马里亚纳海沟的新物种数量达到了27种。研究由李明教授领导。\n", encoding="utf-8")
    (added,) = assistant.add([article])
    assert added.title == "深海研究所发布报告" and (project_copy / "corpus" / added.file).exists()
    answer = assistant.ask("马里亚纳海沟发现了多少新物种?", top_k=3)
    assert answer.passages[0].doc_id == added.id and "27" in (answer.text or "")
    reopened = Assistant.load(Settings(root=project_copy), encoder=encoder)
    assert len(reopened.index.chunks) > before and added.id in reopened.index.documents


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "no article text"), (b"\xb9\xfa\xbc\xd2\xb5\xc4", "not valid UTF-8"), (b"\x00\x01binary", "binary")],
)
def test_bad_file_is_refused_and_index_unchanged(project_copy, encoder, tmp_path, content, message):
    assistant = Assistant.load(Settings(root=project_copy), encoder=encoder)
    generation = (project_copy / "index" / "news" / "CURRENT").read_text()
    corpus_files = sorted(p.name for p in (project_copy / "corpus").iterdir())
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(DocumentError, match=message):
        assistant.add([bad])
    assert (project_copy / "index" / "news" / "CURRENT").read_text() == generation
    assert sorted(p.name for p in (project_copy / "corpus").iterdir()) == corpus_files


def test_duplicate_and_unsupported_files_are_refused(project_copy, encoder, tmp_path):
    assistant = Assistant.load(Settings(root=project_copy), encoder=encoder)
    (seed,) = (project_copy / "corpus").glob("000_*.txt")
    copy = tmp_path / "again.txt"
    copy.write_bytes(seed.read_bytes())
    with pytest.raises(DocumentError, match="already in the index"):
        assistant.add([copy])
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    with pytest.raises(DocumentError, match="unsupported file type"):
        assistant.add([pdf])
    too_big = tmp_path / "big.txt"
    too_big.write_text("长" * 2_000_000, encoding="utf-8")
    with pytest.raises(DocumentError, match="larger than the limit"):
        assistant.add([too_big])


def test_failed_add_of_several_files_adds_none(project_copy, encoder, tmp_path):
    assistant = Assistant.load(Settings(root=project_copy), encoder=encoder)
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("一篇完全正常的新闻稿。内容很短。", encoding="utf-8")
    bad.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(DocumentError):
        assistant.add([good, bad])
    assert len(assistant.index.documents) == 5
    assert len(Assistant.load(Settings(root=project_copy), encoder=encoder).index.documents) == 5
