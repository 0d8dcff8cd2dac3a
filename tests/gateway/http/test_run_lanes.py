"""`lane` on `POST /v1/runs`: recorded and shown; an unknown lane, or a cheaper lane on an
agent whose provider has no tiers, is a 422 that says which (runs at a later `run_at`, so
no broker is needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

import workers.demo_agent  # noqa: F401  (registered once at import)
from workers.agents import Agent, register_agent

LATER = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
RUN = {"agent": "assistant", "input": "Weather in Oslo?", "run_at": LATER}


@pytest.fixture
def api(tmp_path, monkeypatch):
    from gateway.http.app import create_app
    from workers import wiring
    from workers.db import key_store

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RUNQ_AGENT_MODULES", raising=False)
    wiring.reset()
    register_agent(Agent(name="lanes-chat", model="llama", provider="chat"))
    with wiring.new_session() as session:
        _, key = key_store.create_key(session, name="a", scopes=("submit", "read"))
    with TestClient(create_app()) as client:
        yield client, {"authorization": f"Bearer {key}"}
    wiring.reset()


@pytest.mark.parametrize("lane", ["interactive", "standard", "flex", "batch"])
def test_a_run_records_and_shows_its_lane(api, lane):
    http, auth = api
    created = http.post("/v1/runs", json=RUN | {"lane": lane}, headers=auth)
    assert created.status_code == 201, created.text
    run = http.get(f"/v1/runs/{created.json()['id']}", headers=auth).json()
    assert (run["lane"], run["lane_fallback"]) == (lane, None)


def test_a_run_without_a_lane_takes_its_agents(api):
    http, auth = api
    assert http.post("/v1/runs", json=RUN, headers=auth).json()["lane"] == "standard"


def test_an_unknown_lane_is_a_422_naming_the_lanes(api):
    http, auth = api
    answer = http.post("/v1/runs", json=RUN | {"lane": "turbo"}, headers=auth)
    assert answer.status_code == 422
    assert "lane: Input should be 'interactive', 'standard', 'flex' or 'batch'" in answer.text


def test_a_cheaper_lane_on_a_chat_agent_is_a_422_that_says_why(api):
    http, auth = api
    answer = http.post("/v1/runs", json=RUN | {"agent": "lanes-chat", "lane": "flex"}, headers=auth)
    assert answer.status_code == 422
    assert "lane 'flex' needs an agent on the responses provider" in answer.json()["error"]
