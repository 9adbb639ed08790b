"""Documents and the corpus manifest: reading article files, describing them, cleaning them.

``corpus/manifest.json`` lists one entry per document (id, file, title, source, date, script and
an optional ``drop_from`` rule). Files in ``corpus/`` that the manifest does not list are
described automatically, so dropping an article into the folder is enough to index it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

from rag.clean import clean_text, to_simplified
from rag.errors import DocumentError
from rag.files import write_atomic

Script = Literal["zh-Hans", "zh-Hant"]
SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm")
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Document:
    """One cleaned article. ``text`` is what every offset in the index refers to."""

    id: str
    file: str
    title: str
    script: Script
    sha256: str
    text: str = field(repr=False)
    source: str | None = None
    date: str | None = None
    drop_from: str | None = None

    def entry(self) -> dict[str, object]:
        """The document's manifest entry (everything but the text)."""
        entry = asdict(self)
        del entry["text"]
        return entry


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _TextExtractor(HTMLParser):
    _BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "title"}
    _SKIPPED = {"script", "style", "noscript", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+)|[*_`]{1,3}", re.MULTILINE)


def extract_text(raw: str, suffix: str) -> str:
    """Plain text of a .txt, .md or .html file, before cleaning."""
    if suffix in (".html", ".htm"):
        parser = _TextExtractor()
        parser.feed(raw)
        return "".join(parser.parts)
    if suffix == ".md":
        return _MD_MARKS.sub("", _MD_LINK.sub(r"\1", raw))
    return raw


def detect_script(text: str) -> Script:
    """zh-Hant when converting to Simplified changes a noticeable share of the Han characters."""
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not han:
        return "zh-Hans"
    sample = "".join(han[:5000])
    changed = sum(a != b for a, b in zip(sample, to_simplified(sample)))
    return "zh-Hant" if changed / len(sample) > 0.03 else "zh-Hans"


_DATES = [
    re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日"),
    re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"),
    re.compile(r"^\d{1,2}/\d{1,2}\s+\d{1,2}:\d{2}$", re.MULTILINE),
    re.compile(r"\d{1,2}月\d{1,2}日"),
]
_SOURCES = [
    re.compile(r"来自于?(?:微信公众号)?\s*[“\"「《](.+?)[”\"」》]"),
    re.compile(r"^《?(\S{2,10}?)》?\s*授权转载", re.MULTILINE),
    re.compile(r"^(\S{2,6}?)\d{1,2}月\d{1,2}日(?:电|报道)", re.MULTILINE),
]


Language = Literal["zh-Hans", "zh-Hant", "en"]


_LATIN_WORD = re.compile(r"[A-Za-z]+")


def question_language(text: str) -> Language:
    """English when Latin words outnumber Han characters, else the script of the Chinese. Words,
    not letters: "Greg Brockman宣布休假到什麼時候?" is a Chinese question naming a person."""
    han = sum("\u4e00" <= c <= "\u9fff" for c in text)
    if len(_LATIN_WORD.findall(text)) > han:
        return "en"
    changed = sum(a != b for a, b in zip(text, to_simplified(text)))
    return "zh-Hant" if changed else "zh-Hans"


def detect_date(raw: str) -> str | None:
    """The article's date as the text states it (first match in the article's head)."""
    head = raw[:1500]
    for pattern in _DATES:
        if match := pattern.search(head):
            return match.group(0).strip()
    return None


def detect_source(raw: str) -> str | None:
    """The outlet when the text names it (a credit line or a dateline)."""
    simplified = to_simplified(raw)
    for pattern in _SOURCES:
        if match := pattern.search(simplified):
            start, end = match.span(1)
            return raw[start:end] if len(raw) == len(simplified) else match.group(1)
    return None


def read_article(path: Path, max_bytes: int) -> tuple[bytes, str]:
    """The file's bytes and its plain text; a clear ``DocumentError`` for anything unusable."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{path.name}: unsupported file type {suffix or '(none)'}; use .txt, .md or .html")
    if not path.is_file():
        raise DocumentError(f"{path}: no such file")
    data = path.read_bytes()
    if len(data) > max_bytes:
        raise DocumentError(f"{path.name}: {len(data):,} bytes is larger than the limit of {max_bytes:,}")
    if b"\x00" in data:
        raise DocumentError(f"{path.name}: looks like a binary file, not text")
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path.name}: not valid UTF-8 (byte {error.start}); save it as UTF-8") from None
    return data, extract_text(raw, suffix)


def build_document(path: Path, doc_id: str, max_bytes: int, overrides: dict[str, object] | None = None) -> Document:
    """Read, describe and clean one article file. ``overrides`` are manifest fields set by hand."""
    data, raw = read_article(path, max_bytes)
    overrides = overrides or {}
    drop_from = overrides.get("drop_from")
    text = clean_text(raw, drop_from=str(drop_from) if drop_from else None)
    if not text.strip():
        raise DocumentError(f"{path.name}: no article text left after cleaning (empty or only boilerplate)")
    document = Document(
        id=doc_id,
        file=path.name,
        title=text.split("\n", 1)[0][:80],
        script=detect_script(text),
        sha256=sha256_bytes(data),
        text=text,
        source=detect_source(raw),
        date=detect_date(raw),
    )
    known = {key: value for key, value in overrides.items() if key in Document.__dataclass_fields__}
    known.pop("sha256", None)
    return replace(document, **known)


def read_manifest(corpus_dir: Path) -> list[dict[str, object]]:
    path = corpus_dir / MANIFEST_NAME
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["documents"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise DocumentError(f"{path}: unreadable manifest ({error}); fix or delete it") from None
    return list(entries)


def write_manifest(corpus_dir: Path, documents: list[Document]) -> None:
    payload = {"documents": [document.entry() for document in documents]}
    write_atomic(corpus_dir / MANIFEST_NAME, json.dumps(payload, ensure_ascii=False, indent=2).encode() + b"\n")


def load_corpus(corpus_dir: Path, max_bytes: int) -> list[Document]:
    """Every document of the corpus folder, cleaned, in manifest order then file-name order."""
    entries = read_manifest(corpus_dir)
    listed = {str(entry["file"]) for entry in entries}
    unlisted = sorted(
        path.name
        for path in corpus_dir.glob("*")
        if path.suffix.lower() in SUPPORTED_SUFFIXES and path.name not in listed
    )
    entries += [{"file": name, "id": Path(name).stem} for name in unlisted]
    return [build_document(corpus_dir / str(entry["file"]), str(entry["id"]), max_bytes, entry) for entry in entries]
