"""Agents: what model to run, with which instructions, tools and output shape.

Declare an agent in code with `register_agent(Agent(...))` in a module listed in
`RUNQ_AGENT_MODULES`; its tools are functions decorated with `@tool` in the same modules.
The demo agent `assistant` and its tools live in `workers.demo_agent`, loaded only when no
agent modules are configured (a fresh checkout) or by `runq demo`, so the user's own tools may
take the demo tools' names.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from workers.errors import ConfigError, LaneRefused, UnknownAgent
from workers.guardrails import Guardrail
from workers.lanes import Lane, parse_lane
from workers.limits.spend import check_budget_usd
from workers.model_routing import ModelRouting
from workers.tools.mcp_servers import McpServer


class ThreadMode(StrEnum):
    """How a thread is kept on the Responses provider."""

    CONVERSATION = "conversation"  # an OpenAI Conversation holds the history
    CHAIN = "chain"  # each run chains onto the thread's last response id


class ActionTimeout(StrEnum):
    """What a run does when its tool calls waited for a person or the caller too long."""

    REJECT = "reject"  # the model gets an error output for each call not decided in time
    FAIL = "fail"  # the run ends failed


class BusyThreadPolicy(StrEnum):
    """What a new run on a thread does while another run of that thread is active."""

    ENQUEUE = "enqueue"  # wait for the current run to end, then start
    REJECT = "reject"  # refuse the new run
    CANCEL = "cancel"  # cancel the current run, start the new one


@dataclass(frozen=True)
class Agent:
    """One agent definition; the agent may call only the tools it names."""

    name: str
    model: str
    instructions: str | None = None
    tools: tuple[str, ...] = ()
    provider: str = "responses"
    """responses | chat | assistants."""
    base_url: str | None = None
    """The provider's base URL; None uses OPENAI_BASE_URL."""
    api_key_name: str | None = None
    """A key in RUNQ_PROVIDER_KEYS; None uses OPENAI_API_KEY."""
    max_output_tokens: int | None = None
    temperature: float | None = None
    cacheable: bool = False
    """Answer repeated identical requests from the response cache (jobs may opt out)."""
    output_schema: Mapping[str, Any] | None = None
    """A JSON schema the answer must satisfy (sent as strict json_schema); see `schema_of`."""
    output_schema_name: str = "answer"
    provider_webhooks: bool = False
    """The provider project of this agent sends response.* webhooks to runq
    (`POST /v1/webhooks/openai`): each turn's first poll waits RUNQ_WEBHOOK_POLL_FIRST_S, as
    a fallback, and the webhook wakes it at once."""
    output_retries: int = 0
    """Times an answer that fails the schema is sent back to the model to correct (then the
    run fails with the validation error)."""
    json_mode: bool = False
    """Ask for any valid JSON object (no schema)."""
    hosted_tools: tuple[Mapping[str, Any], ...] = ()
    """Provider-run tools passed through as is, e.g. {"type": "web_search"} (Responses)."""
    routing: ModelRouting | None = None
    thread_mode: ThreadMode = ThreadMode.CONVERSATION
    busy_thread_policy: BusyThreadPolicy = BusyThreadPolicy.ENQUEUE
    thread_token_budget: int = 8000
    """Chat provider: the oldest whole runs of a thread are dropped beyond this many tokens."""
    sync_turns: bool = False
    """Responses provider, short turns only: each turn is one synchronous request on a worker
    thread (half the requests, no polls) instead of background + poll. The thread is held for
    the turn, so keep turns well under RUNQ_PROVIDER_TIMEOUT_S; background stays the default."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    approve_tools: tuple[str, ...] = ()
    """Tools whose every call a person approves first, for this agent (a tool may also ask
    for approval itself: `@tool(needs_approval=...)`)."""
    action_timeout_s: float | None = None
    """How long a turn may wait for approvals or caller outputs; None: until the run's
    deadline. Then `on_action_timeout` applies."""
    on_action_timeout: ActionTimeout = ActionTimeout.REJECT
    mcp_servers: tuple[McpServer, ...] = ()
    """MCP servers whose tools the agent may also call, named `<server>__<tool>` (see
    `workers.tools.mcp_tools`); needs the `mcp` extra."""
    instructions_from: Callable[[Mapping[str, str]], str] | None = None
    """Instructions made for each turn from the run's metadata, on the worker (in place of
    `instructions`): for what depends on who the run is for."""
    handoffs: tuple[str, ...] = ()
    """Agents this one may hand the run to: the model sees a `transfer_to_<name>` tool for
    each, and after it calls one the run goes on with that agent's instructions, tools and
    model (same provider). Checked when the agent modules are loaded."""
    handoff_description: str | None = None
    """Told to the model of an agent that may hand off to this one."""
    input_guardrails: tuple[Guardrail, ...] = ()
    """Checks of the run's input before its first model request (see `workers.guardrails`)."""
    output_guardrails: tuple[Guardrail, ...] = ()
    """Checks of the final answer before the run completes."""
    max_usd_per_day: float | None = None
    """A dollar budget for all of this agent's runs per UTC day (every key together); its
    model needs a price in RUNQ_MODEL_PRICES. None: no limit."""
    lane: Lane = Lane.STANDARD
    """The agent's runs' slack (a run may name its own): interactive, standard, flex or batch
    (see `workers.lanes`)."""

    def instructions_for(self, metadata: Mapping[str, str]) -> str | None:
        """This turn's instructions, for a run with this metadata."""
        if self.instructions_from is not None:
            return self.instructions_from(metadata)
        return self.instructions


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """A strict-mode JSON schema from a pydantic model, for `Agent.output_schema`."""
    schema = model.model_json_schema()
    _make_strict(schema)
    for definition in schema.get("$defs", {}).values():
        _make_strict(definition)
    return schema


