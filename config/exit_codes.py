"""Exit codes of `runq`, one per outcome, so scripts can branch on them.

0   ok: the command did what it says (for `--wait`, `status`, `runs watch`: the run completed)
1   internal error: a bug in runq (rerun with --debug and report the traceback)
2   bad usage: a flag or argument is wrong, or the job was refused (as click/typer use 2)
3   the run failed
4   the run was cancelled
5   the run expired (passed its deadline)
6   timed out: the run had not finished when the command stopped waiting (or looking)
7   not found: no such run, thread or agent
8   unreachable: Redis or the database did not answer
9   configuration error: a setting is missing or malformed
10  already ended: `cancel` of a run that had already completed, failed or expired; an
    approval, rejection or tool output for a call that no longer waits for one
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What `runq` exits with; see the module docstring for when."""

    OK = 0
    INTERNAL_ERROR = 1
    BAD_USAGE = 2
    RUN_FAILED = 3
    RUN_CANCELLED = 4
    RUN_EXPIRED = 5
    TIMED_OUT = 6
    NOT_FOUND = 7
    UNREACHABLE = 8
    CONFIG_ERROR = 9
    ALREADY_ENDED = 10


_BY_RUN_STATUS = {
    "completed": ExitCode.OK,
    "failed": ExitCode.RUN_FAILED,
    "cancelled": ExitCode.RUN_CANCELLED,
    "expired": ExitCode.RUN_EXPIRED,
}


def exit_code_for_run(status: str) -> ExitCode:
    """The exit code that reports a run in `status`; a run not yet ended is TIMED_OUT."""
    return _BY_RUN_STATUS.get(status, ExitCode.TIMED_OUT)
