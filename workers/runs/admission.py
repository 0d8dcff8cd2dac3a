"""Fair shares' admission round: read who holds and who waits, choose, record the admits.

The choice is `fair_share.choose_admissions` (pure); this module loads its inputs and marks
the chosen runs admitted (`ledger.admit`). The caller sends each admitted run's start, after
the commit, as for any step. Rounds are serialised across the fleet (`admission_lock`), so
two rounds never hand out the same free slots twice.
"""

from __future__ import annotations

import logging

from workers.db import share_store
from workers.runs import ledger
from workers.runs.context import StepContext
from workers.runs.fair_share import Tenant, choose_admissions

log = logging.getLogger("runq.admission")


def admit_waiting_runs(ctx: StepContext, *, target: int) -> list[str]:
    """Admit waiting runs up to `target` runs in flight, by weighted fair share; returns
    the ids admitted (each is now due: its start is the caller's to send)."""
    with ctx.sessions() as session:
        in_flight = share_store.in_flight_by_key(session)
        free = target - sum(in_flight.values())
        if free <= 0:
            return []
        waiting = share_store.waiting_by_key(session, per_key=free)
        if not waiting:
            return []
        shares = share_store.shares_of(session, key_ids=set(waiting) | set(in_flight))
        tenants = [
            Tenant(
                key_id=key_id,
                in_flight=in_flight.get(key_id, 0),
                waiting=waiting.get(key_id, ()),
                weight=shares.get(key_id, (1, None))[0],
                cap=shares.get(key_id, (1, None))[1],
            )
            for key_id in sorted(set(waiting) | set(in_flight))
        ]
        chosen = choose_admissions(tenants, target)
        now = ctx.now()
        admitted = [run_id for run_id in chosen if ledger.admit(session, run_id=run_id, now=now)]
    for run_id in admitted:
        log.info("run %s admitted: its key's share has a free slot", run_id)
    return admitted


def release_waiting_runs(ctx: StepContext, *, batch: int) -> list[str]:
    """Fair shares are off but runs still wait (left from when they were on): admit up to
    `batch` of them whatever their share, so turning fair shares off strands no run."""
    with ctx.sessions() as session:
        waiting = share_store.waiting_by_key(session, per_key=batch)
        chosen = [run_id for run_ids in waiting.values() for run_id in run_ids][:batch]
        now = ctx.now()
        return [run_id for run_id in chosen if ledger.admit(session, run_id=run_id, now=now)]
