"""Agents SDK definitions as runq agents: an `agents.Agent` declared in a module listed in
`RUNQ_AGENT_MODULES` runs on the fleet, durably, as if it had been written as a runq `Agent`.

What is taken from the SDK's agent:
- `name`, `instructions` (a string, or a function of the run's context: called on the worker
  for each turn, with the run's metadata as `context.context`), `model` (a name),
  `handoff_description`;
- `model_settings.temperature`, `.max_tokens` and `.metadata`;
- `@function_tool` tools: their schema as the SDK builds it, executed by runq's tools
  workers (claimed once, timed out, recorded) through the SDK's own `on_invoke_tool`;
- `output_type` (the SDK's strict schema; the answer is validated and stored as JSON);
- `handoffs` to other SDK agents (adopted with it), and its input and output guardrails.

- `mcp_servers` (Streamable HTTP given a url, stdio given a command): their tools reach the
  model as `<server>__<tool>`, as every MCP tool on runq does (`workers.tools.mcp_servers`).

What runq cannot honour is refused when the module is loaded, with a message that names the
agent and the field: another tool type, a `Model` object, a custom `tool_use_behavior`,
hooks, other MCP server kinds or options, a prompt, `handoff(...)` objects, any other model
setting. Nothing is dropped silently.

An SDK guardrail that runs an agent makes its model requests through the SDK's default
client; runq installs one (when the module set none) whose transport sends them through the
run's `ModelMeter`: the shared rate limit and the run's dollar budgets.

The `openai-agents` package is an optional extra (`pip install runq[agents]`); this module
imports it only when a user's module already did.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import ModuleType
from typing import Any

import httpx2

from workers.agents import Agent, register_agent
from workers.errors import ConfigError
from workers.guardrails import Guardrail, Tripped, current_meter
from workers.runs.usage import estimate_text_tokens
from workers.tools.mcp_servers import McpServer
from workers.tools.registry import ToolRegistry, ToolSpec, default_registry

log = logging.getLogger("runq.agents")

SUPPORTED_SETTINGS = frozenset({"temperature", "max_tokens", "metadata"})
OUTPUT_SCHEMA_NAME = "final_output"  # the name the SDK gives its json_schema format


def adopt_module_agents(
    module: ModuleType, registry: ToolRegistry = default_registry
) -> list[Agent]:
    """Register the SDK agents `module` declares at its top level, and every agent they hand
    off to, as runq agents (their tools into `registry`). Returns the agents registered."""
    sdk = sys.modules.get("agents")
    if sdk is None:
        return []  # the module did not import the SDK, so it declares no SDK agent
    found = [value for value in vars(module).values() if isinstance(value, sdk.Agent)]
    if found:
        meter_default_client()
    adopted = []
    for sdk_agent in _with_handoff_targets(found):
        adopted.append(register_agent(adopt(sdk_agent, registry)))
    return adopted


def adopt(sdk_agent: Any, registry: ToolRegistry = default_registry) -> Agent:
    """The runq agent for one SDK agent; its function tools are registered in `registry`.
    Raises ConfigError naming the field for what runq cannot run as the SDK would."""
    name = sdk_agent.name
    refuse = _Refusal(name)
    if sdk_agent.tool_use_behavior != "run_llm_again":
        refuse("tool_use_behavior", "only the default 'run_llm_again' is supported")
    if sdk_agent.hooks is not None:
        refuse("hooks", "agent lifecycle hooks are not run by runq")
    if sdk_agent.prompt is not None:
        refuse("prompt", "stored prompts are not supported; use instructions")
    model = _model_name(sdk_agent, refuse)
    settings = _settings(sdk_agent.model_settings, refuse)
    tools = tuple(_adopt_tool(tool, registry, refuse) for tool in sdk_agent.tools)
    schema = _output_schema(sdk_agent.output_type)
    instructions = sdk_agent.instructions
    return Agent(
        name=name,
        model=model,
        instructions=instructions if isinstance(instructions, str) else None,
        instructions_from=None
        if instructions is None or isinstance(instructions, str)
        else _instructions_from(sdk_agent),
        tools=tools,
        temperature=settings.get("temperature"),
        max_output_tokens=settings.get("max_tokens"),
        metadata=dict(settings.get("metadata") or {}),
        output_schema=None if schema is None else schema.json_schema(),
        output_schema_name=OUTPUT_SCHEMA_NAME,
        mcp_servers=tuple(_mcp_server(server, refuse) for server in sdk_agent.mcp_servers),
        handoffs=tuple(_handoff_target(h, refuse).name for h in sdk_agent.handoffs),
        handoff_description=sdk_agent.handoff_description,
        input_guardrails=tuple(_input_guardrail(g, sdk_agent) for g in sdk_agent.input_guardrails),
        output_guardrails=tuple(
            _output_guardrail(g, sdk_agent, schema) for g in sdk_agent.output_guardrails
        ),
    )


class _Refusal:
    """Raises the one-line error for a field of one agent that runq cannot honour."""

    def __init__(self, agent_name: str) -> None:
        self.agent_name = agent_name

    def __call__(self, field: str, why: str) -> None:
        raise ConfigError(f"Agents SDK agent {self.agent_name!r}: {field} is not supported: {why}")


def _with_handoff_targets(roots: Iterable[Any]) -> list[Any]:
    """`roots` and every SDK agent reachable from them by handoffs, each once, in order."""
    seen: dict[int, Any] = {}
    queue = list(roots)
    while queue:
        agent = queue.pop(0)
        if id(agent) in seen:
            continue
        seen[id(agent)] = agent
        queue.extend(h for h in agent.handoffs if not _is_handoff_object(h))
    return list(seen.values())


def _model_name(sdk_agent: Any, refuse: _Refusal) -> str:
    model = sdk_agent.model
    if model is None:
        from agents.models import get_default_model  # the SDK's own default, as Runner uses

        return str(get_default_model())
    if not isinstance(model, str):
        refuse("model", f"a {type(model).__name__} object; give the model's name")
    return str(model)


def _settings(model_settings: Any, refuse: _Refusal) -> dict[str, Any]:
    """The model settings runq honours, after refusing any other that is set."""
    defaults = type(model_settings)()
    chosen = {}
    for field in dataclasses.fields(model_settings):
        value = getattr(model_settings, field.name)
        if value == getattr(defaults, field.name):
            continue
        if field.name not in SUPPORTED_SETTINGS:
            refuse(f"model_settings.{field.name}", "runq sends temperature and max_tokens only")
        chosen[field.name] = value
    return chosen


def _adopt_tool(tool: Any, registry: ToolRegistry, refuse: _Refusal) -> str:
    """Register an SDK function tool as a runq tool of the same name and schema."""
    from agents import FunctionTool

    if not isinstance(tool, FunctionTool):
        refuse(
            f"tools[{getattr(tool, 'name', '?')}]", f"{type(tool).__name__} (function tools only)"
        )
    if tool.tool_input_guardrails or tool.tool_output_guardrails:
        refuse(f"tools[{tool.name}]", "tool guardrails are not run by runq")
    if tool.is_enabled is not True:
        refuse(f"tools[{tool.name}].is_enabled", "tools are always enabled on runq")
    if not isinstance(tool.needs_approval, bool):
        refuse(f"tools[{tool.name}].needs_approval", "give True or False")
    registry.register(
        ToolSpec(
            name=tool.name,
            description=tool.description,
            parameters=tool.params_json_schema,
            fn=_tool_body(tool),
            is_async=True,
            timeout_s=float(tool.timeout_seconds or 10.0),
            needs_approval=tool.needs_approval,
        )
    )
    return str(tool.name)


def _tool_body(tool: Any) -> Callable[..., Any]:
    """The body runq's tools worker calls: the SDK's own invocation of the tool, given the
    arguments as the model sent them."""
    from agents import RunContextWrapper
    from agents.tool_context import ToolContext

    async def invoke(**arguments: Any) -> Any:
        raw = json.dumps(arguments)
        context = ToolContext(
            context=None, tool_name=tool.name, tool_call_id="", tool_arguments=raw
        )
        assert isinstance(context, RunContextWrapper)
        return await tool.on_invoke_tool(context, raw)

    # A stable origin per tool, so adopting one tool for two agents (or again on a reload)
    # is the same registration, not a name clash.
    invoke.__module__ = f"agents_sdk:{getattr(tool, '__module__', '')}"
    invoke.__qualname__ = tool.name
    return invoke


def _mcp_server(server: Any, refuse: _Refusal) -> McpServer:
    """runq's declaration of an SDK MCP server (Streamable HTTP or stdio); its tools reach the
    model as `<server>__<tool>`, as every MCP tool on runq does."""
    from agents.mcp import MCPServerStdio, MCPServerStreamableHttp

    field = f"mcp_servers[{server.name}]"
    name = re.sub(r"[^A-Za-z0-9-]+", "_", server.name).strip("_")[:30] or "mcp"
    try:
        if isinstance(server, MCPServerStreamableHttp) and not set(server.params) - {"url"}:
            return McpServer(name, url=server.params["url"])
        if isinstance(server, MCPServerStdio) and not (server.params.env or server.params.cwd):
            return McpServer(name, command=(server.params.command, *server.params.args))
    except ValueError as exc:
        refuse(field, str(exc))
    refuse(field, "only Streamable HTTP (a url alone) and stdio (a command) servers are run")
    raise AssertionError("unreachable")  # refuse raises


def _output_schema(output_type: Any) -> Any:
    """The SDK's output schema for `output_type`, or None for plain text."""
    if output_type is None or output_type is str:
        return None
    from agents import AgentOutputSchema

    schema = AgentOutputSchema(output_type)
    return None if schema.is_plain_text() else schema


