"""Service tiers and prompt caching in the simulator, through the official SDK."""

from __future__ import annotations

import openai
import pytest

from tests.simulator.sim import Sim

MODEL = "gpt-5.4"
INSTRUCTIONS = "You are a careful assistant. " * 20


def test_the_reply_echoes_the_tier_that_served_it(sim: Sim) -> None:
    assert sim.client.responses.create(model=MODEL, input="Hi").service_tier == "default"
    priority = sim.client.responses.create(model=MODEL, input="Hi", service_tier="priority")
    assert priority.service_tier == "priority"


def test_flex_without_capacity_is_a_429_resource_unavailable(sim: Sim) -> None:
    sim.configure(flex_unavailable_rate=1.0)
    with pytest.raises(openai.RateLimitError) as caught:
        sim.client.responses.create(model=MODEL, input="Hi", service_tier="flex")
    assert caught.value.code == "resource_unavailable"
    assert sim.stats()["flex_unavailable"] == 1
    # The default tier still has room
    assert sim.client.responses.create(model=MODEL, input="Hi").status == "completed"


def test_flex_turns_take_longer_and_priority_turns_less(sim: Sim) -> None:
    times = {}
    for tier in ("default", "flex", "priority"):
        created = sim.client.responses.create(
            model=MODEL, input="Hi", background=True, service_tier=tier
        )
        sim.clock.advance(5.0)
        done = sim.client.responses.retrieve(created.id)
        assert done.completed_at is not None
        times[tier] = done.completed_at - done.created_at
    assert times["priority"] < times["default"] < times["flex"]


def test_an_unknown_tier_is_a_400_naming_the_parameter(sim: Sim) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.responses.create(model=MODEL, input="Hi", service_tier="turbo")  # type: ignore[arg-type]
    assert caught.value.param == "service_tier"


def test_a_keyed_prefix_seen_before_is_served_from_the_prompt_cache(sim: Sim) -> None:
    # Given a first request with a prompt_cache_key (it writes the cache)
    first = sim.client.responses.create(
        model=MODEL, input="One", instructions=INSTRUCTIONS, prompt_cache_key="thr_1"
    )
    assert first.usage is not None and first.usage.input_tokens_details.cached_tokens == 0
    # When the same key sends the same prefix again
    again = sim.client.responses.create(
        model=MODEL, input="Two", instructions=INSTRUCTIONS, prompt_cache_key="thr_1"
    )
    # Then the prefix is cached; without a key it is not
    assert again.usage is not None and again.usage.input_tokens_details.cached_tokens > 0
    unkeyed = sim.client.responses.create(model=MODEL, input="Two", instructions=INSTRUCTIONS)
    assert unkeyed.usage is not None and unkeyed.usage.input_tokens_details.cached_tokens == 0
