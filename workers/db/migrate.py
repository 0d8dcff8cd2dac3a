"""Schema migrations (Alembic): `runq migrate`, and automatically for SQLite files.

Production databases are migrated once per deploy by `runq migrate` (the compose `migrate`
service), never by each worker at start-up, where many processes would race.
"""

from __future__ import annotations

import fcntl
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
        with open(f"{url.database}.migrate-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            command.upgrade(alembic_config(database_url), "head")
        return
    command.upgrade(alembic_config(database_url), "head")


def migrates_itself(database_url: str) -> bool:
    """SQLite files (the embedded default) are migrated on first use by the process."""
    return make_url(database_url).get_backend_name() == "sqlite"
