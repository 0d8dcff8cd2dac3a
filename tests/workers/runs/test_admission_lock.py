"""The admission lock on fakeredis and real Redis: one message per owed round, rounds run
while owed, and a round owed while another worker holds the lock is run by that worker."""

from __future__ import annotations

from workers.redis_keys import admission_due_key, admission_lock_key
from workers.runs.admission_lock import owe_round, run_owed_rounds


def test_only_the_first_owed_round_asks_for_a_message(redis_client):
    assert owe_round(redis_client, "t")
    assert not owe_round(redis_client, "t")


def test_an_owed_round_runs_once_and_clears_the_debt(redis_client):
    owe_round(redis_client, "t")
    rounds: list[int] = []
    assert run_owed_rounds(redis_client, "t", lambda: rounds.append(1) or 2) == 2
    assert rounds == [1]
    assert not redis_client.exists(admission_due_key("t"))
    assert not redis_client.exists(admission_lock_key("t"))  # released


def test_no_round_runs_when_none_is_owed(redis_client):
    assert run_owed_rounds(redis_client, "t", lambda: 1) == 0


def test_a_round_owed_during_a_round_runs_before_the_lock_is_let_go(redis_client):
    owe_round(redis_client, "t")
    owed_again = [True]

    def admit_round() -> int:
        if owed_again.pop() if owed_again else False:
            owe_round(redis_client, "t")  # a run ended while this round ran
        return 1

    assert run_owed_rounds(redis_client, "t", admit_round) == 2


def test_another_holder_of_the_lock_is_left_to_run_the_owed_round(redis_client):
    redis_client.set(admission_lock_key("t"), "someone-else")
    owe_round(redis_client, "t")
    assert run_owed_rounds(redis_client, "t", lambda: 1) == 0
    assert redis_client.exists(admission_due_key("t"))  # still owed, for the holder
    assert redis_client.get(admission_lock_key("t")) == b"someone-else"
