"""``rag-eval``: the yardstick, apart from the product. Scores the gold set and public datasets,
fits the abstention model, trains the query adapter, tunes fusion, benchmarks performance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from rag import Assistant, RagError, Settings, load_encoder

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evaluate and benchmark the assistant (rag-eval).")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _fail(error: Exception) -> NoReturn:
    err.print(f"error: {error}", soft_wrap=True)
    raise typer.Exit(1)


def _dataset_folder(folder: Path, option: str) -> Path:
    from rag_eval.datasets import is_dataset

    if not is_dataset(folder):
        raise typer.BadParameter(f"{folder} is not a dataset folder (passages.jsonl and queries.jsonl)", param_hint=option)
    return folder


@app.command()
def gold(
    limit: Annotated[int | None, typer.Option(min=1, help="Only this many questions (a quick run).")] = None,
    config: Annotated[list[str] | None, typer.Option(help="Only these configurations (default: all).")] = None,
    compare: Annotated[Path | None, typer.Option(help="An older latest.json to show deltas against.")] = None,
    gold_path: Annotated[Path | None, typer.Option("--gold", help="Gold questions (default eval/gold.jsonl).")] = None,
    output: Annotated[Path | None, typer.Option(help="Report folder (default eval/reports).")] = None,
    distractors: Annotated[list[Path] | None, typer.Option(help="Also score the default among these paragraphs (dataset folders, "
                                                           "JSON-lines reading files), e.g. ../shared/bench/drcd.")] = None,  # fmt: skip
) -> None:
    """Score retrieval, answers and abstention on the gold questions; write eval/reports/latest.*."""
    from rag_eval import report, runs
    from rag_eval.paths import gold_file, reports_dir

    configurations = [c for c in runs.CONFIGURATIONS if not config or c.name in config]
    if not configurations:
        names = ", ".join(c.name for c in runs.CONFIGURATIONS)
        raise typer.BadParameter(f"no configuration named {', '.join(config or [])}; choose from {names}", param_hint="--config")
    output = output or reports_dir()
    try:
        settings = Settings()
        encoder = load_encoder(settings)
        news = Assistant.load(settings, encoder=encoder)
        questions = runs.gold_questions(news, gold_path or gold_file(), limit)
        result = runs.evaluate_gold(news, settings, encoder, questions, configurations)
        result["conversations"] = runs.evaluate_conversations(news, runs.conversation_questions(news, gold_path or gold_file()))
        if distractors:
            result["distractors"] = runs.evaluate_distractors(news, settings, encoder, questions, distractors)
    except (RagError, ValueError) as error:
        _fail(error)
    report.write_gold_report(result, output)
    out.print(report.gold_markdown(result).split("### Answers")[0])
    if compare:
        out.print(report.compare(json.loads(compare.read_text()), result))
    out.print(f"reports written to {output}/latest.md, latest.json, latest.png")


@app.command()
def errors(
    split: Annotated[str, typer.Option(help="The split to analyse: dev (choices are made on it) or test.")] = "dev",
    output: Annotated[Path | None, typer.Option(help="Write the table and the list of misses here (markdown).")] = None,
) -> None:
    """Every miss of the default assistant on a split of the gold set, in one category each."""
    from rag_eval import errors as analysis
    from rag_eval.paths import gold_file

    if split not in ("dev", "test"):
        raise typer.BadParameter("choose dev or test", param_hint="--split")
    try:
        news = Assistant.load()
        questions = [q for q in load_gold_of(news) if q.split == split and not q.follow_up]
    except RagError as error:
        _fail(error)
    text = analysis.markdown(analysis.analyse(news, questions), split)
    if output:
        output.write_text(text, encoding="utf-8")
    out.print(text.split("| id |")[0])


def load_gold_of(news: Assistant) -> list:
    from rag_eval.gold import load_gold
    from rag_eval.paths import gold_file

    return load_gold(gold_file(), lambda doc_id: news.document(doc_id).text)


@app.command()
def public(
    folders: Annotated[list[Path], typer.Argument(help="Dataset folders (passages.jsonl, queries.jsonl), e.g. ../shared/bench/drcd.")],
    limit: Annotated[int | None, typer.Option(min=1, help="Only this many questions (a quick run).")] = None,
) -> None:
    """Score retrieval on public QA datasets (CMRC 2018, DRCD) and write eval/reports/public-<name>.json."""
    from rag_eval import report, runs
    from rag_eval.datasets import load_dataset
    from rag_eval.paths import reports_dir

    for folder in folders:
        _dataset_folder(folder, "FOLDERS")
    try:
        settings = Settings()
        encoder = load_encoder(settings)
        for folder in folders:
            result = runs.evaluate_public(load_dataset(folder), settings, encoder, limit=limit)
            report.write_public_report(result, reports_dir())
            out.print(report.public_markdown([result]))
    except RagError as error:
        _fail(error)


@app.command("fit-abstention")
def fit_abstention(
    gold_path: Annotated[Path | None, typer.Option("--gold", help="Gold questions (default eval/gold.jsonl).")] = None,
) -> None:
    """Refit the abstention model (rag/abstention.json) on the dev split's questions."""
    from rag_eval import runs
    from rag_eval.fitting import fit_abstention as fit
    from rag_eval.paths import gold_file

    try:
        news = Assistant.load()
        questions = runs.gold_questions(news, gold_path or gold_file())
        dev = [q for q in questions if q.split == "dev" and not q.follow_up]
        fitted = fit(runs.run_questions(news.with_retrieval(abstain=False), dev, "dev"), questions)
    except RagError as error:
        _fail(error)
    fitted.save()
    out.print(f"models saved: answerable {fitted.answerable}, threshold {fitted.threshold:.4f}; correct {fitted.correct}")


