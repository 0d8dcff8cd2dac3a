"""The Assistants-compatible API on a throwaway SQLite store, with two tenants' keys; the
broker is replaced by recorders (the `run_starter` and `step_sender` dependencies)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from gateway.assistants_api.app import PREFIX
from gateway.assistants_api.routes_runs import run_starter, step_sender


@dataclass
class Compat:
    """A client of the API and what it sent to the broker."""

    http: TestClient
    key: str
    other_key: str
    started: list[str] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {key or self.key}"}
        return self.http.request(method, PREFIX + path, json=body, headers=headers)


def mounted_app(app: FastAPI) -> FastAPI:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == PREFIX)
    assert isinstance(mount.app, FastAPI)
    return mount.app


@pytest.fixture
def compat(tmp_path, monkeypatch) -> Iterator[Compat]:
    from config.settings import get_settings
    from gateway.http.app import create_app
    from workers import wiring
    from workers.agents import set_agent_resolver
    from workers.db import key_store

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.setenv("RUNQ_ENVIRONMENT", "dev")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RUNQ_AGENT_MODULES", raising=False)
    get_settings.cache_clear()
    wiring.reset()
    with wiring.new_session() as session:
        _, key = key_store.create_key(session, name="mine")
        _, other = key_store.create_key(session, name="other")
    app = create_app()
    client = Compat(TestClient(app), key, other)
    api = mounted_app(app)
    api.dependency_overrides[run_starter] = lambda: client.started.append
    api.dependency_overrides[step_sender] = lambda: client.sent.append
    yield client
    set_agent_resolver(None)
    wiring.reset()
    get_settings.cache_clear()
