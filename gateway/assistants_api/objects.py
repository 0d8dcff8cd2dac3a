"""runq's records as the Assistants API's objects (AssistantObject, ThreadObject,
MessageObject, RunObject, RunStepObject in the official OpenAPI spec).

Times are Unix seconds. A run's status is runq's, told in the API's words: runq's pending is
`queued`; its working states (a model turn, tools running on workers, outputs going back)
are all `in_progress`; `requires_action` only while the run waits for the caller's tool
outputs (a run waiting for a person's approval is `in_progress` to this API, which has no
way to approve); the ends are the same words.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from workers.public.assistant_runs import assistant_id_of
from workers.public.assistant_threads import MessageView, answer_message_id
from workers.public.assistants import StoredAssistant
from workers.public.catalog import masked_arguments, scrubbed_text
from workers.public.records import (
    FINISHED_TOOL_STATUSES,
    TERMINAL_STATUSES,
    AssistantVersion,
    Run,
    RunStatus,
    Thread,
    ToolCall,
)

AWAITING_OUTPUT = "awaiting_output"
_OPEN = ("queued", "in_progress", "requires_action")
_WORKING = {RunStatus.IN_PROGRESS, RunStatus.REQUIRES_TOOLS, RunStatus.SUBMITTING}
_ENDED_AT_FIELD = {
    RunStatus.COMPLETED: "completed_at",
    RunStatus.FAILED: "failed_at",
    RunStatus.CANCELLED: "cancelled_at",
}


def unix_s(moment: datetime | None) -> int | None:
    """Seconds since the epoch, as every Assistants object counts time."""
    return None if moment is None else int(moment.timestamp())


def assistant_object(stored: StoredAssistant) -> dict[str, Any]:
    """An AssistantObject at the assistant's latest version."""
    version = stored.version
    return {
        "id": stored.head.id,
        "object": "assistant",
        "created_at": unix_s(stored.head.created_at),
        "name": version.name,
        "description": version.description,
        "model": version.model,
        "instructions": version.instructions,
        "tools": json.loads(version.tools_json),
        "tool_resources": {},
        "metadata": json.loads(version.metadata_json),
        "temperature": version.temperature,
        "top_p": version.top_p,
        "response_format": _response_format(version),
    }


def thread_object(thread: Thread) -> dict[str, Any]:
    """A ThreadObject."""
    return {
        "id": thread.id,
        "object": "thread",
        "created_at": unix_s(thread.created_at),
        "tool_resources": {},
        "metadata": json.loads(thread.metadata_json or "{}"),
    }


def message_object(view: MessageView) -> dict[str, Any]:
    """A MessageObject: complete, with one text part."""
    created_at = unix_s(view.created_at)
    return {
        "id": view.id,
        "object": "thread.message",
        "created_at": created_at,
        "thread_id": view.thread_id,
        "status": "completed",
        "incomplete_details": None,
        "completed_at": created_at,
        "incomplete_at": None,
        "role": view.role,
        "content": [{"type": "text", "text": {"value": view.text, "annotations": []}}],
        "assistant_id": view.assistant_id,
        "run_id": view.run_id,
        "attachments": [],
        "metadata": view.metadata,
    }


def api_status(run: Run, calls: Sequence[ToolCall]) -> str:
    """The run's status in the Assistants API's words (see the module docstring)."""
    status = RunStatus(run.status)
    if status is RunStatus.PENDING:
        return "queued"
    if status in _WORKING:
        return "in_progress"
    if status is RunStatus.REQUIRES_ACTION:
        return "requires_action" if _awaiting(run, calls) else "in_progress"
    return status.value


def run_object(
    run: Run, calls: Sequence[ToolCall], version: AssistantVersion | None
) -> dict[str, Any]:
    """A RunObject; `version` is the assistant version the run ran (None: a declared agent)."""
    status = api_status(run, calls)
    ended = RunStatus(run.status) in TERMINAL_STATUSES
    body: dict[str, Any] = {
        "id": run.id,
        "object": "thread.run",
        "created_at": unix_s(run.created_at),
        "thread_id": run.thread_id,
        "assistant_id": assistant_id_of(run) or run.agent,
        "status": status,
        "required_action": _required_action(run, calls) if status == "requires_action" else None,
        "last_error": _last_error(run),
        "expires_at": unix_s(run.deadline_at) if status in ("expired", *_OPEN) else None,
        "started_at": unix_s(run.started_at),
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "incomplete_details": None,
        "model": run.model,
        "instructions": (version.instructions if version else None) or "",
        "tools": _run_tools(run, version),
        "metadata": json.loads(run.metadata_json or "{}"),
        "usage": _usage(run) if ended else None,
        "temperature": version.temperature if version else None,
        "top_p": version.top_p if version else None,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "response_format": _response_format(version) if version else "auto",
    }
    ended_field = _ENDED_AT_FIELD.get(RunStatus(run.status))
    if ended_field is not None:
        body[ended_field] = unix_s(run.finished_at)
    return body


