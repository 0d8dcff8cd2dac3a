"""The benchmark's report: table rows from measured outcomes, profile samples by library."""

from __future__ import annotations

import pytest

from bench.peers import print_table, row
from bench.profile_summary import kind_of

RESULT = {
    "name": "runq",
    "runs": 200,
    "started": 100.0,
    "finished": [102.0] * 198 + [105.0, 110.0],
    "cpu_s": 8.0,
    "peak_rss_mb": 320.4,
    "requests": 900,
    "polls": 500,
    "http_429": 0,
    "tool_calls": 400,
    "tools_twice": 0,
    "slots_held": "none",
    "notes": {},
}


def test_a_row_divides_by_runs_and_times_to_the_last_finish() -> None:
    assert row(RESULT) == [
        "runq",
        "10.0 s",
        "20.0",
        "4.50",
        "2.50",
        "40 ms",
        "320 MB",
        "none",
        "0",
        "0 of 400",
    ]


def test_under_a_budget_the_table_shows_the_share_used(capsys: pytest.CaptureFixture[str]) -> None:
    # 10 s at 300 RPM allows a 300 burst plus 50: 350 accepted of 350 is all of it.
    print_table([{**RESULT, "requests": 360, "http_429": 10}], rpm=300)
    assert capsys.readouterr().out.splitlines()[-1].endswith("| 100% |")


@pytest.mark.parametrize(
    ("stack", "kind"),
    [
        ("trace (celery/app/trace.py:1);store (sqlalchemy/orm/session.py:2)", "SQLAlchemy"),
        ("trace (celery/app/trace.py:1);x (celery/backends/redis.py:3)", "Celery result backend"),
        ("send (tasks/next_step.py:1);apply_async (celery/canvas.py:5)", "Celery publish"),
        ("run (workers/runs/steps.py:9);post (openai/_base_client.py:1)", "openai SDK"),
        ("trace (celery/app/trace.py:1)", "other Celery"),
        ("main (foo.py:1)", "everything else"),
    ],
)
def test_samples_go_to_the_library_doing_the_work(stack: str, kind: str) -> None:
    assert kind in kind_of(stack)
