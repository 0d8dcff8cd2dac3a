"""Several worker processes on one Redis share one API budget and never earn a 429;
a cached run makes no provider request; faults end in clear terminal states."""

from __future__ import annotations

import pytest

from tests.integration.fleet import (
    LIMITED_RPM,
    configure_simulator,
    enqueue_batch,
    simulator_stats,
    wait_for_batch,
)
from tests.integration.test_operate import scrape_workers, value
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

# The same budget on both sides: the simulator enforces it the way OpenAI does (continuous
# buckets per key and model, burst = one minute's worth), runq's limiter must stay inside it.
RPM = LIMITED_RPM
PROMPTS = ["What's the weather in Paris and London?", "What's the weather in Oslo?"]
SYNCHRONOUS = {"provider": "responses", "model": "gpt-limited", "mode": "synchronous"}


@pytest.fixture
def limited_fleet(fleet):
    """The session fleet with the simulator enforcing RPM too (only `gpt-limited` is used)."""
    configure_simulator(fleet, rpm=RPM)
    yield fleet
    configure_simulator(fleet, rpm=0)


def test_workers_share_one_budget_and_never_get_a_429(limited_fleet):
    # Given three worker processes and more requests than one minute's burst allows: 110
    # two-turn runs need 220 requests at the least (every turn one synchronous request,
    # which is what runq picks while requests are scarce)
    before = simulator_stats(limited_fleet)
    metrics_before = scrape_workers()
    reserved_before = value(metrics_before, "runq_limiter_reservations_total", model="gpt-limited")
    synchronous_before = value(metrics_before, "runq_model_turns_total", **SYNCHRONOUS)
    batch_id = enqueue_batch([PROMPTS[i % 2] for i in range(110)], agent="limited-agent")

    # When the batch runs to the end
    wait_for_batch(batch_id, 110, timeout_s=200)

    # Then every run completed, the budget was binding, and the provider never said 429
    after = simulator_stats(limited_fleet)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
    assert [r.error for r in runs if r.status != "completed"] == []
    requests_made = after["requests_total"] - before["requests_total"]
    assert requests_made > RPM, f"the batch must exceed the burst to bind: {requests_made}"
    limited = after["rate_limited_by_model"].get("gpt-limited", 0)
    assert limited == before["rate_limited_by_model"].get("gpt-limited", 0) == 0, after
    # and the steps the budget held back reserved their requests instead of queueing for them
    metrics_after = scrape_workers()
    reserved = value(metrics_after, "runq_limiter_reservations_total", model="gpt-limited")
    assert reserved > reserved_before
    # and, requests being scarce, turns went synchronous (a background turn's polls would
    # spend the requests creates need)
    synchronous = value(metrics_after, "runq_model_turns_total", **SYNCHRONOUS)
    assert synchronous > synchronous_before


def test_a_cached_run_makes_no_provider_request(fleet):
    first = enqueue_batch(["What's the weather in Lisbon?"], cache=True)
    wait_for_batch(first, 1)
    before = simulator_stats(fleet)
    repeat = enqueue_batch(["What's the weather in Lisbon?"], cache=True)
    wait_for_batch(repeat, 1)
    after = simulator_stats(fleet)
    with wiring.new_session() as session:
        [original] = store.list_runs(session, batch_id=first)
        [cached] = store.list_runs(session, batch_id=repeat)
    assert (cached.status, cached.cache_hit) == ("completed", True)
    assert cached.result_text == original.result_text
    assert after["requests_total"] == before["requests_total"]


def test_quota_exhaustion_fails_the_run_instead_of_retrying(fleet):
    configure_simulator(fleet, quota_exhausted=True)
    try:
        batch_id = enqueue_batch(["What's the weather in Quito?"])
        wait_for_batch(batch_id, 1)
    finally:
        configure_simulator(fleet, quota_exhausted=False)
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
    assert run.status == "failed" and "insufficient_quota" in (run.error or "")


def test_provider_500s_are_retried_and_every_run_still_ends(fleet):
    configure_simulator(fleet, fault_5xx_rate=0.3)
    try:
        batch_id = enqueue_batch([PROMPTS[i % 2] for i in range(10)])
        wait_for_batch(batch_id, 10, timeout_s=120)
    finally:
        configure_simulator(fleet, fault_5xx_rate=0.0)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    # A run may fail after RUNQ_PROVIDER_MAX_ATTEMPTS straight 500s, but then it says so.
    assert all(r.status == "completed" or "provider unavailable" in (r.error or "") for r in runs)
    assert sum(r.status == "completed" for r in runs) >= 8
    assert all(c.attempts == 1 for c in calls)
