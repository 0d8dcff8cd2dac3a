"""/v1/files (upload, retrieve, content) and /v1/batches (create, retrieve, cancel)."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from simulator import batches
from simulator.errors import bad_request
from simulator.gate import admit, read_json, state_of

router = APIRouter(prefix="/v1")


@router.post("/files")
async def upload_file(request: Request) -> JSONResponse:
    """Store a multipart upload (`file`, `purpose`)."""
    admit(request, model="files", tokens=0)
    parts = _form_parts(request.headers.get("content-type", ""), await request.body())
    upload, purpose = parts.get("file"), parts.get("purpose")
    if upload is None or purpose is None:
        raise bad_request("Missing required parameter: 'file' and 'purpose'.", param="file")
    state = state_of(request)
    with state.lock:
        record = batches.add_file(
            state,
            filename=upload.get_filename() or "upload",
            purpose=_text(purpose),
            content=_bytes(upload),
            now_s=state.clock(),
        )
        return JSONResponse(batches.render_file(record))


@router.get("/files/{file_id}")
async def retrieve_file(request: Request, file_id: str) -> JSONResponse:
    """A file's metadata."""
    admit(request, model="files", tokens=0)
    state = state_of(request)
    with state.lock:
        return JSONResponse(batches.render_file(batches.find_file(state, file_id)))


@router.get("/files/{file_id}/content")
async def file_content(request: Request, file_id: str) -> Response:
    """A file's bytes (a batch's output and error files are JSONL)."""
    admit(request, model="files", tokens=0)
    state = state_of(request)
    with state.lock:
        content = batches.find_file(state, file_id).content
    return Response(content, media_type="application/octet-stream")


@router.post("/batches")
async def create_batch(request: Request) -> JSONResponse:
    """Queue a batch of an uploaded JSONL file."""
    admit(request, model="batches", tokens=0)
    body = await read_json(request)
    state = state_of(request)
    with state.lock:
        return JSONResponse(batches.render_batch(batches.create_batch(state, body, state.clock())))


@router.get("/batches/{batch_id}")
async def retrieve_batch(request: Request, batch_id: str) -> JSONResponse:
    """The batch now (it ends, and writes its files, on the first poll after its time)."""
    admit(request, model="batches", tokens=0)
    state = state_of(request)
    with state.lock:
        return JSONResponse(
            batches.render_batch(batches.find_batch(state, batch_id, state.clock()))
        )


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(request: Request, batch_id: str) -> JSONResponse:
    """Cancel a batch that has not ended."""
    admit(request, model="batches", tokens=0)
    state = state_of(request)
    with state.lock:
        return JSONResponse(
            batches.render_batch(batches.cancel_batch(state, batch_id, state.clock()))
        )


def _form_parts(content_type: str, body: bytes) -> dict[str, Message]:
    """The parts of a multipart/form-data body by field name (no python-multipart here)."""
    if not content_type.startswith("multipart/form-data"):
        raise bad_request("Upload files as multipart/form-data.", param="file")
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts: dict[str, Message] = {}
    for part in message.iter_parts() if hasattr(message, "iter_parts") else ():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts[name] = part
    return parts


def _bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    return payload.decode() if isinstance(payload, bytes) else str(payload or "")