def _is_handoff_object(target: Any) -> bool:
    from agents import Handoff

    return isinstance(target, Handoff)


def _handoff_target(target: Any, refuse: _Refusal) -> Any:
    if _is_handoff_object(target):
        refuse(
            f"handoffs[{target.agent_name}]",
            "handoff(...) objects (custom names, inputs, filters, callbacks) are not run by "
            "runq; list the agent itself",
        )
    return target


def _instructions_from(sdk_agent: Any) -> Callable[[Mapping[str, str]], str]:
    """Dynamic instructions: the SDK agent's function, called with the run's metadata as the
    context (sync or async, as the SDK allows)."""
    from agents import RunContextWrapper

    def instructions(metadata: Mapping[str, str]) -> str:
        wrapper = RunContextWrapper(context=dict(metadata))
        return asyncio.run(sdk_agent.get_system_prompt(wrapper)) or ""

    return instructions


def _input_guardrail(guardrail: Any, sdk_agent: Any) -> Guardrail:
    from agents import RunContextWrapper

    def check(text: str) -> Tripped | None:
        wrapper = RunContextWrapper(context=None)
        result = _run_guardrail(guardrail.run(sdk_agent, text, wrapper))
        output = result.output
        return Tripped(output.output_info) if output.tripwire_triggered else None

    return Guardrail(guardrail.get_name(), check)


