"""Agents the integration tier declares; workers load them via RUNQ_AGENT_MODULES."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel

import tests.integration.mcp_agents  # agents with MCP servers (declared before the fleet starts)
import tests.integration.user_agents  # noqa: F401  (a user's own agent and tool)
import workers.demo_agent  # noqa: F401  (the demo agent and its tools, used by most tests)
from bench.chaos_agents import EXECUTIONS_FILE_ENV, worker_of_this_host
from workers.agents import Agent, ThreadMode, register_agent, schema_of
from workers.tools.registry import caller_tool, default_registry, tool

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

# Each turn is one synchronous Responses request (test_slow_provider).
register_agent(
    Agent(
        name="responses-sync",
        model="gpt-test",
        provider="responses",
        tools=TOOLS,
        sync_turns=True,
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


# -- tools that misbehave, for the bad-input catalogue (the model calls them by name) ------
@tool(description="Always raises.")
def raise_error() -> str:
    raise ValueError("the tool's own bug")


@tool(timeout_s=0.5, description="Hangs past its timeout.")
def hang() -> str:
    time.sleep(3)
    return "too late"


@tool(description="Returns something JSON cannot carry.")
def return_object() -> object:
    return object()


@tool(description="Returns two megabytes.")
def return_megabytes() -> str:
    return "x" * 2_000_000


@tool(description="Calls sys.exit.")
def exit_the_process() -> str:
    raise SystemExit(3)


@tool(timeout_s=0.2, idempotent=True, description="Kills the worker process running it.")
def crash_worker() -> str:
    # Tools run in a host: a child of the worker's host server, or of the worker itself.
    os.kill(worker_of_this_host(), signal.SIGKILL)
    return "unreachable"


@tool(timeout_s=3.0, idempotent=True, description="A harmless lookup that takes 1.5 s.")
def slow_lookup() -> str:
    time.sleep(1.5)
    return "found"


# test_chaos: a harmless call beside a poison one (bench.chaos_agents' `chaos_crash`).
register_agent(
    Agent(name="poison-neighbour-agent", model="gpt-test", tools=("chaos_crash", "slow_lookup"))
)


@tool(description="Names the process that forked the host running it.")
def host_parent() -> str:
    return Path(f"/proc/{os.getppid()}/comm").read_text().strip()


register_agent(Agent(name="host-parent-agent", model="gpt-test", tools=("host_parent",)))

MISBEHAVING = ("raise_error", "hang", "return_object", "return_megabytes", "exit_the_process")
register_agent(Agent(name="misbehaving-tools", model="gpt-test", tools=MISBEHAVING))
register_agent(Agent(name="poison-agent", model="gpt-test", tools=("crash_worker",)))
register_agent(Agent(name="teapot-agent", model="sim-status-418"))
register_agent(Agent(name="flaky-provider-agent", model="sim-status-503"))
# Port 9 (discard) refuses connections: a provider that drops every connection.
register_agent(
    Agent(name="unreachable-provider-agent", model="gpt-test", base_url="http://127.0.0.1:9/v1")
)

# Its provider project sends webhooks: polls are only the fallback (test_openai_webhooks).
register_agent(
    Agent(
        name="responses-webhook",
        model="gpt-test",
        provider="responses",
        tools=TOOLS,
        provider_webhooks=True,
        max_output_tokens=256,
    )
)

# test_lanes: a priced model of its own, so each lane's multiplier shows in its runs' cost.
register_agent(
    Agent(
        name="lanes-agent",
        model="gpt-lanes",
        tools=TOOLS,
        instructions="Answer briefly.",
        max_output_tokens=256,
    )
)

# test_operate: an agent only the metrics test uses (its counters start at zero), and one on
# a named provider key whose weather location is a secret tool argument.
register_agent(
    Agent(
        name="metrics-agent",
        model="gpt-metrics",
        tools=("get_weather", "search_documents", "delete_everything"),
        max_output_tokens=256,
    )
)
register_agent(
    Agent(
        name="keyed-agent",
        model="gpt-test",
        api_key_name="second",
        tools=TOOLS,
        max_output_tokens=256,
    )
)
default_registry.register(
    replace(default_registry.get("get_weather"), secret_args=frozenset({"location"}))
)


# -- runs that wait (test_waiting_runs): a payment a person approves, a caller's own tool --
@tool(needs_approval=True, timeout_s=3.0, description="Wire money to someone. Irreversible.")
def wire_money(amount: int, to: str) -> dict[str, object]:
    # Logged once per execution: the test counts that an approved call ran exactly once.
    path = os.environ.get(EXECUTIONS_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"wire_money {to}\n")
    return {"sent": amount, "to": to}


caller_tool(
    "crm_lookup",
    "Look a customer up in the caller's CRM.",
    {"type": "object", "properties": {"customer": {"type": "string"}}, "required": ["customer"]},
)
register_agent(
    Agent(
        name="approval-agent",
        model="gpt-test",
        tools=("wire_money", "get_weather"),
        max_output_tokens=256,
    )
)
register_agent(
    Agent(name="caller-agent", model="gpt-test", tools=("crm_lookup",), max_output_tokens=256)
)

# test_dollar_budgets: the only agent on the priced `gpt-budget` model.
register_agent(
    Agent(
        name="budget-agent",
        model="gpt-budget",
        tools=("get_weather",),
        max_output_tokens=100,
    )
)
