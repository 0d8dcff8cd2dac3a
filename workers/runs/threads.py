"""Threads at run time: one run at a time per thread, and the thread's provider reference.

A run on a thread waits while an earlier run of that thread is still active (the default
`enqueue` policy: the enqueue side handles `reject` and `cancel`). Before its first turn,
the thread is opened at the provider when the surface keeps threads server-side.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import Session

from workers.agents import Agent, ThreadMode
from workers.db import thread_store
from workers.db.models import Run
from workers.runs.context import Later, Next, StepContext, StepName

log = logging.getLogger("runq.threads")


def keeps_server_thread(agent: Agent) -> bool:
    """Whether the agent's provider holds the thread (Conversation or Assistants thread)."""
    if agent.provider == "assistants":
        return True
    return agent.provider == "responses" and agent.thread_mode is ThreadMode.CONVERSATION


def prepare_thread(ctx: StepContext, session: Session, run: Run, agent: Agent) -> Next | None:
    """Before a thread run's first turn: wait for earlier runs, open the thread upstream.

    Returns the message to send instead of starting now, or None to start."""
    if run.thread_id is None:
        return None
    earlier = thread_store.active_runs_on_thread(
        session, thread_id=run.thread_id, queued_before=run.run_at or run.created_at
    )
    if earlier:
        log.info("run %s waits for %s on its thread", run.id, earlier[0].id)
        return Later(StepName.START, (run.id,), ctx.policy.poll.cap_s)
    thread = thread_store.get_thread(session, thread_id=run.thread_id)
    if thread.provider_ref is None and keeps_server_thread(agent):
        ref = ctx.provider_for(agent).open_thread()
        if ref is not None:
            thread_store.set_thread_ref(
                session, thread_id=thread.id, provider_ref=ref, only_if_unset=True
            )
            log.info("run %s: thread %s opened at the provider as %s", run.id, thread.id, ref)
    return None


def note_thread_turn(session: Session, run: Run, agent: Agent, final_ref: str | None) -> None:
    """A thread run completed: chain mode continues from its last response next time."""
    if run.thread_id is None:
        return
    chained = agent.provider == "responses" and agent.thread_mode is ThreadMode.CHAIN
    if chained and final_ref:
        thread_store.set_thread_ref(
            session, thread_id=run.thread_id, provider_ref=final_ref, only_if_unset=False
        )
    else:
        thread_store.touch_thread(session, thread_id=run.thread_id)


def archive_idle_threads(ctx: StepContext, retention_s: float) -> int:
    """Archive threads idle longer than `retention_s`; their runs keep their results."""
    with ctx.sessions() as session:
        archived = thread_store.archive_idle_threads(
            session, idle_before=ctx.now() - timedelta(seconds=retention_s)
        )
    for thread in archived:
        log.info("thread %s archived after %.0fs idle", thread.id, retention_s)
    return len(archived)
