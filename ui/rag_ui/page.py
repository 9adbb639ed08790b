"""The Gradio chat page. It calls the library's facade only; all markup comes from ``rag_ui.render``.

Each browser session picks a collection (``news`` first); questions, the document list, uploads
and removals all go to that collection. A document is removed from its list entry, after the
browser's confirmation dialog. A long upload can be cancelled until it is saved.
"""

from __future__ import annotations

import threading
from pathlib import Path

import gradio as gr

from rag import Answer, DocumentSummary, RagError, UnknownCollectionError
from rag_ui import render
from rag_ui.assistants import Assistants
from rag_ui.uploads import UploadFolder

MAX_HISTORY = 20  # earlier questions sent with a follow-up (the library's limit)
EXAMPLES = [
    "哪位OpenAI首席技术官宣布离职?",
    "OpenAI這輪融資後估值將達到多少?",
    "Who became OpenAI's new head of research?",
]
Turns = list[tuple[str, Answer | str]]

# Citation buttons live inside re-rendered HTML, so one delegated listener forwards their data.
CITATION_CLICKS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.cite');
  if (!button) return;
  trigger('click', {doc: button.dataset.doc, start: Number(button.dataset.start), end: Number(button.dataset.end)});
});
"""
# Remove buttons of the document list: the browser asks first, the server removes on "OK".
REMOVE_CLICKS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.remove');
  if (!button) return;
  if (confirm(`Remove “${button.dataset.title}” from the collection? Its file and index entries are deleted.`)) {
    trigger('click', {doc: button.dataset.doc});
  }
});
"""
SCROLL_TO_CITATION = """
watch('value', () => {
  const mark = element.querySelector('#cited-span');
  if (mark) mark.scrollIntoView({block: 'center'});
});
"""
# System fonts only: the default theme would fetch web fonts, and the page must work offline.
THEME = gr.themes.Default(font=["Noto Sans CJK SC", "system-ui", "sans-serif"], font_mono=["monospace"])


def _whole(number: object) -> object:
    """The slider sends floats (5.0); anything else goes to the library's validation as it came."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def uploaded_files(files: object) -> list[tuple[str, str]] | None:
    """(path, name the user gave it) of each file of an upload event's raw FileData list; None when
    the value is not such a list."""
    if files is None:
        return []
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in files):
        return None
    return [(f["path"], str(f.get("orig_name") or Path(f["path"]).name)) for f in files]


def _names(value: object) -> object:
    """A multi-select's raw value: a list of strings, or None when nothing is chosen; anything else
    goes to the library's validation as it came."""
    return None if value in (None, "", []) else value


def filter_choices(documents: list[DocumentSummary]) -> tuple[list[str], list[tuple[str, str]]]:
    """What the filter's multi-selects offer: the collection's sources, and its documents (title · date, id)."""
    sources = sorted({doc.source for doc in documents if doc.source})
    listed = [(f"{doc.title[:40]} · {doc.published or 'no date'}", doc.id) for doc in documents]
    return sources, listed


