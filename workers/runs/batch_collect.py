"""The batch lane's collector (beat's `runq.housekeeping.collect_batches`): one pass sends
every waiting batch-lane turn in a batch (one per agent, so per API key), reads every open
batch, records each answer on its turn and wakes the turn's run.

A batch that failed, expired or was cancelled sends its unanswered turns once more
(`retries`), then ends them failed with the batch's reason: the run's next poll reads it
and the run ends failed saying which batch and why. Nothing is lost on the way: a turn
leaves `waiting`/`submitted` only with an answer or a reason.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from workers.agents import Agent, find_agent
from workers.db import batch_store
from workers.db.models import BatchTurn
from workers.errors import ProviderError
from workers.providers.batch_api import (
    FAILED_STATUSES,
    BatchApi,
    BatchLine,
    BatchStatus,
    LineResult,
)
from workers.runs import ledger
from workers.runs.context import StepContext

log = logging.getLogger("runq.batches")

BatchApiFor = Callable[[Agent], BatchApi]


@dataclass(frozen=True, slots=True)
class CollectPolicy:
    """The collector's knobs, as plain values."""

    max_lines: int = 50_000
    """Turns sent per pass at most (the Batch API takes up to 50,000 lines a file)."""
    retries: int = 1
    """Times a turn is sent again after its batch failed or expired."""


@dataclass(slots=True)
class Collected:
    """What one pass did, in turns."""

    sent: int = 0
    answered: int = 0
    failed: int = 0
    sent_again: int = 0


def collect_batches(ctx: StepContext, api_for: BatchApiFor, policy: CollectPolicy) -> Collected:
    """One pass: send waiting turns, read open batches, wake the runs that were answered."""
    done = Collected()
    _send_waiting(ctx, api_for, policy, done)
    with ctx.sessions() as session:
        open_batches = batch_store.open_batches(session)
    for batch_id in open_batches:
        _read_batch(ctx, api_for, policy, batch_id, done)
    return done


def _send_waiting(
    ctx: StepContext, api_for: BatchApiFor, policy: CollectPolicy, done: Collected
) -> None:
    with ctx.sessions() as session:
        waiting = batch_store.waiting_turns(session, limit=policy.max_lines)
    by_agent: dict[str, list[BatchTurn]] = defaultdict(list)
    for turn in waiting:
        by_agent[turn.agent].append(turn)
    for name, turns in by_agent.items():
        agent = find_agent(name)
        if agent is None:
            _fail_waiting(ctx, turns, f"agent {name!r} is no longer declared")
            done.failed += len(turns)
            continue
        lines = [BatchLine(t.id, json.loads(t.body)) for t in turns]
        try:
            batch_id = api_for(agent).submit(lines, metadata={"runq_agent": name[:512]})
        except ProviderError as exc:
            # The turns stay waiting: the next pass tries again (the runs' deadlines bound it).
            log.warning("batch of %d turns of agent %s not sent: %s", len(lines), name, exc)
            continue
        with ctx.sessions() as session:
            batch_store.mark_submitted(session, turn_ids=[t.id for t in turns], batch_id=batch_id)
        log.info("sent %d turns of agent %s as batch %s", len(lines), name, batch_id)
        done.sent += len(turns)


def _read_batch(
    ctx: StepContext, api_for: BatchApiFor, policy: CollectPolicy, batch_id: str, done: Collected
) -> None:
    with ctx.sessions() as session:
        turns = batch_store.turns_of_batch(session, batch_id=batch_id)
    agent = find_agent(turns[0].agent) if turns else None
    if agent is None:
        return
    api = api_for(agent)
    try:
        status = api.status(batch_id)
        finished = status.status == "completed" or status.status in FAILED_STATUSES
        results = api.results(status) if finished else []
    except ProviderError as exc:
        log.warning("batch %s not read: %s", batch_id, exc)
        return
    if not finished:
        return
    answered = _record_results(ctx, batch_id, results, done)
    left = [t for t in turns if t.id not in answered]
    if left:
        _settle_unanswered(ctx, policy, status, left, done)
    _wake(ctx, {t.run_id for t in turns})


def _record_results(
    ctx: StepContext, batch_id: str, results: Iterable[LineResult], done: Collected
) -> set[str]:
    """Record each line's answer (or its own error) on its turn; the turns it settled."""
    settled: set[str] = set()
    with ctx.sessions() as session:
        for result in results:
            if result.response is not None:
                body = json.dumps(result.response)
                if batch_store.answer(session, turn_id=result.custom_id, response_json=body):
                    done.answered += 1
            else:
                reason = f"batch {batch_id}: the request failed: {result.error}"
                done.failed += batch_store.fail(session, turn_ids=[result.custom_id], error=reason)
            settled.add(result.custom_id)
    return settled


def _settle_unanswered(
    ctx: StepContext,
    policy: CollectPolicy,
    status: BatchStatus,
    turns: list[BatchTurn],
    done: Collected,
) -> None:
    """Turns the batch ended without answering: sent again once, else failed with why."""
    reason = f"batch {status.id} {status.status}: {status.reason or 'no reason given'}"
    if status.status == "completed":
        reason = f"batch {status.id} completed without an answer for this turn"
    again = [t.id for t in turns if status.status != "completed" and t.attempts < policy.retries]
    given_up = [t for t in turns if t.id not in again]
    with ctx.sessions() as session:
        done.sent_again += batch_store.send_again(session, turn_ids=again, error=reason)
        for turn in given_up:
            sent = turn.attempts + 1
            note = f" (sent {sent} time{'s' if sent > 1 else ''})"
            done.failed += batch_store.fail(session, turn_ids=[turn.id], error=reason + note)
    log.warning("%s: %d turns sent again, %d failed", reason, len(again), len(given_up))


def _fail_waiting(ctx: StepContext, turns: list[BatchTurn], reason: str) -> None:
    with ctx.sessions() as session:
        batch_store.fail_waiting(session, turn_ids=[t.id for t in turns], error=reason)
    _wake(ctx, {t.run_id for t in turns})


def _wake(ctx: StepContext, run_ids: set[str]) -> None:
    """The runs' next polls are due now: the sweep sends them (they were parked)."""
    due = ledger.Due(ctx.now(), parked=True)
    with ctx.sessions() as session:
        for run_id in sorted(run_ids):
            ledger.note_due(session, run_id=run_id, due=due)