@app.command("fit-judge")
def fit_judge(
    gold_path: Annotated[Path | None, typer.Option("--gold", help="Gold questions (default eval/gold.jsonl).")] = None,
) -> None:
    """Refit the sentence judge (rag/judge.json) on the dev split's answerable questions; refit the
    abstention models after it (they weigh the judge's probability)."""
    from rag_eval import runs
    from rag_eval.fitting import fit_judge as fit
    from rag_eval.fitting import judge_examples, top_choice_accuracy
    from rag_eval.paths import gold_file

    try:
        news = Assistant.load()
        questions = runs.gold_questions(news, gold_path or gold_file())
        dev = [q for q in questions if q.split == "dev" and not q.follow_up]
        examples = judge_examples(news.with_retrieval(abstain=False), dev)
    except RagError as error:
        _fail(error)
    fitted = fit(examples)
    fitted.save()
    out.print(f"judge saved: the sentence it rates highest holds the answer for {top_choice_accuracy(fitted, examples):.3f} of "
              f"{len(examples)} dev questions")


@app.command()
def adapter(
    dataset: Annotated[Path, typer.Argument(help="The dataset to train on (passages.jsonl, queries.jsonl).")],
    check: Annotated[Path | None, typer.Option(help="A held-out dataset: answer-sentence accuracy before and after.")] = None,
) -> None:
    """Train the query adapter (rag/query_adapter.npz) and prepare the model again with it."""
    from rag import prepare_model
    from rag_eval.adapter import held_out_accuracy, load_examples, save_adapter, train_adapter
    from rag_eval.datasets import load_dataset

    _dataset_folder(dataset, "DATASET")
    if check:
        _dataset_folder(check, "--check")
    settings = Settings()
    try:
        encoder = load_encoder(settings)
        save_adapter(train_adapter(load_examples(load_dataset(dataset)), encoder, settings.model_dir), source=dataset.name)
        prepare_model(settings.model_dir)  # the stamp no longer matches the adapter: export again
        if check:
            tuned = load_encoder(settings)
            for label, accuracy in held_out_accuracy(load_examples(load_dataset(check)), tuned).items():
                out.print(f"{check.name}: answer sentence closest in its paragraph, {label}: {accuracy:.3f}")
    except RagError as error:
        _fail(error)


