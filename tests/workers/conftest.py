"""The database fixture of the store and step tests: in-memory SQLite (unit tier) and a
real PostgreSQL database migrated with Alembic (integration tier), same tests on both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine

from tests.workers.steps_fixtures import memory_engine
from workers.db.migrate import upgrade_to_head


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield memory_engine()
        return
    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = f"host=127.0.0.1 port={server.port} user=postgres"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    upgrade_to_head(url)
    pg_engine = create_engine(url)
    yield pg_engine
    pg_engine.dispose()
    # Dropped here, a few ms each: left to the session's end, a hundred databases' files
    # took the server's teardown past its 10 s timeout on a loaded machine.
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")
