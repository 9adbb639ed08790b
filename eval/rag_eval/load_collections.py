"""The load probe's collections phase (``rag-eval load``): questions to two collections while
articles are uploaded to them, first on their own, then while the server builds a third collection.

Issue 26's target: 0 errors, 0 lost documents, and questions to the first two never wait for the
third. The first two (``desk-a``, ``desk-b``) are copies of the news collection made the way an
operator copies one (the folder and its index: nothing is embedded again), so the gold questions
have answers in them. The third (``archive``) gets ``archive`` articles copied into its folder, as
an operator restores an archive; the first question to it makes the server build its index (every
article read and embedded), in the server's own process, as any first call to a collection does.
Both windows ask the same gold questions of the first two, alternately, from ``clients`` clients,
while ``uploads`` articles are uploaded to them in turn through the API; during the build the
clients keep asking until it ends (at most ``DURING_ROUNDS`` times the questions), so all of it is
under load.

Measured: errors (a non-200 or malformed answer, a refused or malformed upload, the build's own
question); lost documents (every upload the API acknowledged is listed afterwards in its
collection and in no other; every archive article is listed in the third); and waiting: the p95
of the first two collections' questions during the build against the same without it (one run,
one machine, minutes apart), how many were answered before the build ended, and the slowest
of them against the build's duration (a question held behind the build waits for the rest of it).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import httpx

from rag_eval.load_clients import QUESTION_TIMEOUT_S, Asked, article, ask_all, check, durations, gold_questions, percentile

DESKS = ("desk-a", "desk-b")
ARCHIVE = "archive"
DURING_ROUNDS = 3
FIRST_UPLOAD = 1000  # past the numbers of the articles uploaded earlier, which the copies hold
BUILD_TIMEOUT_S = 1800.0
TARGET_RATIO = 2.0
COPY = shutil.ignore_patterns("LOCK", ".staging-*")


class Upload(NamedTuple):
    """An upload the API acknowledged: the collection it went to, the id it was given, its name."""

    collection: str
    doc_id: str
    name: str


@dataclass(frozen=True)
class Collections:
    archive: int  # articles copied into the third collection's folder
    archive_listed: int  # documents the API lists in it after its build
    build_s: float  # the first question to it, which built its index
    questions: int  # asked of the first two collections without the build
    quiet_p95_s: float
    during: int  # questions to the first two sent while the third was built
    during_p95_s: float
    within: int  # of them, answered before the build ended
    slowest_s: float  # the slowest of them
    uploads: int  # acknowledged, both windows
    lost: tuple[str, ...]  # acknowledged uploads not listed in their collection, or listed in another

    @property
    def ratio(self) -> float:
        return round(self.during_p95_s / self.quiet_p95_s, 2) if self.quiet_p95_s else 0.0


def archive_article(number: int) -> tuple[str, bytes]:
    """A short article of the archive (about 15 pieces to embed), unlike any other number's."""
    berths = "".join(f"第{number}号港区第{i}个泊位全年装卸货物{i * 13 + number}万吨。" for i in range(12))
    text = f"档案新闻第{number}号:港口年度统计。\n{berths}"
    return f"archive-{number:04d}.txt", text.encode()


def lost_documents(acknowledged: Sequence[Upload], listed: Mapping[str, Collection[str]]) -> list[str]:
    """The acknowledged uploads missing from their collection's listing, or listed in another collection."""
    lost = []
    for upload in acknowledged:
        if upload.doc_id not in listed[upload.collection]:
            lost.append(f"{upload.name} ({upload.doc_id}) is not listed in {upload.collection}")
        lost += [f"{upload.name} ({upload.doc_id}) is listed in {other} too"
                 for other, ids in listed.items() if other != upload.collection and upload.doc_id in ids]  # fmt: skip
    return lost


