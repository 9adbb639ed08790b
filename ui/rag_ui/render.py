"""HTML for the chat page. Every piece of user or document text is escaped before markup is added."""

from __future__ import annotations

import html
from collections.abc import Sequence

from rag import AddResult, Answer, Citation, Document, DocumentSummary, Passage, Span

NOT_FOUND = "Not found in the documents."


def escape(text: str) -> str:
    """HTML-escaped text with any unpaired surrogate (broken text a client sent) shown as U+FFFD: Gradio
    cannot send the page a string holding one, and answered a generic error instead (issue 23)."""
    return html.escape("".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text))


def _highlighted(text: str, span: tuple[int, int] | None, mark_id: str | None = None, inner: tuple[int, int] | None = None) -> str:
    """``text`` with ``span`` marked; ``inner`` (inside it) marked more strongly: the reader's answer."""
    if span is None:
        return escape(text)
    start, end = span
    id_attribute = f' id="{mark_id}"' if mark_id else ""
    marked = escape(text[start:end])
    if inner is not None and start <= inner[0] < inner[1] <= end:
        a, b = inner[0] - start, inner[1] - start
        piece = text[start:end]
        marked = f'{escape(piece[:a])}<strong class="span">{escape(piece[a:b])}</strong>{escape(piece[b:])}'
    return f"{escape(text[:start])}<mark{id_attribute}>{marked}</mark>{escape(text[end:])}"


def _inner(passage: Passage, span: Span | None) -> tuple[int, int] | None:
    """The answer span in the passage's coordinates, when it lies in this passage."""
    if span is None or span.doc_id != passage.doc_id or not passage.start <= span.start < span.end <= passage.end:
        return None
    return span.start - passage.start, span.end - passage.start


def _cite_attributes(passage: Passage) -> str:
    start, end = (passage.start + passage.highlight[0], passage.start + passage.highlight[1]) if passage.highlight else (passage.start, passage.end)
    return f'data-doc="{escape(passage.doc_id)}" data-start="{start}" data-end="{end}"'


def passage_card(passage: Passage, cited: bool, span: Span | None = None) -> str:
    source = f" · {escape(passage.source)}" if passage.source else ""
    source += f' · <span class="date">{escape(passage.date)}</span>' if passage.date else ""
    label = "cited" if cited else "closest match"
    return (
        f'<div class="card{" cited" if cited else ""}" data-rank="{passage.rank}">'
        f'<div class="card-head"><button class="cite" {_cite_attributes(passage)} title="Open the article at this passage">[{passage.rank}]</button> '
        f'<span class="title">{escape(passage.title)}</span><span class="meta">{source} · {label} · score {passage.score:.3f}</span></div>'
        f'<div class="passage">{_highlighted(passage.text, passage.highlight, inner=_inner(passage, span))}</div></div>'
    )


# What a reader sees of the confidence: a word, the number on hover (Answer.reliability).
RELIABILITY = {"reliable": "可靠", "likely": "可能", "uncertain": "不确定"}


def _citation_button(citation: Citation) -> str:
    """The citation's button, then its article's publication date (or that it is unknown)."""
    dated = f'<span class="cite-date" title="the publication date of the article">{escape(citation.date)}</span>' if citation.date else (
        '<span class="cite-date unknown" title="the article states no date">no date</span>')  # fmt: skip
    return (f'<button class="cite" data-doc="{escape(citation.doc_id)}" data-start="{citation.start}" data-end="{citation.end}" '
            f'title="Open the article at this sentence">[{citation.rank}]</button> {dated}')  # fmt: skip


def _time(citation: Citation) -> str:
    return f'<span class="time">{escape(citation.time)}</span> ' if citation.time else ""


def confidence_label(answer: Answer) -> str:
    word = RELIABILITY[answer.reliability]
    return (f'<span class="confidence {answer.reliability}" title="confidence {answer.confidence:.2f}: '
            f'the chance that this sentence answers the question">{word}</span>')  # fmt: skip


def answer_bubble(answer: Answer) -> str:
    """The answer's sentence first (the exact answer marked before it, when the reader found it), its
    citation and confidence; then the supporting sentences, each with its own citation."""
    cited = {citation.rank for citation in answer.citations}
    if answer.abstained:
        head = f'<div class="bubble answer abstained"><strong>{NOT_FOUND}</strong> {escape(answer.reason or "")} The closest passages are listed below.</div>'
    else:
        first, *supporting = answer.citations
        exact = f'<strong class="span">{escape(answer.span.text)}</strong> — ' if answer.span else ""
        support = "".join(f'<li>{_time(c)}<span class="support-text">{escape(c.text)}</span> {_citation_button(c)}</li>' for c in supporting)
        support = f'<div class="supporting">Also in the articles:<ul>{support}</ul></div>' if support else ""
        head = (f'<div class="bubble answer">{exact}<span class="answer-text">{escape(answer.text or "")}</span> '
                f"{_citation_button(first)} {confidence_label(answer)}{support}</div>")  # fmt: skip
    cards = "".join(passage_card(p, p.rank in cited, answer.span) for p in answer.passages)
    return f'{head}<div class="cards">{cards}</div>'