def _make_strict(schema: dict[str, Any]) -> None:
    # Strict structured output wants every property required and no extras (reference §2.4).
    if schema.get("type") == "object":
        schema["additionalProperties"] = False
        schema["required"] = list(schema.get("properties", {}))
        for prop in schema.get("properties", {}).values():
            prop.pop("default", None)


_agents: dict[str, Agent] = {}
AgentResolver = Callable[[str], Agent | None]
# Agents that are data, not code (assistants stored through the Assistants-compatible API):
# looked up by name when no declared agent has it. Set once per process by `workers.wiring`.
_resolver: AgentResolver | None = None


def set_agent_resolver(resolver: AgentResolver | None) -> None:
    """Look up names no declared agent has with `resolver` (None: declared agents only)."""
    global _resolver
    _resolver = resolver


def register_agent(agent: Agent) -> Agent:
    """Make `agent` known by name; registering a name twice replaces it (latest wins)."""
    if agent.provider not in ("responses", "chat", "assistants"):
        raise ConfigError(f"agent {agent.name!r}: unknown provider {agent.provider!r}")
    try:
        parse_lane(agent.lane)
    except LaneRefused as exc:
        raise ConfigError(f"agent {agent.name!r}: {exc}") from None
    if agent.action_timeout_s is not None and not agent.action_timeout_s > 0:
        raise ConfigError(
            f"agent {agent.name!r}: action_timeout_s must be positive, not {agent.action_timeout_s}"
        )
    try:
        check_budget_usd(agent.max_usd_per_day, "max_usd_per_day")
    except ValueError as exc:
        raise ConfigError(f"agent {agent.name!r}: {exc}") from None
    if not set(agent.approve_tools) <= set(agent.tools):
        extra = ", ".join(sorted(set(agent.approve_tools) - set(agent.tools)))
        raise ConfigError(f"agent {agent.name!r}: approve_tools names tools it lacks: {extra}")
    _agents[agent.name] = agent
    return agent


def find_agent(name: str) -> Agent | None:
    """The declared agent called `name`, else the stored one the resolver finds, else None."""
    agent = _agents.get(name)
    if agent is None and _resolver is not None:
        agent = _resolver(name)
    return agent


def get_agent(name: str) -> Agent:
    """The agent called `name`, or UnknownAgent listing the names that exist."""
    agent = find_agent(name)
    if agent is None:
        known = ", ".join(sorted(_agents)) or "none"
        raise UnknownAgent(
            f"unknown agent {name!r} (known agents: {known}); declare it with register_agent() "
            "in a module listed in RUNQ_AGENT_MODULES"
        )
    return agent


def agent_names() -> list[str]:
    """Names of every declared agent."""
    return sorted(_agents)


DEMO_AGENT_MODULE = "workers.demo_agent"


def current_folder_importable() -> None:
    """Let a project's agent module in the current folder be imported.

    `celery -A config` and uvicorn put the current folder on sys.path; the `runq` console
    script does not, so `runq serve` run from a project's folder could not import the
    project's own agent module. Appended, so it never shadows an installed package.
    """
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())


def import_agent_modules(modules: Iterable[str]) -> list[ModuleType]:
    """Import the modules that declare the user's agents and tools; none configured loads the
    demo agent, so a fresh checkout has something to run. (`workers.agent_modules` adds the
    Agents SDK's agents they declare and checks the handoffs.)"""
    current_folder_importable()
    return [importlib.import_module(module) for module in list(modules) or [DEMO_AGENT_MODULE]]


def check_handoffs() -> None:
    """Every handoff names a declared agent of the same provider; ConfigError otherwise."""
    for agent in _agents.values():
        for target_name in agent.handoffs:
            target = _agents.get(target_name)
            if target is None:
                known = ", ".join(sorted(_agents))
                raise ConfigError(
                    f"agent {agent.name!r} hands off to unknown agent {target_name!r} "
                    f"(known agents: {known})"
                )
            if target.provider != agent.provider:
                raise ConfigError(
                    f"agent {agent.name!r} hands off to {target_name!r}, which uses the "
                    f"{target.provider} provider, not {agent.provider}: a run keeps its provider"
                )
