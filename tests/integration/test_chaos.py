"""The chaos benchmark, CI-sized, on the shared fleet: workers SIGKILLed at random while
runs with parallel and sequential tool calls are in flight, beside a poison run whose tool
kills its worker every time. Counts only, never times."""

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


@pytest.mark.timeout(240)
def test_sigkills_lose_nothing_and_a_poison_run_fails_with_the_reason(fleet):
    # Given chaos runs (two turns of a lookup and a payment in parallel) and a poison run,
    # whose tool kills its worker on each delivery, on the same workers
    prefix = uuid.uuid4().hex[:6]
    batch_id = enqueue_batch(chaos_inputs(RUNS, prefix), agent="chaos")
    poison_batch = enqueue_batch(["use tool crash_worker"], agent="poison-agent")
    # When random workers are SIGKILLed meanwhile (and each dead worker restarted)
    run_to_the_end(fleet, [batch_id, poison_batch], RUNS + 1, kills=KILLS)
    # Then every chaos run completed, no payment ran twice, no lookup result was lost: a
    # lookup re-run beside the poison's crashes is not blamed for them (it re-ran alone)
    counts = tally(batch_id, Path(fleet.env[EXECUTIONS_FILE_ENV]))
    assert (counts.runs, counts.completed, counts.stuck) == (RUNS, RUNS, 0), counts.failed
    assert counts.payments_twice == 0
    assert counts.results_lost == 0
    # and the poison run failed with the reason instead of looping
    with wiring.new_session() as session:
        [poison] = store.list_runs(session, batch_id=poison_batch)
    assert poison.status == "failed"
    # Whichever guard sees it first: the call's deliveries, or the sweep's re-sends.
    assert re.search(
        r"\(crash_worker\) (killed its worker \d+ times|was re-sent 5 times .* kills its worker)",
        poison.error or "",
    ), poison.error
    # and the fleet still serves
    fleet.wait_for_workers(len(fleet.workers))


@pytest.mark.timeout(240)
def test_a_call_beside_a_poison_call_is_not_blamed_for_its_crashes(fleet):
    # Given a turn of a harmless idempotent lookup (1.5 s) and a poison call that kills the
    # tools worker 0.5 s in, while the lookup runs beside it
    batch = enqueue_batch(
        ["use tool slow_lookup, then use tool chaos_crash"], agent="poison-neighbour-agent"
    )
    # When the calls are delivered until the run ends (each dead worker restarted), and a
    # last attempt of the lookup, alone in its worker when the poison's verdict ended the
    # run, has had its 1.5 s to finish
    run_to_the_end(fleet, [batch], 1, kills=0)
    deadline = time.monotonic() + 15
    while True:
        with wiring.new_session() as session:
            [run] = store.list_runs(session, batch_id=batch)
            calls = {call.name: call for call in store.list_tool_calls(session, run_id=run.id)}
        lookup = calls["slow_lookup"]
        if not (lookup.attempts >= 4 and lookup.status == "running"):
            break
        if time.monotonic() > deadline:
            break  # left running at its 4th attempt: the assertions below say so
        fleet.revive_workers()
        time.sleep(0.5)
    # Then the run failed, naming the poison
    assert run.status == "failed"
    assert re.search(
        r"\(chaos_crash\) (killed its worker|was re-sent 5 times .* kills its worker)",
        run.error or "",
    ), run.error
    # and the lookup was not: it shared the poison's first crashes, but its last attempt
    # before a verdict (the 4th) ran alone, and finished (without that it was re-run beside
    # the poison each time, reached 4 crashes with it, and was failed as a poison too)
    assert lookup.attempts < 4 or (lookup.status, lookup.output) == ("succeeded", "found"), lookup
    assert lookup.error is None or "poison" not in lookup.error, lookup.error
    assert calls["chaos_crash"].attempts == 4


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
