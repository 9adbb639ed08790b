"""What a Chinese question names in Latin letters, and whether an article mentions it."""

from __future__ import annotations

import pytest

from rag.mentions import han_name_opening, han_names_in, listed, named_in, people_named, places_named, unmentioned


def _no_names(words: set[str]) -> dict[str, set[str]]:
    return {}


def test_a_chinese_question_names_what_it_writes_in_latin_words_of_three_letters_or_more():
    named = named_in("Sarah Friar加入OpenAI之前在哪家公司任职?AI呢?", _no_names)
    assert [(n.name, n.words) for n in named] == [("Sarah Friar", ("Sarah", "Friar")), ("OpenAI", ("OpenAI",))]  # "AI": too short
    assert [n.words for n in named_in("Durk(Diederik)Kingma 和 Inflection AI", _no_names)] == [("Durk", "Diederik", "Kingma"), ("Inflection",)]
    assert named_in("穆拉蒂是哪一年加入的?", _no_names) == ()


def test_a_name_of_several_words_is_mentioned_when_any_of_them_is():
    (kingma,) = named_in("Durk(Diederik)Kingma 現在在哪裡工作?", _no_names)
    assert unmentioned([kingma], "Durk Kingma 加入了 Anthropic。") == []
    assert unmentioned([kingma], "他加入了 Anthropic。") == ["Durk(Diederik)Kingma"]


def test_a_name_counts_as_mentioned_in_its_letters_in_any_case_or_spacing_or_in_a_chinese_form():
    translations = {"murati": {"穆拉蒂"}}
    named = named_in("Murati离开OpenAI后创办了什么公司?", lambda words: {w: translations[w] for w in words & translations.keys()})
    assert unmentioned(named, "米拉·穆拉蒂离开了Open AI。") == []  # a name written both ways; "Open AI" with a space
    assert unmentioned(named, "她离开了openai。") == ["Murati"]
    # CC-CEDICT: a proper name's first word (Google, Internet company …) and a short gloss (CEO → 总经理), in Traditional too
    assert unmentioned(named_in("Google的CEO是谁?", _no_names), "谷歌總經理皮查伊") == []
    assert unmentioned(named_in("Google的CEO是谁?", _no_names), "皮查伊是一家公司的負責人") == ["Google", "CEO"]
    # and an abbreviation a sense gives in brackets: "chief executive officer (CEO)", "chief operating officer (COO) (Tw)"
    assert unmentioned(named_in("林志远卸任CEO后担任什么职务?", _no_names), "创始人林志远将卸任首席执行官") == []
    assert unmentioned(named_in("誰是COO?", _no_names), "營運長吳思穎") == []


def test_a_one_character_form_does_not_count():
    (will,) = named_in("Will?", _no_names)  # CC-CEDICT: will → 将, 将要, 意志 …
    assert "将" not in will.forms and unmentioned([will], "他将离开") == ["Will"] and unmentioned([will], "他将要离开") == []


@pytest.mark.parametrize("words, expected", [(["a"], "a"), (["a", "b"], "a and b"), (["a", "b", "c"], "a, b and c")])
def test_listed(words, expected):
    assert listed(words) == expected


@pytest.mark.parametrize(
    "question, people",
    [
        ("吳思穎今年幾歲?", [("吴思颖", ())]),  # Traditional, folded
        ("黃建民為什麼卸任?", [("黄建民", ())]),
        ("布罗克曼什么时候回来?", [("布罗克", ())]),  # a name jieba splits: a part of it
        ("馬斯克為xAI籌得多少資金?", [("马斯克", ("elon", "musk"))]),  # with the Latin name CC-CEDICT gives him
        ("据公开信,董事会怎么说?", []),  # jieba tags 公开信 as a name; CC-CEDICT knows it as "open letter"
        ("OpenAI的首席技术官是谁?", []),
    ],
)
def test_the_people_a_chinese_question_names_in_han_characters(question, people):
    assert [(person.name, person.words) for person in people_named(question)] == people


def test_a_person_is_mentioned_by_the_name_or_by_its_latin_spelling():
    (musk,) = people_named("马斯克筹得多少资金?")
    assert unmentioned([musk], "這筆交易打破了Elon Musk為xAI籌集的資金") == []
    assert unmentioned([musk], "馬斯克為xAI籌集的資金") == []
    assert unmentioned(people_named("吳思穎今年幾歲?"), "陈晓雯今年46岁") == ["吴思颖"]


@pytest.mark.parametrize(
    "text, length",
    [
        ("张伟出任海滨市市长", 2),  # a verb follows
        ("王磊为海滨市市长", 2),  # a preposition
        ("吳思穎將成為公司成立以來首位女性總經理", 3),  # an adverb, in Traditional
        ("陈信翰,他曾是研究副总裁", 3),  # punctuation
        ("穆拉蒂将离开公司", 0),  # jieba tags 穆拉 a name and leaves 蒂: no end of a name
        ("张伟和李娜", 0),  # names joined stay together
        ("张伟", 0),  # nothing follows
        ("海滨市市长", 0),
    ],
)
def test_the_han_name_a_text_opens_with(text, length):
    assert han_name_opening(text) == length


def test_the_places_a_question_names():
    assert places_named("云帆科技在新加坡有多少员工?") == ("新加坡",)
    assert places_named("OpenAI在印度秘密測試了什麼?") == ("印度",)  # folded to Simplified
    assert places_named("Altman在对话中说了什么?") == ()  # 中 of 对话中 is tagged a place: one character is none
    assert places_named("穆拉蒂是哪一年加入OpenAI的?") == ()
    # jieba tags common words ns too, and cuts others wrongly: CC-CEDICT's common words and unknown pairs are none
    assert places_named("什麼東西可以收集地表徑流水?") == () and places_named("儀式在哪一個城市舉行?") == ()
    assert places_named("韓國鐵路中那一種比複線長?") == ("韩国",) and places_named("德勒斯登的設計中心投資多少?") == ("德勒斯",)


def test_the_han_names_in_a_text():
    assert han_names_in("63岁的王建平将于年底退休") == ["王建平"]
    assert han_names_in("今年41岁") == []
