"""Building the provider-neutral request for a run's next model turn, from the database.

Everything a stateless surface has to replay comes from stored rows: the run's own tool
round trips, and (Chat) the thread's earlier runs; stateful surfaces get the thread's
provider reference instead.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlmodel import Session

from workers.agents import Agent, ThreadMode, get_agent
from workers.db import store, thread_store
from workers.db.models import Run, ToolCall
from workers.db.statuses import FINISHED_TOOL_STATUSES
from workers.lanes import served_lane, service_tier_of
from workers.providers.chat import tool_turn_messages
from workers.providers.interface import ToolCallRequest, ToolOutput, ToolTurn, TurnRequest
from workers.runs import handoffs
from workers.runs.context import StepContext
from workers.runs.usage import keep_newest_within
from workers.tools.mcp_tools import offered_tools


def build_turn_request(ctx: StepContext, session: Session, run: Run, agent: Agent) -> TurnRequest:
    """The request for the run's next turn (its first one when nothing ran yet)."""
    conversation_ref = previous_ref = None
    prior: tuple[dict[str, Any], ...] = ()
    if run.thread_id is not None:
        thread = thread_store.get_thread(session, thread_id=run.thread_id)
        if agent.provider == "chat":
            prior = tuple(_thread_messages(session, run, agent.thread_token_budget))
        elif agent.provider == "responses" and agent.thread_mode is ThreadMode.CHAIN:
            previous_ref = thread.provider_ref
        else:
            conversation_ref = thread.provider_ref
    return TurnRequest(
        run_id=run.id,
        model=run.model or agent.model,
        instructions=agent.instructions_for(run_metadata(run)),
        input_text=run.input,
        tools=(
            *ctx.tools.function_schemas(offered_tools(ctx.tools, agent.tools, agent.mcp_servers)),
            *handoff_tools(agent),
            *caller_tools(run),
        ),
        max_output_tokens=agent.max_output_tokens or ctx.default_max_output_tokens,
        temperature=agent.temperature,
        conversation_ref=conversation_ref,
        previous_ref=previous_ref,
        # Only Chat replays the run's tool round trips (the others hold them upstream), and
        # before its first tool turn a run has none.
        history=_history(session, run) if agent.provider == "chat" and run.turn else (),
        prior_messages=prior,
        output_schema=agent.output_schema,
        output_schema_name=agent.output_schema_name,
        json_mode=agent.json_mode,
        hosted_tools=agent.hosted_tools,
        background=not synchronous_turn(ctx, agent, run),
        service_tier=service_tier_of(served_lane(run.lane, run.lane_fallback)),
        # One key per thread (per run without one): the thread's turns share a prefix, and
        # the key sends them to the same prompt cache.
        prompt_cache_key=run.thread_id or run.id,
    )


def run_metadata(run: Run) -> dict[str, str]:
    """The metadata the run was created with (what dynamic instructions are made from)."""
    if not run.metadata_json:
        return {}
    metadata: dict[str, str] = json.loads(run.metadata_json)
    return metadata


def handoff_tools(agent: Agent) -> tuple[dict[str, Any], ...]:
    """The `transfer_to_<agent>` tools of the agents this one may hand the run to."""
    return tuple(
        handoffs.tool_schema(name, get_agent(name).handoff_description) for name in agent.handoffs
    )


def caller_tools(run: Run) -> tuple[dict[str, Any], ...]:
    """The function tools the run's creator declared for it (the caller runs them)."""
    if not run.caller_tools:
        return ()
    declared: list[dict[str, Any]] = json.loads(run.caller_tools)
    return tuple({**tool, "strict": False} for tool in declared)


def caller_tool_names(run: Run) -> frozenset[str]:
    """Names of the run's own caller-executed tools."""
    return frozenset(tool["name"] for tool in caller_tools(run))


def _history(session: Session, run: Run) -> tuple[ToolTurn, ...]:
    return tool_turns(store.list_tool_calls(session, run_id=run.id))


def synchronous_turn(ctx: StepContext, agent: Agent, run: Run) -> bool:
    """Whether the run's next turn is one request that answers at once: always for Chat and
    `sync_turns` agents; for Responses while the request budget is scarce, since a background
    turn's polls spend requests that creates need (an agent that waits for webhooks keeps
    background turns)."""
    if agent.provider == "chat" or agent.sync_turns:
        return True
    if agent.provider != "responses" or agent.provider_webhooks:
        return False
    model = run.model or agent.model
    return ctx.clearance.requests_scarce(model=model, api_key_id=ctx.api_key_id_for(agent))


def tool_turns(calls: list[ToolCall]) -> tuple[ToolTurn, ...]:
    """A run's finished tool round trips, oldest first."""
    by_turn: dict[int, list[ToolCall]] = defaultdict(list)
    for call in calls:
        by_turn[call.turn].append(call)
    return tuple(
        ToolTurn(
            calls=tuple(ToolCallRequest(c.call_id, c.name, c.arguments) for c in turn_calls),
            outputs=tuple(ToolOutput(c.call_id, c.output or "") for c in turn_calls),
        )
        for _, turn_calls in sorted(by_turn.items())
        if all(c.status in FINISHED_TOOL_STATUSES for c in turn_calls)
    )


def _thread_messages(session: Session, run: Run, budget_tokens: int) -> list[dict[str, Any]]:
    """The thread's earlier completed runs as Chat messages, newest kept within the budget.

    Whole runs are dropped from the oldest end, so a tool call is never split from its
    output."""
    assert run.thread_id is not None
    groups: list[list[dict[str, Any]]] = []
    for earlier in thread_store.finished_runs_on_thread(
        session, thread_id=run.thread_id, before=run.created_at
    ):
        messages: list[dict[str, Any]] = [{"role": "user", "content": earlier.input}]
        for turn in tool_turns(store.list_tool_calls(session, run_id=earlier.id)):
            messages.extend(tool_turn_messages(turn))
        messages.append({"role": "assistant", "content": earlier.result_text or ""})
        groups.append(messages)
    kept = keep_newest_within(groups, budget_tokens)
    return [dict(message) for group in kept for message in group]
