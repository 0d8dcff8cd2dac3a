"""Stored thread keys back to the caller's name: never an IndexError on a legacy key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import memory_engine
from workers.db import thread_store
from workers.db.models import utcnow
from workers.public.views import runs_public, thread_public
from workers.runs import ledger


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("key_x", "key_x"), ("key_abc/team/user-1", "team/user-1"), ("user-1", "user-1")],
)
def test_a_run_and_its_thread_show_the_callers_name(stored: str, shown: str) -> None:
    # `key_x` is a thread an unowned producer could name before the rule: the callback task
    # built the run's public view with split("/")[1] and died on IndexError.
    with Session(memory_engine()) as session:
        thread = thread_store.get_or_create_thread(session, external_key=stored, agent="a")
        run, _ = ledger.open_run(
            session,
            agent="a",
            input_text="hi",
            provider="responses",
            model="m",
            deadline_at=utcnow() + timedelta(minutes=5),
            thread_id=thread.id,
        )
        assert runs_public(session, [run])[0].thread_key == shown
        assert thread_public(session, thread).thread_key == shown
