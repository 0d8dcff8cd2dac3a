"""Run one tool call and always come back with an output the model can read.

`invoke_tool` checks the name against the registry and the agent's allowed names, validates
the arguments, calls the tool under a deadline and renders its return value. Every tool
problem becomes a `ToolResult` with `is_error=True` and an output of the form
`{"error": {"type": "...", "message": "..."}}`, because a failing tool must not break the run:
the model sees the error and can try something else. This module knows nothing of Celery,
Redis or the database.

The tool runs in a tool host, a child process of the worker that is killed with everything
it started at the deadline, and that is kept for later calls: a tool's changes to its own
process's memory may therefore outlive its call, or may not (see `hosts`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from workers.errors import InvalidToolOutput, ToolError, ToolTimedOut, UnknownTool
from workers.tools.arguments import parse_arguments
from workers.tools.hosts import call_in_host
from workers.tools.registry import ToolRegistry, ToolSpec

TOOL_RAISED = "ToolRaised"
"""The error type reported when the tool's own code raised."""


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
            registry, spec, arguments, timeout_s if timeout_s is not None else spec.timeout_s
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


def _call_with_deadline(
    registry: ToolRegistry, spec: ToolSpec, arguments: dict[str, Any], timeout_s: float
) -> str:
    # The tool runs in a tool host, a child process killed at the deadline (see `hosts`).
    answer = call_in_host(registry, spec, arguments, timeout_s)
    if answer is None or "timed_out" in answer:
        raise ToolTimedOut(f"tool {spec.name!r} did not finish within {timeout_s:g} s")
    if "stopped" in answer:  # it exited (sys.exit, a signal, os._exit) without answering
        raise _ToolRaised(f"tool {spec.name!r} stopped without returning a value")
    if "raised" in answer:
        raise _ToolRaised(answer["raised"])
    if "invalid" in answer:
        raise InvalidToolOutput(answer["invalid"])
    return answer["output"]


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
