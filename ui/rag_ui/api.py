"""The HTTP JSON API, versioned under ``/api/v1``, beside the page on the same server.

Every route goes through the facade and the same validation as the CLI (the messages are the
same). Every error is JSON ``{"error": {"type", "message"}}`` with a status that fits the error's kind
(``rag.ErrorKind``, the same table the CLI's exit codes come from): 400 bad input, 404 an unknown
document, collection or route, 413 too large, 503 with ``Retry-After`` while another writer holds the
collection, the store is unreachable or the server is busy, 500 (with an id that the log also has)
for anything unexpected. Questions and writes are admitted by ``rag_ui.admission``.

A call that read a collection's folder (the first call to a collection builds its index; a write
first takes in the files dropped into the folder by hand) answers with the files it skipped and
why (``rag.skipped``): ``"skipped": [{"file", "reason"}]`` in an object, omitted when there are none;
an upload's list ends with an entry ``{"status": "skipped", "file", "reason"}`` for each. Listing the
documents (a list of them) only logs them.
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from rag import Assistant, ErrorKind, RagError, Skipped, skipped_files, validate_date
from rag_ui.admission import Admission, ServerBusyError
from rag_ui.assistants import Assistants
from rag_ui.uploads import UploadFolder

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
STATUS = {
    ErrorKind.BAD_INPUT: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.BUSY: 503,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.FAILURE: 500,
}
RETRY_AFTER_S = 10  # a writer of another process, or a rebuild, usually needs seconds


def error_json(status: int, kind: str, message: str, retry_after_s: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


def rag_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RagError)
    status = STATUS[error.kind]
    return error_json(status, type(error).__name__, str(error), RETRY_AFTER_S if status == 503 else None)


def busy(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServerBusyError)
    return error_json(503, "ServerBusyError", str(error), error.retry_after_s)


def invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    return error_json(400, "InvalidRequest", problems)


def http_error(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's and Starlette's own refusals (a broken multipart body, a method a route does not take)."""
    assert isinstance(error, HTTPException)
    status = error.status_code if 400 <= error.status_code < 500 else 400
    return error_json(status, "InvalidRequest", str(error.detail))


def unexpected(request: Request, error: Exception) -> JSONResponse:
    """A bug: 500 with an id to quote, logged with its traceback, never shown to the client."""
    error_id = uuid.uuid4().hex[:12]
    log.error("unexpected error %s on %s %s", error_id, request.method, request.url.path, exc_info=error)
    return error_json(500, "InternalError", f"an unexpected error occurred (id {error_id}); the server log has the details")


HANDLERS = {RagError: rag_error, ServerBusyError: busy, RequestValidationError: invalid_request, HTTPException: http_error,
            Exception: unexpected}  # fmt: skip


class AskRequest(BaseModel):
    question: Any = Field(description="The question, in Chinese (either script) or English.")
    top_k: Any = Field(5, description="How many passages to return, 1 to 50.")
    collection: str | None = Field(None, description="The collection to ask (default: news).")
    history: Any = Field(None, description="The conversation's earlier questions, oldest first (at most 20): a follow-up "
                                          "such as 她是哪一年加入的? is asked with them.")  # fmt: skip
    since: Any = Field(None, description="Only articles published on or after this date, YYYY-MM-DD (articles without a "
                                        "known date are then left out).")  # fmt: skip
    until: Any = Field(None, description="Only articles published on or before this date, YYYY-MM-DD.")
    sources: Any = Field(None, description="Only articles from these sources (a list, as the document list names them).")
    documents: Any = Field(None, description="Only these documents (a list of ids).")