@app.command("train-reader", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_reader(context: typer.Context) -> None:
    """Train the reader (rag/reader.npz); options as `python -m rag_eval.reader_training --help` (make reader)."""
    import sys

    from rag_eval import reader_training

    sys.argv = ["rag-eval train-reader", *context.args]
    reader_training.main()


@app.command("reader-scores", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def reader_scores(context: typer.Context) -> None:
    """Reader EM/F1 (CMRC 2018 definition) on a file of questions with gold paragraphs, e.g.
    `rag-eval reader-scores --data ../shared/reader/heldout.jsonl`; `--latency` times the product's call."""
    import sys

    from rag_eval import reader_metrics

    sys.argv = ["rag-eval reader-scores", *context.args]
    reader_metrics.main()


@app.command()
def tune() -> None:
    """Grid-search the fusion weights on the dev split; write eval/reports/tuning.*."""
    from rag_eval import tune as tuning

    try:
        out.print(tuning.write(tuning.tune(Assistant.load())))
    except RagError as error:
        _fail(error)


@app.command()
def bench(million: Annotated[bool, typer.Option("--million", help="Also measure FAISS at 1M vectors (slow).")] = False) -> None:
    """Measure the query path, cold start, ingest, memory and FAISS at scale; write eval/reports/bench.*."""
    from rag_eval import perf

    try:
        report = perf.run(million=million)
    except RagError as error:
        _fail(error)
    perf.write(report)
    out.print(perf.markdown(report).split("## Query path")[0])


@app.command()
def reading(
    data: Annotated[Path, typer.Option(help="A JSON-lines file of reading questions (context, question, answers), "
                                             "e.g. ../shared/reader/heldout.jsonl.", exists=True, dir_okay=False)],  # fmt: skip
    paragraphs: Annotated[int, typer.Option(min=1, help="Paragraphs indexed; all their questions are asked.")] = 240,
) -> None:
    """Ask a reading set's questions of a collection of its paragraphs; writes eval/reports/reading.*."""
    from rag_eval.paths import reports_dir, write_whole
    from rag_eval.reading import evaluate_reading, markdown, reading_sample

    try:
        documents, questions = reading_sample(data, paragraphs)
        settings = Settings()
        assistant = Assistant.over(documents, settings.for_collection("eval-reading"), encoder=load_encoder(settings), progress=True)
        scores = evaluate_reading(assistant, questions)
    except (RagError, ValueError) as error:
        _fail(error)
    write_whole(reports_dir() / "reading.json", json.dumps({"data": data.name, "paragraphs": paragraphs, **scores}, indent=2).encode())
    text = markdown(data, paragraphs, scores)
    write_whole(reports_dir() / "reading.md", text.encode())
    out.print(text)


@app.command()
def scale(
    size: Annotated[list[int] | None, typer.Option(help="Chunks in an archive; repeatable (default 10,000 and 100,000).")] = None,
    dataset: Annotated[list[Path] | None, typer.Option(help="Public dataset folders whose passages join the sentence pool.")] = None,
    work: Annotated[Path | None, typer.Option(help="Where the archives are built (default ~/.cache/rag/bench).")] = None,
    milvus_size: Annotated[list[int] | None, typer.Option(help="Chunks in an archive on a Milvus server started here; repeatable.")] = None,
) -> None:
    """End-to-end scale benchmark: ask, add, remove, memory, disk, recall at each archive size; writes eval/reports/scale.*."""
    from rag_eval import scale as bench_scale
    from rag_eval.datasets import load_dataset
    from rag_eval.paths import gold_file, reports_dir

    folders = [_dataset_folder(folder, "--dataset") for folder in dataset or []]
    rows = [json.loads(line)["question"] for line in gold_file().read_text(encoding="utf-8").splitlines() if line.strip()]
    rows += [query.question for folder in folders for query in load_dataset(folder).queries[:100]]
    questions = list(dict.fromkeys(rows))[:300]
    try:
        results = bench_scale.run(size or [10_000, 100_000], folders, work or Settings().cache_dir / "bench", questions, milvus_size or [])
    except RagError as error:
        _fail(error)
    bench_scale.write(results, reports_dir())
    out.print(bench_scale.markdown(results))


@app.command()
def load(
    clients: Annotated[int, typer.Option(min=1, max=64, help="Clients asking at once.")] = 20,
    questions: Annotated[int, typer.Option(min=1, max=2000, help="Questions in all.")] = 200,
    uploads: Annotated[int, typer.Option(min=0, max=20, help="Articles uploaded meanwhile (every other one removed again).")] = 4,
    archive: Annotated[int | None, typer.Option(min=1, max=5000, help="Articles of the third collection the server builds while "
                                                "two others are asked and uploaded to (default: one a question).")] = None,
    write_report: Annotated[bool, typer.Option("--report/--no-report", help="Write eval/reports/load.*.")] = True,
) -> None:
    """Many clients asking over HTTP while articles are uploaded and removed, and while the server builds another
    collection; exits 1 on any error."""
    from rag_eval import load as probe

    result = probe.run(clients=clients, questions=questions, uploads=uploads, archive=archive)
    if write_report:
        probe.write(result)
    out.print(probe.markdown(result))
    if result.errors:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