def step_objects(run: Run, calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """The run's steps, oldest first: one `tool_calls` step per model turn that called
    tools, then the `message_creation` step of its answer once it completed."""
    turns: dict[int, list[ToolCall]] = {}
    for call in calls:
        turns.setdefault(call.turn, []).append(call)
    steps = [_tool_step(run, turn, turn_calls) for turn, turn_calls in sorted(turns.items())]
    if run.status == RunStatus.COMPLETED.value:
        details = {
            "type": "message_creation",
            "message_creation": {"message_id": answer_message_id(run.id)},
        }
        at = unix_s(run.finished_at)
        steps.append(_step(run, "m", "message_creation", "completed", details, at, at))
    return steps


def _tool_step(run: Run, turn: int, calls: list[ToolCall]) -> dict[str, Any]:
    finished = all(call.status in FINISHED_TOOL_STATUSES for call in calls)
    status = "completed" if finished else "in_progress"
    if not finished and RunStatus(run.status) in TERMINAL_STATUSES:
        status = run.status if run.status != RunStatus.COMPLETED.value else "completed"
    details = {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": call.call_id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": masked_arguments(call.name, call.arguments),
                    "output": scrubbed_text(call.output, call.name, call.arguments),
                },
            }
            for call in calls
        ],
    }
    done_at = max((call.finished_at for call in calls if call.finished_at), default=None)
    created_at = unix_s(calls[0].created_at)
    return _step(run, f"t{turn}", "tool_calls", status, details, created_at, unix_s(done_at))


def _step(
    run: Run,
    suffix: str,
    kind: str,
    status: str,
    details: dict[str, Any],
    created_at: int | None,
    done_at: int | None,
) -> dict[str, Any]:
    # Derived from the run's records, so a step's id is the run's hex and the step's place.
    return {
        "id": f"step_{run.id.removeprefix('run_')}{suffix}",
        "object": "thread.run.step",
        "created_at": created_at,
        "assistant_id": assistant_id_of(run) or run.agent,
        "thread_id": run.thread_id,
        "run_id": run.id,
        "type": kind,
        "status": status,
        "step_details": details,
        "last_error": None,
        "expired_at": done_at if status == "expired" else None,
        "cancelled_at": done_at if status == "cancelled" else None,
        "failed_at": done_at if status == "failed" else None,
        "completed_at": done_at if status == "completed" else None,
        "metadata": {},
        "usage": None,
    }


def _awaiting(run: Run, calls: Sequence[ToolCall]) -> list[ToolCall]:
    """The calls of the run's current turn that wait for the caller's output."""
    return [call for call in calls if call.turn == run.turn and call.status == AWAITING_OUTPUT]


def _required_action(run: Run, calls: Sequence[ToolCall]) -> dict[str, Any]:
    return {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in _awaiting(run, calls)
            ]
        },
    }


def _last_error(run: Run) -> dict[str, str] | None:
    if run.status != RunStatus.FAILED.value:
        return None
    message = run.error or "the run failed"
    code = "rate_limit_exceeded" if "rate limit" in message.lower() else "server_error"
    return {"code": code, "message": message}


def _usage(run: Run) -> dict[str, int]:
    return {
        "prompt_tokens": run.input_tokens,
        "completion_tokens": run.output_tokens,
        "total_tokens": run.input_tokens + run.output_tokens,
    }


def _run_tools(run: Run, version: AssistantVersion | None) -> list[dict[str, Any]]:
    """What the model was offered: the assistant's server-run tools and the run's own."""
    server = set(version.server_tools.split(",")) if version else set()
    own = json.loads(version.tools_json) if version else []
    tools = [tool for tool in own if tool["function"]["name"] in server]
    for declared in json.loads(run.caller_tools or "[]"):
        tools.append({"type": "function", "function": declared})
    return tools


def _response_format(version: AssistantVersion) -> Any:
    if version.response_format_json is None:
        return "auto"
    return json.loads(version.response_format_json)
