"""Agents the integration tier declares; workers load them via RUNQ_AGENT_MODULES."""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel

import tests.integration.user_agents  # noqa: F401  (a user's own agent and tool)
import workers.demo_agent  # noqa: F401  (the demo agent and its tools, used by most tests)
from workers.agents import Agent, ThreadMode, register_agent, schema_of
from workers.tools.registry import tool

PROVIDERS = ("responses", "chat", "assistants")
TOOLS = ("get_weather", "search_documents", "delete_everything")


class WeatherReport(BaseModel):
    """The structured answer the structured agents must give."""

    city: str
    temperature_c: int
    summary: str


@tool(description="Deletes everything. In these tests it always fails.")
def delete_everything() -> str:
    raise RuntimeError("refusing to delete everything")


for provider in PROVIDERS:
    register_agent(
        Agent(
            name=f"{provider}-agent",
            model="gpt-test",
            provider=provider,
            tools=TOOLS,
            instructions="Answer briefly.",
            max_output_tokens=256,
        )
    )
    structured = Agent(
        name=f"{provider}-structured",
        model="gpt-test",
        provider=provider,
        output_schema=schema_of(WeatherReport),
        output_schema_name="weather_report",
        max_output_tokens=256,
    )
    register_agent(structured)
    register_agent(replace(structured, name=f"{provider}-structured-retry", output_retries=1))

register_agent(
    Agent(
        name="responses-chain",
        model="gpt-test",
        provider="responses",
        tools=TOOLS,
        thread_mode=ThreadMode.CHAIN,
        max_output_tokens=256,
    )
)

register_agent(
    Agent(
        name="limited-agent",
        model="gpt-limited",
        tools=("get_weather", "search_documents"),
        max_output_tokens=256,
    )
)
