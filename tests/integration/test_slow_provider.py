"""A slow but live provider request is never re-sent: with every provider request slower
than the fleet's recovery grace plus a sweep interval (but inside the request timeout), each
turn reaches the provider exactly once, on every surface; a run in a synchronous turn says
in_progress; and a run's deadline holds with no poll to check it (a synchronous turn's
request timeout is what is left of the deadline). Real workers, beat and simulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import tests.integration.agents  # noqa: F401  (registered once at import, as the workers do)
from tests.integration.fleet import (
    FLEET_ENV,
    configure_simulator,
    enqueue_batch,
    simulator_stats,
    wait_for_batch,
)
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(150)]

# Longer than the fleet's grace plus a sweep interval, shorter than its request timeout.
DELAY_MS = 2500
assert float(FLEET_ENV["RUNQ_RECOVERY_GRACE_S"]) + float(FLEET_ENV["RUNQ_SWEEP_EVERY_S"]) < 2.5
assert float(FLEET_ENV["RUNQ_PROVIDER_TIMEOUT_S"]) > 2.5
TWO_TURNS = "What's the weather in Paris? #turns=2"


@contextmanager
def slow_provider(fleet) -> Iterator[None]:
    configure_simulator(fleet, delay_ms=DELAY_MS)
    try:
        yield
    finally:
        configure_simulator(fleet, delay_ms=0)


def runs_of(batch_id: str):
    with wiring.new_session() as session:
        return store.list_runs(session, batch_id=batch_id)


@pytest.mark.parametrize(
    ("agent", "counter"),
    [
        ("responses-agent", "responses_created"),  # a slow create in background mode
        ("responses-sync", "responses_created"),  # sync_turns: the request is the turn
        ("chat-agent", "chat_completions"),  # Chat Completions: always synchronous
    ],
)
def test_each_turn_reaches_a_slow_provider_exactly_once(fleet, agent, counter):
    before = simulator_stats(fleet)[counter]
    with slow_provider(fleet):
        batch_id = enqueue_batch([TWO_TURNS] * 2, agent=agent)
        wait_for_batch(batch_id, 2, timeout_s=120)
    runs = runs_of(batch_id)
    assert [r.error for r in runs if r.status != "completed"] == []
    # one create for the first turn, one per tool round trip (each submit makes a turn)
    turns = sum(1 + r.turn for r in runs)
    assert simulator_stats(fleet)[counter] - before == turns


def test_a_run_in_a_synchronous_turn_says_in_progress(fleet):
    before = simulator_stats(fleet)["requests_total"]
    with slow_provider(fleet):
        batch_id = enqueue_batch(["Hello"], agent="chat-agent")
        while simulator_stats(fleet)["requests_total"] == before:
            time.sleep(0.05)
        [run] = runs_of(batch_id)  # the turn is at the provider now
        assert (run.status, run.started_at is not None) == ("in_progress", True)
        wait_for_batch(batch_id, 1, timeout_s=30)


def test_a_deadline_holds_during_a_synchronous_turn_without_beat(fleet):
    # The turn takes 2.5 s; the run may take 1 s. The request gives up at the deadline.
    # (Before leases the sweep expired such a run, its start being "overdue"; the lease
    # keeps the sweep away now, so the capped request timeout is what holds the deadline.
    # The unit test of the cap fails on the old code.)
    with slow_provider(fleet):
        batch_id = enqueue_batch(["Hello"], agent="chat-agent", deadline_s=1.0)
        wait_for_batch(batch_id, 1, timeout_s=30)
    [run] = runs_of(batch_id)
    assert run.status == "expired" and "deadline" in (run.error or "")
