"""Expected answer types, the abstention model's check that the answer holds what was asked."""

import pytest

from rag.answer_types import expected_type, missing_type


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("陈信翰是哪一年出生的?", "year"),
        ("Sora正式向所有用户开放是在哪一天?", "date"),
        ("Emmett Shear 今年幾歲?", "age"),
        ("Which university did Bob McGrew graduate from?", "school"),
        ("微軟目前持有OpenAI多少百分比的股份?", "share"),
        ("微軟持有OpenAI多少股份?", "share"),
        ("What share of the employees joined after ChatGPT?", "share"),
        ("How much money has Amazon invested in Anthropic?", "money"),
        ("红烧肉一般需要炖多长时间?", "duration"),
        ("How many minutes should you boil an egg?", "duration"),
        ("OpenAI是什么时候成立的?", "time"),
        ("When did John Schulman leave the company?", "time"),
        ("How many OpenAI employees signed the open letter?", "number"),
        ("哪位安全研究员几个月后被OpenAI开除?", None),  # asks for a person, whatever else it says
        ("Who leads the round?", None),
        ("OpenAI为什么要设立营利性子公司?", None),
        ("The Information把高层出走归结为哪几方面原因?", None),  # 哪几: which ones, not how many
    ],
)
def test_expected_type_of_questions_in_three_languages(question, kind):
    found = expected_type(question)
    assert (found.name if found else None) == kind


@pytest.mark.parametrize(
    ("question", "answer", "mismatch"),
    [
        ("陈信翰是哪一年出生的?", "他已在 OpenAI 工作五年多。", True),
        ("OpenAI是哪一年成立的?", "OpenAI成立于2015年,是一家非营利性研究机构。", False),
        ("在此前的计划中,OpenAI被估值多少?", "公司的估值被推高到了 900 億美元。", False),
        ("How much money did OpenAI raise?", "OpenAI raised 6.6 billion dollars.", False),
        ("Kevin Weil畢業於哪所大學?", "Kevin Weil 現任首席產品官。", True),
        ("AGI安全团队走了多大比例的人?", "AGI安全团队几乎一半成员都已离职。", False),
        ("Shear和家人商量了多久?", "在和家人商量了幾小時後,Emmett 最終答應了。", False),
        ("有多少名员工签署了公开信?", "员工们签署了公开信,要求董事会辞职。", True),
        ("Why did Murati leave?", "She wanted to explore on her own.", False),
        ("Greg Brockman預計什麼時候結束休假?", "Greg Brockman 目前正在休假,预计 2024 年底前返回", False),
        ("When did John Schulman leave?", "John Schulman left in August 2024.", False),
        ("When did Dave Willner join OpenAI?", "他因難以保持工作與生活的平衡而離職。", True),
        ("How many minutes should you boil an egg?", "Boil it for 6 minutes.", False),
    ],
)
def test_mismatch_when_the_answer_lacks_the_asked_type(question, answer, mismatch):
    assert (missing_type(question, answer) is not None) is mismatch
