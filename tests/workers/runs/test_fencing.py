"""Every run transition is fenced by the run's step sequence: a step that was overtaken
while its provider call was in flight (the sweep released it and a later step moved the
run on) loses its compare-and-set and changes nothing. Real store (SQLite; PostgreSQL in
the integration tier), scripted provider, the sweep as production calls it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import NOW, Clock, file_engine, insert_run, make_context
from workers.db import store
from workers.db.changes import RunChanges
from workers.db.statuses import RunStatus
from workers.errors import IllegalTransition, ProviderTimedOut, ProviderUnavailable
from workers.providers.fake import RecordedCall, ScriptedProvider, scripted
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest
from workers.runs import ledger
from workers.runs.context import Later, StepName
from workers.runs.ledger import Due
from workers.runs.steps import poll_run, start_run, submit_outputs
from workers.runs.sweep import SweepPolicy, sweep_overdue_runs
from workers.runs.tool_calls import execute_tool_call

S = ProviderStatus
POLICY = SweepPolicy(grace_s=5.0, batch=100, max_recoveries=3)


def st(status, ref, **fields):
    return ProviderState(status=status, ref=ref, **fields)


def weather(call_id: str) -> ToolCallRequest:
    return ToolCallRequest(call_id, "get_weather", '{"location": "Paris"}')


@dataclass
class SlowSubmit(ScriptedProvider):
    """A provider whose next submit runs `meanwhile` before it answers: what the rest of
    the fleet did while this worker's request was in flight."""

    meanwhile: list[Callable[[], None]] = field(default_factory=list)

    def submit_tool_outputs(self, ref, outputs, request):
        if self.meanwhile:
            self.meanwhile.pop(0)()
        return super().submit_tool_outputs(ref, outputs, request)


def load(engine, run_id):
    with Session(engine) as session:
        return store.get_run(session, run_id=run_id)


def test_a_stale_submit_released_by_the_sweep_cannot_overwrite_a_later_turn(engine, caplog):
    # Given a run whose turn-1 submit (A) is slow at the provider
    provider = SlowSubmit()
    provider.queue(st(S.REQUIRES_TOOLS, "resp_1", tool_calls=(weather("call_a"),)))
    clock = Clock()
    ctx = make_context(engine, provider, clock)
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    execute_tool_call(ctx, run_id, "call_a")

    def the_fleet_moves_on() -> None:
        # the sweep finds the run overdue in submitting and releases it; submit B wins the
        # turn, the model asks for another tool, it runs, and turn 2's submit is in flight
        with Session(engine) as session:
            ledger.note_due(session, run_id=run_id, due=Due(clock.now))
        clock.advance(10)
        assert len(sweep_overdue_runs(ctx, POLICY)) == 1
        provider.queue(
            st(S.QUEUED, "resp_b"), st(S.REQUIRES_TOOLS, "resp_b", tool_calls=(weather("c2"),))
        )
        poll = submit_outputs(ctx, run_id, 1)
        poll_run(ctx, run_id, *poll.args[1:])
        execute_tool_call(ctx, run_id, "c2")
        turn2 = load(engine, run_id)
        with Session(engine) as session:
            ledger.move(
                session,
                run_id=run_id,
                from_statuses=[RunStatus.REQUIRES_TOOLS],
                to=RunStatus.SUBMITTING,
                at_step=turn2.step_seq,
                changes=RunChanges(step_seq=turn2.step_seq + 1),
            )
        provider.queue(st(S.QUEUED, "resp_a_stale"))  # what A's request answers, at last

    provider.meanwhile.append(the_fleet_moves_on)

    # When submit A's request finally answers
    with caplog.at_level(logging.WARNING, logger="runq.runs"), pytest.raises(IllegalTransition):
        submit_outputs(ctx, run_id, 1)

    # Then A lost: the run is still in turn 2's submit, on B's response, and the log says so
    run = load(engine, run_id)
    assert (run.status, run.turn, run.provider_ref) == ("submitting", 2, "resp_b")
    assert any(run_id in r.getMessage() and "lost" in r.getMessage() for r in caplog.records)


def test_a_start_whose_create_was_overtaken_loses_and_keeps_the_winner(engine):
    # Given a start whose create is slow and, meanwhile, a re-sent start that wins the turn
    clock = Clock()
    run_id = insert_run(engine)

    class SlowCreate(ScriptedProvider):
        def create(self, request):
            if not self.calls:  # the first create: a re-sent start runs while it waits
                self.calls.append(RecordedCall("create", request=request))
                start_run(ctx, run_id, load(engine, run_id).step_seq)
                return self._next()
            return super().create(request)

    slow = SlowCreate()
    slow.queue(st(S.QUEUED, "resp_winner"), st(S.QUEUED, "resp_loser"))
    ctx = make_context(engine, slow, clock)

    # When the first create answers last
    with pytest.raises(IllegalTransition):
        start_run(ctx, run_id)

    # Then the run stays on the winner's response, created once per start
    run = load(engine, run_id)
    assert (run.status, run.provider_ref) == ("in_progress", "resp_winner")
    assert slow.methods() == ["create", "create"]


