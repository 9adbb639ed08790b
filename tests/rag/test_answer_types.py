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
        ("哪位安全研究员几个月后被OpenAI开除?", "person"),  # asks for a person, whatever else it says
        ("Who leads the round?", "person"),
        ("穆拉蒂十六歲那年搬到了哪個國家生活?", "place"),
        ("Which Canadian city did Mira Murati move to at 16?", "place"),
        ("Where was Sam Altman born?", "place"),
        ("In which city is Eureka Labs based?", "place"),
        ("OpenAI创立之初是在什么地方办公的?", None),  # where, but an office, not a place on a map
        ("Where did Barret Zoph work before OpenAI?", None),  # a company
        ("Where did Josh Achiam go to university?", "school"),
        ("Which high school did Sam Altman attend?", "school"),
        ("What was Mira Murati's salary at OpenAI?", "money"),
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
        ("穆拉蒂十六歲那年搬到了哪個國家生活?", "穆拉蒂于1988年出生于阿尔巴尼亚,16岁移居加拿大。", False),  # jieba tags 加拿大 a place
        ("Where was Sam Altman born?", "Sam Altman was born in Chicago.", False),
        ("Where was Sam Altman born?", "埃隆·馬斯克(Elon Musk)和薩姆·阿爾特曼(Sam Altman)是OpenAI的聯席主席。", True),  # 埃隆 is a name
        ("In which city is Eureka Labs based?", "Andrej Karpathy 现创办了 Eureka Labs。", True),
        ("What was Mira Murati's salary at OpenAI?", "穆拉蒂官宣辞职后不久,公司CEO奥尔特曼宣布了新的人事安排。", True),
        # a value the question already gives is no answer
        ("GPT-4o上线前,参与安全测试的人员一共有多少人?", "基于不完整数据的初步结果表示,GPT-4o足够安全,可以部署。", True),
        ("GPT-4o上线前,参与安全测试的人员一共有多少人?", "GPT-4o上线前只有12人参与测试。", False),
        ("奥特曼打算先在美国哪个州建设数据中心?", "首先在美国建数据中心,讨好美国官员。", True),
        ("奥特曼打算先在美国哪个州建设数据中心?", "首先在美国德州建数据中心。", False),
        ("穆拉蒂是在哪所学院拿到机械工程学位的?", "2012年从塞耶工程学院获得机械工程学位。", False),  # the school's name, not "学院"
        ("Which university did Bob McGrew graduate from?", "He graduated from Stanford University.", False),
    ],
)
def test_mismatch_when_the_answer_lacks_the_asked_type(question, answer, mismatch):
    assert (missing_type(question, answer) is not None) is mismatch


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # Traditional questions are folded to Simplified; full-width digits and letters to ASCII
        ("OpenAI是哪一年成立的?", "year"), ("OpenAI是哪一年成立的？", "year"), ("陳信翰是哪一年出生的？", "year"),
        ("穆拉蒂什麼時候宣布離職?", "time"), ("穆拉蒂何時加入OpenAI?", "time"), ("Ｗｈｅｎ did she join?", "time"),
        ("公開信是在哪一天發出的？", "date"), ("What date did the board fire Altman?", "date"),
        ("Emmett Shear 今年幾歲？", "age"), ("How old was Altman then?", "age"),
        ("這輪融資後估值將達到多少?", "money"), ("OpenAI年收入有多少？", "money"), ("How much did OpenAI raise in October?", "money"),
        ("How much was OpenAI expected to be valued after the funding round?", "money"),
        ("How much does OpenAI expect to lose this year?", "money"), ("How much does OpenAI spend each year?", "money"),
        ("OpenAI今年预计亏损多少?", "money"), ("OpenAI每年的支出是多少?", "money"),
        ("三鶯線延伸線的票價是多少?", "money"), ("總經費是多少?", "money"), ("净利润是多少?", "money"), ("股价收报多少?", "money"),
        ("净利润同比增长了多少?", "number"), ("股价涨了多少?", "number"), ("利润率是多少?", "number"),  # how much it grew: no amount
        ("网易是在西元幾年进入搜索市场的?", "year"), ("浙江省政府於民國幾年遷台?", "year"),
        ("Who is Brad Lightcap?", "description"), ("Brad Lightcap是誰?", "description"), ("米拉·穆拉蒂是谁?", "description"),
        # an office of a company named in Latin letters asks for a person: "OpenAI的营运长" is no name
        ("OpenAI的首席技术官是谁?", "person"), ("OpenAI的營運長是誰?", "person"), ("Google的CEO是谁?", "person"),
        ("Who is OpenAI's chief scientist?", "person"), ("Who is CEO?", "person"), ("谁是OpenAI的营运长?", "person"),
        ("孙立伟今年多少岁?", "age"), ("她在公司工作了多久？", "duration"), ("How long had Murati been at OpenAI?", "duration"),
        ("有多少名員工簽署了公開信？", "number"), ("How many employees signed the letter?", "number"),
        ("誰接替了穆拉蒂的職位？", "person"), ("Who replaced her?", "person"), ("哪位高管最早離職?", "person"),
        # an English "When …" clause that opens another question does not ask for a time
        ("When Murati resigned, who did Altman thank?", "person"),
        ("When Emmett Shear got the call offering him the OpenAI job, what was he doing?", None),
        ("When the staff threatened to quit, whose new subsidiary did they say they might join?", "person"),
        ("And when did he leave?", "time"), ("Since when has Brockman been on leave?", "time"),
        ("穆拉蒂离职的时候,谁接替了她?", "person"),  # a clause with 的时候 is no question for a time
        ("为什么穆拉蒂离职?", None), ("How did the board explain it?", None),
        # which company or organisation: a name, not a person's
        ("John Schulman离开OpenAI后加入了哪家公司?", "organisation"), ("Altman將入職哪家公司?", "organisation"),
        ("Emmett Shear曾是哪个直播平台的CEO?", "organisation"), ("Ilya Sutskever创立了什么公司?", "organisation"),
        ("Which company did John Schulman join?", "organisation"), ("Which firm will lead the round?", "organisation"),
        ("哪家公司的CEO是谁?", "person"), ("有多少家公司?", "number"),  # who, and how many, decide
    ],
)  # fmt: skip
def test_question_phrasings_in_three_scripts(question, kind):
    found = expected_type(question)
    assert (found.name if found else None) == kind


