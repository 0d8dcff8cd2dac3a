"""Ticks as arithmetic: cron and time zones, missed ticks, overlapping runs, the run_at window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workers.schedule_ticks import (
    DueSchedule,
    Fire,
    MissedPolicy,
    OverlapPolicy,
    Skip,
    cron_problem,
    next_tick,
    plan_tick,
    run_at_problem,
    tick_key,
    timezone_problem,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("*/5 * * * *", None),
        ("0 9 * * 1-5", None),
        ("*/2 * * * * *", None),
        ("", "Wrong number of fields"),
        ("* * *", "Wrong number of fields"),
        ("61 * * * *", "Bad minute"),
        ("0 25 * * *", "Bad hour"),
        ("0 9 * * funday", "Bad day-of-week"),
        ("* * * * * * *", "Wrong number of fields"),
    ],
)
def test_cron_expressions(expression, problem):
    found = cron_problem(expression)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found and "six with seconds" in found


@pytest.mark.parametrize(
    ("name", "ok"),
    [("UTC", True), ("Europe/Oslo", True), ("Mars/Base", False), ("../etc/passwd", False)],
)
def test_time_zones(name, ok):
    assert (timezone_problem(name) is None) is ok


@pytest.mark.parametrize(
    ("cron", "timezone", "after", "expected"),
    [
        ("*/5 * * * *", "UTC", T0, T0 + timedelta(minutes=5)),
        ("*/5 * * * *", "UTC", T0 + timedelta(seconds=1), T0 + timedelta(minutes=5)),
        ("*/2 * * * * *", "UTC", T0, T0 + timedelta(seconds=2)),
        # 09:00 in Oslo is 08:00 UTC in winter...
        ("0 9 * * *", "Europe/Oslo", T0, datetime(2026, 12, 8, 8, 0, tzinfo=UTC)),
        # ...and 07:00 UTC in summer (daylight saving counted).
        ("0 9 * * *", "Europe/Oslo", datetime(2026, 7, 1, tzinfo=UTC),
         datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_next_tick_is_strictly_after_and_in_utc(cron, timezone, after, expected):
    tick = next_tick(cron, timezone, after)
    assert tick == expected and tick.tzinfo is not None and tick.utcoffset() == timedelta(0)


def due(tick=T0, missed=MissedPolicy.SKIP, overlap=OverlapPolicy.SKIP, active=False):
    return DueSchedule(
        cron="*/5 * * * *",
        timezone="UTC",
        missed=missed,
        overlap=overlap,
        tick=tick,
        previous_run_id="run_prev" if active else None,
        previous_run_active=active,
    )


MIN = timedelta(minutes=1)
SKIP, CATCH_UP = MissedPolicy.SKIP, MissedPolicy.CATCH_UP_ONCE


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        # on time, or late by less than the missed grace (60 s): fired, next tick owed
        (due(), T0, Fire(T0, T0 + 5 * MIN)),
        (due(), T0 + 59 * timedelta(seconds=1), Fire(T0, T0 + 5 * MIN)),
        # the fleet was down from 09:00 to 09:31: ticks 09:00..09:30 were missed
        (due(missed=SKIP), T0 + 31 * MIN,
         Skip(T0, T0 + 35 * MIN, "missed ticks from 2026-12-07 09:00:00Z skipped")),
        (due(missed=CATCH_UP), T0 + 31 * MIN,
         Fire(T0, T0 + 35 * MIN, note="one run for the ticks missed since 2026-12-07 09:00:00Z")),
        # down until 09:30:30: the 09:30 tick is not missed, it is owed next (and due now)
        (due(missed=SKIP), T0 + 30 * MIN + 30 * timedelta(seconds=1),
         Skip(T0, T0 + 30 * MIN, "missed ticks from 2026-12-07 09:00:00Z skipped")),
        # the previous run is still going
        (due(overlap=OverlapPolicy.SKIP, active=True), T0,
         Skip(T0, T0 + 5 * MIN, "previous run run_prev still going (overlap: skip)")),
        (due(overlap=OverlapPolicy.ENQUEUE, active=True), T0, Fire(T0, T0 + 5 * MIN)),
        (due(overlap=OverlapPolicy.CANCEL, active=True), T0,
         Fire(T0, T0 + 5 * MIN, cancel_run_id="run_prev")),
        # a previous run that ended is no overlap, whatever the policy
        (due(overlap=OverlapPolicy.CANCEL), T0, Fire(T0, T0 + 5 * MIN)),
        # a catch-up run meets the overlap policy too
        (due(missed=CATCH_UP, overlap=OverlapPolicy.SKIP, active=True), T0 + 31 * MIN,
         Skip(T0, T0 + 35 * MIN, "previous run run_prev still going (overlap: skip)")),
    ],
)  # fmt: skip
def test_plan_tick(schedule, now, expected):
    assert plan_tick(schedule, now, missed_after_s=60.0) == expected


def test_the_tick_key_names_the_schedule_and_the_tick_in_utc():
    oslo = T0.astimezone(ZoneInfo("Europe/Oslo"))
    assert tick_key("sch_1", oslo) == tick_key("sch_1", T0) == "sch_1@2026-12-07T09:00:00Z"


@pytest.mark.parametrize(
    ("offset", "problem"),
    [
        (timedelta(seconds=-4), None),  # inside the clock-skew slack
        (timedelta(hours=1), None),
        (timedelta(days=364), None),
        (timedelta(seconds=-6), "is in the past"),
        (timedelta(days=-400), "is in the past"),
        (timedelta(days=366), "more than 365 days ahead (RUNQ_MAX_RUN_AT_DAYS)"),
    ],
)
def test_the_run_at_window(offset, problem):
    found = run_at_problem(T0 + offset, T0, slack_s=5.0, max_ahead_days=365.0)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
