"""What an index was made with, and what a difference costs.

A ``Fingerprint`` names what decides an index's content: the model, the chunk and vector-index
settings, a hand-bumped version per step of the pipeline (``rag.ingest.VERSIONS``, each constant
beside the code it covers; ``tests/rag/test_ingest.py`` fails when a step's output changes without
its bump) and the versions of the libraries whose outputs it keeps. It holds no digest of source
code, so an edit that changes no output (a comment, a refactor, an unused function) rebuilds nothing.

``work(old, new)`` is the least that makes an index made with ``old`` equal to one made with ``new``,
each part by the cost of its change:

- **re-embed** everything: the model, chunking, sentence splitting (hours at 1M chunks);
- **re-read** the files of some formats (extraction, cleaning, the document rows: ``rag.document``'s
  schema and ``rag.corpus.describe``): their documents are extracted, cleaned and described again,
  and only those whose text or row changed are embedded again;
- **re-tokenise**: BM25 postings and the names written both ways, from the stored texts (no encoder);
- **rebuild the vector indexes** from the stored float32 vectors (no encoder);
- search-time settings (nprobe, fusion weights, top-k, the reader, abstention) are not part of it.

Indexes written before versions existed carry a digest of the indexing code instead (``code``). The
digests of released code map to the versions below, whose outputs the probe snapshot shows are
today's; an unknown digest (a development build) means re-embedding, said in one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import metadata
from typing import Literal

Level = Literal["embed", "reread", "tokens", "ann"]
ALL_FORMATS = frozenset({"txt", "md", "html", "pdf", "docx"})

# Fingerprint key → what its change costs; a library appears under "libraries.<name>". A key with
# no entry here (added later and not yet classified) costs a re-embedding: never too little.
_COSTS: dict[str, tuple[tuple[Level, frozenset[str]], ...]] = {
    **dict.fromkeys(("model_id", "model_sha256", "dimension", "encoder_backend", "chunk_size", "chunk_overlap",
                     "versions.chunk", "versions.sentences", "libraries.langchain-text-splitters"), (("embed", ALL_FORMATS),)),
    # the document rows: their schema (rag.document) and what describing an article fills them with (rag.corpus)
    **dict.fromkeys(("versions.clean", "versions.document", "versions.describe"), (("reread", ALL_FORMATS),)),
    # OpenCC converts to Simplified for both cleaning (boilerplate lines) and tokenising
    "libraries.opencc": (("reread", ALL_FORMATS), ("tokens", frozenset())),
    **{f"versions.extract.{kind}": (("reread", frozenset({kind})),) for kind in ALL_FORMATS},
    "libraries.pypdfium2": (("reread", frozenset({"pdf"})),),
    "libraries.python-docx": (("reread", frozenset({"docx"})),),
    "libraries.lxml": (("reread", frozenset({"docx"})),),  # rag.word parses the body XML with it
    **dict.fromkeys(("versions.tokens", "versions.names", "libraries.jieba"), (("tokens", frozenset()),)),
    **dict.fromkeys(("exact_max", "ivf_lists_per_sqrt", "versions.vector_index"), (("ann", frozenset()),)),
}

# Released code before versions existed: its digest (rag.ingest.code_version of that commit) → the
# versions and libraries its indexes were made with. Their outputs equal version 1 of every step
# (the probe snapshot run with that code gives the same outputs).
_V1 = {"document": 1, "describe": 1, "clean": 1, **{f"extract.{kind}": 1 for kind in sorted(ALL_FORMATS)}, "chunk": 1, "sentences": 1,
       "tokens": 1, "names": 1, "vector_index": 1}  # fmt: skip
# pyproject.toml of those commits pins these (lxml came with python-docx, unpinned: assumed unchanged)
_V1_LIBRARIES = {"jieba": "0.42.1", "opencc": "1.4.2", "pypdfium2": "5.15.2", "python-docx": "1.2.0", "langchain-text-splitters": "1.1.3"}
RELEASED_CODE = {
    "6fcc244d15ba39be": "9c005f4",  # the last release
    "2dedee0c9b1dece4": "8670a06",  # main after it (rag/corpus.py's upload names: no output changed)
}


@dataclass(frozen=True)
class Fingerprint:
    """What decides what an index holds (see the module's docstring)."""

    model_id: str
    model_sha256: str
    dimension: int
    encoder_backend: str  # "onnx", "onnx-int8" (Settings.int8_passages: the passages' precision) or "torch"
    chunk_size: int
    chunk_overlap: int
    exact_max: int  # the vector index settings decide which structure each segment gets
    ivf_lists_per_sqrt: float
    versions: Mapping[str, int] = field(default_factory=dict)  # rag.ingest.VERSIONS
    libraries: Mapping[str, str] = field(default_factory=dict)  # rag.ingest.LIBRARIES → installed version
    code: str | None = None  # an index from before versions: the digest of a development build's code

    def items(self) -> dict[str, object]:
        """Flat: ``versions.<step>`` and ``libraries.<name>`` beside the other fields."""
        flat: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("versions", "libraries", "code")}
        flat |= {f"versions.{key}": value for key, value in self.versions.items()}
        return flat | {f"libraries.{key}": value for key, value in self.libraries.items()}

    def as_dict(self) -> dict[str, object]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data |= {"versions": dict(self.versions), "libraries": dict(self.libraries)}
        if self.code is None:
            del data["code"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object], libraries: Mapping[str, str] | None = None) -> Fingerprint:
        """``libraries``: what an index from before versions recorded beside its fingerprint."""
        known = {f.name for f in fields(cls)} - {"versions", "libraries", "code"}
        values = {name: data[name] for name in known}
        if "versions" in data:
            versions, used, code = data["versions"], data["libraries"], data.get("code")
        else:  # written before versions existed: migrated when its code was released
            code = str(data["code"])
            released = code in RELEASED_CODE
            versions, code = (_V1, None) if released else ({}, code)
            used = _V1_LIBRARIES | {name: version for name, version in (libraries or {}).items() if name in _V1_LIBRARIES}
        if not isinstance(versions, Mapping) or not isinstance(used, Mapping):
            raise TypeError("versions and libraries must be objects")
        return cls(**values, versions={str(k): int(v) for k, v in versions.items()},  # type: ignore[arg-type]
                   libraries={str(k): str(v) for k, v in used.items()}, code=code)  # fmt: skip

    @classmethod
    def from_items(cls, items: Mapping[str, object]) -> Fingerprint:
        """The inverse of ``items()``."""
        plain = {key: value for key, value in items.items() if "." not in key}
        versions = {k.split(".", 1)[1]: v for k, v in items.items() if k.startswith("versions.")}
        libraries = {k.split(".", 1)[1]: v for k, v in items.items() if k.startswith("libraries.")}
        return cls(**plain, versions=versions, libraries=libraries)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Work:
    """What makes an index current, least first; nothing when all is false and empty."""

    embed: bool = False  # everything
    reread: frozenset[str] = frozenset()  # formats whose files are read again
    tokens: bool = False
    ann: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def nothing(self) -> bool:
        return not (self.embed or self.reread or self.tokens or self.ann)

    def describe(self) -> str:
        if self.embed:
            return "re-embed every document"
        steps = []
        if self.reread:
            which = "every file" if self.reread == ALL_FORMATS else "the " + ", ".join(f".{kind}" for kind in sorted(self.reread)) + " files"
            steps.append(f"re-read {which} (embedding again only the documents whose text changed)")
        if self.tokens:
            steps.append("re-tokenise the stored texts (no embedding)")
        if self.ann or self.tokens:
            steps.append("rebuild the vector indexes from the stored vectors (no embedding)")
        return "; ".join(steps) or "nothing"


