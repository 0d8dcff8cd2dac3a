from datetime import UTC, datetime

from workers.db.changes import RunChanges

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_columns_are_only_the_fields_set():
    assert RunChanges().columns() == {}
    assert RunChanges(step_seq=3, error="boom", finished_at=NOW).columns() == {
        "step_seq": 3,
        "error": "boom",
        "finished_at": NOW,
    }


def test_zero_and_false_are_written_not_skipped():
    assert RunChanges(attempts=0, cache_hit=False).columns() == {"attempts": 0, "cache_hit": False}


def test_or_lets_the_right_side_win_and_keeps_the_rest():
    merged = RunChanges(attempts=0, turn_polls=4) | RunChanges(turn_polls=0, step_seq=2)
    assert merged == RunChanges(attempts=0, turn_polls=0, step_seq=2)
