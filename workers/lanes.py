"""Lanes: how much slack a run has, and so which (cheaper or faster) service it is sent on.

Pure: no I/O. A run's lane is its own (`RunCreate.lane`), else its agent's (`Agent.lane`),
else `standard`.

| lane | Responses request | price | when |
|---|---|---|---|
| interactive | `service_tier="priority"` | x2 | a person waits |
| standard | no tier (the project default) | x1 | |
| flex | `service_tier="flex"`, standard on a capacity error | x0.5 | minutes of slack |
| batch | a line of a Batch API file, finished when the batch is | x0.5 | hours of slack |
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from workers.errors import LaneRefused


class Lane(StrEnum):
    """A run's declared slack."""

    INTERACTIVE = "interactive"
    STANDARD = "standard"
    FLEX = "flex"
    BATCH = "batch"


LANE_NAMES = ", ".join(lane.value for lane in Lane)

# OpenAI's list prices relative to standard: priority costs about twice as much, flex and
# the Batch API half. RUNQ_LANE_PRICE_MULTIPLIERS overrides any of them.
DEFAULT_PRICE_MULTIPLIERS: Mapping[Lane, float] = {
    Lane.INTERACTIVE: 2.0,
    Lane.STANDARD: 1.0,
    Lane.FLEX: 0.5,
    Lane.BATCH: 0.5,
}

_SERVICE_TIER: Mapping[Lane, str | None] = {
    Lane.INTERACTIVE: "priority",
    Lane.STANDARD: None,
    Lane.FLEX: "flex",
    # A batch line is a standard request: the Batch API itself is what is cheaper.
    Lane.BATCH: None,
}


def parse_lane(value: str) -> Lane:
    """The lane named `value`, or LaneRefused naming the ones there are."""
    try:
        return Lane(value)
    except ValueError:
        raise LaneRefused(f"unknown lane {value!r}; lanes are: {LANE_NAMES}") from None


def lane_of(run_lane: str | None, agent_lane: Lane) -> Lane:
    """The lane a run declared, else its agent's."""
    return agent_lane if run_lane is None else parse_lane(run_lane)


def check_lane_provider(lane: Lane, provider: str) -> Lane:
    """`lane`, if the agent's provider has it: tiers and batches are Responses API features
    (a Chat or Assistants server would run the turn at standard and bill it so)."""
    if lane is not Lane.STANDARD and provider != "responses":
        raise LaneRefused(
            f"lane {lane.value!r} needs an agent on the responses provider (this one uses "
            f"{provider!r}); use lane 'standard'"
        )
    return lane


def served_lane(declared: str, fallback: str | None) -> Lane:
    """The lane the run's turns are sent on now (from its stored `lane` and `lane_fallback`):
    a flex run that met a capacity error goes on in its fallback lane for the rest of the run."""
    return parse_lane(fallback or declared)


def service_tier_of(lane: Lane) -> str | None:
    """The Responses `service_tier` for `lane`; None sends none (the project default)."""
    return _SERVICE_TIER[lane]


def fallback_of(lane: Lane) -> Lane | None:
    """Where a turn goes when its lane has no capacity now: flex falls back to standard;
    the others have no cheaper-to-faster step (their capacity errors are ordinary 429s)."""
    return Lane.STANDARD if lane is Lane.FLEX else None


def price_multiplier(lane: Lane, overrides: Mapping[str, float]) -> float:
    """What `lane` costs relative to standard list prices."""
    return float(overrides.get(lane.value, DEFAULT_PRICE_MULTIPLIERS[lane]))
