"""Assistants runs: start them, move them along the clock, take tool outputs, cancel them.

A run is a chain of phases (one model turn each) planned like a background response. The
stored status catches up with the clock whenever anything reads the run (`refresh_run`), and
each status it enters brings its effects exactly once (`run_effects`). Cancelling answers
`cancelling`; the next read of the run finds it `cancelled`. Callers hold the state lock.
"""

from __future__ import annotations

from typing import Any

from simulator import lifecycle, script
from simulator.assistant_state import Phase, RunRecord, RunSettings, ThreadRecord
from simulator.errors import bad_request
from simulator.items import Item, new_id
from simulator.lifecycle import RunStatus
from simulator.run_effects import close_tool_step, effect_of
from simulator.state import SimulatorState
from simulator.tools import function_schemas, nested_function_names

DEFAULT_MAX_COMPLETION_TOKENS = 256
# Statuses a run only reaches after a model picked it up (a run cancelled while queued never
# started).
HAS_STARTED = ("in_progress", "requires_action", "completed", "failed", "incomplete", "expired")


def start_run(
    state: SimulatorState,
    thread: ThreadRecord,
    assistant_id: str,
    settings: RunSettings,
    additional_messages: list[dict[str, Any]] | None = None,
) -> RunRecord:
    """Queue a run on a thread that has no active run (400 if it has one), after appending the
    request's `additional_messages` to the thread."""
    now_s = state.clock()
    active = active_run(state, thread)
    if active is not None:
        raise bad_request(f"Thread {thread.id} already has an active run {active.id}.")
    thread.messages.extend(additional_messages or [])
    run = RunRecord(
        id=new_id("run"),
        thread_id=thread.id,
        assistant_id=assistant_id,
        created_at=int(now_s),
        settings=settings,
        phase=plan_phase(state, settings, _context(thread, settings, []), now_s),
    )
    state.assistants.runs[run.id] = run
    thread.run_ids.append(run.id)
    state.stats.assistant_runs_created += 1
    return run


def active_run(state: SimulatorState, thread: ThreadRecord) -> RunRecord | None:
    """The thread's run that still holds it, if any (only the newest run can)."""
    for run_id in thread.run_ids[-1:]:
        run = state.assistants.runs[run_id]
        refresh_run(state, run)
        if lifecycle.is_run_active(run.status):
            return run
    return None


def plan_phase(
    state: SimulatorState, settings: RunSettings, items: list[Item], now_s: float
) -> Phase:
    """Let the script take the next turn of a run and schedule when it shows."""
    offered = nested_function_names(settings.tools, settings.tool_choice)
    turn = script.next_turn(
        settings.instructions,
        offered,
        items,
        settings.answer_format,
        function_schemas(settings.tools),
    )
    if not settings.parallel_tool_calls and isinstance(turn, script.ToolCalls):
        turn = script.ToolCalls(turn.calls[:1])
    slow_ms = script.steering_directives(settings.instructions, items).slow_ms
    if isinstance(turn, script.Incomplete):
        completion_tokens = settings.max_completion_tokens or DEFAULT_MAX_COMPLETION_TOKENS
    else:
        completion_tokens = script.estimate_output_tokens(turn)
    return Phase(
        timeline=lifecycle.plan_timeline(now_s, state.draw_latency_ms(), slow_ms),
        turn=turn,
        prompt_tokens=script.estimate_input_tokens(settings.instructions, settings.tools, items),
        completion_tokens=completion_tokens,
    )


def refresh_run(state: SimulatorState, run: RunRecord) -> None:
    """Bring the stored status up to the clock, applying each new status's effects once."""
    if run.status == "cancelling":
        target: RunStatus = "cancelled"
    elif lifecycle.is_run_active(run.status):
        target = lifecycle.run_status_at(
            run.phase.timeline, run.phase.turn, expires_s=run.expires_at, now_s=state.clock()
        )
    else:
        return
    if target == run.status:
        return
    if target in HAS_STARTED and run.started_at is None:
        run.started_at = int(run.phase.timeline.started_s)
    effect_of(target)(state, run)
    run.status = target


def submit_tool_outputs(state: SimulatorState, run: RunRecord, outputs: object) -> None:
    """Answer every pending tool call at once; the run goes back to `queued`."""
    refresh_run(state, run)
    if run.status != "requires_action" or run.required_action is None:
        raise bad_request(f'Runs in status "{run.status}" do not accept tool outputs.')
    answers = _tool_outputs(outputs)
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    expected = [call["id"] for call in calls]
    if sorted(answers) != sorted(expected):
        raise bad_request(
            f"Expected tool outputs for call_ids {expected}, got {list(answers)}",
            param="tool_outputs",
        )
    now_s = state.clock()
    run.rounds.extend(_round_items(calls, answers))
    close_tool_step(run, answers, now_s)
    thread = state.assistants.threads[run.thread_id]
    run.phase = plan_phase(state, run.settings, _context(thread, run.settings, run.rounds), now_s)
    run.required_action = None
    run.status = "queued"
    state.stats.assistant_tool_outputs_submitted += len(answers)


def cancel_run(state: SimulatorState, run: RunRecord) -> None:
    """Ask an active run to stop: it shows `cancelling` now and `cancelled` on the next read."""
    refresh_run(state, run)
    if not lifecycle.is_run_active(run.status):
        raise bad_request(f"Cannot cancel run with status '{run.status}'.")
    run.status = "cancelling"


def thread_items(messages: list[dict[str, Any]]) -> list[Item]:
    """The thread's messages as the script's items (text parts only)."""
    items: list[Item] = []
    for message in messages:
        texts = [part["text"]["value"] for part in message["content"] if part["type"] == "text"]
        items.append({"type": "message", "role": message["role"], "content": "\n".join(texts)})
    return items


def _context(thread: ThreadRecord, settings: RunSettings, rounds: list[Item]) -> list[Item]:
    messages = thread.messages
    keep = settings.truncation_strategy.get("last_messages")
    if settings.truncation_strategy.get("type") == "last_messages" and isinstance(keep, int):
        messages = messages[-keep:]
    return thread_items(messages) + rounds


def _tool_outputs(value: object) -> dict[str, str]:
    if not isinstance(value, list) or not value:
        raise bad_request(
            "Missing required parameter: 'tool_outputs'.",
            param="tool_outputs",
            code="missing_required_parameter",
        )
    answers: dict[str, str] = {}
    for index, output in enumerate(value):
        call_id = output.get("tool_call_id") if isinstance(output, dict) else None
        text = output.get("output") if isinstance(output, dict) else None
        if not isinstance(call_id, str) or not isinstance(text, str):
            raise bad_request(
                f"Invalid 'tool_outputs[{index}]': expected a 'tool_call_id' and a string "
                "'output'.",
                param=f"tool_outputs[{index}]",
            )
        answers[call_id] = text
    return answers


def _round_items(calls: list[dict[str, Any]], answers: dict[str, str]) -> list[Item]:
    """One tool round as the script reads it: the calls, then their outputs."""
    items: list[Item] = [
        {"type": "function_call", "call_id": call["id"], **call["function"]} for call in calls
    ]
    items.extend(
        {"type": "function_call_output", "call_id": call["id"], "output": answers[call["id"]]}
        for call in calls
    )
    return items
