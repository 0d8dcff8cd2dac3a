"""A throwaway SQLite store for CLI tests, a helper that records runs in any status, and runs
stepped to where they wait for a person or the caller."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

import workers.demo_agent  # noqa: F401  (registered once at import, before the registry snapshot)
from gateway.entry_errors import set_debug
from tests.conftest import SESSION_ENV
from workers.providers.interface import ToolCallRequest
from workers.tools.registry import caller_tool, tool


@pytest.fixture
def seed_run(tmp_path, monkeypatch) -> Iterator[Callable[..., str]]:
    """DATABASE_URL points at a fresh SQLite file; `seed_run(status, ...)` records a run."""
    from workers import wiring
    from workers.db import thread_store
    from workers.db.models import Run, utcnow

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    # The session's runq settings only: a session-wide fleet (the integration tier) adds its
    # own to the environment while it runs, which would point the CLI at its stack.
    for name in [n for n in os.environ if n.startswith("RUNQ_") and n not in SESSION_ENV]:
        monkeypatch.delenv(name)
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


# Tools of runs that wait (issue 18): one a person approves, with a secret argument the
# doors must mask, and one the caller runs itself.
@tool(needs_approval=True, secret_args=("card",))
def ui18_refund(order_id: str, amount: int, card: str = "") -> dict[str, object]:
    """Refund an order to a card."""
    return {"refunded": amount, "order_id": order_id}


caller_tool(
    "ui18_lookup",
    "Look an order up in the caller's own system.",
    {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
)

REFUND = ToolCallRequest(
    "call_refund", "ui18_refund", '{"order_id": "o1", "amount": 50, "card": "4111-SECRET"}'
)
WEATHER = ToolCallRequest("call_weather", "get_weather", '{"location": "Oslo"}')
LOOKUP = ToolCallRequest("call_lookup", "ui18_lookup", '{"order_id": "o7"}')


@pytest.fixture
def waiting_run(seed_run) -> Callable[..., str]:
    """`waiting_run(calls)`: a run of an agent with those tools, stepped (scripted provider,
    the CLI's database) to where its first turn asked for `calls` and waits."""
    from sqlmodel import Session

    from tests.workers.steps_fixtures import Clock, make_context
    from workers import wiring
    from workers.agents import Agent, register_agent
    from workers.providers.fake import scripted
    from workers.providers.interface import ProviderState, ProviderStatus
    from workers.runs import ledger
    from workers.runs.steps import poll_run, start_run

    agent = register_agent(
        Agent(
            name="ui18-gated",
            model="gpt-test",
            tools=("get_weather", "ui18_refund", "ui18_lookup"),
            action_timeout_s=600,
        )
    )
    engine = wiring.get_engine()

    def step_to_wait(calls: list[ToolCallRequest]) -> str:
        clock = Clock()
        clock.now = datetime.now(UTC)
        provider = scripted(
            [
                ProviderState(status=ProviderStatus.QUEUED, ref="resp_1"),
                ProviderState(
                    status=ProviderStatus.REQUIRES_TOOLS, ref="resp_1", tool_calls=tuple(calls)
                ),
            ]
        )
        ctx = make_context(engine, provider, clock)
        with Session(engine) as session:
            run, _ = ledger.open_run(
                session,
                agent=agent.name,
                input_text="Refund order o1",
                provider="responses",
                model="gpt-test",
                deadline_at=clock.now + timedelta(hours=1),
            )
        start_run(ctx, run.id)
        poll_run(ctx, run.id, 1)
        return run.id

    return step_to_wait


@pytest.fixture
def sent(monkeypatch) -> list[object]:
    """What the doors send to the broker after a decision (recorded here, not sent), with
    Redis taken as reachable."""
    import gateway.preflight
    import tasks.next_step

    recorded: list[object] = []
    monkeypatch.setattr(tasks.next_step, "send", recorded.append)
    monkeypatch.setattr(gateway.preflight, "require_redis", lambda: "redis://test")
    return recorded
