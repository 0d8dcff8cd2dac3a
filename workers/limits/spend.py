"""Pure money math for dollar budgets: what a turn may cost at worst, what it did cost,
and which limits a turn must fit under.

Money is counted in integer micro-dollars (1e-6 USD) so Redis and Python add exactly the
same numbers: a price in USD per million tokens is micro-dollars per token. Holds round up
and charges round up, so a budget is never exceeded by rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from workers.providers.interface import Usage

MICROS_PER_USD = 1_000_000
MAX_BUDGET_USD = 1_000_000.0
"""Above this a budget is surely a typo (cents read as dollars, an extra zero or three)."""


class Price(Protocol):
    """A model's price in US dollars per million tokens (`workers.runs.usage.Price` fits)."""

    @property
    def input_per_mtok(self) -> float: ...

    @property
    def output_per_mtok(self) -> float: ...

    @property
    def cached_input_per_mtok(self) -> float | None: ...


def usd_to_micros(usd: float) -> int:
    """Dollars as integer micro-dollars (rounded to the nearest micro-dollar)."""
    return round(usd * MICROS_PER_USD)


def micros_to_usd(micros: int) -> float:
    """Integer micro-dollars as dollars."""
    return micros / MICROS_PER_USD


def check_budget_usd(value: float | None, name: str) -> float | None:
    """`value` if it is a sane budget (None: no budget); else ValueError naming `name`."""
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of US dollars, got {value}")
    if value > MAX_BUDGET_USD:
        raise ValueError(f"{name} must be at most {MAX_BUDGET_USD:,.0f} US dollars, got {value}")
    return value


def hold_micros(prompt_tokens: int, max_output_tokens: int, price: Price) -> int:
    """The worst case of one turn: every prompt token at the input rate (no cache discount)
    plus the whole output cap at the output rate, rounded up."""
    total = prompt_tokens * price.input_per_mtok + max_output_tokens * price.output_per_mtok
    return math.ceil(total)


def usage_micros(usage: Usage, price: Price) -> float:
    """What a finished turn cost in micro-dollars, unrounded: fresh input, cached input (at
    the cached rate if the model has one) and output, each at its rate."""
    cached_rate = (
        price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    )
    fresh_input = max(0, usage.input_tokens - usage.cached_tokens)
    return (
        fresh_input * price.input_per_mtok
        + usage.cached_tokens * cached_rate
        + usage.output_tokens * price.output_per_mtok
    )


def charge_micros(usage: Usage, price: Price) -> int:
    """What a finished turn cost, rounded up to the micro-dollar."""
    return math.ceil(usage_micros(usage, price))


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """The dollar limits that may apply to one run (None: no limit of that kind)."""

    run_usd: float | None = None
    key_usd: float | None = None
    key_day_usd: float | None = None
    key_month_usd: float | None = None
    agent_day_usd: float | None = None

    @property
    def is_limited(self) -> bool:
        """Any limit is set."""
        return any(
            value is not None
            for value in (
                self.run_usd,
                self.key_usd,
                self.key_day_usd,
                self.key_month_usd,
                self.agent_day_usd,
            )
        )


@dataclass(frozen=True, slots=True)
class Scope:
    """One spend counter a turn is charged to, and its limit (0 = count only)."""

    name: str
    """The counter's name under the spend prefix, e.g. `key:key_1:day:2026-12-06`."""
    limit_micros: int
    ttl_s: int
    """How long the counter outlives its last write (0: forever, a key's lifetime total)."""
    label: str
    """How a refusal names it to people: "run", "key", "key per day", ..."""


_DAY_TTL_S = 3 * 86_400
_MONTH_TTL_S = 35 * 86_400
_RUN_TTL_S = 2 * 86_400


def scopes_for(
    *, run_id: str, key_id: str, agent: str, now: datetime, limits: BudgetLimits
) -> tuple[Scope, ...]:
    """Every counter a turn of this run is held against and charged to, with its limit.

    Days and months are UTC calendar periods. A run with no owner key (the operator's CLI)
    is counted on its run and agent only."""
    day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
    scopes = [
        Scope(f"run:{run_id}", _limit(limits.run_usd), _RUN_TTL_S, "run"),
        Scope(f"agent:{agent}:day:{day}", _limit(limits.agent_day_usd), _DAY_TTL_S, "agent/day"),
    ]
    if key_id:
        scopes += [
            Scope(f"key:{key_id}", _limit(limits.key_usd), 0, "key"),
            Scope(f"key:{key_id}:day:{day}", _limit(limits.key_day_usd), _DAY_TTL_S, "key/day"),
            Scope(
                f"key:{key_id}:month:{month}",
                _limit(limits.key_month_usd),
                _MONTH_TTL_S,
                "key/month",
            ),
        ]
    return tuple(scopes)


def _limit(usd: float | None) -> int:
    return 0 if usd is None else usd_to_micros(usd)


def hold_id(run_id: str, turn: int, correction: int) -> str:
    """The name of one model turn's hold: the run, its tool turn, and its schema
    corrections, so a retried or re-sent request of the same turn finds its own hold."""
    return f"{run_id}:{turn}:{correction}"


def refusal_reason(scope: Scope, spent_micros: int, held_micros: int, wanted_micros: int) -> str:
    """The run's error when a turn does not fit: starts with "budget:" so callers can tell."""
    return (
        f"budget: the {scope.label} limit of ${micros_to_usd(scope.limit_micros):.2f} would be "
        f"exceeded (spent ${micros_to_usd(spent_micros):.4f}, held "
        f"${micros_to_usd(held_micros):.4f} for turns in flight, this turn needs up to "
        f"${micros_to_usd(wanted_micros):.4f})"
    )