def test_a_claimed_start_whose_worker_died_is_re_sent_with_its_step(engine):
    # Given a claimed start whose create failed and whose retry message was lost
    clock = Clock()
    provider = scripted([ProviderUnavailable("worker died here")])
    ctx = make_context(engine, provider, clock)
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    assert load(engine, run_id).status == "in_progress"

    # When it is overdue, the sweep re-sends the start of that claimed step
    clock.advance(60)
    assert sweep_overdue_runs(ctx, POLICY) == [Later(StepName.START, (run_id, 0))]

    # Then that start creates the turn
    provider.queue(st(S.QUEUED, "resp_1"))
    assert isinstance(start_run(ctx, run_id, 0), Later)
    assert load(engine, run_id).provider_ref == "resp_1"


@pytest.mark.parametrize("step", ["create", "submit"])
def test_a_live_slow_provider_call_holds_its_lease_and_is_never_re_sent(engine, step, tmp_path):
    # Given a worker whose provider request outlasts the sweep's grace many times over
    if engine.dialect.name == "sqlite":  # the heartbeat thread needs a connection of its own
        engine = file_engine(tmp_path / "runs.db")
    clock = Clock()
    seen: list[list] = []
    ctx = None

    class Slow(ScriptedProvider):
        def create(self, request):
            if step == "create":
                self._meanwhile()
            return super().create(request)

        def submit_tool_outputs(self, ref, outputs, request):
            self._meanwhile()
            return super().submit_tool_outputs(ref, outputs, request)

        def _meanwhile(self):
            for _ in range(3):
                clock.advance(POLICY.grace_s * 2)
                renewed_by = time.monotonic() + 5
                while load(engine, run_id).next_due_at < clock.now:  # the next beat (0.1 s)
                    assert time.monotonic() < renewed_by, "the lease was not renewed"
                    time.sleep(0.02)
                seen.append(sweep_overdue_runs(ctx, POLICY))

    provider = Slow()
    ctx = replace(make_context(engine, provider, clock), lease_s=0.2)
    run_id = insert_run(engine)
    if step == "submit":
        provider.queue(st(S.REQUIRES_TOOLS, "resp_1", tool_calls=(weather("call_a"),)))
        start_run(ctx, run_id)
        execute_tool_call(ctx, run_id, "call_a")
    provider.queue(st(S.QUEUED, "resp_2"))

    # When the request finally answers
    if step == "create":
        start_run(ctx, run_id)
    else:
        submit_outputs(ctx, run_id, 1)

    # Then no sweep re-sent the live step, and the run is in its (one) new turn
    assert seen == [[], [], []]
    assert load(engine, run_id).provider_ref == "resp_2"
    assert provider.methods().count(step) == 1


def test_the_request_timeout_is_capped_by_what_is_left_of_the_deadline(engine):
    # Given a run with 3 s left and a synchronous turn that would take 30 s
    clock = Clock()
    caps: list[float] = []

    class ThirtySeconds(ScriptedProvider):
        def create(self, request):
            clock.advance(min(caps[-1], 30.0))
            raise ProviderTimedOut("request timed out")

    provider = ThirtySeconds()

    def within(agent, left_s):
        caps.append(left_s)
        return provider

    ctx = replace(make_context(engine, provider, clock), provider_within=within)
    run_id = insert_run(engine, deadline_s=3)

    # When it starts (no beat, no sweep)
    start_run(ctx, run_id)

    # Then the request could wait only the 3 s left, and the run expired at its deadline
    run = load(engine, run_id)
    assert caps == [3.0]
    assert run.status == "expired" and run.finished_at == NOW + timedelta(seconds=3)


def test_a_copy_of_a_poll_during_a_slow_correction_does_not_ask_twice(engine):
    from workers.agents import Agent, register_agent

    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    register_agent(Agent(name="strict-fenced", model="m", output_schema=schema, output_retries=1))
    clock = Clock()
    copies: list = []

    class SlowCorrection(ScriptedProvider):
        def send_correction(self, ref, answer, message, request):
            # the broker redelivers the poll while this request is in flight
            copies.append(poll_run(ctx, run_id, 1))
            return super().send_correction(ref, answer, message, request)

    provider = SlowCorrection()
    provider.queue(
        st(S.QUEUED, "resp_1"),
        st(S.COMPLETED, "resp_1", output_text="{}"),
        st(S.QUEUED, "resp_2"),
    )
    ctx = make_context(engine, provider, clock)
    run_id = insert_run(engine, agent="strict-fenced")
    start_run(ctx, run_id)
    poll_run(ctx, run_id, 1)
    assert [type(c).__name__ for c in copies] == ["Nothing"]
    assert provider.methods() == ["create", "retrieve", "correct"]
