"""The chaos benchmark, CI-sized, on the shared fleet: one poison run whose tool kills its
worker every time, then workers SIGKILLed at random while runs with parallel and sequential
tool calls are in flight. Counts only, never times."""

from __future__ import annotations

import random
import re
import signal
import time
import uuid
from pathlib import Path

import pytest

from bench.chaos import chaos_inputs, tally
from bench.chaos_agents import EXECUTIONS_FILE_ENV
from tests.integration.fleet import TERMINAL, enqueue_batch
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(150)]

RUNS = 16
KILLS = 3


def terminal_count(batch_id: str) -> int:
    with wiring.new_session() as session:
        counts = store.count_runs_by_status(session, batch_id=batch_id)
    return sum(n for status, n in counts.items() if status in TERMINAL)


def run_to_the_end(fleet, batch_ids: list[str], runs: int, kills: int) -> None:
    """Wait for every run of the batches to end, SIGKILLing `kills` random workers meanwhile
    and restarting every dead worker as a supervisor would."""
    rng, killed, deadline = random.Random(10), 0, time.monotonic() + 120
    while sum(terminal_count(batch_id) for batch_id in batch_ids) < runs:
        assert time.monotonic() < deadline, "runs still in flight after 120 s"
        if killed < kills and rng.random() < 0.2:
            # Not the beat's worker: a SIGKILL would orphan its embedded beat process.
            alive = [p for p in fleet.workers if p.poll() is None and "-B" not in p.args]
            rng.choice(alive).send_signal(signal.SIGKILL)
            killed += 1
        fleet.revive_workers()
        time.sleep(0.5)
    fleet.revive_workers()


# The poison run goes first, on its own. A call that runs beside a poison call in each of
# its crashes is counted as a poison too: nothing records which call took the worker down.
# In CI on a loaded machine a lookup was failed that way after 4 shared crashes; the
# chaos runs' guarantee is tested against random kills below.
@pytest.mark.timeout(240)
def test_sigkills_lose_nothing_and_a_poison_run_fails_with_the_reason(fleet):
    # Given a poison run, whose tool kills its worker on each delivery
    poison_batch = enqueue_batch(["use tool crash_worker"], agent="poison-agent")
    # When it is delivered until it ends (each dead worker restarted)
    run_to_the_end(fleet, [poison_batch], 1, kills=0)
    # Then it failed with the reason instead of looping
    with wiring.new_session() as session:
        [poison] = store.list_runs(session, batch_id=poison_batch)
    assert poison.status == "failed"
    # Whichever guard sees it first: the call's deliveries, or the sweep's re-sends.
    assert re.search(
        r"\(crash_worker\) (killed its worker \d+ times|was re-sent 5 times .* kills its worker)",
        poison.error or "",
    ), poison.error

    # Given chaos runs (two turns of a lookup and a payment in parallel)
    prefix = uuid.uuid4().hex[:6]
    batch_id = enqueue_batch(chaos_inputs(RUNS, prefix), agent="chaos")
    # When random workers are SIGKILLed meanwhile
    run_to_the_end(fleet, [batch_id], RUNS, kills=KILLS)
    # Then every chaos run completed, no payment ran twice, no lookup result was lost
    counts = tally(batch_id, Path(fleet.env[EXECUTIONS_FILE_ENV]))
    assert (counts.runs, counts.completed, counts.stuck) == (RUNS, RUNS, 0), counts.failed
    assert counts.payments_twice == 0
    assert counts.results_lost == 0
    # and the fleet still serves
    fleet.wait_for_workers(len(fleet.workers))


def test_a_rolling_sigterm_restart_under_load_loses_nothing(fleet):
    # Given chaos runs in flight
    prefix = uuid.uuid4().hex[:6]
    batch_id = enqueue_batch(chaos_inputs(RUNS, prefix), agent="chaos")
    time.sleep(1.0)

    # When every worker in turn gets SIGTERM (warm shutdown: finish what is in hand, hand
    # back the rest) and is restarted, as a deploy would
    # (the next goes as soon as the previous has exited; its replacement boots meanwhile)
    for index in range(len(fleet.workers)):
        fleet.workers[index].send_signal(signal.SIGTERM)
        fleet.workers[index].wait(timeout=60)
        fleet.revive_workers()
    fleet.wait_for_workers(len(fleet.workers))

    # Then every run completes, no payment ran twice and no tool result was lost
    deadline = time.monotonic() + 60
    while terminal_count(batch_id) < RUNS:
        assert time.monotonic() < deadline, "runs still in flight 60 s after the restart"
        time.sleep(0.5)
    counts = tally(batch_id, Path(fleet.env[EXECUTIONS_FILE_ENV]))
    assert (counts.completed, counts.stuck) == (RUNS, 0), counts.failed
    assert (counts.payments_twice, counts.results_lost) == (0, 0)
