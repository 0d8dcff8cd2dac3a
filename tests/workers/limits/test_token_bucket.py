"""Pure tables for the token-bucket reference model (no Redis, no fixtures)."""

from __future__ import annotations

import pytest

from workers.limits.token_bucket import (
    UNITS_PER_TOKEN,
    BucketPair,
    Limits,
    TakeResult,
    correct_from_headers,
    full_buckets,
    parse_reset_duration_ms,
    pause,
    reconcile,
    refill,
    take,
)

U = UNITS_PER_TOKEN
RPM60_TPM600 = Limits(requests_per_min=60, tokens_per_min=600)  # 1 request/s, 10 tokens/s


def bp(requests: int, tokens: int, updated_ms: int = 0, paused_until_ms: int = 0) -> BucketPair:
    """A state given in whole requests and tokens."""
    return BucketPair(requests * U, tokens * U, updated_ms, paused_until_ms)


def test_full_buckets_start_at_capacity() -> None:
    state = full_buckets(RPM60_TPM600, now_ms=5)
    assert state == bp(60, 600, updated_ms=5)
    assert (state.requests_available, state.tokens_available) == (60.0, 600.0)


def test_limits_reject_negative() -> None:
    with pytest.raises(ValueError):
        Limits(requests_per_min=-1, tokens_per_min=0)


@pytest.mark.parametrize(
    ("state", "limits", "now_ms", "expected"),
    [
        pytest.param(bp(0, 0), RPM60_TPM600, 500, BucketPair(500 * 60, 500 * 600, 500, 0),
                     id="half-second-refills-half-a-request"),
        pytest.param(bp(0, 0), RPM60_TPM600, 1000, bp(1, 10, 1000), id="one-second"),
        pytest.param(bp(59, 595), RPM60_TPM600, 5000, bp(60, 600, 5000), id="capped-at-capacity"),
        pytest.param(bp(0, 0, 10_000), RPM60_TPM600, 9000, bp(0, 0, 10_000),
                     id="older-clock-refills-nothing-and-keeps-updated"),
        pytest.param(bp(0, -600), RPM60_TPM600, 119_999, BucketPair(60 * U, 600 * U - 600, 119_999),
                     id="debt-floor-needs-two-minutes"),
        pytest.param(bp(0, -600), RPM60_TPM600, 10**13, bp(60, 600, 10**13),
                     id="long-idle-is-full-without-overflow"),
        pytest.param(bp(60, 600), Limits(30, 100), 0, bp(30, 100), id="lowered-limits-clamp"),
        pytest.param(bp(0, 0), Limits(0, 0), 1000, bp(0, 0, 1000), id="unlimited-stays-zero"),
    ],
)  # fmt: skip
def test_refill(state: BucketPair, limits: Limits, now_ms: int, expected: BucketPair) -> None:
    assert refill(state, limits, now_ms) == expected


@pytest.mark.parametrize(
    ("state", "limits", "tokens", "now_ms", "wait_ms", "expected"),
    [
        pytest.param(bp(60, 600), RPM60_TPM600, 100, 0, 0, bp(59, 500), id="full-charges-both"),
        pytest.param(bp(0, 600), RPM60_TPM600, 100, 0, 1000, bp(0, 600),
                     id="no-request-left-waits-and-charges-no-tokens"),
        pytest.param(bp(60, 50), RPM60_TPM600, 100, 0, 5000, bp(60, 50),
                     id="too-few-tokens-waits-and-charges-no-request"),
        pytest.param(bp(0, 50), RPM60_TPM600, 100, 0, 5000, bp(0, 50),
                     id="both-short-waits-for-the-slower"),
        pytest.param(bp(0, 0), RPM60_TPM600, 10, 1000, 0, bp(0, 0, 1000),
                     id="refill-then-charge"),
        pytest.param(BucketPair(0, 600 * U, 0), Limits(7, 600), 1, 0, 8572,
                     BucketPair(0, 600 * U, 0), id="wait-rounds-up"),
        pytest.param(bp(60, 600, 0, 3000), RPM60_TPM600, 1, 1000, 2000, bp(60, 600, 1000, 3000),
                     id="paused"),
        pytest.param(bp(0, 600, 0, 1500), RPM60_TPM600, 1, 0, 1500, bp(0, 600, 0, 1500),
                     id="pause-longer-than-refill"),
        pytest.param(bp(0, 600, 0, 500), RPM60_TPM600, 1, 0, 1000, bp(0, 600, 0, 500),
                     id="refill-longer-than-pause"),
        pytest.param(bp(60, 600, 0, 1000), RPM60_TPM600, 1, 1000, 0, bp(59, 599, 1000, 1000),
                     id="pause-over"),
        pytest.param(bp(60, 500), RPM60_TPM600, 1000, 0, 10_000, bp(60, 500),
                     id="oversize-waits-for-a-full-bucket"),
        pytest.param(bp(60, 600), RPM60_TPM600, 1000, 0, 0, bp(59, -400),
                     id="oversize-charged-in-full-when-full"),
        pytest.param(bp(60, 600), RPM60_TPM600, 5000, 0, 0, bp(59, -600),
                     id="oversize-debt-floored-at-minus-capacity"),
        pytest.param(bp(60, -10), RPM60_TPM600, 0, 0, 1000, bp(60, -10),
                     id="debt-blocks-even-zero-token-requests"),
        pytest.param(bp(60, 0), Limits(60, 0), 10**9, 0, 0, bp(59, 0), id="unlimited-tokens"),
        pytest.param(bp(0, 600), Limits(0, 600), 100, 0, 0, bp(0, 500), id="unlimited-requests"),
        pytest.param(bp(0, 0), Limits(0, 0), 100, 0, 0, bp(0, 0), id="unlimited-both"),
    ],
)  # fmt: skip
def test_take(
    state: BucketPair,
    limits: Limits,
    tokens: int,
    now_ms: int,
    wait_ms: int,
    expected: BucketPair,
) -> None:
    left = expected.requests_units // UNITS_PER_TOKEN  # what the bucket holds afterwards
    assert take(state, limits, tokens, now_ms) == (TakeResult(wait_ms, left), expected)


