"""SQL for stored assistants and their versions: keyword-only functions that take a session.

Every read on behalf of a caller filters on the owner's key id, and a deleted assistant is
not found; `get_version` alone serves the workers, which run whatever version a run names.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from workers.db.models import Assistant, AssistantVersion, utcnow
from workers.errors import IllegalTransition, ObjectNotFound


@dataclass(frozen=True, slots=True)
class StoredAssistant:
    """An assistant and its latest version, read together."""

    head: Assistant
    version: AssistantVersion


def create_assistant(
    session: Session, *, owner_key_id: str, version: AssistantVersion
) -> StoredAssistant:
    """Insert a new assistant with `version` (its fields; the ids are set here) as v1."""
    head = Assistant(owner_key_id=owner_key_id)
    version.assistant_id, version.version, version.created_at = head.id, 1, head.created_at
    session.add(head)
    session.flush()  # the head first: PostgreSQL checks the version's foreign key at once
    session.add(version)
    session.commit()
    return StoredAssistant(head, version)


def get_assistant(session: Session, *, owner_key_id: str, assistant_id: str) -> StoredAssistant:
    """The owner's live assistant with its latest version; AssistantNotFound otherwise (the
    same answer for another key's, so a caller cannot probe which ids exist)."""
    head = session.get(Assistant, assistant_id, populate_existing=True)
    if head is None or head.owner_key_id != owner_key_id or head.deleted_at is not None:
        raise ObjectNotFound(f"No assistant found with id '{assistant_id}'.")
    version = get_version(session, assistant_id=head.id, version=head.latest_version)
    assert version is not None  # written in the same transaction as latest_version
    return StoredAssistant(head, version)


def list_assistants(session: Session, *, owner_key_id: str) -> list[StoredAssistant]:
    """The owner's live assistants with their latest versions, oldest first."""
    query = (
        select(Assistant, AssistantVersion)
        .join(
            AssistantVersion,
            (col(AssistantVersion.assistant_id) == col(Assistant.id))
            & (col(AssistantVersion.version) == col(Assistant.latest_version)),
        )
        .where(Assistant.owner_key_id == owner_key_id)
        .where(col(Assistant.deleted_at).is_(None))
        .order_by(col(Assistant.created_at), col(Assistant.id))
    )
    return [StoredAssistant(head, version) for head, version in session.exec(query).all()]


def add_version(session: Session, *, current: StoredAssistant, version: AssistantVersion) -> int:
    """Write `version` as the one after `current`'s latest, and make it the latest.

    A compare-and-set on `latest_version`: of two updates that read the same version, the
    second raises IllegalTransition instead of silently dropping the first."""
    number = current.head.latest_version + 1
    version.assistant_id, version.version = current.head.id, number
    moved = session.execute(
        update(Assistant)
        .where(col(Assistant.id) == current.head.id)
        .where(col(Assistant.latest_version) == number - 1)
        .values(latest_version=number)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
        session.rollback()
        raise IllegalTransition(f"assistant {current.head.id} was updated meanwhile; try again")
    session.add(version)
    session.commit()
    return number


def delete_assistant(session: Session, *, owner_key_id: str, assistant_id: str) -> None:
    """Mark the owner's assistant deleted; its runs keep running the version they recorded."""
    head = get_assistant(session, owner_key_id=owner_key_id, assistant_id=assistant_id).head
    head.deleted_at = utcnow()
    session.add(head)
    session.commit()


def get_version(session: Session, *, assistant_id: str, version: int) -> AssistantVersion | None:
    """One version of an assistant, deleted or not, or None."""
    query = select(AssistantVersion).where(
        AssistantVersion.assistant_id == assistant_id, AssistantVersion.version == version
    )
    return session.exec(query).first()
