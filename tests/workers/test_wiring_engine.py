"""The process's engine and step context are built once, however many threads ask first."""

from __future__ import annotations

import threading
import time

from workers import wiring


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
    start = threading.Barrier(8)
    engines = []

    def first_task() -> None:
        start.wait()
        engines.append(wiring.get_engine())

    # When eight threads run their first task at once
    threads = [threading.Thread(target=first_task) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
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
    start = threading.Barrier(8)
    contexts = []

    def first_task() -> None:
        start.wait()
        contexts.append(wiring.get_step_context())

    # When eight threads run their first task at once
    threads = [threading.Thread(target=first_task) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Then one context was built, and all eight share it and its gate
        assert len(builds) == 1
        assert len({id(c) for c in contexts}) == 1 and len({id(c.solo) for c in contexts}) == 1
    finally:
        wiring.reset()
