"""Follow-up questions: which questions lean on the conversation, and the conversation's checks.

A reporter asks "OpenAI的首席技术官宣布离职了,她叫什么名字?" and then "她是哪一年加入OpenAI的?".
The second question names nobody; asked alone, it finds nothing about her. A question that leans on
what came before — a pronoun (她, 他们, 该公司, he, it, that company), an ellipsis (估值呢?, "And when?"),
or too few words of its own — is asked together with the conversation (``rag.query.with_context``);
any other question is asked as if alone, so history never changes the answer to a self-contained one.
"""

from __future__ import annotations

import re

from rag.answer_types import fold
from rag.lexical import tokenize
from rag.mentions import HAN_NAME, han_names_in

MAX_HISTORY = 20  # earlier questions kept; a longer conversation keeps its last ones
# The table of what leans on the conversation: Simplified (Traditional is folded before matching) and English.
_KIN = (r"哥哥|姐姐|弟弟|妹妹|父[亲親]|母[亲親]|妻子|丈夫|[儿兒]子|女[儿兒]"
        r"|\b(?:sister|brother|wife|husband|father|mother|son|daughter)(?:'s|’s)?\b")
_LEANS = re.compile(
    r"[她他它][们們]?|其(?:中|他人|公司)?|该|該|此人|这家|這家|那家|这位|這位|那位|对方|對方|前者|后者|後者|上述|同一"
    rf"|{_KIN}"  # someone's kin: whose, the conversation says
    r"|^\W*(?:那|那么|那麼|而|还有|還有|另外)|呢\W*$"
    r"|\b(?:he|she|it|they|him|her|his|hers|its|their|them|that company|this company|the company|the former|the latter"
    r"|that person|this person)\b"
    r"|^\W*(?:and|so|what about|how about|then)\b",
    re.IGNORECASE,
)
MIN_OWN_TERMS = 2  # a question with fewer content words of its own ("When?", "多少钱?") leans on the conversation


def leans_on_context(question: str) -> bool:
    """Whether ``question`` needs the conversation's earlier questions to make sense."""
    return bool(_LEANS.search(question)) or len(tokenize(question)) < MIN_OWN_TERMS


# Who a pronoun stands for, when the earlier turn asked "who" (or "which company") and was answered: a
# reporter asks "谁接替周国栋担任董事长?", then "他是从哪所学校毕业的?" about the one who took over, whom
# the earlier question never names (its own words would lean on 周国栋). Simplified and Traditional
# forms; 其他, 他们, 他人 are no pronoun for one person.
_PERSON = re.compile(r"(?<![其])[他她](?![们們人])|\b(?:he|she|him|her)\b", re.IGNORECASE)
_PERSON_OWNING = re.compile(r"\b(?:his|hers)\b", re.IGNORECASE)
_ORGANISATION = re.compile(r"[该該这這那]家?公司|(?<![其])它(?![们們])|\b(?:it|that company|this company|the company)\b", re.IGNORECASE)
_ORGANISATION_OWNING = re.compile(r"\bits\b", re.IGNORECASE)
PRONOUNS = {"person": (_PERSON, _PERSON_OWNING), "organisation": (_ORGANISATION, _ORGANISATION_OWNING)}


_ALIAS = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")  # "梅塞雷特·格塔丘(Meseret Getachew)": the name, then its other spelling
_LATIN_NAME = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:[ -][A-Z][a-z]+(?:[A-Z][a-z]+)?)*|[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,8}")


def is_a_name(text: str) -> bool:
    """Whether ``text`` is one person's name, nothing more: in Latin letters, transliterated with "·", or
    two to four Han characters that jieba's tagger opens with a name ("林泽宇", "Bob McGrew", "米拉·穆拉蒂",
    "Mark Chen(陈信翰)"; not "江南省人民医院院长", nor "interim CEO Mira Murati against the best")."""
    name = _ALIAS.sub("", text.strip())
    if _LATIN_NAME.fullmatch(name):
        return True
    return bool(HAN_NAME.fullmatch(name)) and any(fold(name).startswith(found) for found in han_names_in(fold(name)))


def resolved(question: str, kind: str, referent: str) -> str | None:
    """``question`` with its pronouns for a ``kind`` of referent ("person" or "organisation") replaced
    by ``referent``, the earlier turn's answer ("他是从哪所学校毕业的?" → "林泽宇是从哪所学校毕业的?");
    None when it has none, or asks about someone's kin."""
    if re.search(_KIN, question, re.IGNORECASE):
        return None  # "陈信翰的父亲是谁?" then "他母亲呢?": 他 is the one whose kin both turns ask about
    standing, owning = PRONOUNS[kind]
    text = owning.sub(f"{referent}'s", standing.sub(referent, question))
    return None if text == question else text
