"""Rate-limit buckets, Go-style durations and seeded faults, with time passed in by hand."""

from __future__ import annotations

import pytest

from simulator.faults import (
    FaultInjector,
    RateLimiter,
    TokenBucket,
    Verdict,
    format_go_duration,
    retry_after_headers,
)

T0 = 1000.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.02, "20ms"),
        (0.0201, "21ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (1.574, "1.574s"),
        (1.5, "1.5s"),
        (60, "1m0s"),
        (360, "6m0s"),
        (252.172, "4m12.172s"),
        (83909.144, "23h18m29.144s"),
        (3600, "1h0m0s"),
    ],
)
def test_format_go_duration(seconds: float, text: str) -> None:
    assert format_go_duration(seconds) == text


def test_bucket_refills_continuously_up_to_the_limit() -> None:
    bucket = TokenBucket(limit_per_min=60, level=0.0, updated_s=T0)
    bucket.refill(T0 + 0.5)
    assert bucket.level == pytest.approx(0.5)
    assert bucket.seconds_until(1) == pytest.approx(0.5)
    bucket.refill(T0 + 600)
    assert bucket.level == 60
    assert bucket.seconds_until_full() == 0


def check(
    limiter: RateLimiter, now_s: float, *, tokens: int = 0, rpm: int = 0, tpm: int = 0
) -> Verdict:
    return limiter.check(api_key="k", model="m", tokens=tokens, rpm=rpm, tpm=tpm, now_s=now_s)


def test_no_limits_means_no_headers_and_no_rejection() -> None:
    verdict = check(RateLimiter(), T0, tokens=10**9)
    assert verdict.headers == {}
    assert verdict.rejection is None


def test_rpm_rejects_the_request_over_the_limit_with_an_exact_wait() -> None:
    # Given a 2 RPM limit (one request every 30 s)
    limiter = RateLimiter()
    # When three requests arrive at once
    first, second, third = (check(limiter, T0, rpm=2) for _ in range(3))
    # Then the third waits 30 s for one request to trickle back
    assert first.rejection is None and second.rejection is None
    assert third.rejection is not None
    assert third.rejection.kind == "requests"
    assert third.rejection.retry_after_s == pytest.approx(30)
    assert "on requests per min (RPM): Limit 2, Used 2, Requested 1." in third.rejection.message
    assert "Please try again in 30s." in third.rejection.message
    assert third.headers == {
        "x-ratelimit-limit-requests": "2",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",
    }
    # And after 30 s one more request fits
    assert check(limiter, T0 + 30, rpm=2).rejection is None


def test_rejected_requests_are_not_charged() -> None:
    limiter = RateLimiter()
    check(limiter, T0, rpm=1)
    for _ in range(5):
        assert check(limiter, T0, rpm=1).rejection is not None
    assert check(limiter, T0 + 60, rpm=1).rejection is None


def test_tpm_rejects_on_tokens_and_reports_the_shortfall() -> None:
    limiter = RateLimiter()
    assert check(limiter, T0, tokens=900, tpm=1000).rejection is None
    verdict = check(limiter, T0, tokens=200, tpm=1000)
    assert verdict.rejection is not None
    assert verdict.rejection.kind == "tokens"
    assert verdict.rejection.retry_after_s == pytest.approx(6)  # 100 tokens at 1000/60 per s
    assert "tokens per min (TPM): Limit 1000, Used 900, Requested 200." in verdict.rejection.message
    assert verdict.headers["x-ratelimit-remaining-tokens"] == "100"
    assert verdict.headers["x-ratelimit-reset-tokens"] == "54s"


def test_request_larger_than_the_tpm_limit_can_never_succeed() -> None:
    verdict = check(RateLimiter(), T0, tokens=5000, tpm=1000)
    assert verdict.rejection is not None
    assert verdict.rejection.retry_after_s is None
    assert verdict.rejection.message.startswith("Request too large for m")


def test_buckets_are_per_key_and_model() -> None:
    limiter = RateLimiter()
    assert limiter.check(api_key="a", model="m", tokens=0, rpm=1, tpm=0, now_s=T0).rejection is None
    assert limiter.check(api_key="b", model="m", tokens=0, rpm=1, tpm=0, now_s=T0).rejection is None
    assert limiter.check(api_key="a", model="n", tokens=0, rpm=1, tpm=0, now_s=T0).rejection is None
    assert limiter.check(api_key="a", model="m", tokens=0, rpm=1, tpm=0, now_s=T0).rejection


def test_a_changed_limit_starts_a_full_bucket() -> None:
    limiter = RateLimiter()
    check(limiter, T0, rpm=1)
    assert check(limiter, T0, rpm=5).rejection is None


@pytest.mark.parametrize(
    ("wait_s", "headers"),
    [
        (1.574, {"retry-after-ms": "1574", "retry-after": "2"}),
        (0.0001, {"retry-after-ms": "1", "retry-after": "1"}),
        (30, {"retry-after-ms": "30000", "retry-after": "30"}),
    ],
)
def test_retry_after_headers(wait_s: float, headers: dict[str, str]) -> None:
    assert retry_after_headers(wait_s) == headers


def test_fault_injection_is_replayable_from_the_seed() -> None:
    first = [FaultInjector(7).should_fail(0.5) for _ in range(1)]
    injector = FaultInjector(7)
    run_a = [injector.should_fail(0.5) for _ in range(50)]
    injector.reseed(7)
    run_b = [injector.should_fail(0.5) for _ in range(50)]
    assert run_a == run_b
    assert first == run_a[:1]
    assert 10 < sum(run_a) < 40


@pytest.mark.parametrize(("rate", "expected"), [(0.0, False), (1.0, True)])
def test_fault_rate_extremes(rate: float, expected: bool) -> None:
    injector = FaultInjector(0)
    assert {injector.should_fail(rate) for _ in range(20)} == {expected}
