"""Agents: what model to run, with which instructions and which tools.

Declare an agent in code with `register_agent(Agent(...))` in a module listed in
`RUNQ_AGENT_MODULES`; its tools are functions decorated with `@tool` in the same modules.
The demo agent `assistant` is declared here so a fresh checkout has something to run.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass

from workers.errors import UnknownAgent


@dataclass(frozen=True, slots=True)
class Agent:
    """One agent definition; the agent may call only the tools it names."""

    name: str
    model: str
    instructions: str | None = None
    tools: tuple[str, ...] = ()
    provider: str = "responses"
    max_output_tokens: int | None = None
    temperature: float | None = None
    cacheable: bool = False
    """Answer repeated identical requests from the response cache (jobs may opt out)."""


_agents: dict[str, Agent] = {}


def register_agent(agent: Agent) -> Agent:
    """Make `agent` known by name; registering a name twice replaces it (latest wins)."""
    _agents[agent.name] = agent
    return agent


def get_agent(name: str) -> Agent:
    """The agent called `name`, or UnknownAgent listing the names that exist."""
    try:
        return _agents[name]
    except KeyError:
        known = ", ".join(sorted(_agents)) or "none"
        raise UnknownAgent(
            f"unknown agent {name!r} (known agents: {known}); declare it with register_agent() "
            "in a module listed in RUNQ_AGENT_MODULES"
        ) from None


def agent_names() -> list[str]:
    """Names of every declared agent."""
    return sorted(_agents)


def load_agent_modules(modules: Iterable[str]) -> None:
    """Import the modules that declare the built-in and the user's agents and tools."""
    for module in ("workers.tools.builtin", *modules):
        importlib.import_module(module)


register_agent(
    Agent(
        name="assistant",
        model="gpt-5.4-mini",
        instructions=(
            "You are a helpful assistant. Use get_weather for weather questions and "
            "search_documents to look things up; answer briefly."
        ),
        tools=("get_weather", "search_documents"),
        max_output_tokens=512,
    )
)
