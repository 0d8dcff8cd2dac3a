"""Guardrails and handoff naming: pure rules, no servers."""

from __future__ import annotations

import json

import pytest

from workers.agents import Agent, check_handoffs, register_agent
from workers.errors import ConfigError
from workers.guardrails import Guardrail, Tripped, first_tripped
from workers.providers.interface import ToolCallRequest
from workers.runs import handoffs


def test_the_first_guardrail_that_trips_names_itself_and_what_it_said():
    passes = Guardrail("passes", lambda text: None)
    trips = Guardrail("short", lambda text: Tripped({"length": len(text)}))
    never = Guardrail("never_reached", lambda text: Tripped("unreachable"))

    assert first_tripped([passes], "hi") is None
    assert (
        first_tripped([passes, trips, never], "hi") == "guardrail 'short' tripped: {\"length\": 2}"
    )


def test_a_guardrail_that_raises_trips_rather_than_letting_the_text_through():
    def broken(text: str) -> Tripped | None:
        raise RuntimeError("model unavailable")

    assert first_tripped([Guardrail("broken", broken)], "x") == (
        "guardrail 'broken' raised RuntimeError: model unavailable"
    )


def test_handoff_tools_take_the_agents_sdk_names_and_outputs():
    agents = pytest.importorskip("agents", reason="the openai-agents extra is not installed")
    for name in ("Billing agent", "t20-billing", "Ünïcode/agent"):
        sdk_agent = agents.Agent(name=name)
        assert handoffs.tool_name(name) == agents.Handoff.default_tool_name(sdk_agent)
        assert handoffs.tool_schema(name, "x")["description"] == (
            agents.Handoff.default_tool_description(
                agents.Agent(name=name, handoff_description="x")
            )
        )
    assert json.loads(handoffs.transfer_output("Billing agent")) == {"assistant": "Billing agent"}


def test_the_first_handoff_of_a_turn_wins_and_later_ones_are_answered_as_ignored():
    calls = [
        ToolCallRequest("c1", "get_weather", "{}"),
        ToolCallRequest("c2", "transfer_to_refunds", "{}"),
        ToolCallRequest("c3", "transfer_to_billing", "{}"),
    ]

    chosen, outputs = handoffs.answers(calls, ["billing", "refunds"])

    assert chosen == handoffs.Handoff("refunds", "c2")
    assert outputs == {"c2": '{"assistant": "refunds"}', "c3": handoffs.IGNORED_OUTPUT}
    names = {c.call_id: c.name for c in calls}
    assert (
        handoffs.handoff_of(names, {**outputs, "c1": "sunny"}, ["billing", "refunds"]) == "refunds"
    )
    assert handoffs.handoff_of(names, {"c1": "sunny"}, ["billing"]) is None


def test_a_handoff_to_an_unknown_agent_or_another_provider_is_refused_at_load():
    register_agent(Agent(name="t20-lost", model="m", handoffs=("t20-nowhere",)))
    with pytest.raises(ConfigError, match="'t20-lost' hands off to unknown agent 't20-nowhere'"):
        check_handoffs()
    register_agent(Agent(name="t20-chat", model="m", provider="chat"))
    register_agent(Agent(name="t20-lost", model="m", handoffs=("t20-chat",)))
    with pytest.raises(ConfigError, match="uses the chat provider, not responses"):
        check_handoffs()
    register_agent(Agent(name="t20-lost", model="m"))  # leave the registry loadable
    check_handoffs()
