"""The sweep task: one sweep per interval fleet-wide, whoever's beat sends it."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

import tasks.housekeeping as housekeeping
from config.settings import get_settings


@pytest.fixture
def sweeps(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    ran: list[Any] = []
    client = fakeredis.FakeRedis()
    monkeypatch.setattr(housekeeping, "get_redis", lambda: client)
    monkeypatch.setattr(housekeeping, "get_step_context", lambda: None)
    monkeypatch.setattr(
        housekeeping, "sweep_overdue_runs", lambda ctx, policy: ran.append(policy) or []
    )
    monkeypatch.setattr(housekeeping, "release_waiting_runs", lambda ctx, batch: [])
    return ran


def test_two_beats_sweeping_at_once_make_one_sweep(sweeps):
    # Given two beat instances (a mistake) whose sweep messages arrive together
    # When both run
    housekeeping.sweep()
    housekeeping.sweep()
    # Then the Redis lock let only the first sweep
    assert len(sweeps) == 1


def test_the_sweep_uses_the_recovery_settings(sweeps):
    housekeeping.sweep()
    [policy] = sweeps
    runs = get_settings().runs
    assert (policy.grace_s, policy.batch, policy.max_recoveries) == (
        runs.recovery_grace_s,
        runs.sweep_batch,
        runs.max_recoveries,
    )
