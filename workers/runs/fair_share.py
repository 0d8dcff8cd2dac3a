"""Pure: which waiting runs an admission round lets start, by weighted fair share.

Each key (tenant) with runs waiting gets the next free slot in turn of its load after that
slot, `(in flight + admitted + 1) / weight` (the lowest first, as weighted fair queueing
orders finish times), until the fleet's target of runs in flight is reached, the key's cap
is reached or its queue is empty. A key that enqueues 10,000 runs thus holds about its
weighted share of the slots while another key's 10 runs start as soon as a slot frees.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tenant:
    """One key's side of a round: its runs in flight, its waiting runs (oldest first), its
    weight and its cap on runs in flight (None: no cap of its own)."""

    key_id: str
    in_flight: int
    waiting: tuple[str, ...]
    weight: int = 1
    cap: int | None = None


def share_problem(weight: int | None, cap: int | None) -> str | None:
    """Why a weight or cap cannot be stored (one line), or None when both are fine."""
    if weight is not None and weight < 1:
        return f"weight must be a whole number of at least 1, not {weight}"
    if cap is not None and cap < 1:
        return f"max concurrent runs must be at least 1 (or unset for no cap), not {cap}"
    return None


def choose_admissions(tenants: Sequence[Tenant], target: int) -> list[str]:
    """The run ids to start now, in the order they should be sent.

    `target`: runs in flight the whole fleet aims for; the slots free are `target` minus
    every tenant's in-flight runs (none when the fleet is at or over it)."""
    free = target - sum(tenant.in_flight for tenant in tenants)
    held = {tenant.key_id: tenant.in_flight for tenant in tenants}
    next_index = {tenant.key_id: 0 for tenant in tenants}
    queue = [(_load_after_one(tenant, held), tenant.key_id, tenant) for tenant in tenants]
    heapq.heapify(queue)
    admitted: list[str] = []
    while free > 0 and queue:
        _, key_id, tenant = heapq.heappop(queue)
        index = next_index[key_id]
        if index >= len(tenant.waiting) or _at_cap(tenant, held[key_id]):
            continue  # this key takes no more slots this round
        admitted.append(tenant.waiting[index])
        next_index[key_id] = index + 1
        held[key_id] += 1
        free -= 1
        heapq.heappush(queue, (_load_after_one(tenant, held), key_id, tenant))
    return admitted


def _load_after_one(tenant: Tenant, held: dict[str, int]) -> float:
    return (held[tenant.key_id] + 1) / tenant.weight


def _at_cap(tenant: Tenant, held: int) -> bool:
    return tenant.cap is not None and held >= tenant.cap
