"""SQL for the messages callers put on threads (Assistants-compatible API): keyword-only
functions that take a session. The caller checks that the thread is the caller's own."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from workers.db.models import ThreadMessage
from workers.errors import ObjectNotFound


def add_messages(session: Session, *, messages: Sequence[ThreadMessage]) -> None:
    """Insert messages in one commit (their `created_at` orders them on the thread)."""
    session.add_all(messages)
    session.commit()


def list_messages(session: Session, *, thread_id: str) -> list[ThreadMessage]:
    """A thread's stored messages, oldest first."""
    query = (
        select(ThreadMessage)
        .where(ThreadMessage.thread_id == thread_id)
        .order_by(col(ThreadMessage.created_at), col(ThreadMessage.id))
    )
    return list(session.exec(query).all())


def get_message(session: Session, *, thread_id: str, message_id: str) -> ThreadMessage:
    """One stored message of the thread, or ObjectNotFound."""
    message = session.get(ThreadMessage, message_id, populate_existing=True)
    if message is None or message.thread_id != thread_id:
        raise ObjectNotFound(f"No message found with id '{message_id}'.")
    return message


def set_message_metadata(session: Session, *, message: ThreadMessage, metadata_json: str) -> None:
    """Replace a message's caller labels."""
    message.metadata_json = metadata_json
    session.add(message)
    session.commit()


def delete_message(session: Session, *, message: ThreadMessage) -> None:
    """Remove a message from its thread (a run that already read it keeps its input)."""
    session.delete(message)
    session.commit()


def take_new_messages(session: Session, *, thread_id: str, run_id: str) -> list[ThreadMessage]:
    """Claim the thread's messages that no run has read yet as `run_id`'s input, and return
    them, oldest first.

    Not committed: the caller commits the claim with the run it opens, so a message is the
    input of exactly one run. The claim is one conditional UPDATE, so of two runs opened at
    once the second finds nothing left (PostgreSQL's row locks, SQLite's single writer)."""
    session.execute(
        update(ThreadMessage)
        .where(col(ThreadMessage.thread_id) == thread_id)
        .where(col(ThreadMessage.input_of_run_id).is_(None))
        .values(input_of_run_id=run_id)
    )
    query = (
        select(ThreadMessage)
        .where(ThreadMessage.input_of_run_id == run_id)
        .order_by(col(ThreadMessage.created_at), col(ThreadMessage.id))
        .execution_options(populate_existing=True)
    )
    return list(session.exec(query).all())
