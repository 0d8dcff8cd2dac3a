"""The pure money math of dollar budgets: holds, charges, limits and the scopes a turn uses."""

from datetime import UTC, datetime

import pytest

from workers.limits.spend import (
    BudgetLimits,
    charge_micros,
    check_budget_usd,
    hold_id,
    hold_micros,
    refusal_reason,
    scopes_for,
    usd_to_micros,
)
from workers.providers.interface import Usage
from workers.runs.usage import Price, cost_usd

PRICE = Price(input_per_mtok=2.5, output_per_mtok=10.0, cached_input_per_mtok=1.25)


@pytest.mark.parametrize(
    ("prompt", "max_output", "price", "micros"),
    [
        (1000, 1024, PRICE, 2500 + 10240),
        (0, 0, PRICE, 0),
        (1, 0, Price(0.15, 0.6), 1),  # 0.15 micro-dollars rounds up, never down to free
        (3, 1, Price(0.1, 0.1), 1),
    ],
)
def test_a_hold_is_the_prompt_and_the_whole_output_cap_rounded_up(
    prompt: int, max_output: int, price: Price, micros: int
) -> None:
    assert hold_micros(prompt, max_output, price) == micros


@pytest.mark.parametrize(
    "usage",
    [Usage(1000, 200), Usage(1000, 200, 600), Usage(7, 3, 0), Usage(0, 0, 0)],
)
def test_a_charge_is_never_below_the_recorded_cost(usage: Usage) -> None:
    # The runs' own cost (float dollars) never exceeds what the budget counter was charged.
    charged = charge_micros(usage, PRICE)
    assert charged >= cost_usd(usage, PRICE) * 1_000_000 - 1e-6
    assert charged - cost_usd(usage, PRICE) * 1_000_000 < 1


def test_a_finished_turn_costs_no_more_than_its_hold() -> None:
    usage = Usage(input_tokens=900, output_tokens=1024)
    assert charge_micros(usage, PRICE) <= hold_micros(900, 1024, PRICE)


@pytest.mark.parametrize("value", [0, -1, -0.01, float("inf"), float("nan"), 1e7])
def test_negative_zero_or_absurd_budgets_are_refused_by_name(value: float) -> None:
    with pytest.raises(ValueError, match="max_usd_day must be"):
        check_budget_usd(value, "max_usd_day")


@pytest.mark.parametrize("value", [None, 0.01, 1.0, 1_000_000.0])
def test_sane_budgets_pass(value: float | None) -> None:
    assert check_budget_usd(value, "max_usd") == value


def test_a_keyed_run_counts_on_run_agent_key_day_and_month_with_their_limits() -> None:
    now = datetime(2026, 12, 6, 23, 59, tzinfo=UTC)
    limits = BudgetLimits(run_usd=0.5, key_usd=10, key_day_usd=1, agent_day_usd=3)
    scopes = scopes_for(run_id="run_1", key_id="key_1", agent="a", now=now, limits=limits)
    assert [(s.name, s.limit_micros) for s in scopes] == [
        ("run:run_1", 500_000),
        ("agent:a:day:2026-12-06", 3_000_000),
        ("key:key_1", 10_000_000),
        ("key:key_1:day:2026-12-06", 1_000_000),
        ("key:key_1:month:2026-12", 0),
    ]
    assert scopes[2].ttl_s == 0  # a key's lifetime total never expires


def test_a_run_without_a_key_counts_on_its_run_and_agent_only() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    scopes = scopes_for(run_id="r", key_id="", agent="a", now=now, limits=BudgetLimits())
    assert [s.name for s in scopes] == ["run:r", "agent:a:day:2026-12-06"]
    assert not BudgetLimits().is_limited and BudgetLimits(key_month_usd=1).is_limited


def test_holds_are_named_by_turn_and_correction() -> None:
    assert len({hold_id("run_1", 2, 0), hold_id("run_1", 2, 1), hold_id("run_1", 3, 1)}) == 3


def test_a_refusal_starts_with_budget_and_names_the_limit() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    limits = BudgetLimits(key_day_usd=1)
    scope = scopes_for(run_id="r", key_id="k", agent="a", now=now, limits=limits)[3]
    reason = refusal_reason(scope, usd_to_micros(0.99), 5_000, 20_000)
    assert reason.startswith("budget: the key/day limit of $1.00 would be exceeded")
    assert "spent $0.9900" in reason and "needs up to $0.0200" in reason
