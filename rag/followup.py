"""Follow-up questions: which questions lean on the conversation, and the conversation's checks.

A reporter asks "OpenAI的首席技术官宣布离职了,她叫什么名字?" and then "她是哪一年加入OpenAI的?".
The second question names nobody; asked alone, it finds nothing about her. A question that leans on
what came before — a pronoun (她, 他们, 该公司, he, it, that company), an ellipsis (估值呢?, "And when?"),
or too few words of its own — is asked together with the conversation (``rag.query.with_context``);
any other question is asked as if alone, so history never changes the answer to a self-contained one.
"""

from __future__ import annotations

import re

from rag.lexical import tokenize

MAX_HISTORY = 20  # earlier questions kept; a longer conversation keeps its last ones
# The table of what leans on the conversation: Simplified (Traditional is folded before matching) and English.
_LEANS = re.compile(
    r"[她他它][们們]?|其(?:中|他人|公司)?|该|該|此人|这家|這家|那家|这位|這位|那位|对方|對方|前者|后者|後者|上述|同一"
    r"|哥哥|姐姐|弟弟|妹妹|父[亲親]|母[亲親]|妻子|丈夫|[儿兒]子|女[儿兒]"  # someone's kin: whose, the conversation says
    r"|^\W*(?:那|那么|那麼|而|还有|還有|另外)|呢\W*$"
    r"|\b(?:he|she|it|they|him|her|his|hers|its|their|them|that company|this company|the company|the former|the latter"
    r"|that person|this person|(?:the )?(?:sister|brother|wife|husband|father|mother|son|daughter)(?:'s|’s)?)\b"
    r"|^\W*(?:and|so|what about|how about|then)\b",
    re.IGNORECASE,
)
MIN_OWN_TERMS = 2  # a question with fewer content words of its own ("When?", "多少钱?") leans on the conversation


def leans_on_context(question: str) -> bool:
    """Whether ``question`` needs the conversation's earlier questions to make sense."""
    return bool(_LEANS.search(question)) or len(tokenize(question)) < MIN_OWN_TERMS
