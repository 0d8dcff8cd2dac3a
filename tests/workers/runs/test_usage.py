import pytest

from workers.providers.interface import Usage
from workers.runs.usage import (
    Price,
    cost_usd,
    estimate_request_tokens,
    estimate_text_tokens,
    keep_newest_within,
    provider_counted_tokens,
)


@pytest.mark.parametrize(("text", "tokens"), [("", 1), ("abc", 1), ("abcd", 1), ("abcde", 2)])
def test_text_estimate_is_four_characters_a_token(text, tokens):
    assert estimate_text_tokens(text) == tokens


def test_request_estimate_reserves_the_output_cap_and_grows_with_input():
    small = estimate_request_tokens(
        instructions=None, input_payload="hi", tools=[], max_output_tokens=100
    )
    large = estimate_request_tokens(
        instructions="be brief",
        input_payload="hi " * 400,
        tools=[{"name": "t"}],
        max_output_tokens=100,
    )
    assert 100 < small < large


@pytest.mark.parametrize(
    ("usage", "cap", "counted"),
    [
        (Usage(input_tokens=100, output_tokens=20), 256, 356),  # unused cap stays charged
        (Usage(input_tokens=100, output_tokens=300), 256, 400),
        (Usage(input_tokens=500, output_tokens=20, cached_tokens=400), 256, 356),  # chain excluded
    ],
)
def test_provider_counted_tokens(usage, cap, counted):
    assert provider_counted_tokens(usage, cap) == counted


@pytest.mark.parametrize(
    ("usage", "price", "dollars"),
    [
        (Usage(1_000_000, 1_000_000), None, 0.0),
        (Usage(1_000_000, 1_000_000), Price(1.0, 10.0), 11.0),
        (Usage(1_000_000, 0, cached_tokens=500_000), Price(2.0, 8.0, 0.5), 1.25),
        (Usage(1_000_000, 0, cached_tokens=500_000), Price(2.0, 8.0), 2.0),
    ],
)
def test_cost(usage, price, dollars):
    assert cost_usd(usage, price) == pytest.approx(dollars)


def test_keep_newest_within_keeps_whole_groups_newest_first():
    def group(n):
        return [{"role": "user", "content": "x" * (4 * n - 30)}]

    groups = [group(50), group(50), group(50)]
    assert keep_newest_within(groups, 10_000) == groups
    assert keep_newest_within(groups, 120) == groups[1:]
    assert keep_newest_within(groups, 10) == []
