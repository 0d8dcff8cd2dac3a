"""runq's side of the benchmark workload: the `peer` agent and its 0.2 s tool.

Loaded into runq's workers with RUNQ_AGENT_MODULES='["bench.peer_tools"]'.
"""

from __future__ import annotations

import time
from typing import Annotated

from bench.workload import INSTRUCTIONS, MODEL, TOOL_NAME, TOOL_S, record_call
from workers.agents import Agent, register_agent
from workers.tools.registry import tool


@tool(name=TOOL_NAME, timeout_s=5.0)
def bench_weather(location: Annotated[str, "City name"]) -> str:
    """Get the current weather for a city (takes 0.2 s, like a slow internal API)."""
    time.sleep(TOOL_S)
    return record_call(location)


register_agent(Agent(name="peer", model=MODEL, instructions=INSTRUCTIONS, tools=(TOOL_NAME,)))
register_agent(
    Agent(
        name="peer-sync",
        model=MODEL,
        instructions=INSTRUCTIONS,
        tools=(TOOL_NAME,),
        sync_turns=True,
    )
)
