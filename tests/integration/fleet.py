"""The integration tier's fleet and what tests do with it: start it, enqueue a batch, wait,
read the simulator's counters. The `fleet` fixture (conftest) starts one per session."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from devstack.embedded_postgres import EmbeddedPostgres
from devstack.local_stack import LocalStack, start_local_stack
from tests.ports import XDIST_INDEX, free_port
from workers.db.migrate import upgrade_to_head
from workers.observability.exporter import PORTS_TO_TRY

# Each test run needs at least 4 requests (create, poll, submit, poll): 60 runs make at
# least 240, so a 200 RPM budget always binds for the last ~40 of them.
LIMITED_RPM = 200

# Tight timings so the tier is quick; the logic is the same as with production defaults.
# The Agents SDK's agents (tests/integration/sdk_agents.py) need the `agents` extra.
AGENT_MODULES = ["tests.integration.agents", "bench.chaos_agents"] + (
    ["tests.integration.sdk_agents"] if importlib.util.find_spec("agents") is not None else []
)
FLEET_ENV = {
    "RUNQ_POLL_FIRST_S": "0.1",
    "RUNQ_POLL_CAP_S": "1.0",
    "RUNQ_RETRY_FIRST_S": "0.2",
    "RUNQ_RETRY_CAP_S": "2.0",
    "RUNQ_SWEEP_EVERY_S": "1",
    "RUNQ_RECOVERY_GRACE_S": "1",
    "RUNQ_MAX_RECOVERIES": "5",
    # 4, not 2: the chaos test's random kills land on whatever is running. A call's last
    # attempt runs alone (workers.tools.solo_gate), so a poison's crashes alone never fail
    # the calls beside it; with the random kills on top, 2 caught an innocent lookup.
    "RUNQ_MAX_DELIVERIES": "4",
    "RUNQ_AGENT_MISSING_RETRIES": "2",
    "RUNQ_AGENT_MISSING_RETRY_S": "0.5",
    "RUNQ_TOOL_GRACE_S": "2",
    "RUNQ_PROVIDER_TIMEOUT_S": "3",
    "RUNQ_AGENT_MODULES": json.dumps(AGENT_MODULES),
    # Only the `limited-agent` model has a budget; test_shared_budget sets the simulator's.
    "RUNQ_MODEL_LIMITS": json.dumps({"gpt-limited": {"requests_per_min": LIMITED_RPM}}),
    # Callback receivers in the tests listen on 127.0.0.1, and should not wait seconds.
    "RUNQ_CALLBACK_ALLOW_PRIVATE": "true",
    "RUNQ_CALLBACK_RETRY_FIRST_S": "0.2",
    # A lost webhook costs a 5 s wait, not the production 30 s.
    "RUNQ_WEBHOOK_POLL_FIRST_S": "5",
    # The batch lane's collector every second, not every minute (test_lanes).
    "RUNQ_BATCH_COLLECT_EVERY_S": "1",
}
# Recognisable secrets (the simulator takes any key): test_operate greps every worker log
# line and every broker message for them. Workers log JSON lines and serve /metrics.
SECRETS = {
    "OPENAI_API_KEY": "sk-it-SECRET-main-key-7f3a9c",
    "provider key": "sk-it-SECRET-provider-key-51be0d",
    "RUNQ_CALLBACK_SECRET": "whsec_cnVucS1pdC1TRUNSRVQtY2FsbGJhY2sta2V5LWM0ZTI=",
    "RUNQ_OPERATOR_PASSWORD": "op-it-SECRET-password-9d1f",
}
METRICS_PRICE = {
    "gpt-metrics": {"input_per_mtok": 2.0, "output_per_mtok": 8.0},
    "gpt-lanes": {"input_per_mtok": 1.0, "output_per_mtok": 4.0, "cached_input_per_mtok": 0.1},
}
# test_dollar_budgets: dear enough that a $1 key budget binds within a few hundred runs.
BUDGET_PRICE = {"gpt-budget": {"input_per_mtok": 50.0, "output_per_mtok": 200.0}}
FLEET_ENV |= {
    "OPENAI_API_KEY": SECRETS["OPENAI_API_KEY"],
    "RUNQ_PROVIDER_KEYS": json.dumps({"second": SECRETS["provider key"]}),
    "RUNQ_CALLBACK_SECRET": SECRETS["RUNQ_CALLBACK_SECRET"],
    "RUNQ_OPERATOR_PASSWORD": SECRETS["RUNQ_OPERATOR_PASSWORD"],
    "RUNQ_LOG_FORMAT": "json",
    "RUNQ_MODEL_PRICES": json.dumps(METRICS_PRICE | BUDGET_PRICE),
    # A key whose runs wait for budget room asks again after a second, not ten.
    "RUNQ_BUDGET_WAIT_S": "1",
}
FLEET_LOGLEVEL = "INFO"
TERMINAL = {"completed", "failed", "cancelled", "expired"}


@contextmanager
def running_fleet(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    extra_env: dict[str, str] | None = None,
    runs_workers: int = 1,
) -> Iterator[LocalStack]:
    """Redis + simulator + `runs_workers` runs workers (the first with the recovery sweep's beat) +
    one tools and one callbacks worker, all real processes; the environment is restored
    afterwards."""
    saved_env = dict(os.environ)
    workdir = tmp_path_factory.mktemp("fleet")
    try:
        stack = start_local_stack(workdir, latency_ms=150, extra_env=FLEET_ENV | (extra_env or {}))
    except (OSError, RuntimeError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"could not start the local fleet: {exc}")
    metrics_port = metrics_base_port()
    stack.env["RUNQ_METRICS_PORT"] = str(metrics_port)
    os.environ["RUNQ_METRICS_PORT"] = str(metrics_port)
    try:
        for index in range(runs_workers):
            stack.start_worker(
                "runs",
                concurrency=16,
                name=f"runs{index}",
                beat=index == 0,
                loglevel=FLEET_LOGLEVEL,
            )
        # The README's and compose's lines: callbacks in their own pool, apart from tools.
        stack.start_worker("tools", concurrency=16, name="tools", loglevel=FLEET_LOGLEVEL)
        stack.start_worker("callbacks", concurrency=8, name="callbacks", loglevel=FLEET_LOGLEVEL)
        stack.wait_for_workers(runs_workers + 2)
        yield stack
    finally:
        # A throwaway fleet: no in-flight work to keep, and the session's last test pays for
        # this teardown within its own timeout.
        stack.stop(grace_s=2.0)
        os.environ.clear()
        os.environ.update(saved_env)
        from workers import wiring

        wiring.reset()


def metrics_base_port() -> int:
    """The first of the ports the fleet's workers serve /metrics on (each takes the first free
    one of `PORTS_TO_TRY` from here, and tests scrape them all). A band of its own for each
    pytest-xdist process, below the ephemeral range that `free_port` draws from: two fleets
    on one machine never scrape each other's workers. A taken band falls back to a free port."""
    base = 20000 + XDIST_INDEX * 2 * PORTS_TO_TRY
    try:
        for port in range(base, base + PORTS_TO_TRY):
            socket.create_server(("127.0.0.1", port)).close()
    except OSError:
        return free_port()
    return base


