"""The HTTP JSON API, versioned under ``/api/v1``, beside the page on the same server.

Every route goes through the facade and the same validation as the CLI (the messages are the
same); errors are JSON ``{"error": {"type", "message"}}`` with a status that fits: 400 bad input,
404 unknown document or collection, 413 a file too large, 503 while another process holds the
collection (a rebuild), with ``Retry-After``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rag import (
    DocumentError,
    DocumentTooLargeError,
    IndexBusyError,
    InvalidCollectionError,
    InvalidQuestionError,
    RagError,
    UnknownCollectionError,
    UnknownDocumentError,
)
from rag_ui.assistants import Assistants
from rag_ui.uploads import UploadFolder

STATUS = (
    (DocumentTooLargeError, 413),
    ((UnknownDocumentError, UnknownCollectionError), 404),
    ((InvalidQuestionError, DocumentError, InvalidCollectionError), 400),
    (IndexBusyError, 503),
)


def error_response(error: RagError) -> JSONResponse:
    status = next((code for kinds, code in STATUS if isinstance(error, kinds)), 500)
    headers = {"Retry-After": "10"} if status == 503 else None
    return JSONResponse({"error": {"type": type(error).__name__, "message": str(error)}}, status_code=status, headers=headers)


class AskRequest(BaseModel):
    question: Any = Field(description="The question, in Chinese (either script) or English.")
    top_k: Any = Field(5, description="How many passages to return, 1 to 50.")
    collection: str | None = Field(None, description="The collection to ask (default: news).")


def router(assistants: Assistants, uploads: UploadFolder) -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.post("/ask", summary="Answer a question with cited passages (the fields of `rag ask --json`).")
    def ask(request: AskRequest) -> dict[str, Any]:
        # question and top_k are validated by the library, so a wrong type gets the CLI's message
        return assistants.get(request.collection).ask(request.question, top_k=request.top_k).to_dict()

    @api.get("/documents", summary="List a collection's documents.")
    def documents(collection: Annotated[str | None, Query()] = None) -> list[dict[str, Any]]:
        return [asdict(summary) for summary in assistants.get(collection).documents()]

    @api.get("/documents/{doc_id}", summary="A document's metadata and its full cleaned text.")
    def document(doc_id: str, collection: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        found = assistants.get(collection).document(doc_id)
        return asdict(found) | {"name": found.original_name, "format": found.format}

    @api.post("/documents", summary="Add (or replace, by file name) one or more article files.")
    def add(files: Annotated[list[UploadFile], File()], collection: Annotated[str | None, Form()] = None) -> list[dict[str, Any]]:
        assistant = assistants.get(collection, create=True)
        with uploads.request_folder() as folder:
            paths, names = [], []
            for number, upload in enumerate(files):
                name = upload_name(upload.filename)
                path = folder / f"{number}{stored_suffix(name)}"  # the client's name is never a path here
                with path.open("wb") as target:
                    shutil.copyfileobj(upload.file, target)
                paths.append(path)
                names.append(name)
            results = assistant.add(paths, names=names)
        return [{"status": result.status, "document": asdict(_summary(assistant, result.document.id))} for result in results]

    @api.delete("/documents/{doc_id}", summary="Remove a document from its collection.")
    def remove(doc_id: str, collection: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        (removed,) = assistants.get(collection).remove([doc_id])
        return {"removed": removed.id, "title": removed.title}

    @api.get("/collections", summary="The collections of this server.")
    def collections() -> list[str]:
        return assistants.names()

    @api.get("/health", summary="Documents, chunks, model and store of a collection.")
    def health(collection: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        info = assistants.get(collection).info()
        return {"status": "ok", **asdict(info)}

    return api


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


def _summary(assistant: Any, doc_id: str) -> Any:
    return next(summary for summary in assistant.documents() if summary.id == doc_id)


async def rag_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RagError)
    return error_response(error)
