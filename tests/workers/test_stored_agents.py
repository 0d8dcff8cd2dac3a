"""Stored assistants as agents: the name a run records, the agent a version builds, and the
resolver behind `get_agent` (each immutable version read once per process)."""

from __future__ import annotations

import json

import pytest

from workers.agents import get_agent, set_agent_resolver
from workers.db.models import AssistantVersion
from workers.errors import UnknownAgent
from workers.stored_agents import StoredAgents, agent_of, parse_stored_agent_name

ASSISTANT_ID = "asst_" + "0" * 31 + "1"


def version(**fields) -> AssistantVersion:
    values = {"assistant_id": ASSISTANT_ID, "version": 3, "model": "gpt-test"} | fields
    return AssistantVersion(**values)


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        (f"{ASSISTANT_ID}@v3", (ASSISTANT_ID, 3)),
        (f"{ASSISTANT_ID}@v0", None),
        (f"{ASSISTANT_ID}@3", None),
        ("asst_short@v1", None),
        ("assistant", None),
    ],
)
def test_only_a_stored_assistants_name_parses(name, parsed):
    assert parse_stored_agent_name(name) == parsed


@pytest.mark.parametrize(
    ("response_format", "json_mode", "schema"),
    [
        (None, False, None),
        ('"auto"', False, None),
        ('{"type": "json_object"}', True, None),
        (
            json.dumps({"type": "json_schema", "json_schema": {"name": "r", "schema": {"a": 1}}}),
            False,
            {"a": 1},
        ),
    ],
)
def test_a_version_runs_as_an_agent_with_its_settings(response_format, json_mode, schema):
    agent = agent_of(
        version(
            instructions="Be brief.",
            server_tools="search_documents",
            temperature=0.2,
            response_format_json=response_format,
        )
    )

    assert agent.name == f"{ASSISTANT_ID}@v3" and agent.model == "gpt-test"
    assert agent.instructions == "Be brief." and agent.temperature == 0.2
    assert agent.tools == ("search_documents",) and agent.provider == "responses"
    assert (agent.json_mode, agent.output_schema) == (json_mode, schema)


def test_get_agent_finds_a_stored_version_once_and_keeps_it(tmp_path):
    from sqlmodel import Session, SQLModel, create_engine

    from workers.db.models import Assistant

    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Assistant(id=ASSISTANT_ID, owner_key_id="key_1", latest_version=3))
        session.add(version())
        session.commit()
    opened: list[Session] = []

    def sessions() -> Session:
        opened.append(Session(engine))
        return opened[-1]

    set_agent_resolver(StoredAgents(sessions).resolve)
    try:
        first = get_agent(f"{ASSISTANT_ID}@v3")
        again = get_agent(f"{ASSISTANT_ID}@v3")
        with pytest.raises(UnknownAgent):
            get_agent(f"{ASSISTANT_ID}@v4")
    finally:
        set_agent_resolver(None)

    assert first is again and first.model == "gpt-test"
    assert len(opened) == 2  # v3 once (then cached), v4 once (not found)
