"""Loaded by every Python process that `bench.sqlite_waits` starts (it is put first on their
PYTHONPATH): times each SQLite statement and commit, the wait for the file's write lock
included, and writes the times to `$RUNQ_BENCH_SQLITE_TIMES.<pid>.json` every second.

Measurement only: nothing of runq imports it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sqlite3.dbapi2
import sys
import threading
import time
from collections import defaultdict
from typing import Any, Self

_OUT = os.environ.get("RUNQ_BENCH_SQLITE_TIMES")
_times: defaultdict[str, list[float]] = defaultdict(list)


def _kind(sql: str) -> str:
    words = sql.split(None, 3)
    verb = words[0].upper() if words else "?"
    if verb in ("UPDATE", "INSERT", "DELETE") and len(words) > 2:
        table = words[1] if verb == "UPDATE" else words[2]
        return f"{verb} {table.strip(chr(34))}"
    return verb


class _TimedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        started = time.perf_counter()
        try:
            return super().execute(sql, parameters)
        finally:
            _times[_kind(sql)].append(time.perf_counter() - started)

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        started = time.perf_counter()
        try:
            return super().executemany(sql, parameters)
        finally:
            _times[_kind(sql) + " (many)"].append(time.perf_counter() - started)


class _TimedConnection(sqlite3.Connection):
    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _TimedCursor)

    def commit(self) -> None:
        started = time.perf_counter()
        try:
            super().commit()
        finally:
            _times["COMMIT"].append(time.perf_counter() - started)


def _dump_every_second() -> None:
    while True:
        time.sleep(1.0)
        with open(f"{_OUT}.{os.getpid()}.json", "w") as out:
            json.dump({"argv": sys.argv[:8], "times": dict(_times)}, out)


if _OUT:
    _connect = sqlite3.connect

    def _timed_connect(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("factory", _TimedConnection)
        return _connect(*args, **kwargs)

    sqlite3.connect = _timed_connect
    sqlite3.dbapi2.connect = _timed_connect
    threading.Thread(target=_dump_every_second, daemon=True).start()