def test_take_after_the_wait_succeeds() -> None:
    # Given a bucket short of tokens
    result, state = take(bp(60, 50), RPM60_TPM600, 100, now_ms=0)
    # When we come back exactly when told
    result, state = take(state, RPM60_TPM600, 100, now_ms=result.wait_ms)
    # Then both buckets are charged at once
    assert result.wait_ms == 0
    assert state == bp(59, 0, updated_ms=5000)


def test_take_rejects_negative_tokens() -> None:
    with pytest.raises(ValueError):
        take(bp(60, 600), RPM60_TPM600, -1, now_ms=0)


@pytest.mark.parametrize(
    ("state", "estimated", "actual", "expected"),
    [
        pytest.param(bp(59, 500), 100, 300, bp(59, 300), id="used-more-charges-the-difference"),
        pytest.param(bp(59, 500), 300, 100, bp(59, 600), id="used-less-gives-back"),
        pytest.param(bp(59, 550), 300, 100, bp(59, 600), id="give-back-capped-at-capacity"),
        pytest.param(bp(59, 100), 100, 500, bp(59, -300), id="debt"),
        pytest.param(bp(59, 100), 100, 10_000, bp(59, -600), id="debt-floored-at-minus-capacity"),
        pytest.param(bp(59, 100), 100, 100, bp(59, 100), id="exact-estimate"),
    ],
)  # fmt: skip
def test_reconcile(state: BucketPair, estimated: int, actual: int, expected: BucketPair) -> None:
    assert reconcile(state, RPM60_TPM600, estimated, actual, now_ms=0) == expected


def test_reconcile_ignores_unlimited_tokens() -> None:
    assert reconcile(bp(59, 0), Limits(60, 0), 100, 900, now_ms=0) == bp(59, 0)


def test_reconcile_refills_first() -> None:
    assert reconcile(bp(0, 0), RPM60_TPM600, 0, 5, now_ms=1000) == bp(1, 5, 1000)


@pytest.mark.parametrize(
    ("state", "limits", "remaining_requests", "remaining_tokens", "expected"),
    [
        pytest.param(bp(60, 600), RPM60_TPM600, 10, 200, bp(10, 200), id="lowers-both"),
        pytest.param(bp(5, 100), RPM60_TPM600, 10, 200, bp(5, 100), id="never-raises"),
        pytest.param(bp(60, 600), RPM60_TPM600, None, 200, bp(60, 200), id="requests-absent"),
        pytest.param(bp(60, 600), RPM60_TPM600, 10, None, bp(10, 600), id="tokens-absent"),
        pytest.param(bp(60, -50), RPM60_TPM600, 10, 0, bp(10, -50), id="debt-is-kept"),
        pytest.param(bp(60, 0), Limits(60, 0), 10, 5, bp(10, 0), id="unlimited-tokens-ignored"),
    ],
)  # fmt: skip
def test_correct_from_headers(
    state: BucketPair,
    limits: Limits,
    remaining_requests: int | None,
    remaining_tokens: int | None,
    expected: BucketPair,
) -> None:
    corrected = correct_from_headers(state, limits, remaining_requests, remaining_tokens, 0)
    assert corrected == expected


def test_correct_from_headers_refills_before_comparing() -> None:
    # Given an empty bucket one second ago, the provider's 59 is above our refilled 1
    corrected = correct_from_headers(bp(0, 0), RPM60_TPM600, 59, 590, now_ms=1000)
    assert corrected == bp(1, 10, 1000)


@pytest.mark.parametrize(
    ("paused_until_ms", "until_ms", "expected_ms"),
    [(0, 5000, 5000), (9000, 5000, 9000), (5000, 9000, 9000)],
)
def test_pause_only_extends(paused_until_ms: int, until_ms: int, expected_ms: int) -> None:
    state = pause(bp(60, 600, 0, paused_until_ms), until_ms)
    assert state == bp(60, 600, 0, expected_ms)


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("20ms", 20),
        ("1s", 1000),
        ("0s", 0),
        ("6m0s", 360_000),
        ("4m12.172s", 252_172),
        ("23h18m29.144s", 83_909_144),
        ("1h", 3_600_000),
        ("1.5ms", 2),
        ("0.0001s", 1),
        ("2m", 120_000),
        (" 1s ", 1000),
    ],
)
def test_parse_reset_duration_ms(text: str, expected_ms: int) -> None:
    assert parse_reset_duration_ms(text) == expected_ms


@pytest.mark.parametrize("text", ["", "5", "1x", "1s junk", "-1s", "s", "1.s"])
def test_parse_reset_duration_ms_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_reset_duration_ms(text)
