"""The chaos benchmark's agent and tools. Each tool appends one line per execution to a file
(not Redis: the benchmark restarts Redis empty), keyed by its argument, so the benchmark can
compare what really ran with what the ToolCall rows say.

Workers load this module through RUNQ_AGENT_MODULES (the CI-sized chaos test does too).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from workers.agents import Agent, register_agent
from workers.tools.host_server import SERVER_NAME
from workers.tools.registry import tool

EXECUTIONS_FILE_ENV = "CHAOS_EXECUTIONS_FILE"
"""Where executions are logged, one "tool key" line each (nowhere when unset)."""

# Long enough that a kill often lands while a tool is running.
_WORK_S = 0.3


def _count(tool_name: str, key: str, event: str = "") -> None:
    path = os.environ.get(EXECUTIONS_FILE_ENV)
    if path:
        # One short O_APPEND write per line: atomic across the worker processes.
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{tool_name} {key}{event}\n")


@tool(timeout_s=5.0, idempotent=True)
def chaos_lookup(key: str) -> dict[str, str]:
    """Look a key up (a harmless read: safe to run again)."""
    _count("chaos_lookup", key)
    time.sleep(_WORK_S)
    return {"key": key, "value": key.upper()}


@tool(timeout_s=5.0)
def chaos_charge(key: str) -> dict[str, str]:
    """Charge for a key (a payment: must never run twice)."""
    _count("chaos_charge", key)
    time.sleep(_WORK_S)
    return {"key": key, "charged": "yes"}


@tool(timeout_s=5.0, retryable=True)
def chaos_flaky_charge(key: str) -> dict[str, str]:
    """Charge for a key through a flaky upstream (retryable, but not idempotent: the charge
    may have gone through before the error, so it must never be run again)."""
    _count("chaos_flaky_charge", key)
    raise ConnectionError("upstream reset the connection after the charge was sent")


SLOW_LOOKUP_TIMEOUT_S = 1.5


@tool(timeout_s=SLOW_LOOKUP_TIMEOUT_S, retryable=True, idempotent=True)
def chaos_slow_lookup(key: str) -> dict[str, str]:
    """A lookup that always overruns its timeout; it logs a start and a tick every 0.1 s
    under one id per attempt, so overlapping attempts of one call show in the file."""
    attempt = uuid.uuid4().hex[:8]
    _count("chaos_slow_lookup", key, f" start {attempt}")
    for _ in range(25):
        time.sleep(0.1)
        _count("chaos_slow_lookup", key, f" tick {attempt}")
    return {"key": key, "value": "too late"}


@tool(timeout_s=5.0)
def chaos_slow_charge(key: str) -> dict[str, str]:
    """A slow payment (not idempotent) that logs a start and a tick every 0.1 s, so a test
    can kill its worker mid-call and see that the call stops with it."""
    attempt = uuid.uuid4().hex[:8]
    _count("chaos_slow_charge", key, f" start {attempt}")
    for _ in range(30):
        time.sleep(0.1)
        _count("chaos_slow_charge", key, f" tick {attempt}")
    return {"key": key, "charged": "yes"}


def worker_of_this_host() -> int:
    """The worker's pid, seen from a tool host (a child of the worker's host server, or of
    the worker itself)."""
    parent = os.getppid()
    if Path(f"/proc/{parent}/comm").read_text().strip() == SERVER_NAME.decode():
        return int(Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return parent


# A short timeout: a crashed call is re-run once its timeout and the grace have passed.
@tool(timeout_s=2.0, idempotent=True)
def chaos_crash() -> str:
    """Kill the worker running this call, half a second in (a poison: a native crash, an
    out-of-memory kill), while the calls beside it are still running."""
    time.sleep(0.5)
    os.kill(worker_of_this_host(), signal.SIGKILL)
    return "unreachable"


register_agent(
    Agent(
        name="chaos-poison",
        model="gpt-chaos",
        instructions="Use the tools you are asked to use.",
        tools=("chaos_crash",),
        max_output_tokens=256,
    )
)

register_agent(
    Agent(
        name="chaos-once",
        model="gpt-chaos",
        instructions="Use the tools you are asked to use.",
        tools=("chaos_flaky_charge", "chaos_slow_lookup", "chaos_slow_charge"),
        max_output_tokens=256,
    )
)

register_agent(
    Agent(
        name="chaos",
        model="gpt-chaos",
        instructions="Use the tools you are asked to use.",
        tools=("chaos_lookup", "chaos_charge"),
        max_output_tokens=256,
    )
)

# The same agent with each turn sent synchronously: the request is in flight for the whole
# turn, the case where a slow but live step must not be sent again.
register_agent(
    Agent(
        name="chaos-sync",
        model="gpt-chaos",
        instructions="Use the tools you are asked to use.",
        tools=("chaos_lookup", "chaos_charge"),
        max_output_tokens=256,
        sync_turns=True,
    )
)
