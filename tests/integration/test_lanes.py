"""Lanes on the real fleet (workers, beat, Redis, the simulator over HTTP): each lane runs a
tool turn and an answer end to end and is priced at its multiplier; a flex run that finds
no capacity goes on at standard; a batch-lane run waits for beat's batch and completes; a
batch that fails or expires (twice: it is sent once more) ends its run with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import tests.integration.agents  # noqa: F401  (registered once at import, as the workers do)
from tests.integration.fleet import (
    configure_simulator,
    enqueue_batch,
    simulator_stats,
    wait_for_batch,
)
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

AGENT = "lanes-agent"
WEATHER = "What's the weather in Paris?"
MULTIPLIER = {"interactive": 2.0, "standard": 1.0, "flex": 0.5, "batch": 0.5}


@contextmanager
def simulator_set(fleet, **changes) -> Iterator[None]:
    configure_simulator(fleet, **changes)
    try:
        yield
    finally:
        configure_simulator(
            fleet, flex_unavailable_rate=0.0, batch_outcome="completed", batch_latency_ms=1000
        )


def runs_of(batch_id: str):
    with wiring.new_session() as session:
        return store.list_runs(session, batch_id=batch_id)


def run_in_lane(lane: str, count: int = 2, timeout_s: float = 90.0):
    batch_id = enqueue_batch([WEATHER] * count, agent=AGENT, lane=lane)
    wait_for_batch(batch_id, count, timeout_s=timeout_s)
    return runs_of(batch_id)


def test_each_lane_completes_and_is_priced_at_its_multiplier(fleet):
    batches_before = simulator_stats(fleet)["batches_created"]
    by_lane = {lane: run_in_lane(lane) for lane in MULTIPLIER}

    for lane, runs in by_lane.items():
        assert [(r.status, r.lane, r.lane_fallback) for r in runs] == [
            ("completed", lane, None)
        ] * 2, [r.error for r in runs]
        # a tool turn, then the answer, chained: the second turn's context is cached
        assert all(r.turn == 1 and r.cached_tokens > 0 for r in runs)
    standard = by_lane["standard"][0]
    for lane, runs in by_lane.items():
        for run in runs:
            assert (run.input_tokens, run.output_tokens) == (
                standard.input_tokens,
                standard.output_tokens,
            )
            assert run.cost_usd == pytest.approx(standard.cost_usd * MULTIPLIER[lane])
    assert simulator_stats(fleet)["batches_created"] > batches_before


def test_a_flex_run_without_capacity_falls_back_to_standard(fleet):
    with simulator_set(fleet, flex_unavailable_rate=1.0):
        before = simulator_stats(fleet)["flex_unavailable"]
        runs = run_in_lane("flex", count=1)
        refused = simulator_stats(fleet)["flex_unavailable"] - before
    [run] = runs
    assert (run.status, run.lane, run.lane_fallback) == ("completed", "flex", "standard")
    assert refused == 1  # the first create; every later turn went to standard at once
    standard = run_in_lane("standard", count=1)[0]
    assert run.cost_usd == pytest.approx(standard.cost_usd)


@pytest.mark.parametrize("outcome", ["failed", "expired"])
def test_a_batch_the_provider_fails_ends_its_run_with_the_reason(fleet, outcome):
    with simulator_set(fleet, batch_outcome=outcome, batch_latency_ms=200):
        [run] = run_in_lane("batch", count=1)
    assert run.status == "failed"
    assert f"{outcome}" in run.error and "(sent 2 times)" in run.error, run.error
    assert run.error.startswith("provider ended the run failed: batch batch_")
