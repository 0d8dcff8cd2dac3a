"""/v1/assistants and /v1/threads (legacy Assistants API): assistants, threads, messages.

Runs live in `routes_runs`. Clients send `OpenAI-Beta: assistants=v2`; like a lenient
compatible server, the simulator does not insist on it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator import assistant_fields, runs
from simulator.assistant_state import LIMIT_BUCKET
from simulator.errors import bad_request, not_found
from simulator.gate import admit, read_json, state_of
from simulator.items import page
from simulator.render import render_deleted, render_thread

router = APIRouter(prefix="/v1")


@router.post("/assistants")
async def create_assistant(request: Request) -> JSONResponse:
    """Create an assistant: a model, instructions and tools that runs start from."""
    body = await read_json(request)
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        assistant = assistant_fields.new_assistant(body, state.clock())
        state.assistants.assistants[assistant["id"]] = assistant
        return JSONResponse(assistant)


@router.get("/assistants")
async def list_assistants(
    request: Request, limit: int = 20, order: str = "desc", after: str | None = None
) -> JSONResponse:
    """One page of assistants, newest first unless order=asc."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        assistants = list(state.assistants.assistants.values())
    return JSONResponse(page(assistants, limit=limit, order=order, after=after))


@router.get("/assistants/{assistant_id}")
async def retrieve_assistant(request: Request, assistant_id: str) -> JSONResponse:
    """One assistant."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        return JSONResponse(state.assistants.find_assistant(assistant_id))


@router.delete("/assistants/{assistant_id}")
async def delete_assistant(request: Request, assistant_id: str) -> JSONResponse:
    """Forget an assistant; its runs keep their copy of its settings."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        state.assistants.find_assistant(assistant_id)
        del state.assistants.assistants[assistant_id]
    return JSONResponse(render_deleted(assistant_id, "assistant.deleted"))


@router.post("/threads")
async def create_thread(request: Request) -> JSONResponse:
    """Create a thread, optionally seeded with `messages`."""
    body = await read_json(request)
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        thread = assistant_fields.new_thread(body, state.clock())
        state.assistants.threads[thread.id] = thread
        return JSONResponse(render_thread(thread))


@router.get("/threads/{thread_id}")
async def retrieve_thread(request: Request, thread_id: str) -> JSONResponse:
    """The thread object (its messages are listed separately)."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        return JSONResponse(render_thread(state.assistants.find_thread(thread_id)))


@router.delete("/threads/{thread_id}")
async def delete_thread(request: Request, thread_id: str) -> JSONResponse:
    """Forget a thread with its messages and runs."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        thread = state.assistants.find_thread(thread_id)
        for run_id in thread.run_ids:
            del state.assistants.runs[run_id]
        del state.assistants.threads[thread_id]
    return JSONResponse(render_deleted(thread_id, "thread.deleted"))


@router.post("/threads/{thread_id}/messages")
async def create_message(request: Request, thread_id: str) -> JSONResponse:
    """Append a message; refused while a run holds the thread."""
    body = await read_json(request)
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        thread = state.assistants.find_thread(thread_id)
        active = runs.active_run(state, thread)
        if active is not None:
            raise bad_request(
                f"Can't add messages to {thread_id} while a run {active.id} is active."
            )
        message = assistant_fields.new_message(body, thread_id, state.clock())
        thread.messages.append(message)
        return JSONResponse(message)


@router.get("/threads/{thread_id}/messages")
async def list_messages(
    request: Request,
    thread_id: str,
    limit: int = 20,
    order: str = "desc",
    after: str | None = None,
    run_id: str | None = None,
) -> JSONResponse:
    """One page of the thread's messages, optionally only those a run wrote."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        thread = state.assistants.find_thread(thread_id)
        # A run that finished since anyone last looked appends its message now.
        runs.active_run(state, thread)
        messages = [m for m in thread.messages if run_id is None or m["run_id"] == run_id]
    return JSONResponse(page(messages, limit=limit, order=order, after=after))


@router.get("/threads/{thread_id}/messages/{message_id}")
async def retrieve_message(request: Request, thread_id: str, message_id: str) -> JSONResponse:
    """One message of the thread."""
    admit(request, model=LIMIT_BUCKET, tokens=0)
    state = state_of(request)
    with state.lock:
        thread = state.assistants.find_thread(thread_id)
        runs.active_run(state, thread)
        for message in thread.messages:
            if message["id"] == message_id:
                return JSONResponse(message)
    raise not_found(f"No message found with id '{message_id}'.")
