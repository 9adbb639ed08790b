"""The corpus folder: reading article files into documents (``rag.document``), describing them, the
folder's manifest, and the policy for ids and duplicates.

``manifest.json`` lists one entry per document (id, file, name, title, source, date, script and an
optional ``drop_from`` rule). Files the manifest does not list are described automatically, so
dropping an article into the folder is enough to index it. Writes go through ``CorpusFolder``:
new files are staged in ``.staging/`` and published only once the index has committed them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from rag.clean import clean_text, to_simplified
from rag.dates import find_dates, parse_iso, publication_date
from rag.errors import DocumentError, DocumentTooLargeError
from rag.document import Document, Script
from rag.files import fsync_dir, sha256_bytes
from rag.formats import SUPPORTED_SUFFIXES, extract_text, metadata_date

MANIFEST_NAME = "manifest.json"
STAGING = ".staging"
STAGED_MANIFEST = ".manifest.json"  # inside the staging folder
MIN_TEXT_CHARACTERS = 4  # letters or digits: a file of punctuation or control codes is no article
# Bump when ``describe`` says something else of some article (its title, script, source or date):
# indexes then read every file again and index again the documents whose row changed
# (tests/rag/test_ingest.py compares its outputs on fixed inputs with tests/rag/snapshots/probe.json).
# 2: the date in every format ``rag.dates`` reads, as ISO (``published``), with where it came from.
DESCRIPTION_VERSION = 2


def detect_script(text: str) -> Script:
    """zh-Hant when converting to Simplified changes a noticeable share of the Han characters."""
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not han:
        return "zh-Hans"
    sample = "".join(han[:5000])
    changed = sum(a != b for a, b in zip(sample, to_simplified(sample)))
    return "zh-Hant" if changed / len(sample) > 0.03 else "zh-Hans"


_SOURCES = [
    re.compile(r"来自于?(?:微信公众号)?\s*[“\"「《](.+?)[”\"」》]"),
    re.compile(r"^《?(\S{2,10}?)》?\s*授权转载", re.MULTILINE),
    re.compile(r"^(\S{2,6}?)\d{1,2}月\d{1,2}日(?:电|报道)", re.MULTILINE),
]


def detect_date(raw: str) -> str | None:
    """The article's date as the text states it (the first date in the article's head, in any of the
    formats ``rag.dates`` reads)."""
    found = publication_date(raw)
    return found.stated if found else None


USER_BASIS = "given when it was added"
_METADATA_ISO = re.compile(r"^\s*(?:D:)?(\d{4})-?(\d{2})-?(\d{2})")


def _metadata_iso(value: str) -> str | None:
    """A metadata value (``2023-11-21T08:00:00+08:00``, a PDF's ``D:20231121093000``, or a date as
    Chinese news writes it) as an ISO date; None when it is no date of the calendar."""
    if match := _METADATA_ISO.match(value):
        try:
            return date(*(int(group) for group in match.groups())).isoformat()
        except ValueError:
            return None
    found = [d for d in find_dates(value) if d.year_from == "stated"]
    return found[0].iso if found else None


def publication(raw: str, metadata: tuple[str, str] | None = None, reference: date | None = None) -> dict[str, str | None]:
    """The article's publication date: ``published`` (ISO), ``date`` (how its source states it) and
    ``date_basis`` (where it came from and, for a date written without a year, how the year was
    inferred). In this order: the page's HTML metadata naming its publication date; the first date
    the article's head states (``rag.dates.publication_date``: a missing year is the latest year
    the article mentions); a PDF's or .docx's properties, which record when the file was made rather
    than when the article appeared. All None when none gives a date."""
    html = metadata is not None and metadata[1].startswith("the page's")
    if html and (iso := _metadata_iso(metadata[0])):  # type: ignore[index]
        return {"date": metadata[0], "published": iso, "date_basis": metadata[1]}  # type: ignore[index]
    if found := publication_date(raw, reference):
        basis = "stated in the text" if found.year_from == "stated" else f"stated in the text without a year; the year is {found.year_from}"
        return {"date": found.stated, "published": found.iso, "date_basis": basis}
    if metadata is not None and not html and (iso := _metadata_iso(metadata[0])):
        return {"date": metadata[0], "published": iso, "date_basis": metadata[1]}
    return {"date": None, "published": None, "date_basis": None}


def detect_source(raw: str) -> str | None:
    """The outlet when the text names it (a credit line or a dateline)."""
    simplified = to_simplified(raw)
    for pattern in _SOURCES:
        if match := pattern.search(simplified):
            start, end = match.span(1)
            return raw[start:end] if len(raw) == len(simplified) else match.group(1)
    return None


def describe(raw: str, text: str, metadata: tuple[str, str] | None = None) -> dict[str, str | None]:
    """What an article says of itself, read from its extracted text (``raw``), its cleaned text and
    its file's metadata (``rag.formats.metadata_date``): its title (the first line), script, source
    and date (``publication``) (versioned: ``DESCRIPTION_VERSION``)."""
    return {"title": text.split("\n", 1)[0][:80], "script": detect_script(text), "source": detect_source(raw), **publication(raw, metadata)}


MAX_NAME_CHARS = 255


def document_name(name: str) -> str:
    """A file name as a document keeps and shows it: control characters removed, at most
    ``MAX_NAME_CHARS`` (a headline as a file name is common; its end is cut, the suffix kept).
    ``DocumentError`` when nothing of a file name is left (``..``, a path, only control codes)."""
    cleaned = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cs")).strip()
    if not cleaned or cleaned in (".", "..") or "/" in cleaned or "\\" in cleaned:
        raise DocumentError(f"{cleaned or name!r} is not a file name")
    if len(cleaned) > MAX_NAME_CHARS:
        suffix = Path(cleaned).suffix if len(Path(cleaned).suffix) <= 10 else ""
        cleaned = cleaned[: MAX_NAME_CHARS - len(suffix) - 1] + "…" + suffix
    return cleaned


def read_bytes(path: Path, max_bytes: int, label: str, suffix: str | None = None) -> bytes:
    """The file's bytes; a clear ``DocumentError`` when it is missing, unreadable or too large.
    ``suffix``: the file type, when not the path's (an upload under a name of its own)."""
    suffix = path.suffix.lower() if suffix is None else suffix
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{label}: unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DocumentError(f"{label}: not a file")
        if size > max_bytes:
            raise DocumentTooLargeError(f"{label}: {size:,} bytes is larger than the limit of {max_bytes:,}")
        return path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{label}: no such file") from None
    except OSError as error:
        raise DocumentError(f"{label}: cannot be read ({error.strerror})") from None


