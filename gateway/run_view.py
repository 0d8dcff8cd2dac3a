"""A run as the outside world sees it (CLI and, later, HTTP): plain JSON-able data."""

from __future__ import annotations

from typing import Any

from workers.connections import new_session
from workers.db import store


def describe_run(run_id: str) -> dict[str, Any]:
    """Status, result or error, usage, counts and tool calls of one run."""
    with new_session() as session:
        run = store.get_run(session, run_id=run_id)
        calls = store.list_tool_calls(session, run_id=run_id)
    return {
        "id": run.id,
        "agent": run.agent,
        "status": run.status,
        "model": run.model,
        "result": run.result_text,
        "error": run.error,
        "polls": run.poll_count,
        "turns": run.turn,
        "usage": {
            "input_tokens": run.input_tokens,
            "output_tokens": run.output_tokens,
            "cached_tokens": run.cached_tokens,
        },
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "tool_calls": [
            {
                "call_id": c.call_id,
                "name": c.name,
                "arguments": c.arguments,
                "status": c.status,
                "output": c.output,
                "duration_ms": c.duration_ms,
                "attempts": c.attempts,
            }
            for c in calls
        ],
    }
