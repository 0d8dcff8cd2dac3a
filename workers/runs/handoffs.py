"""Handoffs: an agent hands its run to another agent by calling a `transfer_to_<name>` tool.

The names, descriptions and outputs are the Agents SDK's, so the model sees the same tools
whether the SDK's `Runner` or runq runs the agent, and transcripts match. Pure: no I/O.

The model's call to a handoff tool never reaches a tools worker: runq answers it itself
(`transfer_output`) when it records the turn, and the run's next turn runs with the target
agent's instructions, tools and model. Of several handoffs in one turn the first wins; the
others are answered as ignored, as the SDK does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.providers.interface import ToolCallRequest

IGNORED_OUTPUT = "Multiple handoffs detected, ignoring this one."


def tool_name(target: str) -> str:
    """The tool that hands a run to the agent called `target` (the SDK's default name)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", f"transfer_to_{target}").lower()


def tool_schema(target: str, description: str | None) -> dict[str, Any]:
    """The provider-neutral function declaration of the handoff to `target`."""
    return {
        "name": tool_name(target),
        "description": (
            f"Handoff to the {target} agent to handle the request. {description or ''}"
        ),
        "parameters": {
            "type": "object",
            "properties": {},
            "required": [],
            "additionalProperties": False,
        },
        "strict": True,
    }


def transfer_output(target: str) -> str:
    """What the model is told its handoff call returned (the SDK's transfer message)."""
    return json.dumps({"assistant": target})


@dataclass(frozen=True, slots=True)
class Handoff:
    """The turn hands the run to `target`, by the call `call_id`."""

    target: str
    call_id: str


def answers(
    calls: Sequence[ToolCallRequest], targets: Sequence[str]
) -> tuple[Handoff | None, dict[str, str]]:
    """The turn's handoff (its first call to a handoff tool of `targets`), and the output of
    every handoff call of the turn by call id: the first is transferred, the rest ignored."""
    by_tool = {tool_name(target): target for target in targets}
    chosen: Handoff | None = None
    outputs: dict[str, str] = {}
    for call in calls:
        target = by_tool.get(call.name)
        if target is None:
            continue
        if chosen is None:
            chosen = Handoff(target, call.call_id)
            outputs[call.call_id] = transfer_output(target)
        else:
            outputs[call.call_id] = IGNORED_OUTPUT
    return chosen, outputs


def handoff_of(
    calls: Mapping[str, str], outputs: Mapping[str, str | None], targets: Sequence[str]
) -> str | None:
    """The agent a finished turn hands the run to: the target of its first handoff call that
    was answered as transferred. `calls` maps call ids (in turn order) to tool names."""
    by_tool = {tool_name(target): target for target in targets}
    for call_id, name in calls.items():
        target = by_tool.get(name)
        if target is not None and outputs.get(call_id) == transfer_output(target):
            return target
    return None
