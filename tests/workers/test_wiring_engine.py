"""The process's engine and step context are built once, however many threads ask first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from workers import wiring


def eight_first_tasks_at_once(get: Callable[[], Any]) -> list[Any]:
    """What `get` gave each of eight threads that called it at the same moment."""
    start = threading.Barrier(8)
    got: list[Any] = []

    def first_task() -> None:
        start.wait()
        got.append(get())

    threads = [threading.Thread(target=first_task) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got


def test_threads_asking_for_the_engine_at_once_wait_for_one_build(tmp_path, monkeypatch):
    # Given a SQLite file (each build migrates it) and a build slow enough to overlap
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    wiring.reset()
    builds: list[str] = []
    real_build = wiring.build_engine

    def slow_build(url: str):
        builds.append(url)
        time.sleep(0.2)
        return real_build(url)

    monkeypatch.setattr(wiring, "build_engine", slow_build)
    try:
        # When eight threads run their first task at once
        engines = eight_first_tasks_at_once(wiring.get_engine)
        # Then one engine was built (and the file migrated once), and all eight use it
        assert len(builds) == 1
        assert len(engines) == 8 and len({id(e) for e in engines}) == 1
    finally:
        wiring.reset()


def test_threads_asking_for_the_step_context_at_once_share_one(tmp_path, monkeypatch):
    # Given a fresh process and a context build slow enough to overlap (its tool gate is
    # per process: two contexts let two re-runs each run "alone" at once)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    wiring.reset()
    builds: list[int] = []
    real_build = wiring._build_step_context

    def slow_build():
        builds.append(1)
        time.sleep(0.2)
        return real_build()

    monkeypatch.setattr(wiring, "_build_step_context", slow_build)
    try:
        # When eight threads run their first task at once
        contexts = eight_first_tasks_at_once(wiring.get_step_context)
        # Then one context was built, and all eight share it and its gate
        assert len(builds) == 1 and len(contexts) == 8
        assert len({id(c) for c in contexts}) == 1 and len({id(c.solo) for c in contexts}) == 1
    finally:
        wiring.reset()


def test_a_getter_with_arguments_builds_once_per_arguments():
    built: list[tuple[str, str]] = []

    @wiring.BuiltOnce
    def client(base_url: str, key: str) -> object:
        built.append((base_url, key))
        return object()

    first = eight_first_tasks_at_once(lambda: client("http://a", "k1"))
    assert len({id(c) for c in first}) == 1
    assert client("http://a", "k1") is first[0]
    assert client("http://b", "k1") is not first[0]
    assert built == [("http://a", "k1"), ("http://b", "k1")]
    assert client.built() == [first[0], client("http://b", "k1")]  # asking builds nothing
    client.cache_clear()
    assert client.built() == []
    assert client("http://a", "k1") is not first[0]
    assert client.__name__ == "client"
