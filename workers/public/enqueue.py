"""The front door for jobs: validate, record the run, then send its first message.

The row is committed before the message is sent, so a run exists before any worker can
see it; if sending fails (Redis down), the run stays pending and the recovery sweep starts it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from config.settings import get_settings
from workers.agents import Agent, BusyThreadPolicy, get_agent
from workers.callbacks.address_guard import check_callback_url
from workers.db import store, thread_store
from workers.db.models import ApiKey, Run, utcnow
from workers.errors import (
    IdempotencyConflict,
    PriceMissing,
    StartTimeRefused,
    ThreadBusy,
    ToolNameTaken,
)
from workers.lanes import check_lane_provider, lane_of
from workers.model_routing import choose_model
from workers.public.schemas import JobCreate
from workers.public.thread_names import scoped_thread_key
from workers.runs import ledger
from workers.runs.context import StepName
from workers.schedule_ticks import run_at_problem

log = logging.getLogger("runq.enqueue")


def record_run(
    session: Session,
    job: JobCreate,
    *,
    default_deadline_s: float,
    owner_key_id: str = "",
    guard: Callable[[Session, Run], bool] | None = None,
) -> tuple[Run, bool]:
    """Validate the agent, start time and thread policy and insert the pending run;
    (run, created).

    An idempotency key already used by this owner returns that run when the body is the
    same, and raises IdempotencyConflict when it differs. `guard`: see `ledger.open_run`."""
    body_hash = job.request_hash()
    if job.idempotency_key is not None:
        existing = store.find_idempotent_run(
            session, owner_key_id=owner_key_id, idempotency_key=job.idempotency_key
        )
        if existing is not None:
            return replayed_run(existing, body_hash), False
    now = utcnow()
    starts_at = _start_time(job, now)
    agent = get_agent(job.agent)
    callback_url = None if job.callback_url is None else str(job.callback_url)
    if callback_url is not None:
        check_callback_url(callback_url, allow_private=get_settings().callbacks.allow_private)
    taken = sorted({tool.name for tool in job.tools} & set(agent.tools))
    if taken:
        raise ToolNameTaken(
            f"tools {', '.join(taken)} are already agent {agent.name!r}'s own tools; give your "
            "caller-executed tools other names"
        )
    model = choose_model(agent.model, agent.routing, job.input, job.model_hint)
    check_priced(session, agent, model, owner_key_id, job.max_cost_usd)
    lane = check_lane_provider(lane_of(job.lane, agent.lane), agent.provider)
    thread_id = _thread_for(session, job, agent, owner_key_id, now)
    run, created = ledger.open_run(
        session,
        agent=agent.name,
        input_text=job.input,
        provider=agent.provider,
        model=model,
        deadline_at=starts_at + timedelta(seconds=job.deadline_s or default_deadline_s),
        idempotency_key=job.idempotency_key,
        batch_id=job.batch_id,
        thread_id=thread_id,
        use_cache=agent.cacheable if job.cache is None else job.cache,
        model_hint=job.model_hint,
        owner_key_id=owner_key_id,
        request_hash=body_hash,
        metadata_json=json.dumps(job.metadata) if job.metadata else None,
        callback_url=callback_url,
        caller_tools=_caller_tools_json(job),
        run_at=job.run_at,
        lane=lane.value,
        guard=guard,
        max_cost_usd=job.max_cost_usd,
        share_waiting=get_settings().runs.in_flight_target > 0,
    )
    return (run if created else replayed_run(run, body_hash)), created


def check_priced(
    session: Session, agent: Agent, model: str, owner_key_id: str, max_cost_usd: float | None
) -> None:
    """A run under any dollar budget (its own, its key's, its agent's) needs its model's
    price: counted as free it could overrun. Raises PriceMissing naming the model."""
    if model in get_settings().provider.prices:
        return
    key = session.get(ApiKey, owner_key_id) if owner_key_id else None
    budgets = {
        "the run's max_cost_usd": max_cost_usd,
        f"agent {agent.name!r}'s max_usd_per_day": agent.max_usd_per_day,
    }
    if key is not None:
        budgets |= {
            f"key {key.name!r}'s max_usd": key.max_usd,
            f"key {key.name!r}'s max_usd_day": key.max_usd_day,
            f"key {key.name!r}'s max_usd_month": key.max_usd_month,
        }
    named = [name for name, usd in budgets.items() if usd is not None]
    if named:
        raise PriceMissing(
            f"model {model!r} has no price in RUNQ_MODEL_PRICES, so {named[0]} cannot be "
            "counted; add its price, or run without that budget"
        )


def _caller_tools_json(job: JobCreate) -> str | None:
    if not job.tools:
        return None
    declared = [
        tool.model_dump(include={"name", "description", "parameters"}) for tool in job.tools
    ]
    return json.dumps(declared)


def _start_time(job: JobCreate, now: datetime) -> datetime:
    """When the run starts (its deadline counts from then), or StartTimeRefused."""
    if job.run_at is None:
        return now
    schedules = get_settings().schedules
    problem = run_at_problem(
        job.run_at,
        now,
        slack_s=schedules.run_at_slack_s,
        max_ahead_days=schedules.max_run_at_days,
    )
    if problem is not None:
        raise StartTimeRefused(problem)
    return max(job.run_at, now)


def _thread_for(
    session: Session, job: JobCreate, agent: Agent, owner_key_id: str, now: datetime
) -> str | None:
    """The id of the job's thread (created on first use), after its busy policy acted: a run
    that starts later meets the thread as it is then, so it waits its turn when it starts."""
    if job.thread_key is None:
        return None
    thread = thread_store.get_or_create_thread(
        session, external_key=scoped_thread_key(owner_key_id, job.thread_key), agent=agent.name
    )
    if job.run_at is None or job.run_at <= now:
        _apply_busy_policy(session, agent, thread.id)
    return thread.id


def replayed_run(run: Run, body_hash: str) -> Run:
    """`run`, which this idempotency key named before, if the body is the same job."""
    if run.request_hash is not None and run.request_hash != body_hash:
        raise IdempotencyConflict(
            f"idempotency key {run.idempotency_key!r} was used for run {run.id} with a "
            "different body; use a new key for a new job"
        )
    return run


def enqueue_run(
    session: Session, job: JobCreate, *, default_deadline_s: float, owner_key_id: str = ""
) -> Run:
    """Record the run and send `start` (only for a new run, never for an idempotent replay)."""
    return enqueue_job(
        session, job, default_deadline_s=default_deadline_s, owner_key_id=owner_key_id
    )[0]


def enqueue_job(
    session: Session,
    job: JobCreate,
    *,
    default_deadline_s: float,
    owner_key_id: str = "",
    guard: Callable[[Session, Run], bool] | None = None,
) -> tuple[Run, bool]:
    """`enqueue_run`, also saying whether the run is new (HTTP answers 201 or 200).

    The run is recorded either way: if the broker cannot take the start message, it stays
    pending and the recovery sweep starts it, so the caller still gets its run. A run that
    waits for its `run_at` gets no message: the sweep starts it then. With fair shares on,
    a new run waits for its key's share: an admission round starts it."""
    from kombu.exceptions import OperationalError

    run, created = record_run(
        session, job, default_deadline_s=default_deadline_s, owner_key_id=owner_key_id, guard=guard
    )
    if created and run.share_waiting:
        from workers.wiring import request_admission

        request_admission()
        log.info("run %s for agent %s waits for its key's share", run.id, run.agent)
    elif created and not run.parked:
        try:
            send_start(run.id)
        except (OperationalError, OSError) as exc:
            log.warning("run %s: start not sent (%r); the sweep will start it", run.id, exc)
            return run, created
        log.info("run %s enqueued for agent %s", run.id, run.agent)
    elif created:
        log.info("run %s for agent %s waits until %s", run.id, run.agent, run.run_at)
    return run, created


def send_start(run_id: str) -> None:
    """Send a new run's first step, `runq.runs.start`, by task name (the engine never
    imports tasks), as `tasks.next_step.send(Later(StepName.START, (run_id,)))` would."""
    from config.celery_app import app  # late: the producer side loads Celery only when sending

    name = StepName.START.value
    # No result is kept: without ignore_result, Celery's Redis backend would SUBSCRIBE this
    # process to the task's result channel (and UNSUBSCRIBE later) for every run sent.
    app.signature(name, args=(run_id,)).apply_async(
        countdown=0.0, shadow=f"{name} {run_id}", ignore_result=True
    )


def _apply_busy_policy(session: Session, agent: Agent, thread_id: str) -> None:
    """`enqueue` lets the new run wait its turn (the worker checks); the others act now, on
    the runs that have queued for the thread (not those waiting for a later `run_at`)."""
    active = thread_store.active_runs_on_thread(
        session, thread_id=thread_id, queued_before=utcnow()
    )
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
