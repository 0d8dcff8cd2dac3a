"""Dollar budgets on the real fleet: 500 runs race for one key's $1 budget across worker
processes and the key never spends more than $1.00; the runs that did not fit end failed
with a reason starting "budget:". A hold that a killed worker never settled frees its room
when it expires, and a key that waits for room then runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

import tests.integration.agents  # noqa: F401  (budget-agent, registered before each test's snapshot)
from tests.integration.fleet import BUDGET_PRICE, enqueue_batch, wait_for_batch
from workers import wiring
from workers.db import key_store, store
from workers.db.key_store import KeyBudget
from workers.limits.spend import BudgetLimits, micros_to_usd, scopes_for
from workers.limits.spend_store import RedisSpend

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]

RUNS = 500
assert "gpt-budget" in BUDGET_PRICE  # the fleet prices the agent's model


def new_key(budget: KeyBudget) -> str:
    with wiring.new_session() as session:
        row, _ = key_store.create_key(session, name=f"budget-{time.time_ns()}", budget=budget)
        return row.id


def key_totals(key_id: str) -> tuple[float, float]:
    spend = RedisSpend(wiring.get_redis(), prefix=wiring.get_settings().redis.prefix)
    [totals] = [t for t in spend.read(f"key:{key_id}") if t.scope == f"key:{key_id}"]
    return micros_to_usd(totals.spent_micros), micros_to_usd(totals.held_micros)


def test_500_runs_racing_for_a_1_dollar_budget_spend_at_most_1_dollar(fleet):
    # Given a key with $1 in all and 500 runs of an agent at $50/$200 per million tokens
    key_id = new_key(KeyBudget(max_usd=1.0))
    batch_id = enqueue_batch(
        [f"What's the weather in city {i}?" for i in range(RUNS)],
        agent="budget-agent",
        owner_key_id=key_id,
    )

    # When every run has ended
    wait_for_batch(batch_id, RUNS, timeout_s=360)

    # Then the key spent at most $1.00, nothing is left held, and the runs' own costs agree
    spent_usd, held_usd = key_totals(key_id)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
    recorded_usd = sum(r.cost_usd for r in runs)
    print(f"\nspent ${spent_usd:.6f} (runs record ${recorded_usd:.6f}), held ${held_usd:.6f}")
    assert spent_usd <= 1.0
    assert held_usd == 0.0
    assert recorded_usd <= spent_usd + 1e-9
    by_status: dict[str, int] = {}
    for run in runs:
        by_status[run.status] = by_status.get(run.status, 0) + 1
    print(f"runs by status: {by_status}")
    # the budget bound: some runs completed, the rest failed for budget and nothing else
    assert by_status.get("completed", 0) > 0
    failed = [r for r in runs if r.status != "completed"]
    assert failed, "500 runs must exceed a $1 budget for this test to mean anything"
    assert {r.status for r in failed} == {"failed"}
    assert all((r.error or "").startswith("budget: ") for r in failed), failed[0].error
    # and the budget was nearly used: holds are settled back, not kept
    assert spent_usd > 0.5


def test_a_hold_a_killed_worker_never_settled_expires_and_a_waiting_run_then_runs(fleet):
    # Given a key with $0.10 whose runs wait for room, and a hold of all of it that a killed
    # worker took and never settled, expiring in two seconds
    key_id = new_key(KeyBudget(max_usd=0.10, on_budget="wait"))
    spend = RedisSpend(wiring.get_redis(), prefix=wiring.get_settings().redis.prefix)
    now_ms = int(time.time() * 1000)
    scopes = scopes_for(
        run_id="run_killed",
        key_id=key_id,
        agent="budget-agent",
        now=datetime.now(UTC),
        limits=BudgetLimits(key_usd=0.10),
    )
    held = spend.hold("run_killed:0:0", scopes, 100_000, now_ms=now_ms, expires_ms=now_ms + 2000)
    assert held is None
    assert key_totals(key_id) == (0.0, 0.10)

    # When a run of that key is enqueued: it cannot hold until the dead hold expires
    batch_id = enqueue_batch(
        ["What's the weather in Oslo?"], agent="budget-agent", owner_key_id=key_id
    )
    wait_for_batch(batch_id, 1, timeout_s=60)

    # Then it waited, then ran and completed; the dead hold was released, never charged
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
    assert (run.status, run.error) == ("completed", None)
    spent_usd, held_usd = key_totals(key_id)
    assert held_usd == 0.0
    assert 0 < spent_usd <= 0.10
    assert spent_usd >= run.cost_usd