def router(assistants: Assistants, uploads: UploadFolder, asks: Admission, writes: Admission) -> APIRouter:
    api = APIRouter(prefix=PREFIX)

    @api.post("/ask", summary="Answer a question with cited passages (the fields of `rag ask --json`).")
    async def ask(request: AskRequest) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            # question, top_k and the filter are validated by the library, so a wrong type gets the CLI's message
            with skipped_files() as skipped:
                found = assistants.get(request.collection).ask(request.question, top_k=request.top_k, history=request.history,
                                                               since=request.since, until=request.until, sources=request.sources,
                                                               documents=request.documents)  # fmt: skip
            return with_skipped(found.to_dict(), skipped)

        return await asks.run(answer)

    @api.get("/documents", summary="List a collection's documents.")
    def documents(collection: Annotated[str | None, Query()] = None) -> list[dict[str, Any]]:
        return [asdict(summary) for summary in assistants.get(collection).documents()]

    @api.get("/documents/{doc_id}", summary="A document's metadata and its full cleaned text.")
    def document(doc_id: str, collection: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        with skipped_files() as skipped:
            found = assistants.get(collection).document(doc_id)
        return with_skipped(asdict(found) | {"name": found.original_name, "format": found.format}, skipped)

    @api.post("/documents", summary="Add (or replace, by file name) one or more article files.")
    async def add(files: Annotated[list[UploadFile], File()], collection: Annotated[str | None, Form()] = None,
                  date: Annotated[str | None, Form(description="The files' publication date, YYYY-MM-DD (instead of the one detected).")] = None,
                  ) -> list[dict[str, Any]]:  # fmt: skip
        given = validate_date(date, "date") if date and date.strip() else None  # before anything is read or written

        def write() -> list[dict[str, Any]]:
            with skipped_files() as skipped, uploads.request_folder() as folder:
                assistant = assistants.get(collection, create=True)
                paths, names = [], []
                for number, upload in enumerate(files):
                    name = upload_name(upload.filename)
                    path = folder / f"{number}{stored_suffix(name)}"  # the client's name is never a path here
                    with path.open("wb") as target:
                        shutil.copyfileobj(upload.file, target)
                    paths.append(path)
                    names.append(name)
                results = assistant.add(paths, names=names, date=given)
            added = [{"status": result.status, "document": asdict(_summary(assistant, result.document.id))} for result in results]
            return added + [{"status": "skipped", **asdict(file)} for file in skipped]

        return await writes.run(write)

    @api.delete("/documents/{doc_id}", summary="Remove a document from its collection.")
    async def remove(doc_id: str, collection: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        def write() -> dict[str, Any]:
            with skipped_files() as skipped:
                (removed,) = assistants.get(collection).remove([doc_id])
            return with_skipped({"removed": removed.id, "title": removed.title}, skipped)

        return await writes.run(write)

    @api.get("/collections", summary="The collections of this server.")
    def collections() -> list[str]:
        return assistants.names()

    @api.get("/health", summary="Documents, chunks, model and store of a collection.")
    def health(collection: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        with skipped_files() as skipped:
            info = assistants.get(collection).info()
        return with_skipped({"status": "ok", **asdict(info)}, skipped)

    @api.api_route("", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    @api.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def unknown(path: str = "") -> JSONResponse:
        """Without it an unknown route under /api/v1 would fall through to the page's app (Gradio's 404)."""
        return error_json(404, "UnknownRoute", f"no route {PREFIX}/{path}; the routes are listed at /docs")

    return api


def with_skipped(response: dict[str, Any], skipped: list[Skipped]) -> dict[str, Any]:
    """A response with the files its call skipped, when it skipped any (see the module's docstring)."""
    return response | {"skipped": [asdict(file) for file in skipped]} if skipped else response


_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


def upload_name(filename: str | None) -> str:
    """The name a client gave a file, as a name to show: its last path part, without control
    characters; the library shortens it and refuses what is no file name (``..``)."""
    name = re.split(r"[/\\]", filename or "")[-1]
    return "".join(c for c in name if c.isprintable() or c == " ").strip() or "upload"


def stored_suffix(name: str) -> str:
    """The suffix the server's own file for an upload takes: the name's, when it is a plain one."""
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return suffix if _SUFFIX.fullmatch(suffix) else ""


def _summary(assistant: Assistant, doc_id: str) -> Any:
    return next(summary for summary in assistant.documents() if summary.id == doc_id)
