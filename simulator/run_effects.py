"""What entering each run status brings, applied once by `runs.refresh_run`.

    requires_action   bill the turn, ask for the tool calls, open a tool_calls step
    completed         bill the turn, append the assistant's message, a message_creation step
    failed            bill the turn, last_error server_error
    incomplete        bill the turn, incomplete_details max_completion_tokens
    expired           drop the pending calls, expire the open step
    cancelled         drop the pending calls, cancel the open step

Steps are kept as wire JSON on the run, oldest first. Callers hold the state lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator import script
from simulator.assistant_fields import message_json, text_part
from simulator.assistant_state import RunRecord
from simulator.items import new_id
from simulator.state import SimulatorState

Effect = Callable[[SimulatorState, RunRecord], None]


def effect_of(status: str) -> Effect:
    """What entering `status` does (queued and in_progress do nothing)."""
    return _EFFECTS.get(status, _enter_nothing)


def _bill(run: RunRecord) -> None:
    run.prompt_tokens += run.phase.prompt_tokens
    run.completion_tokens += run.phase.completion_tokens


def _step(run: RunRecord, kind: str, details: Any, at_s: float) -> dict[str, Any]:
    step = {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": int(at_s),
        "assistant_id": run.assistant_id,
        "thread_id": run.thread_id,
        "run_id": run.id,
        "type": kind,
        "status": "in_progress",
        "step_details": {"type": kind, kind: details},
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
    }
    run.steps.append(step)
    return step


def _finish_step(run: RunRecord, step: dict[str, Any], at_s: float) -> None:
    step["status"], step["completed_at"] = "completed", int(at_s)
    tokens = (run.phase.prompt_tokens, run.phase.completion_tokens)
    step["usage"] = {
        "prompt_tokens": tokens[0],
        "completion_tokens": tokens[1],
        "total_tokens": sum(tokens),
    }


def close_tool_step(run: RunRecord, answers: dict[str, str], now_s: float) -> None:
    """Record the submitted outputs on the open tool_calls step and complete it."""
    step = run.steps[-1]
    for call in step["step_details"]["tool_calls"]:
        call["function"]["output"] = answers[call["id"]]
    _finish_step(run, step, now_s)


def _enter_requires_action(state: SimulatorState, run: RunRecord) -> None:
    _bill(run)
    assert isinstance(run.phase.turn, script.ToolCalls)
    calls: list[dict[str, Any]] = [
        {"id": new_id("call"), "type": "function", "function": {"name": n, "arguments": a}}
        for n, a in run.phase.turn.calls
    ]
    run.required_action = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {"tool_calls": calls},
    }
    shown = [{**call, "function": {**call["function"], "output": None}} for call in calls]
    _step(run, "tool_calls", shown, run.phase.timeline.finished_s)


def _enter_completed(state: SimulatorState, run: RunRecord) -> None:
    _bill(run)
    assert isinstance(run.phase.turn, script.FinalText)
    finished_s = run.phase.timeline.finished_s
    run.completed_at = int(finished_s)
    thread = state.assistants.threads.get(run.thread_id)
    content = [text_part(run.phase.turn.text)]
    message = message_json(
        run.thread_id,
        "assistant",
        content,
        finished_s,
        run_id=run.id,
        assistant_id=run.assistant_id,
    )
    if thread is not None:
        thread.messages.append(message)
    step = _step(run, "message_creation", {"message_id": message["id"]}, finished_s)
    _finish_step(run, step, finished_s)


def _enter_failed(state: SimulatorState, run: RunRecord) -> None:
    _bill(run)
    turn = run.phase.turn
    message = turn.message if isinstance(turn, script.Failure) else "The run failed."
    run.failed_at = int(run.phase.timeline.finished_s)
    run.last_error = {"code": "server_error", "message": message}


def _enter_incomplete(state: SimulatorState, run: RunRecord) -> None:
    _bill(run)
    run.incomplete_details = {"reason": "max_completion_tokens"}


def _enter_expired(state: SimulatorState, run: RunRecord) -> None:
    run.required_action = None
    _close_open_steps(run, "expired", "expired_at", run.expires_at)


def _enter_cancelled(state: SimulatorState, run: RunRecord) -> None:
    run.required_action = None
    run.cancelled_at = int(state.clock())
    _close_open_steps(run, "cancelled", "cancelled_at", run.cancelled_at)


def _close_open_steps(run: RunRecord, status: str, stamp: str, at_s: int) -> None:
    for step in run.steps:
        if step["status"] == "in_progress":
            step["status"], step[stamp] = status, at_s


def _enter_nothing(state: SimulatorState, run: RunRecord) -> None:
    return None


_EFFECTS: dict[str, Effect] = {
    "requires_action": _enter_requires_action,
    "completed": _enter_completed,
    "failed": _enter_failed,
    "incomplete": _enter_incomplete,
    "expired": _enter_expired,
    "cancelled": _enter_cancelled,
}
