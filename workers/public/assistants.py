"""Stored assistants, for the Assistants-compatible API: create, read, list, update (a new
immutable version), delete. A key sees only its own assistants.

An assistant's function tools are the caller's to run (a call waits in requires_action),
except those it lists in `metadata["runq_server_tools"]` (comma-separated) that runq has
registered: runq runs those itself, as a declared agent's tools.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import Session

from workers.db import assistant_store
from workers.db.assistant_store import StoredAssistant as StoredAssistant
from workers.db.models import AssistantVersion
from workers.errors import UnsupportedFeature
from workers.tools.registry import default_registry

SERVER_TOOLS_KEY = "runq_server_tools"


@dataclass(frozen=True, slots=True)
class AssistantSettings:
    """What one version of an assistant holds (the API's create and update fields)."""

    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    """Function tools as the API shows them: {"type": "function", "function": {...}}."""
    metadata: dict[str, str] = field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    response_format: Any = None


def create_assistant(
    session: Session, *, owner_key_id: str, settings: AssistantSettings
) -> StoredAssistant:
    """Store a new assistant (version 1)."""
    return assistant_store.create_assistant(
        session, owner_key_id=owner_key_id, version=_version_row(settings)
    )


def get_assistant(session: Session, *, owner_key_id: str, assistant_id: str) -> StoredAssistant:
    """The key's assistant at its latest version, or ObjectNotFound."""
    return assistant_store.get_assistant(
        session, owner_key_id=owner_key_id, assistant_id=assistant_id
    )


def list_assistants(session: Session, *, owner_key_id: str) -> list[StoredAssistant]:
    """The key's assistants, oldest first."""
    return assistant_store.list_assistants(session, owner_key_id=owner_key_id)


def update_assistant(
    session: Session, *, owner_key_id: str, assistant_id: str, changes: dict[str, Any]
) -> StoredAssistant:
    """Add a version with `changes` (AssistantSettings fields) over the latest one; runs
    already made keep the version they recorded."""
    current = get_assistant(session, owner_key_id=owner_key_id, assistant_id=assistant_id)
    if changes:
        settings = replace(settings_of(current.version), **changes)
        assistant_store.add_version(session, current=current, version=_version_row(settings))
    return get_assistant(session, owner_key_id=owner_key_id, assistant_id=assistant_id)


def delete_assistant(session: Session, *, owner_key_id: str, assistant_id: str) -> None:
    """Delete the key's assistant (ObjectNotFound if it has none by that id)."""
    assistant_store.delete_assistant(session, owner_key_id=owner_key_id, assistant_id=assistant_id)


def settings_of(version: AssistantVersion) -> AssistantSettings:
    """The settings a stored version holds."""
    return AssistantSettings(
        model=version.model,
        name=version.name,
        description=version.description,
        instructions=version.instructions,
        tools=json.loads(version.tools_json),
        metadata=json.loads(version.metadata_json),
        temperature=version.temperature,
        top_p=version.top_p,
        response_format=None
        if version.response_format_json is None
        else json.loads(version.response_format_json),
    )


def server_tool_names(tools: list[dict[str, Any]], metadata: dict[str, str]) -> list[str]:
    """The function tools runq runs itself: those `metadata["runq_server_tools"]` names.
    Each must be one of the assistant's function tools and registered in runq, or
    UnsupportedFeature says which is not."""
    asked = [name.strip() for name in metadata.get(SERVER_TOOLS_KEY, "").split(",")]
    asked = [name for name in asked if name]
    declared = {tool["function"]["name"] for tool in tools}
    for name in asked:
        if name not in declared:
            raise UnsupportedFeature(
                f"metadata.{SERVER_TOOLS_KEY} names {name!r}, which is not one of this "
                "assistant's function tools",
                param=f"metadata.{SERVER_TOOLS_KEY}",
            )
        if name not in default_registry:
            raise UnsupportedFeature(
                f"metadata.{SERVER_TOOLS_KEY} names {name!r}, but runq has no tool "
                "registered by that name (see `runq tools`); leave it out and run it yourself",
                param=f"metadata.{SERVER_TOOLS_KEY}",
            )
    return asked


def _version_row(settings: AssistantSettings) -> AssistantVersion:
    return AssistantVersion(
        assistant_id="",  # set by the store
        version=0,
        model=settings.model,
        name=settings.name,
        description=settings.description,
        instructions=settings.instructions,
        tools_json=json.dumps(settings.tools),
        server_tools=",".join(server_tool_names(settings.tools, settings.metadata)),
        metadata_json=json.dumps(settings.metadata),
        temperature=settings.temperature,
        top_p=settings.top_p,
        response_format_json=None
        if settings.response_format is None
        else json.dumps(settings.response_format),
    )
