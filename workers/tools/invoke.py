"""Run one tool call and always come back with an output the model can read.

`invoke_tool` checks the name against the registry and the agent's allowed names, validates
the arguments, calls the tool under a deadline and renders its return value. Every tool
problem becomes a `ToolResult` with `is_error=True` and an output of the form
`{"error": {"type": "...", "message": "..."}}`, because a failing tool must not break the run:
the model sees the error and can try something else. This module knows nothing of Celery,
Redis or the database.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Collection
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from workers.errors import InvalidToolOutput, ToolError, ToolTimedOut, UnknownTool
from workers.tools.arguments import parse_arguments
from workers.tools.registry import ToolRegistry, ToolSpec

TOOL_RAISED = "ToolRaised"
"""The error type reported when the tool's own code raised."""

MAX_OUTPUT_CHARS = 512_000
"""A tool output longer than this is refused: no model can use megabytes of tool output
in one turn, and it would bloat every request of the run and the audit row."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The answer to one tool call."""

    output: str
    """What goes back to the model: the tool's output, or a JSON error object."""
    is_error: bool
    error: str | None
    """Human-readable reason for the audit log, e.g. "ToolTimedOut: ..."; None on success."""
    duration_ms: int
    error_type: str | None = None
    """The error's type name (UnknownTool, InvalidToolArguments, ToolTimedOut, ToolRaised)."""

    @property
    def is_tool_fault(self) -> bool:
        """The tool itself failed (raised or hung), as opposed to the model asking wrongly."""
        return self.error_type in (TOOL_RAISED, "ToolTimedOut")


class _ToolRaised(Exception):
    """The tool's own code raised; carries the message shown to the model."""


class _AsyncDeadline(Exception):
    """`asyncio.wait_for` cancelled an async tool at its timeout."""


@dataclass(slots=True)
class _Outcome:
    """What the worker thread hands back; at most one field gets set."""

    value: Any = None
    has_returned: bool = False
    raised: Exception | None = None
    is_timed_out: bool = False


def invoke_tool(
    registry: ToolRegistry,
    name: str,
    arguments_json: str,
    *,
    allowed_names: Collection[str] | None = None,
    timeout_s: float | None = None,
) -> ToolResult:
    """Run tool `name` with the model's JSON arguments; never raises for a tool problem.

    `allowed_names` is the agent's tool list: any other name is refused as unknown even if it
    is registered. `timeout_s` overrides the tool's own timeout. It blocks for up to that
    long, so async callers should run it in an executor.
    """
    if timeout_s is not None and not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, not {timeout_s}")
    started_s = time.monotonic()
    try:
        spec = _find_allowed(registry, name, allowed_names)
        arguments = parse_arguments(spec, arguments_json)
        output = _call_with_deadline(
            spec, arguments, timeout_s if timeout_s is not None else spec.timeout_s
        )
    except ToolError as exc:
        return _error_result(type(exc).__name__, str(exc), started_s)
    except _ToolRaised as exc:
        return _error_result(TOOL_RAISED, str(exc), started_s)
    # A tool declared wrongly (say, a hand-written schema whose $ref resolves nowhere) fails
    # before its code runs; that too must come back as an output, not break the run.
    except Exception as exc:
        return _error_result(TOOL_RAISED, f"{type(exc).__name__}: {exc}", started_s)
    return ToolResult(output=output, is_error=False, error=None, duration_ms=_ms_since(started_s))


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


def _find_allowed(
    registry: ToolRegistry, name: str, allowed_names: Collection[str] | None
) -> ToolSpec:
    if allowed_names is None:
        return registry.get(name)
    if name in allowed_names and name in registry:
        return registry.get(name)
    # Least privilege: list only what this agent may call, never the whole registry.
    offered = ", ".join(sorted(n for n in set(allowed_names) if n in registry)) or "(none)"
    raise UnknownTool(f"no tool named {name!r} is available; available tools: {offered}")


def _call_with_deadline(spec: ToolSpec, arguments: dict[str, Any], timeout_s: float) -> str:
    # A Python thread cannot be killed, so a sync tool that hangs leaks its daemon thread
    # until it returns on its own. What we do guarantee is that the call is answered with a
    # timeout error on time and the worker slot is released. Async tools run in the thread
    # too, under asyncio.wait_for, so a well-behaved coroutine is cancelled cleanly and one
    # that blocks the event loop is still cut off by the join.
    outcome = _Outcome()
    worker = threading.Thread(
        target=_run_into,
        args=(spec, arguments, timeout_s, outcome),
        name=f"runq-tool-{spec.name}",
        daemon=True,
    )
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive() or outcome.is_timed_out:
        raise ToolTimedOut(f"tool {spec.name!r} did not finish within {timeout_s:g} s")
    if outcome.raised is not None:
        raise _ToolRaised(f"{type(outcome.raised).__name__}: {outcome.raised}")
    if not outcome.has_returned:
        raise _ToolRaised(f"tool {spec.name!r} stopped without returning a value")
    return render_output(outcome.value)


def _run_into(
    spec: ToolSpec, arguments: dict[str, Any], timeout_s: float, outcome: _Outcome
) -> None:
    """Thread body: call the tool and record its return value, exception or timeout."""
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


def _error_result(kind: str, message: str, started_s: float) -> ToolResult:
    output = json.dumps({"error": {"type": kind, "message": message}}, ensure_ascii=False)
    return ToolResult(
        output=output,
        is_error=True,
        error=f"{kind}: {message}",
        duration_ms=_ms_since(started_s),
        error_type=kind,
    )


def _ms_since(started_s: float) -> int:
    return round((time.monotonic() - started_s) * 1000)
