"""Wire JSON for stored objects: what the SDK parses, field for field."""

from __future__ import annotations

from typing import Any

from simulator import lifecycle, script
from simulator.assistant_state import RunRecord, ThreadRecord
from simulator.lifecycle import Status
from simulator.state import ConversationRecord, ResponseRecord


def render_response(record: ResponseRecord, status: Status) -> dict[str, Any]:
    """A `Response` as a poll in `status` sees it; output and usage appear once terminal."""
    is_done = lifecycle.is_terminal(status)
    return {
        "id": record.id,
        "object": "response",
        # Unix seconds as a number (the SDK reads a float); milliseconds keep latency visible.
        "created_at": round(record.timeline.created_s, 3),
        "status": status,
        "background": record.background,
        "completed_at": round(record.timeline.finished_s, 3) if status == "completed" else None,
        "error": _error(record.turn) if status == "failed" else None,
        "incomplete_details": _incomplete(record.turn) if status == "incomplete" else None,
        "instructions": record.instructions,
        "max_output_tokens": record.max_output_tokens,
        "max_tool_calls": None,
        "model": record.model,
        "previous_response_id": record.previous_response_id,
        "conversation": {"id": record.conversation_id} if record.conversation_id else None,
        "output": list(record.output) if is_done and status != "cancelled" else [],
        "parallel_tool_calls": record.parallel_tool_calls,
        "reasoning": None,
        "service_tier": record.service_tier,
        "store": record.store,
        "temperature": record.temperature,
        "text": record.text,
        "tool_choice": record.tool_choice,
        "tools": record.tools,
        "top_p": record.top_p,
        "truncation": record.truncation,
        "metadata": record.metadata,
        "usage": _usage(record, status) if is_done else None,
    }


def render_conversation(record: ConversationRecord) -> dict[str, Any]:
    """A `Conversation` object."""
    return {
        "id": record.id,
        "object": "conversation",
        "created_at": record.created_at,
        "metadata": record.metadata,
    }


def render_thread(record: ThreadRecord) -> dict[str, Any]:
    """A `Thread` object (its messages are listed separately)."""
    return {
        "id": record.id,
        "object": "thread",
        "created_at": record.created_at,
        "metadata": record.metadata,
        "tool_resources": record.tool_resources,
    }


def render_run(run: RunRecord) -> dict[str, Any]:
    """A `Run` as its stored status shows it; `usage` appears once the run is over."""
    settings = run.settings
    is_over = not lifecycle.is_run_active(run.status)
    total = run.prompt_tokens + run.completion_tokens
    usage = {
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "total_tokens": total,
    }
    return {
        "id": run.id,
        "object": "thread.run",
        "created_at": run.created_at,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "status": run.status,
        "required_action": run.required_action,
        "last_error": run.last_error,
        "expires_at": run.expires_at,
        "started_at": run.started_at,
        "cancelled_at": run.cancelled_at,
        "failed_at": run.failed_at,
        "completed_at": run.completed_at,
        "incomplete_details": run.incomplete_details,
        "model": settings.model,
        "instructions": settings.instructions,
        "tools": settings.tools,
        "metadata": settings.metadata,
        "usage": usage if is_over else None,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_prompt_tokens": settings.max_prompt_tokens,
        "max_completion_tokens": settings.max_completion_tokens,
        "truncation_strategy": settings.truncation_strategy,
        "tool_choice": settings.tool_choice,
        "parallel_tool_calls": settings.parallel_tool_calls,
        "response_format": settings.response_format,
    }


def render_deleted(object_id: str, kind: str) -> dict[str, Any]:
    """The delete envelope; `kind` is "response" or "<object>.deleted"."""
    return {"id": object_id, "object": kind, "deleted": True}


def _usage(record: ResponseRecord, status: Status) -> dict[str, Any]:
    if status != "cancelled":
        return record.usage
    # A cancelled response billed its input but produced nothing anyone can see.
    input_tokens = int(record.usage["input_tokens"])
    return {
        **record.usage,
        "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens,
    }


def _error(turn: script.Turn) -> dict[str, Any]:
    if isinstance(turn, script.Failure):
        return {"code": turn.code, "message": turn.message}
    return {"code": "server_error", "message": "The response failed."}


def _incomplete(turn: script.Turn) -> dict[str, Any]:
    reason = turn.reason if isinstance(turn, script.Incomplete) else "max_output_tokens"
    return {"reason": reason}
