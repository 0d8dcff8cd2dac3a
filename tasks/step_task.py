"""The base class of run-step tasks: carry out a step, send its next message, and turn
crashes into retries and, in the end, a failed run with the reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task

from config.settings import get_settings
from tasks.next_step import send, task_label
from workers.errors import IllegalTransition, RunEnded, RunNotFound, RunqError, UnknownAgent
from workers.runs.context import FanOut, Later, Next, Nothing
from workers.runs.outcomes import fail_run
from workers.runs.state import Fail
from workers.runs.sweep import record_next_due
from workers.wiring import get_step_context

log = logging.getLogger("runq.tasks")

# Unexpected errors (database locked, Redis blip) get a few spaced retries before the run
# is failed; this is for crashes only, never for polling.
CRASH_RETRIES = 5
CRASH_RETRY_S = 2.0


class RunStepTask(Task):  # type: ignore[type-arg]
    """A run step: idempotent, acked late, never blocking."""

    acks_late = True
    reject_on_worker_lost = True
    # An ended run is an expected outcome: FAILURE in Flower, no traceback in the log.
    throws = (RunEnded,)
    # Nobody reads a step's return value (the database holds the run): storing it cost a
    # Redis write per task.
    ignore_result = True

    def carry_out(self, run_id: str, step: Callable[[], Next]) -> str:
        """Run `step`, enqueue what it returns, and describe the outcome for Flower."""
        try:
            return carry_out_step(run_id, step, self._retry_or_fail)
        except UnknownAgent as exc:
            return self._hand_back(run_id, exc)

    def _retry_or_fail(self, run_id: str, exc: Exception) -> str:
        """A crashed step: retried a few times, spaced, then the run fails with the reason."""
        if self.request.retries < CRASH_RETRIES:
            log.warning("run %s: step crashed, retrying: %r", run_id, exc)
            delay_s = CRASH_RETRY_S * (self.request.retries + 1)
            countdown = min(delay_s, get_settings().runs.max_countdown_s)
            raise self.retry(exc=exc, countdown=countdown) from exc
        log.exception("run %s: step crashed %d times; failing the run", run_id, CRASH_RETRIES)
        reason = f"internal error: {exc!r}"
        if fail_run(get_step_context(), run_id, Fail(reason)):
            raise RunEnded.of(run_id, "failed", reason) from exc
        return f"failed: {exc!r}"

    # celery-types declares shadow_name as returning None; Celery uses the str it returns.
    def shadow_name(self, args: Any, kwargs: Any, options: Any) -> str:  # type: ignore[override]
        """Flower and the worker log show the run id in the task name."""
        return task_label(self.name, args)

    def _hand_back(self, run_id: str, exc: UnknownAgent) -> str:
        """Requeue a step whose agent this worker lacks (a worker started without that
        module), so a worker that has it can take it; fail the run after a bounded count."""
        hand_back(self, exc)
        tries = get_settings().runs.agent_missing_retries + 1
        reason = f"no worker that took this run has its agent ({tries} tries): {exc}"
        if fail_run(get_step_context(), run_id, Fail(reason)):
            raise RunEnded.of(run_id, "failed", reason) from exc
        return f"failed: {reason}"


def carry_out_step(
    run_id: str, step: Callable[[], Next], crashed: Callable[[str, Exception], str]
) -> str:
    """Run `step` and enqueue what it returns; what a step's outcome turns into, for a step
    task and for a step carried out inline (the submit in the tool task that ends a turn).

    A stale message is dropped, a run error fails the run with its reason, any other error
    goes to `crashed`; `UnknownAgent` is the caller's. Raises RunEnded when the run ended
    (Flower shows it as the task's failure)."""
    try:
        next_step = step()
    except (IllegalTransition, RunNotFound) as exc:
        # A duplicate message lost the race, or the run is gone: nothing to do.
        log.info("run %s: dropped message: %s", run_id, exc)
        return f"dropped: {exc}"
    except UnknownAgent:
        raise
    except RunqError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if fail_run(get_step_context(), run_id, Fail(reason)):
            raise RunEnded.of(run_id, "failed", reason) from exc
        return f"failed: {exc}"
    except Exception as exc:
        return crashed(run_id, exc)
    # Due time first: if this process dies before the send, the sweep re-sends. A wait
    # longer than a broker countdown may be is parked: the sweep sends it when due. The
    # step's own transition usually wrote both already.
    if not _parked(next_step):
        send(next_step)
    if isinstance(next_step, Nothing) and next_step.ended is not None:
        raise RunEnded.of(run_id, next_step.ended.value, next_step.reason)
    return type(next_step).__name__


def _parked(next_step: Next) -> bool:
    """Record when `next_step` is due unless its step did; True if it is parked (not sent)."""
    if isinstance(next_step, Later) and next_step.due_recorded:
        return next_step.parked
    if isinstance(next_step, FanOut) and next_step.due_recorded:
        return False
    return record_next_due(get_step_context(), next_step, get_settings().runs.max_countdown_s)


def hand_back(task: Task, exc: UnknownAgent) -> None:  # type: ignore[type-arg]
    """Retry `task` later on any worker, unless it was handed back too often already."""
    settings = get_settings()
    if task.request.retries < settings.runs.agent_missing_retries:
        log.warning("%s: %s; handing it back for another worker", task.request.id, exc)
        raise task.retry(
            exc=exc,
            countdown=settings.runs.agent_missing_retry_s,
            max_retries=settings.runs.agent_missing_retries,
        ) from exc
