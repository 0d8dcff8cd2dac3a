"""The Alembic migrations build exactly the schema the SQLModel tables describe, and the
lock that lets processes on one SQLite file take turns to migrate it."""

import os
import signal
import subprocess
import sys
import time

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import workers.db.models  # noqa: F401
from workers.db.migrate import migrates_itself, migration_lock, upgrade_to_head


def test_migrations_match_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'runq.db'}"
    upgrade_to_head(url)
    upgrade_to_head(url)  # idempotent
    engine = create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_only_sqlite_files_migrate_themselves():
    assert migrates_itself("sqlite:///runq.db")
    assert not migrates_itself("postgresql+psycopg://u:p@db/runq")


def test_a_process_forked_while_the_migration_lock_is_held_does_not_keep_it(tmp_path):
    # A tool host forked from a worker while one of its threads migrated used to keep the
    # lock (an flock belongs to the open file the child shares) until the host exited.
    path = tmp_path / "runq.db.migrate-lock"
    with migration_lock(path):
        child = os.fork()
        if child == 0:  # holds every descriptor of the parent's for a while, then exits
            time.sleep(5)
            os._exit(0)
    try:
        # Then another process takes the lock at once, while the child still lives
        probe = subprocess.run(
            [sys.executable, "-c", TAKE_THE_LOCK, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr
        assert float(probe.stdout) < 1.0, f"waited {probe.stdout} s for the lock"
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


TAKE_THE_LOCK = """
import sys, time
from pathlib import Path
from workers.db.migrate import migration_lock
started = time.monotonic()
with migration_lock(Path(sys.argv[1])):
    print(time.monotonic() - started)
"""