def _output_guardrail(guardrail: Any, sdk_agent: Any, schema: Any) -> Guardrail:
    from agents import RunContextWrapper

    def check(text: str) -> Tripped | None:
        # The SDK hands output guardrails the final output as its type, not as text.
        final = text if schema is None else schema.validate_json(text)
        wrapper = RunContextWrapper(context=None)
        result = _run_guardrail(guardrail.run(wrapper, sdk_agent, final))
        output = result.output
        return Tripped(output.output_info) if output.tripwire_triggered else None

    return Guardrail(guardrail.get_name(), check)


def _run_guardrail(check: Coroutine[Any, Any, Any]) -> Any:
    """One guardrail on an event loop of its own (the step is synchronous); the metered
    transport's connections of that loop are closed with it."""

    async def run() -> Any:
        try:
            return await check
        finally:
            await METERED_TRANSPORT.close_this_loop()

    return asyncio.run(run())


class MeteredTransport(httpx2.AsyncBaseTransport):
    """The SDK default client's transport: a request made while a guardrail runs under a
    `ModelMeter` waits for the rate limit and is held on the run's budgets first, and is
    charged what its answer's usage says. One inner transport per event loop, since each
    guardrail runs on a loop of its own and a connection belongs to the loop that opened it."""

    def __init__(
        self, inner: Callable[[], httpx2.AsyncBaseTransport] = httpx2.AsyncHTTPTransport
    ) -> None:
        self._inner = inner
        self._by_loop: dict[int, httpx2.AsyncBaseTransport] = {}
        self._lock = threading.Lock()

    def _this_loop(self) -> httpx2.AsyncBaseTransport:
        loop_id = id(asyncio.get_running_loop())
        with self._lock:
            transport = self._by_loop.get(loop_id)
            if transport is None:
                transport = self._by_loop[loop_id] = self._inner()
            return transport

    async def close_this_loop(self) -> None:
        with self._lock:
            transport = self._by_loop.pop(id(asyncio.get_running_loop()), None)
        if transport is not None:
            await transport.aclose()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        transport = self._this_loop()
        meter = current_meter()
        if meter is None or request.method != "POST":
            return await transport.handle_async_request(request)
        model, prompt_tokens = _request_size(request.content)
        hold = meter.before(model, prompt_tokens)
        if hold is None:
            # Not sent. An answer the SDK raises at once (x-should-retry: no retries) carries
            # the reason; the step reads it from the meter.
            reason = meter.refused or "rate limit: the step goes again when there is room"
            error = {"message": reason, "type": "runq_budget", "code": "runq_budget"}
            headers = {"x-should-retry": "false"}
            return httpx2.Response(429, headers=headers, json={"error": error}, request=request)
        try:
            response = await transport.handle_async_request(request)
            await response.aread()
        except BaseException:
            meter.after(hold, model, None, 0)  # sent, cost unknown: the worst case stands
            raise
        input_tokens, output_tokens = _usage_of(response.content)
        meter.after(hold, model, input_tokens, output_tokens)
        return response


