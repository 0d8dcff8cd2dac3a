"""The front door for jobs: validate, record the run, then send its first message.

The row is committed before the message is sent, so a run exists before any worker can
see it; if sending fails (Redis down), the run stays pending and the reaper starts it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from workers.agents import get_agent
from workers.db import store
from workers.db.models import Run, utcnow

log = logging.getLogger("runq.enqueue")

MAX_INPUT_CHARS = 100_000


class RunCreate(BaseModel):
    """A job: run `agent` on `input`. Unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agent: str = Field(min_length=1, max_length=128)
    input: str = Field(min_length=1, max_length=MAX_INPUT_CHARS)
    idempotency_key: str | None = Field(default=None, max_length=256)
    batch_id: str | None = Field(default=None, max_length=128)
    deadline_s: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)
    cache: bool | None = Field(
        default=None, description="Use the response cache; None follows the agent's setting."
    )


def record_run(session: Session, job: RunCreate, *, default_deadline_s: float) -> tuple[Run, bool]:
    """Validate the agent and insert the pending run; (run, created)."""
    agent = get_agent(job.agent)
    deadline_at = utcnow() + timedelta(seconds=job.deadline_s or default_deadline_s)
    return store.create_run(
        session,
        agent=agent.name,
        input_text=job.input,
        provider=agent.provider,
        model=agent.model,
        deadline_at=deadline_at,
        idempotency_key=job.idempotency_key,
        batch_id=job.batch_id,
        use_cache=agent.cacheable if job.cache is None else job.cache,
    )


def enqueue_run(session: Session, job: RunCreate, *, default_deadline_s: float) -> Run:
    """Record the run and send `start` (only for a new run, never for an idempotent replay)."""
    from tasks.next_step import send  # late: the producer side loads Celery only when sending
    from workers.step_context import Later, StepName

    run, created = record_run(session, job, default_deadline_s=default_deadline_s)
    if created:
        send(Later(StepName.START, (run.id,)))
        log.info("run %s enqueued for agent %s", run.id, run.agent)
    return run