def run(url: str, root: Path, clients: int, questions: int, uploads: int, archive: int, errors: list[str]) -> Collections:
    """The phase against the server at ``url`` serving the project folder ``root``."""
    for desk in DESKS:  # as an operator copies a collection: its folder and its index
        shutil.copytree(root / "corpus", root / "collections" / desk)
        shutil.copytree(root / "index" / "news", root / "index" / desk, ignore=COPY)
    asked = gold_questions(questions)
    ask_all(url, asked[: len(DESKS)], len(DESKS), errors, "open ", DESKS)  # each opens now, not inside a window
    acknowledged: list[Upload] = []
    quiet = _while_uploading(url, uploads, FIRST_UPLOAD, acknowledged, errors, lambda: ask_all(url, asked, clients, errors, "quiet ", DESKS))
    folder = root / "collections" / ARCHIVE
    folder.mkdir(parents=True)
    for number in range(archive):
        name, data = archive_article(number)
        (folder / name).write_bytes(data)
    built = threading.Event()
    build: list[float] = []
    builder = threading.Thread(target=_build, args=(url, built, build, errors))
    builder.start()
    during = _while_uploading(url, uploads, FIRST_UPLOAD + uploads, acknowledged, errors,
                              lambda: ask_all(url, asked * DURING_ROUNDS, clients, errors, "during ", DESKS, stop=built))  # fmt: skip
    builder.join(timeout=BUILD_TIMEOUT_S)
    if not build:
        errors.append(f"the build of {ARCHIVE} did not end within {BUILD_TIMEOUT_S:.0f} s")
    started, ended = build or (0.0, 0.0)
    listed = {name: _listed(url, name, errors) for name in (*DESKS, ARCHIVE)}
    archived = listed.pop(ARCHIVE)
    return Collections(archive, len(archived), round(ended - started, 1), len(quiet), percentile(durations(quiet), 0.95), len(during),
                       percentile(durations(during), 0.95), sum(one.answered <= ended for one in during),
                       round(max(durations(during), default=0.0), 3), len(acknowledged), tuple(lost_documents(acknowledged, listed)))  # fmt: skip


def _build(url: str, built: threading.Event, build: list[float], errors: list[str]) -> None:
    """The first question to the archive, which builds its index: ``build`` gets its start and end."""
    begin = time.perf_counter()
    try:
        with httpx.Client(base_url=url, timeout=BUILD_TIMEOUT_S) as client:
            answer = client.post("/api/v1/ask", json={"question": "第7号港区第3个泊位全年装卸货物多少万吨?", "collection": ARCHIVE})
            problem = check(answer)
    except httpx.HTTPError as error:
        problem = f"{type(error).__name__}: {error}"
    build += [begin, time.perf_counter()]
    if problem:
        errors.append(f"{ARCHIVE}: {problem}")
    built.set()


def _while_uploading(url: str, count: int, first: int, acknowledged: list[Upload], errors: list[str],
                     asking: Callable[[], list[Asked]]) -> list[Asked]:  # fmt: skip
    """``asking()`` while ``count`` articles (numbered from ``first``) are uploaded to the first two
    collections in turn; the acknowledged ones go to ``acknowledged``."""

    def upload_all() -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            for number in range(first, first + count):
                collection = DESKS[number % len(DESKS)]
                name, data = article(number)
                response = client.post("/api/v1/documents", files=[("files", (name, data, "text/plain"))], data={"collection": collection})
                try:  # the upload's own entry comes first (skipped files of the folder, if any, after it)
                    doc_id = str(response.json()[0]["document"]["id"]) if response.status_code == 200 else None
                except (ValueError, LookupError, TypeError):
                    doc_id = None
                if doc_id is None:
                    errors.append(f"upload to {collection}: HTTP {response.status_code}: {response.text[:200]}")
                else:
                    acknowledged.append(Upload(collection, doc_id, name))

    uploader = threading.Thread(target=upload_all)
    uploader.start()
    timed = asking()
    uploader.join(timeout=900)
    return timed


def _listed(url: str, collection: str, errors: list[str]) -> set[str]:
    response = httpx.get(f"{url}/api/v1/documents", params={"collection": collection}, timeout=QUESTION_TIMEOUT_S)
    if response.status_code != 200:
        errors.append(f"listing {collection}: HTTP {response.status_code}: {response.text[:200]}")
        return set()
    return {str(document["id"]) for document in response.json()}


def rows(phase: Collections, clients: int) -> list[tuple[str, str, str, str]]:
    """The report's rows (figure, measured, target, verdict) for ``rag_eval.load.markdown``."""
    verdict = {True: "met", False: "**missed**"}
    return [
        ("uploads to two collections acknowledged / lost (not listed in their collection, or listed in the other)",
         f"{phase.uploads} / **{len(phase.lost)}**", "0 lost", verdict[not phase.lost]),
        (f"a third collection built by the server meanwhile: its {phase.archive} articles listed afterwards",
         f"**{phase.archive_listed}** of {phase.archive}", "all", verdict[phase.archive_listed == phase.archive]),
        (f"questions to the two from {clients} clients while uploading: p95 during the build ({phase.during} questions) / "
         f"without it ({phase.questions})", f"{phase.during_p95_s} / {phase.quiet_p95_s} s = **{phase.ratio}×**", "≤ 2×",
         verdict[0 < phase.ratio <= TARGET_RATIO]),
        ("…of them answered before the build ended; the slowest / the build's duration",
         f"{phase.within} of {phase.during}; **{phase.slowest_s} s** / {phase.build_s} s", "some answered; slowest < the build",
         verdict[phase.within > 0 and phase.slowest_s < phase.build_s]),
    ]  # fmt: skip
