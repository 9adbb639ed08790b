"""Lexical matching: jieba tokens over Simplified, half-width, lower-cased text, and stable term ids.

Term ids are a hash of the token, so every store (local files, Milvus) and every process agree on
them without sharing a vocabulary; at 500,000 distinct terms about 30 pairs would share an id (2³²
values), which merges their document frequencies and nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import jieba

from rag.clean import to_simplified

jieba.setLogLevel(logging.WARNING)

# Bump when ``tokenize`` or ``term_id`` give other tokens or ids for some text: indexes then recompute
# their postings from the stored texts, without the encoder (tests/rag/test_ingest.py compares its outputs on fixed inputs with tests/rag/snapshots/probe.json).
TOKENS_VERSION = 1

# Function words, question words and chit-chat: they match everywhere and carry no topic.
STOPWORDS = frozenset(
    ["的", "了", "是", "在", "和", "与", "及", "或", "也", "都", "就", "而", "又", "还", "但", "并", "被", "把", "对", "从", "向", "于", "为", "以", "之", "其", "这", "那", "这个", "那个", "这些", "那些", "一个", "一些", "有", "没有", "我", "你", "他", "她", "它", "我们", "你们", "他们", "她们", "吗", "呢", "吧", "啊", "呀", "嘛", "么", "什么", "哪", "哪个", "哪些", "哪里", "哪位", "谁", "怎么", "怎样", "怎么样", "如何", "为什么", "为何", "多少", "几", "几个", "多", "是否", "是不是", "有没有", "请问", "请", "你好", "您好", "您", "提取", "告诉", "一下", "一", "下", "上", "中", "里", "后", "前", "时", "时候", "会", "能", "可以", "要", "想", "说", "让", "给", "等", "着", "过", "来", "去", "到", "将", "已", "已经", "曾", "曾经", "该", "此", "文章", "文中", "报道", "提到", "根据", "据", "关于", "哪一", "哪一个", "何", "何时", "哪年", "哪天", "a", "an", "the", "of", "to", "in", "on", "at", "for", "from", "by", "with", "about", "as", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "that", "this", "these", "those", "it", "its", "he", "she", "they", "his", "her", "their", "and", "or", "not", "no", "yes", "can", "could", "would", "should", "will", "shall", "may", "might", "has", "have", "had", "according", "article", "much", "many", "after", "before", "ahead", "give", "gave", "did", "get", "got", "make", "made", "take", "took", "said", "say", "says", "also", "than", "then", "there", "here", "just", "over", "under", "up", "down", "out", "into", "very", "more", "most", "such", "only", "own", "same", "so", "too", "if", "all", "any"]
)
_LATIN_OR_DIGIT = re.compile(r"^[a-z0-9][a-z0-9.+\-]*$")
TERM_ID_LIMIT = 2**32 - 1  # Milvus sparse vectors take indices in [0, 2³² − 1)


def warm_up() -> None:
    """Load jieba's dictionary now (about 1 s) rather than on the first question."""
    _jieba()


@lru_cache(maxsize=1)
def _jieba() -> jieba.Tokenizer:
    jieba.initialize()
    return jieba.dt


@lru_cache(maxsize=65536)
def normalize_for_matching(text: str) -> str:
    """Cached: the sentence stage matches the same sentences' words question after question."""
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


def _is_content(token: str) -> bool:
    if token in STOPWORDS:
        return False
    if _LATIN_OR_DIGIT.match(token):
        return True
    return any(unicodedata.category(c)[0] in "LN" for c in token)


def tokenize(text: str) -> list[str]:
    """Content tokens: jieba words of the Simplified, lower-cased text, stop-words dropped."""
    words = _jieba().lcut(normalize_for_matching(text))
    return [word for word in (w.strip() for w in words) if word and _is_content(word)]


@lru_cache(maxsize=65536)
def term_id(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little") % TERM_ID_LIMIT


def rarity(token: str) -> float:
    """How much a word says in general Chinese: −log of its share of jieba's dictionary counts (60
    million words of Chinese text). A word the dictionary lacks (a name, a Latin word) counts as the
    rarest. Weighs question terms for abstention, independently of any one collection."""
    dictionary = _jieba()
    count = dictionary.FREQ.get(token) or 0
    return math.log(dictionary.total / (count + 1)) if count else math.log(dictionary.total)


def term_counts(tokens: Iterable[str]) -> Counter[int]:
    """Term id → how often it occurs."""
    return Counter(term_id(token) for token in tokens)
