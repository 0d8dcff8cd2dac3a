"""How many SQL statements each run step sends: a count, held here, not a timing.

A step reads its run once, claims it (when it is about to call the provider) and writes
what it decided in one compare-and-set UPDATE, with the run's next due time in the same
statement. A change that adds a round trip to a step shows up here first.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from sqlalchemy import event

from tests.workers.steps_fixtures import Clock, insert_run, make_context, memory_engine
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest, Usage
from workers.runs.context import FanOut, Later, Nothing
from workers.runs.steps import poll_run, start_run, submit_outputs
from workers.runs.tool_calls import execute_tool_call

S = ProviderStatus
WEATHER = ToolCallRequest("call_a", "get_weather", '{"location": "Paris"}')
SEARCH = ToolCallRequest("call_b", "search_documents", '{"query": "celery"}')


class Statements:
    """Every statement and commit an engine sends, by kind."""

    def __init__(self, engine) -> None:
        self.sent: list[str] = []
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, conn, cursor, statement, params, context, executemany) -> None:
        self.sent.append(" ".join(statement.split()[:3]))

    def _commit(self, conn) -> None:
        self.commits += 1

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.sent.clear()
        self.commits = 0
        yield self.sent


def st(status, ref="resp_1", **fields):
    return ProviderState(status=status, ref=ref, **fields)


@pytest.fixture
def counted():
    engine = memory_engine()
    return engine, Statements(engine)


def _context(engine, provider):
    # As in production: a lease, and a sweep grace that lets an on-time poll skip its write.
    return replace(make_context(engine, provider, Clock()), lease_s=5.0, sweep_grace_s=5.0)


def test_each_step_of_a_two_turn_run_sends_few_statements(counted):
    engine, statements = counted
    provider = scripted(
        [
            st(S.QUEUED),
            st(S.IN_PROGRESS),
            st(S.REQUIRES_TOOLS, tool_calls=(WEATHER, SEARCH), usage=Usage(20, 5)),
            st(S.QUEUED, ref="resp_2"),
            st(S.COMPLETED, ref="resp_2", output_text="Sunny.", usage=Usage(40, 7)),
        ]
    )
    ctx = _context(engine, provider)
    run_id = insert_run(engine)
    counts = {}

    with statements.counting() as sent:
        assert isinstance(start_run(ctx, run_id), Later)
    # read the run; claim it (with its lease); record the turn and its first poll's due time
    counts["start"] = (len(sent), statements.commits)
    with statements.counting() as sent:
        assert poll_run(ctx, run_id, 1) == Later(poll_run_name(), (run_id, 2), 1.0)
    counts["poll, still running"] = (len(sent), statements.commits)
    with statements.counting() as sent:
        fan_out = poll_run(ctx, run_id, 2)
    assert isinstance(fan_out, FanOut)
    # read; the status with the turn's due time; the new calls, one INSERT that skips any
    # already recorded
    counts["poll, tools asked"] = (len(sent), statements.commits)
    for call_id in fan_out.call_ids:
        with statements.counting() as sent:
            execute_tool_call(ctx, run_id, call_id)
        # the call joined with its run's status and agent; the claim; the output, returning
        # the turn's other calls still without an output (on PostgreSQL: the output, the
        # run's row locked, then the count)
        counts[f"tool call {call_id}"] = (len(sent), statements.commits)
    with statements.counting() as sent:
        assert isinstance(submit_outputs(ctx, run_id, fan_out.turn), Later)
    counts["submit"] = (len(sent), statements.commits)
    with statements.counting() as sent:
        assert poll_run(ctx, run_id, 4) == Nothing("completed")
    counts["poll, answered"] = (len(sent), statements.commits)

    # (statements, commits) per step. A step that calls the provider commits twice: its
    # read (or its claim) before the request, so no pooled connection waits on the provider
    # with it, and its one UPDATE after.
    assert counts == {
        "start": (3, 2),
        "poll, still running": (2, 2),
        "poll, tools asked": (3, 2),
        "tool call call_a": (3, 2),
        "tool call call_b": (3, 2),
        "submit": (4, 2),
        "poll, answered": (2, 2),
    }


def test_a_synchronous_turn_is_recorded_with_its_answer_in_one_update(counted):
    engine, statements = counted
    provider = scripted([st(S.COMPLETED, output_text="Hi.", usage=Usage(5, 2))])
    ctx = _context(engine, provider)
    run_id = insert_run(engine)
    with statements.counting() as sent:
        assert start_run(ctx, run_id) == Nothing("completed")
    updates = [s for s in sent if s.startswith("UPDATE")]
    # the claim before the request, then the turn and its answer together
    assert (len(sent), len(updates), statements.commits) == (3, 2, 2)


def poll_run_name():
    from workers.runs.context import StepName

    return StepName.POLL


def test_a_run_is_opened_with_one_insert_and_no_read_back(counted):
    from datetime import timedelta

    from sqlmodel import Session

    from workers.db.models import utcnow
    from workers.runs import ledger

    engine, statements = counted
    with Session(engine, expire_on_commit=False) as session, statements.counting() as sent:
        run, created = ledger.open_run(
            session,
            agent="assistant",
            input_text="hello",
            provider="responses",
            model="gpt-test",
            deadline_at=utcnow() + timedelta(hours=1),
        )
        # The caller reads the run it got back without another statement.
        assert (created, run.status, run.step_seq, run.parked, run.lane) == (
            True,
            "pending",
            0,
            False,
            "standard",
        )
    # the INSERT, and nothing read back (a refresh cost a third of an enqueue's CPU)
    assert (sent, statements.commits) == (["INSERT INTO run"], 1)