VALUES = {
    "year": ["奥斯陆于1070年成为主教辖区", "民國32年設市", "民国四十三年", "OpenAI成立于2015年", "2023 年 11 月 21 日", "２０２３年", "二〇二三年", "去年他加入了公司", "in 2015 it was founded"],
    "date": ["2023 年 11 月 21 日", "11月21日", "11 月 21 日", "十一月二十一日", "9月26日宣布", "09/13 发布", "2023-11-21",
             "on November 21", "21 Nov", "昨天宣布", "上周五"],  # fmt: skip
    "time": ["2015年", "2023 年 11 月", "9月", "九月", "今年年底", "月底前", "in September", "last year", "下旬"],
    "money": ["1500亿美元", "66億美元", "$6.6 billion", "6.6 billion dollars", "7万亿美元", "1,500 億元", "3000萬人民幣", "¥ 5"],
    "share": ["7%", "７％", "百分之七", "三成", "一半的员工", "half of them", "49 percent"],
    "duration": ["六年半", "8 年", "两个月", "6 years", "工作了五年多", "三天", "2013年,她进入特斯拉工作了3年", "二十三年", "46億年", "数月之后", "半个月"],
    "age": ["38岁", "38 歲", "年仅二十六岁", "35 years old"],
    "number": ["500 多名员工", "五百名", "3 人", "几名员工"],
    "organisation": ["加入了竞争对手 Anthropic", "创立了 Safe Superintelligence Inc", "于2023年创立xAI", "现为 Google DeepMind 的研究科学家"],
}
NOT_VALUES = {
    "year": ["他已在公司工作多年", "那年冬天"], "date": ["几个月前", "他宣布离职"], "time": ["他宣布离职了"],
    "money": ["估值很高", "5 名员工"], "share": ["成立了公司", "成员离职"], "duration": ["他离职了", "2013年", "二〇二三年加入", "今年 6 月才加入", "11月21日"], "age": ["岁月静好"],
    "number": ["他离职了"], "organisation": ["加入微软", "他加入了一家初创公司"],  # Chinese names are not found
}  # fmt: skip


@pytest.mark.parametrize(("kind", "text"), [(kind, text) for kind, texts in VALUES.items() for text in texts])
def test_values_as_chinese_news_writes_them(kind, text):
    from rag.answer_types import ASKED, holds

    assert holds(next(k for k in ASKED if k.name == kind), text)


@pytest.mark.parametrize(("kind", "text"), [(kind, text) for kind, texts in NOT_VALUES.items() for text in texts])
def test_texts_without_the_value(kind, text):
    from rag.answer_types import ASKED, holds

    assert not holds(next(k for k in ASKED if k.name == kind), text)


def test_names_are_not_checked_for_abstention():
    assert missing_type("Who replaced her?", "The board met on Monday.") is None


def test_an_amount_the_question_gives_in_another_script_is_no_answer() -> None:
    asked = "How much new funding was OpenAI seeking at a $150 billion valuation?"
    assert missing_type(asked, "OpenAI正在寻求以1500亿美元的估值筹集资金。") is not None
    assert missing_type(asked, "OpenAI将以1500亿美元估值寻求65亿美元融资") is None
