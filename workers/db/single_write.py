"""A write that is its whole transaction, committed by SQLite inside the statement itself.

SQLite lets one transaction write at a time. A write transaction sent the usual way holds
that lock from its first write until its COMMIT, and in between the writing thread must take
Python's interpreter lock back, which in a worker with 32 busy threads takes milliseconds.
Every other writer of the file (this worker's threads, the other workers) sleeps in SQLite's
busy handler meanwhile, 1, 2, 5, 10 … 100 ms between tries. In a 200-run batch an UPDATE
waited up to 0.9 s (p99 0.23 to 0.33 s), though it needs the lock for well under a millisecond
(`python -m bench.sqlite_waits`).

Nearly every write of a run is one statement, committed at once (the ledger's
compare-and-set, a tool call's claim, and on SQLite its output with the count of its turn's
calls still running). Sent in SQLite's autocommit mode, such a statement commits inside
SQLite's own call: the lock is held only while SQLite works, never while Python waits.
`execute_single_write` sends it that way when nothing is written yet in the connection's
transaction, nor waits in the session to be; otherwise (an earlier write, an object added
to the session, or a database that is not SQLite) it is sent within the transaction, as
before.

The caller commits (or rolls back) right after and sends nothing in between: a statement
sent this way is not part of anything that follows it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import CursorResult, Executable
from sqlmodel import Session


def execute_single_write(
    session: Session, statement: Executable, params: Any = None
) -> CursorResult[Any]:
    """Send `statement`, the last of its transaction, on the session's connection; on SQLite,
    with no write open before it, it commits as it runs. Read a RETURNING statement's rows
    at once: SQLite holds the lock until they are read."""
    # Objects added to the session but not yet written belong with this statement: written
    # first, they open the transaction, and the statement joins it.
    session.flush()
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection) or raw.in_transaction:
        return connection.execute(statement, params)
    # No transaction is open, so switching to autocommit commits nothing; restored at once.
    level = raw.isolation_level
    raw.isolation_level = None
    try:
        return connection.execute(statement, params)
    finally:
        raw.isolation_level = level
