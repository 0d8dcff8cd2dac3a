"""`/openai/v1/assistants`: create, retrieve, list, modify (a new version) and delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gateway.assistants_api.objects import assistant_object
from gateway.assistants_api.pages import Order, page
from gateway.assistants_api.requests import AssistantCreate, AssistantFields
from gateway.http.auth import ReaderDep, SessionDep, SubmitterDep
from workers.public import assistants
from workers.public.assistants import AssistantSettings

router = APIRouter(prefix="/assistants", tags=["assistants"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("")
def create_assistant(
    body: AssistantCreate, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Store an assistant (version 1)."""
    settings = AssistantSettings(**body.checked())
    stored = assistants.create_assistant(session, owner_key_id=caller.key_id, settings=settings)
    return assistant_object(stored)


@router.get("")
def list_assistants(
    caller: ReaderDep,
    session: SessionDep,
    limit: Limit = 20,
    order: Order = "desc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """The key's assistants, newest first unless order=asc."""
    stored = assistants.list_assistants(session, owner_key_id=caller.key_id)
    objects = [assistant_object(item) for item in stored]
    return page(objects, limit=limit, order=order, after=after, before=before)


@router.get("/{assistant_id}")
def retrieve_assistant(assistant_id: str, caller: ReaderDep, session: SessionDep) -> dict[str, Any]:
    """One assistant, at its latest version."""
    return assistant_object(
        assistants.get_assistant(session, owner_key_id=caller.key_id, assistant_id=assistant_id)
    )


@router.post("/{assistant_id}")
def modify_assistant(
    assistant_id: str, body: AssistantFields, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Change the fields given: a new version, which the runs created from now on run."""
    stored = assistants.update_assistant(
        session, owner_key_id=caller.key_id, assistant_id=assistant_id, changes=body.checked()
    )
    return assistant_object(stored)


@router.delete("/{assistant_id}")
def delete_assistant(
    assistant_id: str, caller: SubmitterDep, session: SessionDep
) -> dict[str, Any]:
    """Delete an assistant; runs already made finish on the version they recorded."""
    assistants.delete_assistant(session, owner_key_id=caller.key_id, assistant_id=assistant_id)
    return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}
