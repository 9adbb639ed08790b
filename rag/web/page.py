"""The Gradio chat page. It calls the library's facade only; all markup comes from ``rag.web.render``."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from rag import Answer, Assistant, RagError  # noqa: E402
from rag.web import render  # noqa: E402
from rag.web.guard import RefuseRemoteFiles  # noqa: E402

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
SCROLL_TO_CITATION = """
watch('value', () => {
  const mark = element.querySelector('#cited-span');
  if (mark) mark.scrollIntoView({block: 'center'});
});
"""
# System fonts only: the default theme would fetch web fonts, and the page must work offline.
THEME = gr.themes.Default(font=["Noto Sans CJK SC", "system-ui", "sans-serif"], font_mono=["monospace"])


def build(assistant: Assistant) -> gr.Blocks:
    def library() -> str:
        return render.library(assistant.documents(), assistant.model_id)

    def respond(question: str, top_k: float, turns: Turns) -> tuple[str, Turns, str]:
        try:
            reply: Answer | str = assistant.ask(question, top_k=int(top_k))
        except RagError as error:
            reply = str(error)
        turns = [*turns, (question, reply)]
        return render.conversation(turns), turns, ""

    def open_citation(event: gr.EventData) -> str:
        try:
            document = assistant.document(str(getattr(event, "doc", "")))
            span = (int(getattr(event, "start", 0)), int(getattr(event, "end", 0)))
        except (RagError, TypeError, ValueError):
            return render.article(None, None)
        return render.article(document, span)

    def add_files(files: list[str] | None, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, str, None]:
        if not files:
            return "", library(), None
        progress(0, desc="Cleaning, chunking and embedding …")
        try:
            results = assistant.add([Path(f) for f in files], progress=True)
        except RagError as error:
            return render.status(f"Could not add the files: {error}. The collection is unchanged.", error=True), library(), None
        finally:
            for upload in files:  # Gradio's copies: the corpus folder keeps what was added
                Path(upload).unlink(missing_ok=True)
        return render.status(render.added_summary(results)), library(), None

    def clear() -> tuple[str, Turns, str]:
        return render.conversation([]), [], render.article(None, None)

    # analytics off here, not only by default: a GRADIO_ANALYTICS_ENABLED=True in the environment
    # would otherwise make launch() ask api.gradio.app for the latest version and send telemetry
    with gr.Blocks(title="新闻问答 · Cited answers from Chinese news", analytics_enabled=False) as page:
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
                gr.Examples(EXAMPLES, inputs=question, label="Examples (Simplified, Traditional, English)")
            with gr.Column(scale=2):
                viewer = gr.HTML(render.article(None, None), elem_id="source-viewer", js_on_load=SCROLL_TO_CITATION)
                with gr.Accordion("Documents", open=True):
                    documents = gr.HTML(library(), elem_id="library")
                    formats = ", ".join(assistant.limits.formats)
                    upload = gr.File(file_count="multiple", file_types=list(assistant.limits.formats), label=f"Add articles ({formats})", elem_id="upload")
                    upload_status = gr.HTML(elem_id="upload-status")

        answer_event = {"fn": respond, "inputs": [question, top_k, turns], "outputs": [chat, turns, question], "concurrency_limit": 4}
        ask.click(**answer_event)
        question.submit(**answer_event)
        chat.click(open_citation, None, viewer)
        clear_button.click(clear, None, [chat, turns, viewer])
        # uploads are serialised: one writer at a time, readers keep the snapshot they started with
        upload.upload(add_files, upload, [upload_status, documents, upload], concurrency_limit=1)
    return page


def launch(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    page = build(assistant)
    page.queue(default_concurrency_limit=4)
    page.launch(
        server_name=host,
        server_port=port,
        theme=THEME,
        css=render.CSS,
        max_file_size=assistant.limits.max_document_bytes,
        prevent_thread_lock=not block,
        quiet=not block,
        app_kwargs={"middleware": [Middleware(RefuseRemoteFiles)]},  # no fetching of URLs named in requests
    )
    return page
