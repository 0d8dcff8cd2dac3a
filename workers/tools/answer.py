"""Run one tool call and say what it did, as the JSON-ready answer a tool host sends back.

This runs inside the tool's own process (see `hosts`): the answer is one of
`{"output": text}`, `{"raised": "Type: message"}`, `{"invalid": why}` (an output the model
cannot be given) or `{"timed_out": ""}` (an async tool cancelled at its timeout).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from workers.errors import InvalidToolOutput
from workers.tools.registry import ToolSpec

MAX_OUTPUT_CHARS = 512_000
"""A tool output longer than this is refused: no model can use megabytes of tool output
in one turn, and it would bloat every request of the run and the audit row."""

Answer = dict[str, str]


class _AsyncDeadline(Exception):
    """`asyncio.wait_for` cancelled an async tool at its timeout."""


@dataclass(slots=True)
class _Outcome:
    """What the tool did; at most one field gets set."""

    value: Any = None
    has_returned: bool = False
    raised: Exception | None = None
    is_timed_out: bool = False


def answer_call(spec: ToolSpec, arguments: dict[str, Any], timeout_s: float) -> Answer:
    """Call the tool and describe what happened; never raises for anything the tool does."""
    outcome = _Outcome()
    _run_into(spec, arguments, timeout_s, outcome)
    if outcome.is_timed_out:
        return {"timed_out": ""}
    if outcome.raised is not None:
        return {"raised": f"{type(outcome.raised).__name__}: {outcome.raised}"}
    try:
        return {"output": render_output(outcome.value)}
    except InvalidToolOutput as exc:
        return {"invalid": str(exc)}


def render_output(value: object) -> str:
    """The string the model gets for a tool's return value.

    Raises InvalidToolOutput for a value JSON cannot carry (its `repr()` would tell the model
    nothing reliable) and for output over MAX_OUTPUT_CHARS."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=_to_jsonable, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise InvalidToolOutput(
                f"the tool returned a {type(value).__name__} that is not JSON-serialisable "
                f"({exc}); return str, dict, list, numbers, booleans, None or a pydantic model"
            ) from exc
    if len(text) > MAX_OUTPUT_CHARS:
        raise InvalidToolOutput(
            f"the tool returned {len(text):,} characters; the limit is {MAX_OUTPUT_CHARS:,}"
        )
    return text


def _run_into(
    spec: ToolSpec, arguments: dict[str, Any], timeout_s: float, outcome: _Outcome
) -> None:
    """Call the tool and record its return value, exception or timeout."""
    try:
        if spec.is_async:
            value = asyncio.run(_await_within(spec.fn(**arguments), timeout_s))
        else:
            value = spec.fn(**arguments)
        outcome.value, outcome.has_returned = value, True
    except _AsyncDeadline:
        outcome.is_timed_out = True
    # This module is one of the two places runq catches everything: whatever the tool raises,
    # the model gets an error output instead of a broken run.
    except Exception as exc:
        outcome.raised = exc


async def _await_within(awaitable: Awaitable[Any], timeout_s: float) -> Any:
    task = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.wait_for(task, timeout_s)
    except TimeoutError:
        # A TimeoutError the tool raised itself is the tool's error, not our deadline.
        if task.cancelled():
            raise _AsyncDeadline from None
        raise


def _to_jsonable(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