def document_from_bytes(data: bytes, suffix: str, doc_id: str, *, label: str, file: str, name: str = "",
                        overrides: Mapping[str, object] | None = None) -> Document:  # fmt: skip
    """Extract, clean and describe one article. ``overrides`` are manifest fields set by hand or kept
    from an earlier description: its title, source, script, name and drop rule win; its date only
    when a user gave it (``published`` with the ``date_basis`` ``USER_BASIS``, or none, as a hand
    edit of the manifest writes it), or as a hand-written ``date`` of a manifest from before ISO
    dates. Otherwise the date is described anew, so a better description reaches every article."""
    overrides = overrides or {}
    raw = extract_text(data, suffix, label)
    drop_from = overrides.get("drop_from")
    text = clean_text(raw, drop_from=str(drop_from) if drop_from else None)
    if sum(unicodedata.category(c)[0] in "LN" for c in text) < MIN_TEXT_CHARACTERS:
        raise DocumentError(f"{label}: no article text left after cleaning (empty, only punctuation or boilerplate)")
    described = describe(raw, text, metadata_date(data, suffix))
    document = Document(id=doc_id, file=file, sha256=sha256_bytes(data), text=text, name=name, **described)  # type: ignore[arg-type]
    kept = {key: value for key, value in overrides.items() if key in {"title", "script", "source", "drop_from", "name"}}
    if overrides.get("published") is not None and overrides.get("date_basis") in (USER_BASIS, None):
        kept |= {"published": checked_date(overrides["published"], label), "date_basis": USER_BASIS}
    elif "published" not in overrides and overrides.get("date") and overrides["date"] != described["date"]:
        # a date written by hand into the manifest of a release that kept no ISO date: read as the article's
        stated = str(overrides["date"])
        found = publication_date(stated + "\n" + raw) if find_dates(stated) else None  # a year it lacks: the article's
        kept |= {"date": stated, "published": found.iso if found else None, "date_basis": "the manifest's date" if found else None}
    return replace(document, **kept)  # type: ignore[arg-type]


def checked_date(value: object, label: str = "date") -> str:
    """A date given by a user (``rag add --date``, the API's and the page's field): ``YYYY-MM-DD``
    and a day of the calendar, or ``DocumentError`` saying what is wrong (before anything is written)."""
    try:
        return parse_iso(value).isoformat()
    except ValueError as error:
        raise DocumentError(f"{label}: {error}") from None


_ID_NUMBER = re.compile(r"^(\d+)_")


def new_document_id(existing: Iterable[str], data: bytes) -> str:
    """``<number>_<first 16 hex of the file's sha256>``: numbered after the highest id so far."""
    numbers = [int(match.group(1)) for doc_id in existing if (match := _ID_NUMBER.match(doc_id))]
    return f"{max(numbers, default=-1) + 1:03d}_{sha256_bytes(data)[:16]}"


def folder_state(directory_mtime_ns: int, manifest_size: int, manifest_mtime_ns: int) -> str:
    """What ``CorpusFolder.state`` compares: the folder's time (any file added, removed or renamed
    changes it) and the manifest's size and time. Constant-time at any size of archive; an article
    edited in place is found by ``rag build``, which reads every file."""
    return f"{directory_mtime_ns}:{manifest_size}:{manifest_mtime_ns}"


@dataclass(frozen=True)
class ManifestRead:
    entries: list[dict[str, object]]
    problem: str | None = None  # why the manifest could not be used (then ``entries`` is empty)


