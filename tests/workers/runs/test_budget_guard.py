"""Dollar budgets in the run steps: a turn holds its worst case before the request, settles
to its cost when it ends; one that does not fit fails its run (or waits) and is never sent.
Scripted provider, in-memory SQLite, `spend.lua` on fakeredis."""

import math
from dataclasses import replace

import fakeredis
import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import Clock, insert_run, make_context
from workers.db import key_store, store
from workers.db.key_store import KeyBudget
from workers.db.models import Run
from workers.limits.spend_store import RedisSpend
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest, Usage
from workers.runs.budget_guard import SpendGuard
from workers.runs.context import FanOut, Later, Nothing, StepContext, StepName
from workers.runs.steps import poll_run, start_run, submit_outputs
from workers.runs.tool_calls import execute_tool_call
from workers.runs.usage import Price

S = ProviderStatus
PRICE = Price(input_per_mtok=10.0, output_per_mtok=30.0)
# The demo agent caps answers at 512 tokens: a turn holds 512 x $30/M = $0.015 plus its prompt.


@pytest.fixture
def spend() -> RedisSpend:
    return RedisSpend(fakeredis.FakeRedis(server=fakeredis.FakeServer()), prefix="t")


def guarded_context(engine, provider, clock: Clock, spend: RedisSpend, prices=None) -> StepContext:
    guard = SpendGuard(
        spend,
        {"gpt-test": PRICE} if prices is None else prices,
        now_ms=lambda: int(clock().timestamp() * 1000),
        max_output_tokens=lambda agent: agent.max_output_tokens or 1024,
        hold_grace_s=60.0,
    )
    return replace(make_context(engine, provider, clock), budgets=guard, budget_wait_s=7.0)


def key_with(engine, budget: KeyBudget, name: str = "billing") -> str:
    with Session(engine) as session:
        row, _ = key_store.create_key(session, name=name, budget=budget)
        return row.id


def load(engine, run_id):
    with Session(engine) as session:
        return store.get_run(session, run_id=run_id)


def spent(spend: RedisSpend, scope: str) -> tuple[int, int]:
    found = {t.scope: (t.spent_micros, t.held_micros) for t in spend.read("")}
    return found[scope]


def test_a_turn_holds_then_settles_to_what_it_cost(engine, spend: RedisSpend) -> None:
    # Given a key with a $1 budget and a turn that answers with 100 in, 50 out
    key_id = key_with(engine, KeyBudget(max_usd=1.0))
    done = ProviderState(S.COMPLETED, "resp_1", output_text="Sunny.", usage=Usage(100, 50))
    provider = scripted([ProviderState(S.QUEUED, "resp_1"), done])
    clock = Clock()
    ctx = guarded_context(engine, provider, clock, spend)
    run_id = insert_run(engine, owner_key_id=key_id)

    # When the run starts, its turn's worst case is held on the key
    assert start_run(ctx, run_id) == Later(StepName.POLL, (run_id, 1), 0.5)
    spent_now, held_now = spent(spend, f"key:{key_id}")
    assert spent_now == 0 and held_now >= 512 * 30  # the demo agent caps its answer at 512

    # Then, when the turn ends, the hold becomes its cost: 100 x $10/M + 50 x $30/M
    assert poll_run(ctx, run_id, 1) == Nothing("completed")
    assert spent(spend, f"key:{key_id}") == (1000 + 1500, 0)
    assert spent(spend, f"run:{run_id}") == (2500, 0)
    assert load(engine, run_id).status == "completed"


@pytest.mark.parametrize(("lane", "factor"), [("interactive", 2), ("flex", 0.5)])
def test_a_turns_hold_and_charge_are_at_its_lanes_rate(
    engine, spend: RedisSpend, lane: str, factor: float
) -> None:
    # Given two keys' runs, the same turn, one standard and one on a lane that costs
    # `factor` times the list price
    held, keys, runs = [], [], []
    for run_lane in ("standard", lane):
        key_id = key_with(engine, KeyBudget(max_usd=1.0), name=f"billing-{run_lane}")
        done = ProviderState(S.COMPLETED, "resp_1", output_text="Sunny.", usage=Usage(100, 50))
        provider = scripted([ProviderState(S.QUEUED, "resp_1"), done])
        ctx = replace(guarded_context(engine, provider, Clock(), spend), prices={"gpt-test": PRICE})
        run_id = insert_run(engine, owner_key_id=key_id)
        with Session(engine) as session:
            session.get(Run, run_id).lane = run_lane
            session.commit()

        # When each starts, then finishes
        start_run(ctx, run_id)
        held.append(spent(spend, f"key:{key_id}")[1])
        assert poll_run(ctx, run_id, 1) == Nothing("completed")
        keys.append(key_id)
        runs.append(run_id)

    # Then the lane's worst case is held, and its turn charged, at the lane's rate, as the
    # run's own cost says (100 x $10/M + 50 x $30/M at list price)
    assert held[1] == math.ceil(held[0] * factor)
    assert spent(spend, f"key:{keys[0]}") == (2500, 0)
    assert spent(spend, f"key:{keys[1]}") == (2500 * factor, 0)
    assert load(engine, runs[1]).cost_usd == pytest.approx(2500 * factor / 1e6)


