"""A circuit breaker for one tool: stop calling a tool that keeps failing, then probe it.

This is the reference model of `breaker.lua`, which is the only code that changes breaker
state in Redis. One table of cases runs against this module, fakeredis and a real Redis.

State is two integers. The phase is derived from them, the policy and `now_ms`:

    CLOSED     consecutive_failures < failure_threshold          calls go ahead
    OPEN       now_ms < open_until_ms                            calls are refused
    HALF-OPEN  failures >= threshold and now_ms >= open_until_ms one trial call may go

                    success, in any phase: count reset, breaker closed
      +-------------------------------------------------------------------+
      v                                                                   |
  +--------+  threshold-th failure in a row  +------+  cool-down over  +-----------+
  | CLOSED | ------------------------------> | OPEN | ---------------> | HALF-OPEN |
  +--------+  open until now + cooldown      +------+                  +-----------+
    |    ^                                    | ^  ^                         |
    +----+ failure below the                  +-+  |   trial admitted: open  |
           threshold: counted     failure: counted,|   for one more cool-down |
                                  not extended     |   (the lease); or any    |
                                                   |   failure: open until    |
                                                   |   now + cooldown         |
                                                   +--------------------------+

The trial is a lease, not a flag: admitting it re-opens the breaker for one cool-down. If the
trial succeeds the breaker closes; if it fails (a failure while open) the lease stands, which
is "another cool-down" counted from the trial's start; if its worker dies and never reports,
the lease runs out and the next caller becomes the new trial. So the fleet sends exactly one
call at a recovering tool per cool-down, and no lost report can wedge the breaker.

A success closes the breaker even while it is open (a call admitted before it opened may
finish late): one working call is better evidence than a count of old failures.

Pure: no clock, no I/O. `now_ms` is always a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens (`failure_threshold` failures in a row) and for how long."""

    failure_threshold: int = 5
    """Consecutive failures that open the breaker; 1 opens it on the first failure."""
    cooldown_ms: int = 30_000
    """How long an open breaker refuses calls before it admits one trial."""

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {self.failure_threshold}")
        if self.cooldown_ms < 1:
            raise ValueError(f"cooldown_ms must be >= 1, got {self.cooldown_ms}")


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One tool's breaker: failures in a row, and the end of the current open period.

    `open_until_ms` is 0 for a breaker that has never opened since its last success.
    """

    consecutive_failures: int = 0
    open_until_ms: int = 0


CLOSED = BreakerState()
"""The state of a tool with no failures: also what a missing Redis hash means."""


def is_open(state: BreakerState, now_ms: int) -> bool:
    """True while calls are refused: an open period (or a trial's lease) has not ended."""
    return now_ms < state.open_until_ms


def is_half_open(state: BreakerState, policy: BreakerPolicy, now_ms: int) -> bool:
    """True when the cool-down is over but no call has proved the tool works yet."""
    return state.consecutive_failures >= policy.failure_threshold and not is_open(state, now_ms)


def allow_call(state: BreakerState, now_ms: int) -> bool:
    """Would a call be admitted at `now_ms`? A question only: see `begin_call` to claim one."""
    return not is_open(state, now_ms)


class Admission(IntEnum):
    """The answer to "may this call go?" (the integers `breaker.lua` returns)."""

    REFUSED = 0
    ADMITTED = 1
    ADMITTED_CLEAN = 2
    """Admitted with nothing on record (CLOSED, no failures): a success would change
    nothing, so the caller need not report one (a round trip saved per healthy call)."""


def begin_call(
    state: BreakerState, policy: BreakerPolicy, now_ms: int
) -> tuple[Admission, BreakerState]:
    """Admit a call or refuse it; returns (admission, state after).

    In HALF-OPEN the admitted call is the trial: the breaker re-opens for one cool-down (the
    lease) so no other caller goes until the trial reports or the lease runs out.
    """
    if not allow_call(state, now_ms):
        return Admission.REFUSED, state
    if is_half_open(state, policy, now_ms):
        lease = BreakerState(state.consecutive_failures, now_ms + policy.cooldown_ms)
        return Admission.ADMITTED, lease
    if state == CLOSED:
        return Admission.ADMITTED_CLEAN, state
    return Admission.ADMITTED, state


def record_success(state: BreakerState) -> BreakerState:
    """A call succeeded: the tool works, so the breaker closes and the count resets."""
    return CLOSED


def record_failure(state: BreakerState, policy: BreakerPolicy, now_ms: int) -> BreakerState:
    """A call failed: count it, and open for a cool-down once the threshold is reached.

    While open, a failure is counted but does not extend the open period: calls admitted
    before it opened report late, and they say nothing about the tool's health now.
    """
    failures = state.consecutive_failures + 1
    if is_open(state, now_ms) or failures < policy.failure_threshold:
        return BreakerState(failures, state.open_until_ms)
    return BreakerState(failures, now_ms + policy.cooldown_ms)
