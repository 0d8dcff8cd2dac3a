"""`/openai/v1/threads`: threads and their messages (runs are in `routes_runs`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gateway.assistants_api.objects import message_object, thread_object
from gateway.assistants_api.pages import Order, page
from gateway.assistants_api.requests import (
    MessageCreate,
    MetadataUpdate,
    ThreadCreate,
    refuse_if_set,
)
from gateway.http.auth import ReaderDep, SessionDep, SubmitterDep
from workers.public import assistant_threads as threads

router = APIRouter(prefix="/threads", tags=["threads"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("")
def create_thread(
    caller: SubmitterDep, session: SessionDep, body: ThreadCreate | None = None
) -> dict[str, Any]:
    """A new thread, with its first messages if given."""
    body = body or ThreadCreate()
    thread = threads.create_thread(
        session,
        owner_key_id=caller.key_id,
        metadata=body.metadata or {},
        messages=body.new_messages(),
    )
    return thread_object(thread)


@router.get("/{thread_id}")
def retrieve_thread(thread_id: str, caller: ReaderDep, session: SessionDep) -> dict[str, Any]:
    """One thread (its messages are listed at /messages)."""
    return thread_object(
        threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    )


@router.post("/{thread_id}")
def modify_thread(
    thread_id: str, body: MetadataUpdate, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Replace the thread's metadata."""
    refuse_if_set("tool_resources", body.tool_resources)
    thread = threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    if body.metadata is not None:
        threads.set_thread_metadata(session, thread=thread, metadata=body.metadata)
        session.refresh(thread)
    return thread_object(thread)


@router.delete("/{thread_id}")
def delete_thread(thread_id: str, caller: SubmitterDep, session: SessionDep) -> dict[str, Any]:
    """Delete the thread: its id is not found afterwards (runq keeps its runs' records)."""
    thread = threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    threads.delete_thread(session, thread=thread)
    return {"id": thread_id, "object": "thread.deleted", "deleted": True}


@router.post("/{thread_id}/messages")
def create_message(
    thread_id: str, body: MessageCreate, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Add a message; the thread's next run reads every message added since its last."""
    thread = threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    (message_id,) = threads.add_messages(session, thread=thread, messages=[body.new_message()])
    return message_object(threads.get_message(session, thread=thread, message_id=message_id))


@router.get("/{thread_id}/messages")
def list_messages(
    thread_id: str,
    caller: ReaderDep,
    session: SessionDep,
    limit: Limit = 20,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """The thread's messages, the assistant's answers included, newest first by default."""
    thread = threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    views = threads.thread_messages(session, thread=thread)
    if run_id is not None:
        views = [view for view in views if view.run_id == run_id]
    objects = [message_object(view) for view in views]
    return page(objects, limit=limit, order=order, after=after, before=before)


@router.get("/{thread_id}/messages/{message_id}")
def retrieve_message(
    thread_id: str, message_id: str, caller: ReaderDep, session: SessionDep
) -> dict[str, Any]:
    """One message of the thread."""
    thread = threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    return message_object(threads.get_message(session, thread=thread, message_id=message_id))


@router.post("/{thread_id}/messages/{message_id}")
def modify_message(
    thread_id: str, message_id: str, body: MetadataUpdate, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Replace the metadata of a message the caller added."""
    refuse_if_set("tool_resources", body.tool_resources)
    thread = threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    view = threads.set_message_metadata(
        session, thread=thread, message_id=message_id, metadata=body.metadata or {}
    )
    return message_object(view)


@router.delete("/{thread_id}/messages/{message_id}")
def delete_message(
    thread_id: str, message_id: str, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Remove a message the caller added (an answer is its run's result and stays)."""
    thread = threads.get_thread(session, owner_key_id=caller.key_id, thread_id=thread_id)
    threads.delete_message(session, thread=thread, message_id=message_id)
    return {"id": message_id, "object": "thread.message.deleted", "deleted": True}
