"""Schema migrations (Alembic): `runq migrate`, and automatically for SQLite files.

Production databases are migrated once per deploy by `runq migrate` (the compose `migrate`
service), never by each worker at start-up, where many processes would race.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config for `database_url`, with no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation; escape it for passwords that contain one.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Bring the schema up to date (a no-op when it is)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # Several worker processes may start at once on one SQLite file: take turns.
        with migration_lock(Path(f"{url.database}.migrate-lock")):
            command.upgrade(alembic_config(database_url), "head")
        return
    command.upgrade(alembic_config(database_url), "head")


_migrating = threading.Lock()


@contextmanager
def migration_lock(path: Path) -> Iterator[None]:
    """Held by one thread of one process at a time.

    A POSIX record lock (`lockf`), not `flock`: an flock belongs to the open file, which a
    process forked meanwhile shares, and it stays held until that process closes it too. A
    tool host forked while a tools thread migrated kept the lock for its whole life (10 s
    idle), and every other thread building its engine waited that long (`make demo` took
    17 s instead of 4 s, three times in five). A record lock is the process's own; it is
    never inherited, so threads of one process take turns on a lock of their own first."""
    with _migrating, path.open("w") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        yield


def migrates_itself(database_url: str) -> bool:
    """SQLite files (the embedded default) are migrated on first use by the process."""
    return make_url(database_url).get_backend_name() == "sqlite"