def fresh_postgres_database(server: EmbeddedPostgres) -> str:
    """A new, migrated database on `server`; returns its URL."""
    name = f"fleet_{uuid.uuid4().hex[:8]}"
    dsn = f"host=127.0.0.1 port={server.port} user=postgres"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    upgrade_to_head(url)
    return url


def simulator_stats(stack: LocalStack) -> dict[str, Any]:
    """The simulator's request counters."""
    with urllib.request.urlopen(f"{stack.simulator_url}/_sim/stats", timeout=5) as reply:
        return dict(json.load(reply))


def configure_simulator(stack: LocalStack, **changes: Any) -> None:
    """Change the simulator's faults or limits at runtime."""
    request = urllib.request.Request(
        f"{stack.simulator_url}/_sim/config",
        data=json.dumps(changes).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 200


def enqueue_batch(
    inputs: list[str],
    agent: str = "assistant",
    cache: bool | None = None,
    owner_key_id: str = "",
    **job: Any,
) -> str:
    """Enqueue one run per input, all in a new batch (owned by `owner_key_id`, if any);
    returns the batch id."""
    import tests.integration.agents  # noqa: F401  (declares the test agents here too)
    from workers import wiring
    from workers.public.enqueue import enqueue_run
    from workers.public.schemas import JobCreate

    batch_id = f"it-{uuid.uuid4().hex[:8]}"
    with wiring.new_session() as session:
        for text in inputs:
            enqueue_run(
                session,
                JobCreate(agent=agent, input=text, batch_id=batch_id, cache=cache, **job),
                default_deadline_s=300,
                owner_key_id=owner_key_id,
            )
    return batch_id


def wait_for_batch(batch_id: str, count: int, timeout_s: float = 90.0) -> None:
    """Wait until every run of the batch is terminal (fails the test on timeout)."""
    from workers import wiring
    from workers.db import store

    deadline = time.monotonic() + timeout_s
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        with wiring.new_session() as session:
            counts = store.count_runs_by_status(session, batch_id=batch_id)
        if sum(n for status, n in counts.items() if status in TERMINAL) >= count:
            return
        time.sleep(0.2)
    pytest.fail(f"batch {batch_id} did not finish in {timeout_s}s: {counts}")