def test_a_turn_over_the_key_budget_fails_the_run_and_is_never_sent(
    engine, spend: RedisSpend
) -> None:
    key_id = key_with(engine, KeyBudget(max_usd=0.01))
    provider = scripted([])
    ctx = guarded_context(engine, provider, Clock(), spend)
    run_id = insert_run(engine, owner_key_id=key_id)

    outcome = start_run(ctx, run_id)

    assert isinstance(outcome, Nothing) and outcome.ended == "failed"
    run = load(engine, run_id)
    assert run.status == "failed"
    assert run.error.startswith("budget: the key limit of $0.01 would be exceeded")
    assert provider.calls == []
    assert spend.read("") == []  # a refused hold writes nothing


def test_a_key_that_waits_sends_the_start_again_later_and_holds_nothing(
    engine, spend: RedisSpend
) -> None:
    key_id = key_with(engine, KeyBudget(max_usd_day=0.01, on_budget="wait"))
    provider = scripted([])
    ctx = guarded_context(engine, provider, Clock(), spend)
    run_id = insert_run(engine, owner_key_id=key_id)

    assert start_run(ctx, run_id) == Later(StepName.START, (run_id,), 7.0)
    assert load(engine, run_id).status == "pending"
    assert provider.calls == []


def test_a_waiting_run_whose_deadline_comes_first_fails_with_the_reason(
    engine, spend: RedisSpend
) -> None:
    key_id = key_with(engine, KeyBudget(max_usd_day=0.01, on_budget="wait"))
    clock = Clock()
    ctx = guarded_context(engine, scripted([]), clock, spend)
    run_id = insert_run(engine, owner_key_id=key_id, deadline_s=60)
    assert isinstance(start_run(ctx, run_id), Later)

    clock.advance(55)  # the next wait would end past the deadline
    outcome = start_run(ctx, run_id)

    assert isinstance(outcome, Nothing) and outcome.ended == "failed"
    assert load(engine, run_id).error.startswith("budget: the key/day limit of $0.01")


def test_a_run_over_its_own_budget_fails_even_when_its_key_waits(engine, spend: RedisSpend) -> None:
    # Waiting cannot help a run's own budget: nothing else will free it.
    key_id = key_with(engine, KeyBudget(on_budget="wait"))
    ctx = guarded_context(engine, scripted([]), Clock(), spend)
    run_id = insert_run(engine, owner_key_id=key_id)
    with Session(engine) as session:
        run = store.get_run(session, run_id=run_id)
        run.max_cost_usd = 0.001
        session.add(run)
        session.commit()

    outcome = start_run(ctx, run_id)

    assert isinstance(outcome, Nothing)
    assert load(engine, run_id).error.startswith("budget: the run limit of $0.00")


def test_a_budgeted_run_on_a_model_with_no_price_fails_with_why(engine, spend: RedisSpend) -> None:
    key_id = key_with(engine, KeyBudget(max_usd=5.0))
    ctx = guarded_context(engine, scripted([]), Clock(), spend, prices={})
    run_id = insert_run(engine, owner_key_id=key_id)

    start_run(ctx, run_id)

    error = load(engine, run_id).error
    assert error.startswith("budget: model 'gpt-test' has no price in RUNQ_MODEL_PRICES")


def test_an_unbudgeted_run_on_an_unpriced_model_is_not_counted(engine, spend: RedisSpend) -> None:
    done = ProviderState(S.COMPLETED, "resp_1", output_text="Hi.", usage=Usage(10, 5))
    ctx = guarded_context(engine, scripted([done]), Clock(), spend, prices={})
    run_id = insert_run(engine)

    start_run(ctx, run_id)

    assert load(engine, run_id).status == "completed"
    assert spend.read("") == []


def test_every_turn_of_a_tool_run_is_held_and_settled_and_nothing_stays_held(
    engine, spend: RedisSpend
) -> None:
    # Given a run that calls a tool, then answers: two model turns
    key_id = key_with(engine, KeyBudget(max_usd=1.0))
    weather = ToolCallRequest("call_a", "get_weather", '{"location": "Paris"}')
    provider = scripted(
        [
            ProviderState(S.QUEUED, "resp_1"),
            ProviderState(S.REQUIRES_TOOLS, "resp_1", tool_calls=(weather,), usage=Usage(200, 20)),
            ProviderState(S.QUEUED, "resp_2"),
            ProviderState(S.COMPLETED, "resp_2", output_text="Sunny.", usage=Usage(400, 30, 200)),
        ]
    )
    ctx = guarded_context(engine, provider, Clock(), spend)
    run_id = insert_run(engine, owner_key_id=key_id)

    # When it runs to the end
    start_run(ctx, run_id)
    fan_out = poll_run(ctx, run_id, 1)
    assert isinstance(fan_out, FanOut)
    for call_id in fan_out.call_ids:
        execute_tool_call(ctx, run_id, call_id)
    submitted = submit_outputs(ctx, run_id, 1)
    assert isinstance(submitted, Later)
    # the second turn holds the context it inherits (the first turn's 220 tokens) as well
    assert spent(spend, f"run:{run_id}")[1] >= 220 * 10
    assert poll_run(ctx, run_id, submitted.args[1]) == Nothing("completed")

    # Then both turns were charged what they cost and no hold is left behind
    first = 200 * 10 + 20 * 30
    second = 200 * 10 + 200 * 10 + 30 * 30  # no cached price: cached input at the input rate
    assert spent(spend, f"key:{key_id}") == (first + second, 0)
    assert load(engine, run_id).cost_usd * 1_000_000 <= first + second
