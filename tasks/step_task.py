"""The base class of run-step tasks: carry out a step, send its next message, and turn
crashes into retries and, in the end, a failed run with the reason."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Task

from tasks.next_step import send
from workers.errors import IllegalTransition, RunNotFound, RunqError
from workers.runs.context import Next
from workers.runs.outcomes import fail_run
from workers.runs.state import Fail
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
    # Nobody reads a step's return value (the database holds the run): storing it cost a
    # Redis write per task. Tool tasks keep theirs, which the chord counts.
    ignore_result = True

    def carry_out(self, run_id: str, step: Callable[[], Next]) -> str:
        """Run `step`, enqueue what it returns, and describe the outcome for Flower."""
        try:
            next_step = step()
        except (IllegalTransition, RunNotFound) as exc:
            # A duplicate message lost the race, or the run is gone: nothing to do.
            log.info("run %s: dropped message: %s", run_id, exc)
            return f"dropped: {exc}"
        except RunqError as exc:
            fail_run(get_step_context(), run_id, Fail(f"{type(exc).__name__}: {exc}"))
            return f"failed: {exc}"
        except Exception as exc:
            if self.request.retries < CRASH_RETRIES:
                log.warning("run %s: step crashed, retrying: %r", run_id, exc)
                raise self.retry(
                    exc=exc, countdown=CRASH_RETRY_S * (self.request.retries + 1)
                ) from exc
            log.exception("run %s: step crashed %d times; failing the run", run_id, CRASH_RETRIES)
            fail_run(get_step_context(), run_id, Fail(f"internal error: {exc!r}"))
            return f"failed: {exc!r}"
        send(next_step)
        return type(next_step).__name__
