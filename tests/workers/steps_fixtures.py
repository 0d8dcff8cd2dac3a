"""Builders shared by the step tests: in-memory SQLite, a scripted provider, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

import workers.demo_agent  # noqa: F401  (the demo agent and tools, registered once at import)
from workers.agents import Agent
from workers.backoff import Schedule
from workers.db import store
from workers.limits.clearance import NoLimits
from workers.providers.fake import ScriptedProvider
from workers.runs import ledger
from workers.runs.context import StepContext
from workers.runs.state import RunPolicy
from workers.tools.registry import default_registry

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def memory_engine():
    import workers.db.models  # noqa: F401

    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    SQLModel.metadata.create_all(engine)
    return engine


def file_engine(path: Path):
    """SQLite in a file with a connection per thread, for tests where a second thread (a
    lease heartbeat) writes while the test reads: the in-memory engine shares one connection
    between threads, and two threads' transactions on it end each other's."""
    import workers.db.models  # noqa: F401

    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    SQLModel.metadata.create_all(engine)
    return engine


def make_context(
    engine, provider: ScriptedProvider, clock: Clock, clearance=None, cache=None
) -> StepContext:
    return StepContext(
        sessions=lambda: Session(engine, expire_on_commit=False),
        provider_for=lambda agent: provider,
        api_key_id_for=lambda agent: "key1",
        tools=default_registry,
        policy=RunPolicy(
            poll=Schedule(0.5, 2.0, 4.0), retry=Schedule(1.0, 2.0, 8.0), max_turns=3, max_attempts=3
        ),
        clearance=clearance or NoLimits(),
        now=clock,
        default_max_output_tokens=1024,
        tool_grace_s=30.0,
        tool_retries=2,
        cache=cache,
        base_url="http://sim/v1",
    )


def insert_run(
    engine,
    *,
    agent: Agent | str = "assistant",
    input_text="What's the weather in Paris?",
    deadline_s=600.0,
    use_cache=False,
    owner_key_id="",
) -> str:
    name = agent if isinstance(agent, str) else agent.name
    with Session(engine) as session:
        run, _ = ledger.open_run(
            session,
            agent=name,
            input_text=input_text,
            provider="responses",
            model="gpt-test",
            deadline_at=NOW + timedelta(seconds=deadline_s),
            use_cache=use_cache,
            owner_key_id=owner_key_id,
        )
        return run.id


class DictCache:
    """An AnswerCache in a dict, counting gets and puts."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}
        self.gets = 0

    def get(self, cache_key):
        self.gets += 1
        return self.entries.get(cache_key)

    def put(self, cache_key, value, ttl_s=None):
        self.entries[cache_key] = dict(value)


def record_tool_turn(session, *, run_id: str, turn: int, calls, at_step: int = 0, usage=None):
    """Move an in_progress run at `at_step` to requires_tools with these pending calls."""
    from workers.db.statuses import RunStatus
    from workers.runs.ledger import NO_CHANGES, Due

    run = store.get_run(session, run_id=run_id)
    if run.step_seq != at_step:
        from workers.errors import IllegalTransition

        raise IllegalTransition(f"run {run_id} is at step {run.step_seq}, not {at_step}")
    ledger.run_tools(
        session,
        run,
        from_status=RunStatus.IN_PROGRESS,
        turn=turn,
        calls=calls,
        changes=NO_CHANGES,
        due=Due(NOW),
        usage=usage,
    )
