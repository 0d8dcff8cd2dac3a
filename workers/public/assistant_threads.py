"""Threads and messages, for the Assistants-compatible API.

A thread here is a runq thread: its id (`thread_…`) is also its name under the caller's key,
so its runs carry the conversation over as any named thread's do, and `runq thread` shows
it. The messages a caller adds are stored; an assistant's answers are not copies but the
thread's completed runs, read as messages (id `msg_<run's hex>`), so an answer can never
disagree with its run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from workers.db import message_store, run_pages, thread_store
from workers.db.models import Run, Thread, ThreadMessage, new_id, utcnow
from workers.db.statuses import RunStatus
from workers.errors import ObjectNotFound
from workers.public.thread_names import scoped_thread_key
from workers.stored_agents import parse_stored_agent_name


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to add to a thread."""

    role: str
    text: str
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class MessageView:
    """A thread message as the API shows it: one a caller added, or a run's answer."""

    id: str
    thread_id: str
    role: str
    text: str
    created_at: datetime
    metadata: dict[str, str]
    assistant_id: str | None = None
    run_id: str | None = None


def create_thread(
    session: Session, *, owner_key_id: str, metadata: dict[str, str], messages: list[NewMessage]
) -> Thread:
    """A new thread of the key's, with its first messages."""
    thread_id = new_id("thread")
    thread = thread_store.create_named_thread(
        session,
        thread_id=thread_id,
        external_key=scoped_thread_key(owner_key_id, thread_id),
        metadata_json=json.dumps(metadata),
    )
    add_messages(session, thread=thread, messages=messages)
    return thread


def get_thread(session: Session, *, owner_key_id: str, thread_id: str) -> Thread:
    """The key's live thread, or ObjectNotFound (also for another key's, or a deleted one)."""
    thread = session.get(Thread, thread_id, populate_existing=True)
    if thread is None or thread.external_key != scoped_thread_key(owner_key_id, thread_id):
        raise ObjectNotFound(f"No thread found with id '{thread_id}'.")
    return thread


def set_thread_metadata(session: Session, *, thread: Thread, metadata: dict[str, str]) -> None:
    """Replace the thread's labels."""
    thread_store.set_thread_metadata(
        session, thread_id=thread.id, metadata_json=json.dumps(metadata)
    )


def delete_thread(session: Session, *, thread: Thread) -> None:
    """Archive the thread (its id is not found afterwards; its runs keep their records)."""
    thread_store.archive_thread(session, thread_id=thread.id)


def add_messages(session: Session, *, thread: Thread, messages: list[NewMessage]) -> list[str]:
    """Append messages to the thread; their ids, in order."""
    now = utcnow()
    # A microsecond apart, so the list order is the order given even on a coarse clock.
    rows = [
        ThreadMessage(
            thread_id=thread.id,
            role=message.role,
            text=message.text,
            metadata_json=json.dumps(message.metadata),
            created_at=now + timedelta(microseconds=index),
        )
        for index, message in enumerate(messages)
    ]
    message_store.add_messages(session, messages=rows)
    if rows:
        thread_store.touch_thread(session, thread_id=thread.id)
    return [row.id for row in rows]


def thread_messages(session: Session, *, thread: Thread) -> list[MessageView]:
    """Every message of the thread, the runs' answers included, oldest first."""
    stored = [_stored_view(m) for m in message_store.list_messages(session, thread_id=thread.id)]
    answers = [
        _answer_view(run)
        for run in run_pages.runs_of_thread(session, thread_id=thread.id)
        if run.status == RunStatus.COMPLETED.value and run.result_text is not None
    ]
    return sorted(stored + answers, key=lambda view: (view.created_at, view.id))


def get_message(session: Session, *, thread: Thread, message_id: str) -> MessageView:
    """One message of the thread (a stored one or a run's answer), or ObjectNotFound."""
    for view in thread_messages(session, thread=thread):
        if view.id == message_id:
            return view
    raise ObjectNotFound(f"No message found with id '{message_id}'.")


def set_message_metadata(
    session: Session, *, thread: Thread, message_id: str, metadata: dict[str, str]
) -> MessageView:
    """Replace the labels of a message the caller added (an answer's come from its run)."""
    message = message_store.get_message(session, thread_id=thread.id, message_id=message_id)
    message_store.set_message_metadata(session, message=message, metadata_json=json.dumps(metadata))
    return _stored_view(message)


def delete_message(session: Session, *, thread: Thread, message_id: str) -> None:
    """Remove a message the caller added (an answer stays: it is its run's result)."""
    message = message_store.get_message(session, thread_id=thread.id, message_id=message_id)
    message_store.delete_message(session, message=message)


def answer_message_id(run_id: str) -> str:
    """The id under which a run's answer is listed: `msg_` and the run id's hex."""
    return "msg_" + run_id.removeprefix("run_")


def _stored_view(message: ThreadMessage) -> MessageView:
    return MessageView(
        id=message.id,
        thread_id=message.thread_id,
        role=message.role,
        text=message.text,
        created_at=message.created_at,
        metadata=json.loads(message.metadata_json),
    )


def _answer_view(run: Run) -> MessageView:
    stored = parse_stored_agent_name(run.agent)
    return MessageView(
        id=answer_message_id(run.id),
        thread_id=run.thread_id or "",
        role="assistant",
        text=run.result_text or "",
        created_at=run.finished_at or run.updated_at,
        metadata={},
        assistant_id=None if stored is None else stored[0],
        run_id=run.id,
    )
