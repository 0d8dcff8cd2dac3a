"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import workers.db.models  # noqa: F401
from workers.db.migrate import migrates_itself, upgrade_to_head


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