class CorpusFolder:
    """The collection's article files and ``manifest.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST_NAME

    @property
    def staging(self) -> Path:
        return self.directory / STAGING

    def read_manifest(self) -> ManifestRead:
        path = self.manifest_path
        if not path.exists():
            return ManifestRead([])
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))["documents"]
            if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("id"), str)
                                                        and isinstance(e.get("file"), str) for e in entries):  # fmt: skip
                raise TypeError("every entry needs an id and a file")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            return ManifestRead([], f"{path} is damaged ({error})")
        return ManifestRead([dict(entry) for entry in entries])

    def files(self) -> dict[str, os.stat_result]:
        """Article files of the folder (supported types, not hidden) and their status."""
        if not self.directory.is_dir():
            return {}
        found = {}
        for item in os.scandir(self.directory):
            if item.name.startswith(".") or item.name == MANIFEST_NAME or not item.is_file():
                continue
            if Path(item.name).suffix.lower() in SUPPORTED_SUFFIXES:
                found[item.name] = item.stat()
        return found

    def state(self) -> str:
        """A digest of the folder as the index last saw it (``folder_state``): equal digests mean
        nothing needs reading."""
        try:
            folder = self.directory.stat().st_mtime_ns
        except FileNotFoundError:
            return folder_state(-1, -1, -1)
        try:
            manifest = self.manifest_path.stat()
        except FileNotFoundError:
            return folder_state(folder, -1, -1)
        return folder_state(folder, manifest.st_size, manifest.st_mtime_ns)

    @staticmethod
    def manifest_bytes(lines: Iterable[str]) -> bytes:
        """One document a line, so that a manifest of 100,000 articles is written by joining lines
        the index keeps, and a hand edit shows as a one-line diff. Lines are joined as bytes: for the
        1M-chunk archive's 165,158 lines (64 MB) 0.16 – 0.19 s, against 0.44 s joining text and
        encoding it whole (a probe, same process)."""
        body = b",\n".join([line.encode() for line in lines])
        return b"".join((b'{"documents": [\n', body, b"\n]}\n")) if body else b'{"documents": []}\n'

    def stage(self, file: str, data: bytes) -> None:
        """Write a new article file where the corpus scan does not see it yet."""
        self.staging.mkdir(parents=True, exist_ok=True)
        target = self.staging / file
        with target.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def publish(self, files: Iterable[str], delete: Iterable[str], stamp_ns: int) -> None:
        """Move staged files and the staged manifest into the folder, delete the files of replaced
        or removed documents (after the index committed the change), then set the folder's and the
        manifest's times to ``stamp_ns``: the state the index recorded (``state_after``)."""
        self.directory.mkdir(parents=True, exist_ok=True)  # a new collection's first change creates it
        for file in files:
            staged = self.staging / file
            if staged.exists():
                os.replace(staged, self.directory / file)
        for file in delete:
            (self.directory / file).unlink(missing_ok=True)
        staged_manifest = self.staging / STAGED_MANIFEST
        if staged_manifest.exists():
            os.replace(staged_manifest, self.manifest_path)
        self.discard_staging()  # before the times are set: removing it changes the folder's time
        if self.manifest_path.exists():
            os.utime(self.manifest_path, ns=(stamp_ns, stamp_ns))
        os.utime(self.directory, ns=(stamp_ns, stamp_ns))
        fsync_dir(self.directory)

    def state_after(self, manifest: bytes, stamp_ns: int) -> str:
        return folder_state(stamp_ns, len(manifest), stamp_ns)

    def discard_staging(self) -> None:
        """Staged files of a change that did not commit."""
        shutil.rmtree(self.staging, ignore_errors=True)

    def has_leftovers(self) -> bool:
        """A staging folder: a change that a dead process began. Only the staging folder is looked
        at: this version writes nothing else into the folder but by ``os.replace``, and a scan of a
        165k-article folder for temporary files cost 2.0-2.3 s of every open at 1M while the index's
        background parse held the GIL (0.08 s alone; eval/reports/experiments.md)."""
        return self.staging.exists()

    def remove_temporary_files(self) -> None:
        """``.*.tmp`` files of interrupted writes (``write_atomic``'s, as earlier versions wrote the
        manifest here): removed when a write is recovered after a crash, and by ``rag build``."""
        for leftover in self._temporary_files():
            leftover.unlink(missing_ok=True)

    def _temporary_files(self) -> list[Path]:
        """One ``os.scandir`` with plain string tests: ``Path.glob`` matched each name in Python and
        took 0.13 s a call over a folder of 165k articles (0.08 s this way)."""
        try:
            with os.scandir(self.directory) as entries:
                return [Path(e.path) for e in entries if e.name.startswith(".") and e.name.endswith(".tmp") and len(e.name) >= 5]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def free_file_name(self, doc_id: str, suffix: str, data: bytes, taken: set[str]) -> str:
        """``<id><suffix>``, or with the content's hash when a file of that name exists (an update)."""
        name = f"{doc_id}{suffix}"
        if name in taken or (self.directory / name).exists():
            name = f"{doc_id}.{sha256_bytes(data)[:8]}{suffix}"
        return name