def conversation(turns: Sequence[tuple[str, Answer | str]]) -> str:
    """The chat so far; a turn's reply is an Answer, or an error message (a str)."""
    if not turns:
        return '<div class="empty">Ask a question about the articles — in Simplified Chinese, Traditional Chinese or English.</div>'
    parts = []
    for question, reply in turns:
        parts.append(f'<div class="bubble question">{escape(question)}</div>')
        if not isinstance(reply, str) and reply.question != question.strip():  # a follow-up's pronoun, resolved
            parts.append(f'<div class="asked-as">Answered as: {escape(reply.question)}</div>')
        if isinstance(reply, str):
            parts.append(f'<div class="bubble answer error">{escape(reply)}</div>')
        else:
            parts.append(answer_bubble(reply))
    return f'<div class="turns">{"".join(parts)}</div>'


def article(document: Document | None, span: tuple[int, int] | None) -> str:
    """The full cleaned article with the cited span marked (``id="cited-span"``, scrolled into view)."""
    if document is None:
        return '<div class="empty">Click a citation such as [1] to read the article at that passage.</div>'
    dated = f"{document.published} ({document.date_basis})" if document.published else "no date"
    meta = " · ".join(escape(part) for part in (document.source, dated, document.script) if part)
    paragraphs = _highlighted(document.text, span, "cited-span").replace("\n", "<br>")
    return f'<div class="article"><h3>{escape(document.title)}</h3><div class="meta">{meta} · {escape(document.id)}</div><div class="article-text">{paragraphs}</div></div>'


LIBRARY_LIMIT = 200  # the page lists this many; a larger archive is searched, not scrolled


def library(documents: Sequence[DocumentSummary], model_id: str) -> str:
    """The collection's documents, newest first, each with its file name, type and a remove button."""
    shown = list(reversed(documents))[:LIBRARY_LIMIT]
    items = "".join(
        f'<li data-doc="{escape(doc.id)}"><span class="title">{escape(doc.title)}</span> '
        f'<span class="date" title="{escape(doc.date_basis or "the article states no date")}">{escape(doc.published or "no date")}</span> '
        f'<span class="meta">{escape(doc.name)} · {escape(doc.format.upper() or "TEXT")} · {escape(doc.script)}'
        f'{" · " + escape(doc.source) if doc.source else ""}</span> '
        f'<button class="remove" data-doc="{escape(doc.id)}" data-title="{escape(doc.title)}" title="Remove this document">✕</button></li>'
        for doc in shown
    )
    more = f"<div class='meta'>… and {len(documents) - len(shown)} more</div>" if len(documents) > len(shown) else ""
    return f"<div class='library'><div>{len(documents)} documents · model {escape(model_id)}</div><ol>{items}</ol>{more}</div>"


def status(message: str, error: bool = False) -> str:
    """A status line as plain text: titles come from articles and must never become markup."""
    return f'<div class="status{" error" if error else ""}">{escape(message)}</div>'


def added_summary(results: Sequence[AddResult]) -> str:
    counts = {kind: sum(r.status == kind for r in results) for kind in ("added", "updated", "unchanged")}
    done = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    titles = "; ".join(r.document.title for r in results)
    return f"{done}: {titles}. Searchable now."


CSS = """
.turns, .empty { font-size: 15px; }
.bubble { border-radius: 12px; padding: 10px 14px; margin: 8px 0; max-width: 95%; }
.bubble.question { background: #e8f0fe; margin-left: auto; width: fit-content; }
.bubble.answer { background: #f1f8e9; border: 1px solid #c5e1a5; }
.asked-as { font-size: 0.85em; color: #555; text-align: right; margin: -4px 0 6px; }
.bubble.answer.abstained { background: #fff8e1; border-color: #ffe082; }
.bubble.answer.error { background: #ffebee; border-color: #ef9a9a; }
.cards { display: flex; flex-direction: column; gap: 6px; margin: 0 0 16px 12px; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: 8px 10px; background: #fff; }
.card.cited { border-color: #7cb342; }
.card-head { font-size: 13px; margin-bottom: 4px; }
.card-head .title { font-weight: 600; }
.meta { color: #666; font-size: 12px; margin-left: 6px; }
.passage, .article-text { line-height: 1.7; white-space: normal; }
mark { background: #ffe066; padding: 0 1px; }
strong.span { background: #ffb300; color: #000; border-radius: 3px; padding: 0 2px; }
button.cite { border: none; background: #e3f2fd; color: #1565c0; border-radius: 4px; cursor: pointer; padding: 0 4px; font-size: 13px; }
button.cite:hover { background: #bbdefb; }
.article { max-height: 70vh; overflow-y: auto; padding-right: 8px; }
.library ol { margin: 6px 0 0 18px; padding: 0; }
.status.error { color: #b71c1c; }
button.remove { border: none; background: none; color: #b71c1c; cursor: pointer; font-size: 12px; padding: 0 4px; }
button.remove:hover { background: #ffebee; border-radius: 4px; }
.confidence { font-size: 12px; border-radius: 10px; padding: 1px 8px; margin-left: 6px; cursor: help; white-space: nowrap; }
.confidence.reliable { background: #c8e6c9; color: #1b5e20; }
.confidence.likely { background: #fff3c4; color: #7a5a00; }
.confidence.uncertain { background: #eceff1; color: #455a64; }
.supporting { margin-top: 6px; font-size: 13px; color: #444; }
.supporting ul { margin: 2px 0 0 18px; padding: 0; }
.supporting .time { color: #555; font-variant-numeric: tabular-nums; margin-right: 4px; }
.date, .cite-date { color: #37474f; font-size: 12px; font-variant-numeric: tabular-nums; }
.cite-date.unknown, .library .date { color: #888; }
"""
