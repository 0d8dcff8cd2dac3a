"""What the store tells the world after it commits: run events and owed callbacks.

Sessions built by `workers.wiring` carry the process's hooks in `session.info`; bare test
sessions carry none, and the store then tells nobody. The hooks never raise into a step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from workers.providers.interface import ToolCallRequest

EVENT_SINK = "run_events"
"""`session.info` key of the RunEventSink (`workers.runs.events`) told every committed change."""
CALLBACK_SENDER = "send_callback"
"""`session.info` key of the function that enqueues a run's callback delivery."""


def announce(session: Session, run_id: str, event_type: str, data: dict[str, Any]) -> None:
    """Tell the session's event sink, if it has one."""
    sink = session.info.get(EVENT_SINK)
    if sink is not None:
        sink.append(run_id, event_type, data)


def announce_tool_turn(
    session: Session, run_id: str, turn: int, calls: Sequence[ToolCallRequest]
) -> None:
    """A turn asked for tools: the status change, then the calls it asked for."""
    announce(session, run_id, "run.status", {"status": "requires_tools", "turn": turn})
    requested = [{"call_id": c.call_id, "name": c.name} for c in calls]
    announce(session, run_id, "tool_calls.requested", {"turn": turn, "calls": requested})


def send_callback(session: Session, run_id: str) -> None:
    """Enqueue the run's callback delivery through the session's sender, if it has one."""
    send = session.info.get(CALLBACK_SENDER)
    if send is not None:
        send(run_id)
