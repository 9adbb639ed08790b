"""Cleaning and normalisation of scraped news text.

Every rule is generic (no rule names a particular article) and each one is a small function,
so tests can show it on real seed text. ``clean_text`` applies them in order; the string it
returns is what every offset in the index refers to.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

# Bump when ``clean_text`` returns something else for some input: indexes then read their files
# again and embed the documents whose text changed (tests/rag/test_ingest.py compares its outputs on fixed inputs with tests/rag/snapshots/probe.json).
CLEANING_VERSION = 1

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_PINYIN_LETTERS = f"a-zü{_TONED}"
# initial + vowel cluster + optional final: real words in parentheses such as (café) fail it
_PINYIN_SYLLABLE = re.compile(
    rf"^(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?[aeiouü{_TONED}]+(?:ng|n|r)?$"
)
_PINYIN_ANNOTATION = re.compile(rf"\(([{_PINYIN_LETTERS}]{{1,7}})\)")
# A scraper turned "字(pīn)" into "?pīn)" where a GBK byte was lost; what follows was then
# decoded one byte out of step ("背后" came out as "楸澈").
_BROKEN_ANNOTATION = re.compile(rf"\?(?:[{_PINYIN_LETTERS}]{{1,7}}\)|;)?")
_HTML_TAG = re.compile(r"(?:<|\?)/?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?>")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_URL_LINE = re.compile(r"^(?:https?://|www\.)\S+$")
# Terminal escape sequences (CSI such as a screen clear, OSC such as a window title), then any other
# control or bidirectional-override character: stored text is printed by the CLI and shown on the page.
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_SENTENCE_END = "。!?;…」』”\")."

# Matched against the Simplified form of a line, so one list serves both scripts.
_BOILERPLATE = re.compile(
    "|".join(
        [
            r"^分享(?:至|到|文章)",
            r"^收藏(?:文章)?(?:\s*已收藏)?$",
            r"追踪此作者|关注我们|订阅(?:我们)?的?公众号|扫码",
            r"^字体(?:放大|缩小)$",
            r"任务中心|会员专属|^立即(?:前往|加入|下载|订阅)$",
            r"^展开(?:全文)?$",
            r"加入交流群|工程师必备|参与热点|申请入驻",
            r"^阅读需\s*\d+\s*分钟$",
            r"^(?:相关推荐|相关文章|相关阅读|延伸阅读|推荐阅读|热门文章)",
            r"【(?:延伸|相关|推荐)阅读】",
            r"地图推荐|推荐您和本文相关",
            r"授权转载|转载请注明|^文章来自于|^本文来自|^来源[::]",
            r"版权所有|copyright|©|免责声明|不代表本站立场",
            r"图片来[自源]|^图源|^图[::]",
            r"^(?:上一篇|下一篇|next|previous|返回顶部)$",
            r"加入\S*计划|可以享受以下权益",
            r"^(?:参考资料|参考链接|references?)[::]?$",
            r"^(?:作者|编辑|责编|责任编辑|撰文|审校)\W*[|:]",
        ]
    ),
    re.IGNORECASE,
)
_DATE_OR_NUMBER_LINE = re.compile(r"^[\d\s/:.\-年月日]+$")
_NAV_BULLET = re.compile(r"^[•·▪●■◆]")


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def _common_char_share(text: str) -> float:
    """Share of Han characters among the 3,755 most common (GB2312 level 1), in Simplified form."""
    han = [c for c in to_simplified(text) if "\u4e00" <= c <= "\u9fff"]
    if not han:
        return 0.0
    common = 0
    for char in han:
        try:
            common += 0xB0 <= char.encode("gb2312")[0] <= 0xD7
        except UnicodeEncodeError:
            pass
    return common / len(han)


def _shifted_reading(rest: str) -> str | None:
    """``rest`` decoded one byte later, when that turns rare characters into common ones."""
    shifted = rest.encode("gb18030")[1:].decode("gb18030", errors="replace")
    head, shifted_head = rest[:3], shifted[:3]
    if "\ufffd" in shifted_head or not any("\u4e00" <= c <= "\u9fff" for c in head):
        return None
    gain = _common_char_share(shifted_head) - _common_char_share(head)
    return shifted.replace("\ufffd", "") if _common_char_share(shifted_head) >= 0.66 and gain >= 0.3 else None


def repair_shifted_gbk(text: str) -> str:
    """Undo the one-byte GBK shift that follows a broken pinyin annotation, and drop the annotation.

    The rest of the line after the marker is re-encoded (gb18030, a superset of GBK that also
    round-trips the private-use characters such damage leaves), its first byte dropped and
    decoded again; the repair is kept only when it turns rare characters into common ones.
    """
    out: list[str] = []
    pos = 0
    for match in _BROKEN_ANNOTATION.finditer(text):
        if match.start() < pos:
            continue
        line_end = text.find("\n", match.end())
        rest = text[match.end() : line_end if line_end >= 0 else len(text)]
        repaired = _shifted_reading(rest)
        if repaired is None and not match.group(0)[1:]:
            continue  # a real question mark
        out.append(text[pos : match.start()])
        pos = match.end()
        if repaired is not None:
            out.append(repaired)
            pos += len(rest)
    out.append(text[pos:])
    return "".join(out)


def is_pinyin(word: str) -> bool:
    return any(c in _TONED for c in word) and bool(_PINYIN_SYLLABLE.match(word))


def remove_pinyin_annotations(text: str) -> str:
    """``計(jì)劃`` → ``計劃``; ``(SSI)``, ``(OpenAI)``, ``(2024)``, ``(café)`` stay."""
    return _PINYIN_ANNOTATION.sub(lambda m: "" if is_pinyin(m.group(1)) else m.group(0), text)


def remove_control_characters(text: str) -> str:
    """Escape sequences and control characters go; tabs, line breaks and printable text stay."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def remove_markup(text: str) -> str:
    return _PRIVATE_USE.sub("", _HTML_TAG.sub("", text))


def normalize_line(line: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", line)).strip()


def is_boilerplate(line: str) -> bool:
    return bool(
        _BOILERPLATE.search(to_simplified(line))
        or _URL_LINE.match(line)
        or _DATE_OR_NUMBER_LINE.match(line)
        or _NAV_BULLET.match(line)
    )


def _is_fragment(line: str) -> bool:
    """A short line that does not end a sentence: menu residue when it trails an article."""
    return len(line) < 40 and not line.endswith(tuple(_SENTENCE_END))


def _is_bare_name(line: str) -> bool:
    return len(line) < 20 and all(unicodedata.category(c)[0] in "LNZ" for c in line)


def clean_text(raw: str, drop_from: str | None = None) -> str:
    """Raw scraped text → clean article text: one paragraph per line, no blank lines.

    ``drop_from``: a document's manifest may name where unrelated trailing content starts
    (a sentence's first words, matched after normalisation); that line and all after it go.
    """
    text = remove_markup(remove_pinyin_annotations(repair_shifted_gbk(remove_control_characters(raw))))
    kept: list[str] = []
    seen: set[str] = set()
    for line in (normalize_line(part) for part in text.splitlines()):
        if drop_from and line.startswith(normalize_line(drop_from)):
            break
        if not line or is_boilerplate(line) or (len(line) <= 80 and line in seen):
            continue
        seen.add(line)
        kept.append(line)
    while kept and _is_fragment(kept[-1]):
        kept.pop()
    while len(kept) > 1 and _is_bare_name(kept[1]):
        del kept[1]  # the site's name between the title and the article
    return "\n".join(kept)
