"""A write that is its whole transaction commits inside SQLite's own call; one that follows
another write stays in that write's transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from workers.db.models import Thread
from workers.db.single_write import execute_single_write
from workers.wiring import build_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = build_engine(f"sqlite:///{tmp_path / 'single.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (name TEXT PRIMARY KEY, n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES ('a', 0), ('b', 0)"))
    return engine


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT name, n FROM counter")).all())


def _bump(name: str) -> object:
    return text("UPDATE counter SET n = n + 1 WHERE name = :name").bindparams(name=name)


def test_a_lone_write_is_committed_as_it_runs_and_holds_no_transaction(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(text("SELECT n FROM counter"))  # a read first opens no write
        result = execute_single_write(session, _bump("a"))
        raw = session.connection().connection.dbapi_connection
        # Another connection sees it before the caller commits: SQLite gave the lock back.
        assert (result.rowcount, _counts(engine)["a"], raw.in_transaction) == (1, 1, False)
        assert raw.isolation_level == ""  # pysqlite's default again, for the next writes
        session.commit()
    assert _counts(engine) == {"a": 1, "b": 0}


def test_a_write_after_another_stays_in_its_transaction(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(_bump("a"))
        execute_single_write(session, _bump("b"))
        assert _counts(engine) == {"a": 0, "b": 0}  # nothing committed yet
        session.rollback()
    assert _counts(engine) == {"a": 0, "b": 0}


def test_an_object_waiting_in_the_session_is_written_in_the_same_transaction(
    engine: Engine,
) -> None:
    with Session(engine) as session:
        session.add(Thread(external_key="user-42"))
        execute_single_write(session, _bump("a"))
        assert _counts(engine) == {"a": 0, "b": 0}  # the thread's INSERT opened the transaction
        session.rollback()
    with Session(engine) as session:
        assert session.exec(select(Thread)).all() == []
    assert _counts(engine) == {"a": 0, "b": 0}
