"""Moving a run recorded through the API to where a test needs it, as the workers would."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from workers import wiring
from workers.db.models import Run, ToolCall, utcnow


def park_for_outputs(run_id: str, calls: dict[str, str]) -> None:
    """The run's first turn called these caller tools (call id -> tool name) and waits."""
    with wiring.new_session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.status, run.turn, run.started_at = "requires_action", 1, utcnow()
        session.add(run)
        for call_id, name in calls.items():
            session.add(
                ToolCall(
                    run_id=run_id,
                    call_id=call_id,
                    turn=1,
                    name=name,
                    arguments='{"location": "Oslo"}',
                    status="awaiting_output",
                )
            )
        session.commit()


def complete(run_id: str, answer: str) -> None:
    """The run ended with `answer`, its tool calls answered."""
    with wiring.new_session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        now = utcnow()
        run.status, run.result_text = "completed", answer
        run.finished_at, run.next_due_at = now + timedelta(seconds=1), None
        run.input_tokens, run.output_tokens = 30, 12
        session.add(run)
        for call in session.exec(select(ToolCall).where(ToolCall.run_id == run_id)).all():
            call.status, call.output, call.finished_at = "succeeded", '{"temp": 18}', now
            session.add(call)
        session.commit()
