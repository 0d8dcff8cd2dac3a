"""What the store tells the world after it commits: run events and owed callbacks.

Sessions built by `workers.wiring` carry the process's hooks in `session.info`; bare test
sessions carry none, and the store then tells nobody. The hooks never raise into a step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from workers.providers.interface import ToolCallRequest

EVENT_SINK = "run_events"
"""`session.info` key of the RunEventSink (`workers.runs.events`) told every committed change."""
CALLBACK_SENDER = "send_callback"
"""`session.info` key of the function that enqueues a run's callback delivery."""
ACTION_CALLBACK_SENDER = "send_action_callback"
"""`session.info` key of the function that enqueues a `run.requires_action` callback."""
ADMISSION_REQUESTER = "request_admission"
"""`session.info` key of the function that asks for a fair-share admission round (only
when fair shares are on)."""


def announce(session: Session, run_id: str, event_type: str, data: dict[str, Any]) -> None:
    """Tell the session's event sink, if it has one."""
    sink = session.info.get(EVENT_SINK)
    if sink is not None:
        sink.append(run_id, event_type, data)


def announce_tool_turn(
    session: Session,
    run_id: str,
    turn: int,
    calls: Sequence[ToolCallRequest],
    waiting: Mapping[str, str],
) -> None:
    """A turn asked for tools: the status change, then the calls it asked for; a turn that
    waits also says for whom (`run.requires_approval` if a person must approve a call,
    else `run.requires_action`: the caller's outputs)."""
    status = "requires_action" if waiting else "requires_tools"
    requested = [_requested(c, waiting) for c in calls]
    events: list[tuple[str, Mapping[str, Any]]] = [
        ("run.status", {"status": status, "turn": turn}),
        ("tool_calls.requested", {"turn": turn, "calls": requested}),
    ]
    if waiting:
        kind = "run.requires_approval" if "awaiting_approval" in waiting.values() else None
        waits = [r for r in requested if "waits_for" in r]
        events.append((kind or "run.requires_action", {"turn": turn, "calls": waits}))
    sink = session.info.get(EVENT_SINK)
    if sink is not None:
        # Committed together, told together: one round trip, one wake-up.
        sink.append_all(run_id, events)


def _requested(call: ToolCallRequest, waiting: Mapping[str, str]) -> dict[str, str]:
    shown = {"call_id": call.call_id, "name": call.name}
    status = waiting.get(call.call_id)
    if status is not None:
        shown["waits_for"] = "approval" if status == "awaiting_approval" else "output"
    return shown


def send_callback(session: Session, run_id: str) -> None:
    """Enqueue the run's callback delivery through the session's sender, if it has one."""
    send = session.info.get(CALLBACK_SENDER)
    if send is not None:
        send(run_id)


def send_action_callback(session: Session, run_id: str, step_seq: int) -> None:
    """Enqueue the callback telling the run's producer that it waits (at step `step_seq`)."""
    send = session.info.get(ACTION_CALLBACK_SENDER)
    if send is not None:
        send(run_id, step_seq)


def request_admission(session: Session) -> None:
    """Ask for an admission round through the session's requester, if it has one."""
    ask = session.info.get(ADMISSION_REQUESTER)
    if ask is not None:
        ask()
