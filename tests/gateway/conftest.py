"""A throwaway SQLite store for CLI tests, and a helper that records runs in any status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

import workers.demo_agent  # noqa: F401  (registered once at import, before the registry snapshot)
from gateway.entry_errors import set_debug


@pytest.fixture
def seed_run(tmp_path, monkeypatch) -> Iterator[Callable[..., str]]:
    """DATABASE_URL points at a fresh SQLite file; `seed_run(status, ...)` records a run."""
    from workers import wiring
    from workers.db import thread_store
    from workers.db.models import Run, utcnow

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RUNQ_AGENT_MODULES", raising=False)
    wiring.reset()

    def seed(status: str, *, input: str = "hi", result: str | None = None, **fields) -> str:
        with wiring.new_session() as session:
            thread_key = fields.pop("thread_key", None)
            if thread_key is not None:
                thread = thread_store.get_or_create_thread(
                    session, external_key=thread_key, agent="legacy"
                )
                fields["thread_id"] = thread.id
            run = Run(
                agent=fields.pop("agent", "legacy"),
                input=input,
                status=status,
                result_text=result,
                deadline_at=utcnow() + timedelta(minutes=5),
                **fields,
            )
            session.add(run)
            session.commit()
            return run.id

    yield seed
    set_debug(False)
    wiring.reset()
