"""Moving a waiting run on from outside the engine: approve or reject a tool call, submit
the caller's tool outputs (HTTP, the CLI, `send_task` producers).

Each returns the `Next` message to send after its commit (`tasks.next_step.send`).
"""

from __future__ import annotations

from collections.abc import Sequence

from workers.runs import actions
from workers.runs.context import Next
from workers.wiring import get_step_context


def decide_tool_call(
    run_id: str, call_id: str, *, approve: bool, by: str, reason: str | None = None
) -> Next:
    """Approve (it runs) or reject (the model is told why) a call that waits for approval."""
    return actions.decide_call(
        get_step_context(), run_id, call_id, approve=approve, by=by, reason=reason
    )


def submit_tool_outputs(run_id: str, outputs: Sequence[tuple[str, str]], *, by: str) -> Next:
    """The outputs of every call of the run's turn that waits for the caller, at once."""
    return actions.submit_outputs(get_step_context(), run_id, outputs, by=by)