METERED_TRANSPORT = MeteredTransport()


def meter_default_client() -> None:
    """Make the SDK's default client the metered one, unless the user's module set its own
    (then their guardrails' requests are not metered: said once in the log)."""
    from agents import set_default_openai_client
    from agents.models import _openai_shared
    from openai import AsyncOpenAI

    current = _openai_shared.get_default_openai_client()
    if current is not None:
        if current._client._transport is not METERED_TRANSPORT:
            log.warning(
                "the Agents SDK's default client is your own: guardrail model calls "
                "are not counted against runq's rate limit and budgets"
            )
        return
    api_key = os.environ.get("OPENAI_API_KEY") or _openai_shared.get_default_openai_key()
    if not api_key:
        return  # no key: a guardrail's model request could not be made anyway
    client = AsyncOpenAI(
        api_key=api_key, http_client=httpx2.AsyncClient(transport=METERED_TRANSPORT)
    )
    set_default_openai_client(client, use_for_tracing=False)


def _request_size(content: bytes) -> tuple[str, int]:
    """The model a Responses or Chat request names, and its input's estimated tokens."""
    try:
        body = json.loads(content or b"{}")
    except ValueError:
        return "", len(content) // 4
    if not isinstance(body, dict):
        return "", len(content) // 4
    return str(body.get("model", "")), estimate_text_tokens(content.decode("utf-8", "replace"))


def _usage_of(content: bytes) -> tuple[int | None, int]:
    """(input, output) tokens of a Responses or Chat answer; input None when it says none."""
    try:
        usage = json.loads(content or b"{}").get("usage") or {}
    except (ValueError, AttributeError):
        return None, 0
    input_tokens = usage.get("input_tokens", usage.get("prompt_tokens"))
    output_tokens = usage.get("output_tokens", usage.get("completion_tokens", 0))
    if not isinstance(input_tokens, int):
        return None, 0
    return input_tokens, int(output_tokens or 0)
