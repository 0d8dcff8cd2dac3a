"""SQL of fair shares: runs in flight and waiting per key, and each key's weight and cap.

The admission round reads these; the run's own writes (waiting, admitted) are the ledger's.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import and_, func, not_
from sqlmodel import Session, col, select

from workers.db.models import ApiKey, Run
from workers.db.statuses import RunStatus

# A run holds a slot from its admission until it ends. One that waits for a person or for
# the caller's outputs (requires_action) holds no worker or provider turn, so it frees its
# slot while it waits.
_IN_FLIGHT = [
    RunStatus.PENDING.value,
    RunStatus.IN_PROGRESS.value,
    RunStatus.REQUIRES_TOOLS.value,
    RunStatus.SUBMITTING.value,
]


def in_flight_by_key(session: Session) -> dict[str, int]:
    """Runs holding a slot, per owner key id ("" for runs with no key): not waiting for
    their share, and not waiting for a later `run_at`."""
    pending_later = and_(col(Run.status) == RunStatus.PENDING.value, col(Run.parked))
    query = (
        select(Run.owner_key_id, func.count())
        .where(col(Run.status).in_(_IN_FLIGHT))
        .where(not_(col(Run.share_waiting)), not_(pending_later))
        .group_by(col(Run.owner_key_id))
    )
    return {key_id: int(count) for key_id, count in session.exec(query).all()}


def waiting_by_key(session: Session, *, per_key: int) -> dict[str, tuple[str, ...]]:
    """The oldest `per_key` run ids waiting for their share, per owner key id."""
    keys_query = (
        select(Run.owner_key_id)
        .where(col(Run.share_waiting), col(Run.status) == RunStatus.PENDING.value)
        .distinct()
    )
    waiting: dict[str, tuple[str, ...]] = {}
    for key_id in session.exec(keys_query).all():
        runs_query = (
            select(Run.id)
            .where(col(Run.share_waiting), col(Run.status) == RunStatus.PENDING.value)
            .where(col(Run.owner_key_id) == key_id)
            .order_by(col(Run.created_at), col(Run.id))
            .limit(per_key)
        )
        waiting[key_id] = tuple(session.exec(runs_query).all())
    return waiting


def shares_of(session: Session, *, key_ids: Collection[str]) -> dict[str, tuple[int, int | None]]:
    """(weight, cap) of each key in `key_ids` that exists; others count as (1, None)."""
    query = select(ApiKey.id, ApiKey.weight, ApiKey.max_concurrent_runs).where(
        col(ApiKey.id).in_(list(key_ids))
    )
    return {key_id: (weight, cap) for key_id, weight, cap in session.exec(query).all()}


def set_share(
    session: Session, *, key: ApiKey, weight: int | None, cap: int | None, clear_cap: bool
) -> ApiKey:
    """Change the key's weight (when given) and cap (when given, or removed: `clear_cap`)."""
    if weight is not None:
        key.weight = weight
    if cap is not None or clear_cap:
        key.max_concurrent_runs = cap
    session.add(key)
    session.commit()
    session.refresh(key)
    return key


def count_of_key(session: Session, *, key_id: str) -> tuple[int, int]:
    """(runs in flight, runs waiting for their share) of one key."""
    in_flight = in_flight_by_key(session).get(key_id, 0)
    query = select(func.count()).where(
        col(Run.owner_key_id) == key_id,
        col(Run.share_waiting),
        col(Run.status) == RunStatus.PENDING.value,
    )
    return in_flight, int(session.exec(query).one())
