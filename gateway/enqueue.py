"""The front door for jobs: validate, record the run, then send its first message.

The row is committed before the message is sent, so a run exists before any worker can
see it; if sending fails (Redis down), the run stays pending and the recovery sweep starts it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from workers.agents import Agent, BusyThreadPolicy, get_agent
from workers.db import store, thread_store
from workers.db.models import Run, utcnow
from workers.errors import ThreadBusy
from workers.runs.routing import ModelHint, choose_model

log = logging.getLogger("runq.enqueue")

MAX_INPUT_CHARS = 100_000


class RunCreate(BaseModel):
    """A job: run `agent` on `input`. Unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agent: str = Field(min_length=1, max_length=128)
    input: str = Field(min_length=1, max_length=MAX_INPUT_CHARS)
    thread_key: str | None = Field(
        default=None,
        max_length=256,
        description="Your user or conversation key: same key, same thread (created on first use).",
    )
    idempotency_key: str | None = Field(default=None, max_length=256)
    batch_id: str | None = Field(default=None, max_length=128)
    deadline_s: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)
    cache: bool | None = Field(
        default=None, description="Use the response cache; None follows the agent's setting."
    )
    model_hint: ModelHint | None = Field(
        default=None, description="cheap or strong, for agents with model routing."
    )


def record_run(session: Session, job: RunCreate, *, default_deadline_s: float) -> tuple[Run, bool]:
    """Validate the agent and thread policy and insert the pending run; (run, created)."""
    agent = get_agent(job.agent)
    thread_id = None
    if job.thread_key is not None:
        thread = thread_store.get_or_create_thread(
            session, external_key=job.thread_key, agent=agent.name
        )
        _apply_busy_policy(session, agent, thread.id)
        thread_id = thread.id
    return store.create_run(
        session,
        agent=agent.name,
        input_text=job.input,
        provider=agent.provider,
        model=choose_model(agent.model, agent.routing, job.input, job.model_hint),
        deadline_at=utcnow() + timedelta(seconds=job.deadline_s or default_deadline_s),
        idempotency_key=job.idempotency_key,
        batch_id=job.batch_id,
        thread_id=thread_id,
        use_cache=agent.cacheable if job.cache is None else job.cache,
        model_hint=job.model_hint,
    )


def enqueue_run(session: Session, job: RunCreate, *, default_deadline_s: float) -> Run:
    """Record the run and send `start` (only for a new run, never for an idempotent replay)."""
    from tasks.next_step import send  # late: the producer side loads Celery only when sending
    from workers.runs.context import Later, StepName

    run, created = record_run(session, job, default_deadline_s=default_deadline_s)
    if created:
        send(Later(StepName.START, (run.id,)))
        log.info("run %s enqueued for agent %s", run.id, run.agent)
    return run


def _apply_busy_policy(session: Session, agent: Agent, thread_id: str) -> None:
    """`enqueue` lets the new run wait its turn (the worker checks); the others act now."""
    active = thread_store.active_runs_on_thread(session, thread_id=thread_id)
    if not active or agent.busy_thread_policy is BusyThreadPolicy.ENQUEUE:
        return
    if agent.busy_thread_policy is BusyThreadPolicy.REJECT:
        raise ThreadBusy(
            f"thread {thread_id} already has an active run ({active[0].id}); wait for it or "
            "cancel it with `runq cancel`"
        )
    from workers.runs.outcomes import cancel_run
    from workers.wiring import get_step_context

    for run in active:
        cancel_run(get_step_context(), run.id, reason="cancelled: a newer run took the thread")