def work(old: Fingerprint, new: Fingerprint) -> Work:
    """The least work that turns an index made with ``old`` into one made with ``new``."""
    if old.code is not None:
        return Work(embed=True, reasons=(f"it was written by a development build (code {old.code}) whose outputs this version cannot know",))
    before, after = old.items(), new.items()
    embed, tokens, ann = False, False, False
    reread: set[str] = set()
    reasons = []
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) == after.get(key) or (key.startswith("libraries.") and key not in before):
            continue  # a library an older fingerprint did not record: unknown, assumed unchanged
        reasons.append(f"{key} {_shown(before.get(key))} → {_shown(after.get(key))}")
        for level, formats in _costs(key):
            embed |= level == "embed"
            tokens |= level == "tokens"
            ann |= level == "ann"
            if level == "reread":
                reread |= formats
    if embed:
        return Work(embed=True, reasons=tuple(reasons))
    return Work(reread=frozenset(reread), tokens=tokens, ann=ann, reasons=tuple(reasons))


def settled(old: Fingerprint, new: Fingerprint, done: set[Level]) -> Fingerprint:
    """What an index made with ``old`` is made with once the work of the levels ``done`` is done:
    ``new``'s values where every cost of a change is done, ``old``'s elsewhere (so a step that a
    crash interrupted is still to do when the index opens again)."""
    before, after = old.items(), new.items()
    items = {}
    for key in before.keys() | after.keys():
        source = after if all(level in done for level, _ in _costs(key)) else before
        if key in source:
            items[key] = source[key]
    return Fingerprint.from_items(items)


def _costs(key: str) -> tuple[tuple[Level, frozenset[str]], ...]:
    return _COSTS.get(key, (("embed", ALL_FORMATS),))


def _shown(value: object) -> str:
    return "(none)" if value is None else str(value)


def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """The installed version of each distribution in ``names`` that is installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
