"""recover: which step an overdue run gets again, and when a poison run must end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workers.runs.recovery import (
    EXECUTE_TOOLS,
    GiveUp,
    OverdueRun,
    Resend,
    next_due_in_s,
    recover,
    tool_wait_s,
)
from workers.runs.state import RunStatus as S

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
CALLS = (("call_a", "get_weather"), ("call_b", "charge_card"))


def run(status, recoveries=0, deadline_at=LATER, tools=()):
    return OverdueRun(status, 4, 2, deadline_at, recoveries, tools)


@pytest.mark.parametrize(
    ("overdue", "expected"),
    [
        (run(S.PENDING), Resend("start")),
        (run(S.IN_PROGRESS), Resend("poll")),
        (run(S.REQUIRES_TOOLS, tools=CALLS), Resend(EXECUTE_TOOLS, ("call_a", "call_b"))),
        (run(S.REQUIRES_TOOLS), Resend("submit")),
        (run(S.SUBMITTING), Resend("submit", release_submit=True)),
        (
            run(S.SUBMITTING, tools=CALLS[:1]),
            Resend(EXECUTE_TOOLS, ("call_a",), release_submit=True),
        ),
        (run(S.IN_PROGRESS, recoveries=2), Resend("poll")),
        (
            run(S.IN_PROGRESS, recoveries=3),
            GiveUp(
                "step poll was re-sent 3 times and never finished: it kills its worker "
                "(or loses its message) every time"
            ),
        ),
        (
            run(S.REQUIRES_TOOLS, recoveries=3, tools=CALLS),
            GiveUp(
                "step execute_tools (charge_card, get_weather) was re-sent 3 times and never "
                "finished: it kills its worker (or loses its message) every time"
            ),
        ),
        (run(S.IN_PROGRESS, deadline_at=NOW), GiveUp("run passed its deadline", S.EXPIRED)),
        (
            run(S.PENDING, recoveries=9, deadline_at=NOW),
            GiveUp("run passed its deadline", S.EXPIRED),
        ),
    ],
)
def test_recover(overdue, expected):
    assert recover(overdue, NOW, max_recoveries=3) == expected


@pytest.mark.parametrize(
    ("step", "recoveries", "expected_s"),
    [
        (Resend("poll"), 0, 2.0),
        (Resend("poll"), 1, 4.0),
        (Resend("start"), 3, 16.0),
        (Resend(EXECUTE_TOOLS, ("c",)), 0, 2.0 + 12.0),
        (Resend(EXECUTE_TOOLS, ("c",)), 2, 8.0 + 12.0),
    ],
)
def test_the_grace_doubles_with_each_resend_and_a_chord_gets_its_tool_time(
    step, recoveries, expected_s
):
    assert next_due_in_s(step, recoveries, grace_s=2.0, tool_wait_s=12.0) == expected_s


def test_a_chord_may_take_its_slowest_tool_plus_the_grace():
    assert tool_wait_s([5.0, 10.0], tool_grace_s=2.0) == 12.0
    assert tool_wait_s([], tool_grace_s=2.0) == 2.0