def build(assistants: Assistants, uploads: UploadFolder) -> gr.Blocks:
    default = assistants.default

    def library(collection: str) -> str:
        try:
            assistant = assistants.get(collection)
        except UnknownCollectionError:
            return render.library([], default.model_id) + render.status(f"A new collection: “{collection}” is created by its first upload.")
        except RagError as error:
            return render.status(str(error), error=True)
        return render.library(assistant.documents(), assistant.model_id)

    def filters(collection: str) -> tuple[dict[str, object], dict[str, object]]:
        try:
            sources, listed = filter_choices(assistants.get(collection).documents())
        except RagError:
            sources, listed = [], []
        return gr.update(choices=sources, value=[]), gr.update(choices=listed, value=[])

    def respond(question: object, top_k: object, turns: Turns | None, collection: object, since: object = None, until: object = None,
                sources: object = None, documents: object = None) -> tuple[str, Turns, str]:  # fmt: skip
        turns = turns if isinstance(turns, list) else []
        history = [asked for asked, reply in turns if not isinstance(reply, str)][-MAX_HISTORY:]  # the questions it answered
        try:
            assistant = assistants.get(str(collection) if collection else None)
            reply: Answer | str = assistant.ask(question, top_k=_whole(top_k), history=history, since=since, until=until,  # type: ignore[arg-type]
                                                sources=_names(sources), documents=_names(documents))  # type: ignore[arg-type]
        except RagError as error:
            reply = str(error)
        turns = [*turns, (str(question), reply)]
        return render.conversation(turns), turns, ""

    def open_citation(collection: str, event: gr.EventData) -> str:
        try:
            document = assistants.get(collection).document(str(getattr(event, "doc", "")))
            span = (int(getattr(event, "start", 0)), int(getattr(event, "end", 0)))
        except (RagError, TypeError, ValueError):
            return render.article(None, None)
        return render.article(document, span)

    def choose_collection(collection: str) -> tuple[str, str, str, Turns, dict[str, object], dict[str, object]]:
        return library(collection), render.conversation([]), render.article(None, None), [], *filters(collection)

    cancels: dict[str, threading.Event] = {}  # per browser session, while it uploads

    def add_files(files: object, collection: str, request: gr.Request, date: object = None,
                  progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, str, None, dict[str, object], dict[str, object]]:  # fmt: skip
        """``files``: the upload's FileData as sent (preprocess=False: gr.File's own preprocessing leaves
        an empty temporary file behind for every upload). ``date``: the date field beside the upload
        (empty: the date each file states)."""
        received = uploaded_files(files)
        if received is None or not all(uploads.holds(path) for path, _ in received):  # RequestGuard refused these first
            return render.status("Only files uploaded from this page are accepted.", error=True), library(collection), None, *filters(collection)
        if not received:
            return "", library(collection), None, *filters(collection)
        progress(0, desc="Cleaning, chunking and embedding …")
        cancel = cancels[request.session_hash] = threading.Event()
        given = None if date is None or (isinstance(date, str) and not date.strip()) else date  # anything else: the library's check
        try:
            results = assistants.get(collection, create=True).add([Path(path) for path, _ in received], progress=True, cancel=cancel,
                                                                    names=[name for _, name in received], date=given)  # type: ignore[arg-type]
        except RagError as error:
            return (render.status(f"Could not add the files: {error}. The collection is unchanged.", error=True), library(collection), None,
                    *filters(collection))  # fmt: skip
        finally:
            cancels.pop(request.session_hash, None)
            uploads.discard(path for path, _ in received)  # the corpus folder keeps what was added
        return render.status(render.added_summary(results)), library(collection), None, *filters(collection)

    def cancel_upload(request: gr.Request) -> None:
        if request.session_hash in cancels:
            cancels[request.session_hash].set()

    def remove_document(collection: str, event: gr.EventData) -> tuple[str, str, dict[str, object], dict[str, object]]:
        doc_id = str(getattr(event, "doc", ""))
        try:
            (removed,) = assistants.get(collection).remove([doc_id])
        except RagError as error:
            return render.status(f"Could not remove it: {error}", error=True), library(collection), *filters(collection)
        return render.status(f"Removed: {removed.title}"), library(collection), *filters(collection)

    def clear() -> tuple[str, Turns, str]:
        return render.conversation([]), [], render.article(None, None)

    # analytics off here, not only by default: a GRADIO_ANALYTICS_ENABLED=True in the environment
    # would otherwise make launch() ask api.gradio.app for the latest version and send telemetry
    # delete_cache: files uploaded to the page but never used by an event (a client that gave up) are
    # deleted after an hour; the ones an upload event reads are deleted as soon as it has read them
    with gr.Blocks(title="新闻问答 · Cited answers from Chinese news", analytics_enabled=False, delete_cache=(600, 3600)) as page:
        turns = gr.State([])
        gr.Markdown("## 新闻问答 · Cited answers from Chinese news articles\nEvery answer is a sentence copied from an article, with its source. If the articles do not say, the assistant says so.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.HTML(render.conversation([]), elem_id="conversation", js_on_load=CITATION_CLICKS)
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask a question · 提問 · 提问", show_label=False, elem_id="question", scale=5, lines=1)
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                with gr.Row():
                    top_k = gr.Slider(1, 10, value=5, step=1, label="Passages to show (top-k)", elem_id="top-k")
                    clear_button = gr.Button("Clear chat", elem_id="clear")
                with gr.Accordion("Only some articles (filters)", open=False, elem_id="filters"):
                    sources_now, documents_now = filter_choices(default.documents())
                    with gr.Row():
                        since = gr.Textbox(label="Published since (YYYY-MM-DD)", placeholder="2024-09-01", elem_id="since", max_lines=1)
                        until = gr.Textbox(label="Published until (YYYY-MM-DD)", placeholder="2024-09-30", elem_id="until", max_lines=1)
                    with gr.Row():
                        only_sources = gr.Dropdown(choices=sources_now, value=[], multiselect=True, label="Sources", elem_id="only-sources")
                        only_documents = gr.Dropdown(choices=documents_now, value=[], multiselect=True, label="Documents", elem_id="only-documents")
                    gr.Markdown("A date range leaves out the articles whose date is unknown.")
                gr.Examples(EXAMPLES, inputs=question, label="Examples (Simplified, Traditional, English)")
            with gr.Column(scale=2):
                collection = gr.Dropdown(choices=assistants.names(), value=default.collection, allow_custom_value=True,
                                         label="Collection (type a new name to start one)", elem_id="collection")  # fmt: skip
                viewer = gr.HTML(render.article(None, None), elem_id="source-viewer", js_on_load=SCROLL_TO_CITATION)
                with gr.Accordion("Documents", open=True):
                    documents = gr.HTML(library(default.collection), elem_id="library", js_on_load=REMOVE_CLICKS)
                    formats = ", ".join(default.limits.formats)
                    upload_date = gr.Textbox(label="Publication date of the next files (YYYY-MM-DD; empty: the date they state)",
                                             placeholder="2024-09-26", elem_id="upload-date", max_lines=1)  # fmt: skip
                    upload = gr.File(file_count="multiple", file_types=list(default.limits.formats),
                                     label=f"Add articles ({formats}; up to {default.limits.max_document_bytes // 1_000_000} MB each)", elem_id="upload")  # fmt: skip
                    cancel_button = gr.Button("Cancel upload", elem_id="cancel-upload", size="sm")
                    upload_status = gr.HTML(elem_id="upload-status")

        # preprocess=False: the library validates the raw values, so a crafted call (top_k "abc" or None)
        # gets the CLI's message instead of Gradio's preprocessing traceback
        answer_event = {"fn": respond, "inputs": [question, top_k, turns, collection, since, until, only_sources, only_documents],
                        "outputs": [chat, turns, question],
                        "concurrency_limit": 4, "preprocess": False}  # fmt: skip
        ask.click(**answer_event)
        question.submit(**answer_event)
        chat.click(open_citation, collection, viewer)
        clear_button.click(clear, None, [chat, turns, viewer])
        collection.change(choose_collection, collection, [documents, chat, viewer, turns, only_sources, only_documents])
        # writes are serialised per page: one writer at a time, readers keep the snapshot they started with
        upload.upload(add_files, [upload, collection, upload_date], [upload_status, documents, upload, only_sources, only_documents],
                      concurrency_limit=1, preprocess=False)  # fmt: skip
        cancel_button.click(cancel_upload, None, None, queue=False)
        documents.click(remove_document, collection, [upload_status, documents, only_sources, only_documents], concurrency_limit=1)
    return page
