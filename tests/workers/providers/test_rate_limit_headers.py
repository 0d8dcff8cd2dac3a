import pytest

from workers.providers.rate_limit_headers import (
    parse_poll_after_s,
    parse_retry_after_ms,
    rate_limit_headers_of,
)


@pytest.mark.parametrize(
    ("headers", "expected_ms"),
    [
        ({"retry-after-ms": "250", "retry-after": "2"}, 250),
        ({"retry-after": "2"}, 2000),
        ({"Retry-After": "1.5"}, 1500),
        ({"RETRY-AFTER-MS": "12.5"}, 13),
        ({"retry-after-ms": "bad", "retry-after": "3"}, 3000),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after_ms(headers: dict[str, str], expected_ms: int | None) -> None:
    assert parse_retry_after_ms(headers) == expected_ms


@pytest.mark.parametrize(
    ("headers", "expected_s"),
    [
        ({}, None),
        ({"openai-poll-after-ms": "250"}, 0.25),
        ({"openai-poll-after-ms": "soon"}, None),
        ({"openai-poll-after-ms": "-5"}, None),
        ({"openai-poll-after-ms": "inf"}, None),
    ],
)
def test_parse_poll_after_s(headers: dict[str, str], expected_s: float | None) -> None:
    assert parse_poll_after_s(headers) == expected_s


def test_rate_limit_headers_of_keeps_only_the_limit_headers() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "9",
        "X-RateLimit-Remaining-Tokens": "900",
        "content-type": "application/json",
    }
    assert rate_limit_headers_of(headers) == {
        "x-ratelimit-remaining-requests": "9",
        "X-RateLimit-Remaining-Tokens": "900",
    }
