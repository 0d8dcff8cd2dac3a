"""Agents that are data: an assistant version stored through the Assistants-compatible API,
run by the same engine as a declared agent.

A run of assistant `asst_…` version 3 records the agent name `asst_…@v3`. Versions never
change once written, so the agent built from one is cached for the life of the process; an
assistant's update is a new version, picked by the runs created after it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from workers.agents import Agent
from workers.db import assistant_store
from workers.db.models import AssistantVersion

log = logging.getLogger("runq.agents")

_STORED_NAME = re.compile(r"^(asst_[0-9a-f]{32})@v([1-9][0-9]{0,8})$")


def stored_agent_name(assistant_id: str, version: int) -> str:
    """The agent name a run of this assistant version records: `asst_…@v3`."""
    return f"{assistant_id}@v{version}"


def parse_stored_agent_name(name: str) -> tuple[str, int] | None:
    """(assistant id, version) of a stored agent's name, or None for a declared agent's."""
    match = _STORED_NAME.match(name)
    return None if match is None else (match.group(1), int(match.group(2)))


def agent_of(version: AssistantVersion) -> Agent:
    """The runq agent an assistant version runs as.

    Its own tools are only the server-run ones: the assistant's other function tools go on
    each run as the caller's tools (`Run.caller_tools`), so a call to one waits in
    requires_action for the caller's output."""
    response_format = _response_format(version) or {}
    schema = response_format.get("json_schema") or {}
    return Agent(
        name=stored_agent_name(version.assistant_id, version.version),
        model=version.model,
        instructions=version.instructions or None,
        tools=tuple(name for name in version.server_tools.split(",") if name),
        temperature=version.temperature,
        json_mode=response_format.get("type") == "json_object",
        output_schema=schema.get("schema"),
        output_schema_name=schema.get("name") or "answer",
    )


def _response_format(version: AssistantVersion) -> dict[str, Any] | None:
    if version.response_format_json is None:
        return None
    value = json.loads(version.response_format_json)
    return value if isinstance(value, dict) else None  # "auto" asks for nothing


class StoredAgents:
    """Resolves stored agents' names from the database, each version once per process."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions
        self._cache: dict[str, Agent] = {}

    def resolve(self, name: str) -> Agent | None:
        """The agent of a stored assistant version, or None if `name` names none."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        parsed = parse_stored_agent_name(name)
        if parsed is None:
            return None
        with self._sessions() as session:
            version = assistant_store.get_version(
                session, assistant_id=parsed[0], version=parsed[1]
            )
        if version is None:
            return None
        agent = self._cache[name] = agent_of(version)
        log.info("agent %s loaded from the store", name)
        return agent
