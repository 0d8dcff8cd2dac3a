"""SharedBudget: the run steps' view of the shared limiter (on the in-memory model)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from workers.limits.clearance import LimitTable, NoLimits, SharedBudget
from workers.limits.limiter import InMemoryRateLimiter, LimitKey
from workers.limits.token_bucket import Limits


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_000_000

    def __call__(self) -> int:
        return self.now_ms


def reservations(model: str) -> float:
    value = REGISTRY.get_sample_value("runq_limiter_reservations_total", {"model": model})
    return value or 0.0


class Backlog:
    """Steps waiting on the runs queue, as the test sets them."""

    def __init__(self) -> None:
        self.waiting = 0
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.waiting


def budget(
    limits: Limits, jitter: float = 0.0, backlog: Backlog | None = None
) -> tuple[SharedBudget, InMemoryRateLimiter, Clock]:
    limiter = InMemoryRateLimiter()
    clock = Clock()
    table = LimitTable(default=Limits(0, 0), per_model={"m": limits})
    shared = SharedBudget(limiter, table, clock, lambda: jitter, backlog or Backlog())
    return shared, limiter, clock


def test_go_while_the_budget_lasts_then_wait_about_the_refill():
    # Given 60 requests a minute (one a second), a minute's burst
    shared, _, _ = budget(Limits(requests_per_min=60, tokens_per_min=0))
    assert all(shared.wait_s(model="m", api_key_id="k", tokens=1) == 0 for _ in range(60))
    # Then the 61st call waits about one second (one request refills per second)
    assert 0.9 < shared.wait_s(model="m", api_key_id="k", tokens=1) <= 1.0


def test_waits_are_stretched_by_jitter_never_shortened():
    shared, _, _ = budget(Limits(requests_per_min=60, tokens_per_min=0), jitter=0.5)
    for _ in range(60):
        shared.wait_s(model="m", api_key_id="k", tokens=1)
    assert 1.0 < shared.wait_s(model="m", api_key_id="k", tokens=1) <= 1.05


def test_models_without_limits_always_go():
    shared, limiter, _ = budget(Limits(requests_per_min=1, tokens_per_min=0))
    assert all(shared.wait_s(model="other", api_key_id="k", tokens=10**6) == 0 for _ in range(5))
    assert limiter.read_state(LimitKey("k", "other")) is None


def test_keys_have_separate_budgets():
    shared, _, _ = budget(Limits(requests_per_min=1, tokens_per_min=0))
    assert shared.wait_s(model="m", api_key_id="a", tokens=1) == 0
    assert shared.wait_s(model="m", api_key_id="b", tokens=1) == 0
    assert shared.wait_s(model="m", api_key_id="a", tokens=1) > 0


def test_settle_returns_what_the_provider_did_not_count():
    # Given a reservation of 900 of 1,000 tokens
    shared, _, _ = budget(Limits(requests_per_min=0, tokens_per_min=1_000))
    assert shared.wait_s(model="m", api_key_id="k", tokens=900) == 0
    assert shared.wait_s(model="m", api_key_id="k", tokens=200) > 0
    # When the provider counted only 100
    shared.settle(model="m", api_key_id="k", estimated_tokens=900, counted_tokens=100, headers={})
    # Then the 800 come back
    assert shared.wait_s(model="m", api_key_id="k", tokens=200) == 0


def test_settle_without_a_count_keeps_the_reservation():
    shared, limiter, _ = budget(Limits(requests_per_min=0, tokens_per_min=1_000))
    shared.wait_s(model="m", api_key_id="k", tokens=900)
    before = limiter.read_state(LimitKey("k", "m"))
    shared.settle(model="m", api_key_id="k", estimated_tokens=900, counted_tokens=None, headers={})
    assert limiter.read_state(LimitKey("k", "m")) == before


def test_the_providers_remaining_headers_lower_the_buckets():
    shared, _, _ = budget(Limits(requests_per_min=100, tokens_per_min=0))
    shared.settle(
        model="m",
        api_key_id="k",
        estimated_tokens=0,
        counted_tokens=None,
        headers={"x-ratelimit-remaining-requests": "0"},
    )
    assert shared.wait_s(model="m", api_key_id="k", tokens=1) > 0


def test_a_pause_holds_the_key_for_everyone_until_it_ends():
    shared, _, clock = budget(Limits(requests_per_min=100, tokens_per_min=0))
    shared.pause(model="m", api_key_id="k", delay_s=2.0)
    assert 1.9 < shared.wait_s(model="m", api_key_id="k", tokens=1) <= 2.0
    clock.now_ms += 2_000
    assert shared.wait_s(model="m", api_key_id="k", tokens=1) == 0


def test_no_limits_always_says_go():
    clearance = NoLimits()
    assert clearance.wait_s(model="m", api_key_id="k", tokens=10**9) == 0
    clearance.pause(model="m", api_key_id="k", delay_s=5)
    assert clearance.wait_s(model="m", api_key_id="k", tokens=1) == 0


def test_requests_are_scarce_once_a_take_leaves_the_bucket_below_nine_tenths():
    # Given 20 requests a minute for key k
    shared, _, clock = budget(Limits(requests_per_min=20, tokens_per_min=0))
    # When two requests leave 18 of 20: not scarce yet
    for _ in range(2):
        assert shared.wait_s(model="m", api_key_id="k", tokens=0) == 0
    assert not shared.requests_scarce(model="m", api_key_id="k")
    # Then a third leaves 17 (under 18): the fleet spends faster than the bucket refills
    assert shared.wait_s(model="m", api_key_id="k", tokens=0) == 0
    assert shared.requests_scarce(model="m", api_key_id="k")
    assert not shared.requests_scarce(model="m", api_key_id="other")
    # A take that finds the bucket refilled ends it
    clock.now_ms += 60_000
    assert shared.wait_s(model="m", api_key_id="k", tokens=0) == 0
    assert not shared.requests_scarce(model="m", api_key_id="k")


def test_requests_are_scarce_for_a_minute_after_a_wait_on_them():
    # Given one request a minute for key k, taken (which leaves the bucket empty: scarce)
    shared, _, clock = budget(Limits(requests_per_min=1, tokens_per_min=0))
    assert shared.wait_s(model="m", api_key_id="k", tokens=0) == 0
    assert shared.requests_scarce(model="m", api_key_id="k")
    # When a poll has to wait on the request budget
    assert shared.wait_s(model="m", api_key_id="k", tokens=0) > 0
    # Then requests are scarce for that key and model, for the next minute only
    assert shared.requests_scarce(model="m", api_key_id="k")
    assert not shared.requests_scarce(model="m", api_key_id="other")
    clock.now_ms += 59_000
    assert shared.requests_scarce(model="m", api_key_id="k")
    clock.now_ms += 2_000
    assert not shared.requests_scarce(model="m", api_key_id="k")


def test_a_backlog_that_would_take_the_bucket_low_makes_requests_scarce_before_any_take():
    # Given 300 requests a minute, untouched by this process (the line is at 270)
    backlog = Backlog()
    shared, _, _ = budget(Limits(requests_per_min=300, tokens_per_min=0), backlog=backlog)
    # When 30 steps wait on the runs queue, the bucket would stay at the line: not scarce
    backlog.waiting = 30
    assert not shared.requests_scarce(model="m", api_key_id="k")
    # Then 31 would take it below: the first runs of a burst already turn synchronous
    backlog.waiting = 31
    assert shared.requests_scarce(model="m", api_key_id="k")


def test_the_backlog_counts_from_the_level_this_process_last_saw():
    # Given 300 requests a minute of which this process's takes left 280 (above the line)
    backlog = Backlog()
    shared, _, clock = budget(Limits(requests_per_min=300, tokens_per_min=0), backlog=backlog)
    for _ in range(20):
        shared.wait_s(model="m", api_key_id="k", tokens=0)
    # When 11 steps wait, 280 - 11 is under 270: scarce; 10 are not
    backlog.waiting = 11
    assert shared.requests_scarce(model="m", api_key_id="k")
    backlog.waiting = 10
    assert not shared.requests_scarce(model="m", api_key_id="k")
    # A minute later the bucket has refilled whatever was seen: the backlog counts from full
    clock.now_ms += 60_000
    backlog.waiting = 30
    assert not shared.requests_scarce(model="m", api_key_id="k")


def test_the_backlog_is_not_read_when_the_level_alone_decides():
    # Given a bucket a take found low, and a model with no request limit
    backlog = Backlog()
    shared, _, _ = budget(Limits(requests_per_min=1, tokens_per_min=0), backlog=backlog)
    shared.wait_s(model="m", api_key_id="k", tokens=0)
    assert shared.requests_scarce(model="m", api_key_id="k")
    unlimited, _, _ = budget(Limits(requests_per_min=0, tokens_per_min=100), backlog=backlog)
    backlog.waiting = 1_000
    assert not unlimited.requests_scarce(model="m", api_key_id="k")
    # Then neither asked the broker
    assert backlog.reads == 0


def test_a_wait_on_tokens_alone_does_not_make_requests_scarce():
    shared, _, _ = budget(Limits(requests_per_min=0, tokens_per_min=100))
    assert shared.wait_s(model="m", api_key_id="k", tokens=100) == 0
    assert shared.wait_s(model="m", api_key_id="k", tokens=100) > 0
    assert not shared.requests_scarce(model="m", api_key_id="k")


def test_throttled_runs_reserve_their_turn_and_go_when_it_comes():
    # Given a drained 60 RPM budget (a request refills each second) and jitter that would
    # stretch a plain wait
    shared, _, clock = budget(Limits(requests_per_min=60, tokens_per_min=0), jitter=0.5)
    for _ in range(60):
        shared.wait_s(model="m", api_key_id="k", tokens=1)
    reserved_before = reservations("m")
    # When three runs are refused, each reserves the next request to refill, exactly
    waits = [shared.wait_s(model="m", api_key_id="k", tokens=1, holder=r) for r in "abc"]
    assert waits == [1.0, 2.0, 3.0]
    assert reservations("m") == reserved_before + 3  # what an operator sees on /metrics
    # Then a caller that comes later goes behind them, not before
    assert shared.wait_s(model="m", api_key_id="k", tokens=1) >= 4.0
    # and each run, back when told, goes without asking for its request a second time
    clock.now_ms += 2_000
    assert shared.wait_s(model="m", api_key_id="k", tokens=1, holder="b") == 0
    assert shared.wait_s(model="m", api_key_id="k", tokens=1, holder="a") == 0
    assert shared.wait_s(model="m", api_key_id="k", tokens=1, holder="c") == 1.0
