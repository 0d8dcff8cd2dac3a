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
import contextlib
import ctypes
import json
import math
import os
import select
import signal
import sys
import time
from collections.abc import Awaitable, Collection
from dataclasses import dataclass
from typing import Any, NoReturn

from pydantic import BaseModel

from workers.errors import InvalidToolOutput, ToolError, ToolTimedOut, UnknownTool
from workers.tools.arguments import parse_arguments
from workers.tools.registry import ToolRegistry, ToolSpec

TOOL_RAISED = "ToolRaised"
"""The error type reported when the tool's own code raised."""

_PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal a child gets when its parent dies."""

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
    """What the tool did in the child; at most one field gets set."""

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
    # A timed-out tool must really stop: a Python thread cannot be killed, so the tool runs in
    # a forked child process that is SIGKILLed (with anything it started) at the deadline,
    # and that dies with the worker if the worker dies first. A call cut off at its timeout
    # therefore never goes on to do its work later, and a retry or a redelivered copy can
    # never overlap it. The cost: a fork per call (a few ms, copy-on-write), and a tool's
    # changes to its own process's memory (a module-level cache, a counter) do not outlive the
    # call; effects outside the process (files, network, databases) are what tools are for.
    # Async tools run the same way (asyncio.run in the child), so one that blocks its event
    # loop is stopped too.
    read_fd, write_fd = os.pipe()
    parent_pid = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: run the tool, write one JSON answer, exit without cleanup
        os.close(read_fd)
        _run_in_child(spec, arguments, timeout_s, write_fd, parent_pid)
    os.close(write_fd)
    try:
        reply = _read_answer(read_fd, pid, time.monotonic() + timeout_s)
    finally:
        os.close(read_fd)
        _stop_child(pid)
    if reply is None:
        raise ToolTimedOut(f"tool {spec.name!r} did not finish within {timeout_s:g} s")
    return _answer_of(spec, reply, timeout_s)


def _run_in_child(
    spec: ToolSpec, arguments: dict[str, Any], timeout_s: float, write_fd: int, parent_pid: int
) -> NoReturn:
    # Nothing may escape this function: the child must never return into the worker's code.
    try:
        _die_with_parent(parent_pid)
        os.setpgid(0, 0)  # its own process group, so whatever the tool starts is killed too
        outcome = _Outcome()
        _run_into(spec, arguments, timeout_s, outcome)
        if outcome.is_timed_out:
            answer: dict[str, str] = {"timed_out": ""}
        elif outcome.raised is not None:
            answer = {"raised": f"{type(outcome.raised).__name__}: {outcome.raised}"}
        else:
            try:
                answer = {"output": render_output(outcome.value)}
            except InvalidToolOutput as exc:
                answer = {"invalid": str(exc)}
        data = json.dumps(answer).encode()
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(len(data).to_bytes(_LENGTH_BYTES, "big") + data)
    finally:
        # No atexit handlers, no flushing of buffers copied from the worker, no closing of
        # its database or Redis connections: only the parent owns those.
        os._exit(0)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this child when the worker dies (a SIGKILLed worker cannot stop
    its children itself); elsewhere the worker's own deadline is the only stop."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the worker died before the request took effect
        os._exit(1)


_LENGTH_BYTES = 8
_CHECK_EXIT_MS = 50


def _read_answer(fd: int, pid: int, deadline_s: float) -> bytes | None:
    """The child's length-prefixed answer; b"" if it exited without one; None at the deadline.

    Not "read until EOF": a child forked by another thread at the same moment inherits this
    pipe's write end, and EOF would wait for that unrelated child too. So the answer says how
    long it is, and a child that died without answering is noticed by its exit.
    """
    data = b""
    # poll, not select: select fails on a descriptor numbered 1024 or more, which a busy
    # worker (many connections) can hand out.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if len(data) >= _LENGTH_BYTES:
            size = int.from_bytes(data[:_LENGTH_BYTES], "big")
            if len(data) >= _LENGTH_BYTES + size:
                return data[_LENGTH_BYTES : _LENGTH_BYTES + size]
        left_s = deadline_s - time.monotonic()
        if left_s <= 0:
            return None
        if poller.poll(min(_CHECK_EXIT_MS, max(1, math.ceil(left_s * 1000)))):
            chunk = os.read(fd, 1 << 16)
            if chunk:
                data += chunk
                continue
            return b""  # every write end closed: it exited without a whole answer
        # WNOWAIT: look without reaping, so the pid stays reserved until _stop_child.
        exited = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if exited is not None and not poller.poll(0):
            return b""  # it exited with nothing more to read


def _stop_child(pid: int) -> None:
    """Kill the child's process group (a no-op once it exited) and reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)  # before its setpgid, the group does not exist yet
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _answer_of(spec: ToolSpec, reply: bytes, timeout_s: float) -> str:
    if not reply:  # it exited (sys.exit, a signal, os._exit) without writing an answer
        raise _ToolRaised(f"tool {spec.name!r} stopped without returning a value")
    answer: dict[str, str] = json.loads(reply)
    if "timed_out" in answer:
        raise ToolTimedOut(f"tool {spec.name!r} did not finish within {timeout_s:g} s")
    if "raised" in answer:
        raise _ToolRaised(answer["raised"])
    if "invalid" in answer:
        raise InvalidToolOutput(answer["invalid"])
    return answer["output"]


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
