from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from workers.backoff import Schedule
from workers.db.statuses import RunStatus, is_terminal
from workers.errors import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest, Usage
from workers.runs.state import (
    Correct,
    Fail,
    Finish,
    Poll,
    Retry,
    RunPolicy,
    RunTools,
    RunView,
    Throttle,
    decide,
    decide_answer,
    decide_on_error,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = RunPolicy(
    poll=Schedule(first_s=0.5, factor=2.0, cap_s=4.0),
    retry=Schedule(first_s=1.0, factor=2.0, cap_s=30.0),
    max_turns=3,
    max_attempts=3,
)
CALL = ToolCallRequest(call_id="call_1", name="get_weather", arguments='{"location":"Paris"}')
USAGE = Usage(input_tokens=10, output_tokens=5)


def run(poll_count=0, turn=0, attempts=0, deadline_in_s=60.0):
    return RunView(
        status=RunStatus.IN_PROGRESS,
        poll_count=poll_count,
        turn=turn,
        attempts=attempts,
        deadline_at=NOW + timedelta(seconds=deadline_in_s),
    )


def state(status, **fields):
    return ProviderState(status=status, ref="resp_1", **fields)


S = ProviderStatus

DECIDE_TABLE = [
    # (name, run, provider state, expected step)
    ("queued polls first_s", run(), state(S.QUEUED), Poll(0.5)),
    ("in progress grows", run(poll_count=2), state(S.IN_PROGRESS), Poll(2.0)),
    ("poll delay caps", run(poll_count=9), state(S.IN_PROGRESS), Poll(4.0)),
    ("provider hint wins", run(poll_count=9), state(S.QUEUED, poll_after_s=0.25), Poll(0.25)),
    ("hint capped", run(), state(S.QUEUED, poll_after_s=60.0), Poll(4.0)),
    ("a tiny hint is floored", run(), state(S.QUEUED, poll_after_s=0.001), Poll(0.05)),
    (
        "instant recent turns: the first poll at once",
        replace(run(), recent_turn_s=(0.0,) * 5),
        state(S.QUEUED),
        Poll(0.0),
    ),
    (
        "instant recent turns: a second poll climbs the ladder",
        replace(run(poll_count=1), recent_turn_s=(0.0,) * 5),
        state(S.QUEUED),
        Poll(0.5),
    ),
    (
        "never sleeps past the deadline",
        run(poll_count=9, deadline_in_s=1.5),
        state(S.QUEUED),
        Poll(1.5),
    ),
    (
        "tool calls fan out",
        run(turn=0),
        state(S.REQUIRES_TOOLS, tool_calls=(CALL,), usage=USAGE),
        RunTools((CALL,), USAGE),
    ),
    (
        "turn limit fails a looping run",
        run(turn=3),
        state(S.REQUIRES_TOOLS, tool_calls=(CALL,)),
        Fail("turn limit reached (3 tool round trips)"),
    ),
    (
        "tools without calls is an error",
        run(),
        state(S.REQUIRES_TOOLS),
        Fail("provider asked for tool outputs but sent no tool calls"),
    ),
    (
        "completed finishes",
        run(),
        state(S.COMPLETED, output_text="hi", usage=USAGE),
        Finish("hi", USAGE),
    ),
    ("completed without text", run(), state(S.COMPLETED), Finish("")),
    (
        "failed carries the reason",
        run(),
        state(S.FAILED, error="server_error: boom"),
        Fail("provider ended the run failed: server_error: boom"),
    ),
    (
        "incomplete fails with reason",
        run(),
        state(S.INCOMPLETE, error="incomplete: max_output_tokens"),
        Fail("provider stopped the run early (incomplete): incomplete: max_output_tokens"),
    ),
    (
        "cancelled upstream",
        run(),
        state(S.CANCELLED),
        Fail("provider ended the run cancelled: no reason given", status=RunStatus.CANCELLED),
    ),
    (
        "expired upstream",
        run(),
        state(S.EXPIRED),
        Fail("provider ended the run expired: no reason given", status=RunStatus.EXPIRED),
    ),
    (
        "past deadline while running expires",
        run(deadline_in_s=-1),
        state(S.IN_PROGRESS),
        Fail("run passed its deadline", status=RunStatus.EXPIRED),
    ),
    (
        "past deadline but already done still finishes",
        run(deadline_in_s=-1),
        state(S.COMPLETED, output_text="late"),
        Finish("late"),
    ),
]


@pytest.mark.parametrize(
    ("run_view", "provider_state", "expected"),
    [row[1:] for row in DECIDE_TABLE],
    ids=[row[0] for row in DECIDE_TABLE],
)
def test_decide(run_view, provider_state, expected):
    assert decide(run_view, provider_state, NOW, POLICY) == expected


ERROR_TABLE = [
    ("429 with hint", run(), ProviderRateLimited("slow", retry_after_s=2.5), Throttle(2.5)),
    ("429 without hint", run(), ProviderRateLimited("slow"), Throttle(1.0)),
    ("5xx retries", run(attempts=0), ProviderUnavailable("500"), Retry(1.0, "500")),
    ("5xx backs off", run(attempts=1), ProviderUnavailable("500"), Retry(2.0, "500")),
    (
        "5xx gives up",
        run(attempts=2),
        ProviderUnavailable("500"),
        Fail("provider unavailable after 3 attempts: 500"),
    ),
    (
        "4xx fails at once",
        run(),
        ProviderRejected("insufficient_quota: pay up"),
        Fail("provider rejected the request: insufficient_quota: pay up"),
    ),
    (
        "deadline beats retry",
        run(deadline_in_s=-1),
        ProviderUnavailable("500"),
        Fail("run passed its deadline (last error: 500)", status=RunStatus.EXPIRED),
    ),
]


@pytest.mark.parametrize(
    ("run_view", "error", "expected"),
    [row[1:] for row in ERROR_TABLE],
    ids=[row[0] for row in ERROR_TABLE],
)
def test_decide_on_error(run_view, error, expected):
    assert decide_on_error(run_view, error, NOW, POLICY) == expected


@pytest.mark.parametrize("status", list(RunStatus))
def test_terminal_statuses(status):
    assert is_terminal(status) == (
        status in {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.EXPIRED}
    )


ANSWER = Finish(text='{"city": 1}', usage=USAGE)
SCHEMA_ERROR = "answer does not match the schema: city: 1 is not of type 'string'"


def used(retries_used):
    return RunView(
        status=RunStatus.IN_PROGRESS,
        poll_count=0,
        turn=0,
        attempts=0,
        deadline_at=NOW,
        output_retries_used=retries_used,
    )


@pytest.mark.parametrize(
    ("run_view", "schema_error", "output_retries", "expected"),
    [
        # A valid (or free-text) answer is accepted whatever the retry budget.
        (used(0), None, 0, ANSWER),
        (used(2), None, 2, ANSWER),
        # No correction allowed: the run fails with the validation error.
        (used(0), SCHEMA_ERROR, 0, Fail(SCHEMA_ERROR, usage=USAGE)),
        # Corrections left: send the answer back with the error.
        (used(0), SCHEMA_ERROR, 1, Correct(ANSWER.text, SCHEMA_ERROR, usage=USAGE)),
        (used(1), SCHEMA_ERROR, 2, Correct(ANSWER.text, SCHEMA_ERROR, usage=USAGE)),
        # Budget spent: fail.
        (used(2), SCHEMA_ERROR, 2, Fail(SCHEMA_ERROR, usage=USAGE)),
    ],
)
def test_decide_answer(run_view, schema_error, output_retries, expected):
    assert decide_answer(run_view, ANSWER, schema_error, output_retries) == expected


WEBHOOK_POLICY = replace(POLICY, webhook_first_poll_s=30.0)

WEBHOOK_TABLE = [
    # (name, run, provider state, expected step) with webhooks: the first poll is a fallback
    ("first poll waits for the webhook", run(), state(S.QUEUED, poll_after_s=0.1), Poll(30.0)),
    ("fallback never passes the deadline", run(deadline_in_s=5), state(S.QUEUED), Poll(5.0)),
    ("later polls follow the schedule", run(poll_count=1), state(S.IN_PROGRESS), Poll(1.0)),
]


@pytest.mark.parametrize(
    ("view", "provider_state", "expected"),
    [row[1:] for row in WEBHOOK_TABLE],
    ids=[row[0] for row in WEBHOOK_TABLE],
)
def test_decide_with_provider_webhooks(view, provider_state, expected):
    assert decide(view, provider_state, NOW, WEBHOOK_POLICY) == expected
