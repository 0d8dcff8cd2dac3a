"""The integration tier: a real redis-server, real `celery worker` processes and the
simulator over HTTP, started once per session by the same code `runq demo` uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

import pytest

# The test agents, declared at collection: before the per-test registry snapshot, so a
# test that is the first to enqueue one does not lose them for the next test of its module.
import tests.integration.agents  # noqa: F401
from bench.chaos_agents import EXECUTIONS_FILE_ENV
from devstack.local_stack import LocalStack
from tests.integration.api_server import Api, served_api
from tests.integration.fleet import fresh_postgres_database, running_fleet

# test_operate's fixtures: the gateway routers, `runq flower`, headless Chromium.
from tests.integration.operate_fixtures import chromium, flower_url, gateway_url  # noqa: F401
from tests.integration.webhook_receiver import receiver  # noqa: F401


@pytest.fixture(scope="session")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalStack]:
    """One fleet for the whole tier (a process's Celery producer keeps its first broker):
    two `runs` workers and one `tools` worker, so several processes share every budget.
    The store is PostgreSQL, as in production (`runq demo` and its test cover SQLite);
    a machine without PostgreSQL falls back to a SQLite file outside CI."""
    executions = tmp_path_factory.mktemp("chaos") / "executions.log"
    executions.touch()  # there to read before the first tool writes to it
    env = {EXECUTIONS_FILE_ENV: str(executions)}
    with suppress(pytest.skip.Exception):
        env["DATABASE_URL"] = fresh_postgres_database(request.getfixturevalue("postgres_server"))
    with running_fleet(tmp_path_factory, runs_workers=2, extra_env=env) as stack:
        yield stack


@pytest.fixture(scope="session")
def api(fleet: LocalStack) -> Iterator[Api]:
    """The HTTP API on the fleet (uvicorn in a thread), with two tenants' keys."""
    with served_api() as served:
        yield served
