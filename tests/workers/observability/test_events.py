"""Each event updates its families and writes one structured line; the provider's outcome
comes from runq's error tree; the limiter names the bucket that binds."""

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from workers.errors import (
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimedOut,
    ProviderUnavailable,
)
from workers.limits.clearance import binding_dimension
from workers.limits.token_bucket import Limits
from workers.observability import events
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, TurnRequest
from workers.providers.metered import MeteredProvider, outcome_of

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_terminal_run_is_counted_timed_priced_and_logged(caplog):
    before = sample("runq_runs_total", agent="ev-agent", status="failed")
    before_s = sample("runq_run_duration_seconds_sum", agent="ev-agent")
    before_tokens = sample("runq_tokens_total", model="ev-model", kind="input")
    before_usd = sample("runq_cost_usd_total", agent="ev-agent", model="ev-model")
    end = events.RunEnd(
        run_id="run_1",
        agent="ev-agent",
        model="ev-model",
        status="failed",
        turn=2,
        created_at=T0,
        finished_at=T0 + timedelta(seconds=3),
        input_tokens=100,
        output_tokens=20,
        cost_usd=0.5,
    )
    with caplog.at_level(logging.INFO, logger="runq.events"):
        events.run_ended(end, from_status="in_progress")
    assert sample("runq_runs_total", agent="ev-agent", status="failed") == before + 1
    assert sample("runq_run_duration_seconds_sum", agent="ev-agent") == before_s + 3.0
    assert sample("runq_tokens_total", model="ev-model", kind="input") == before_tokens + 100
    assert sample("runq_cost_usd_total", agent="ev-agent", model="ev-model") == before_usd + 0.5
    [record] = caplog.records
    assert (record.run_id, record.agent, record.status, record.turn) == (
        "run_1",
        "ev-agent",
        "failed",
        2,
    )
    assert record.duration_s == 3.0 and record.levelno == logging.WARNING


@pytest.mark.parametrize(
    ("outcome", "breaker_open"), [("succeeded", 0), ("failed", 0), ("unavailable", 1)]
)
def test_a_tool_execution_is_counted_and_sets_its_breaker_gauge(outcome, breaker_open, caplog):
    done = events.ToolRun("run_1", "ev-agent", "call_1", "ev_tool", 1, outcome, 250, 1)
    before = sample("runq_tool_calls_total", tool="ev_tool", outcome=outcome)
    with caplog.at_level(logging.INFO, logger="runq.events"):
        events.tool_executed(done)
    assert sample("runq_tool_calls_total", tool="ev_tool", outcome=outcome) == before + 1
    assert sample("runq_tool_breaker_open", tool="ev_tool") == breaker_open
    assert caplog.records[0].call_id == "call_1"
    assert caplog.records[0].duration_ms == 250


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "ok"),
        (ProviderRateLimited("slow down", retry_after_s=1.0), "429"),
        (ProviderTimedOut("no answer"), "timeout"),
        (ProviderUnavailable("502"), "5xx"),
        (ProviderRejected("400 bad"), "4xx"),
    ],
)
def test_provider_outcomes_come_from_the_error_tree(error, outcome):
    assert outcome_of(error) == outcome


def test_a_metered_provider_counts_each_request_by_kind_and_outcome():
    state = ProviderState(status=ProviderStatus.IN_PROGRESS, ref="resp_1")
    provider = MeteredProvider(
        scripted([state, ProviderUnavailable("503")]), provider="responses", model="ev-m"
    )
    labels = {"provider": "responses", "model": "ev-m", "kind": "poll"}
    assert provider.retrieve("resp_1") == state
    with pytest.raises(ProviderUnavailable):
        provider.retrieve("resp_1")
    assert sample("runq_provider_requests_total", **labels, outcome="ok") == 1
    assert sample("runq_provider_requests_total", **labels, outcome="5xx") == 1


def test_an_accepted_turn_is_counted_by_its_mode_and_a_refused_one_is_not():
    state = ProviderState(status=ProviderStatus.IN_PROGRESS, ref="resp_1")
    provider = MeteredProvider(
        scripted([state, state, ProviderRateLimited("429")]), provider="responses", model="tm-m"
    )
    background = TurnRequest(run_id="run_1", model="tm-m", instructions="", input_text="hi")
    synchronous = replace(background, background=False)
    provider.create(background)
    provider.submit_tool_outputs("resp_1", [], synchronous)
    with pytest.raises(ProviderRateLimited):
        provider.create(synchronous)
    provider_model = {"provider": "responses", "model": "tm-m"}
    assert sample("runq_model_turns_total", **provider_model, mode="background") == 1
    assert sample("runq_model_turns_total", **provider_model, mode="synchronous") == 1


@pytest.mark.parametrize(
    ("rpm", "tpm", "tokens", "dimension"),
    [
        (100, 1000, 0, "requests"),
        (100, 0, 500, "requests"),
        (0, 1000, 500, "tokens"),
        (100, 1000, 500, "requests_or_tokens"),
    ],
)
def test_the_binding_dimension_of_a_limiter_wait(rpm, tpm, tokens, dimension):
    assert binding_dimension(Limits(rpm, tpm), tokens) == dimension


def test_cache_lookups_and_callbacks_are_counted():
    before = sample("runq_cache_requests_total", result="bypass")
    before_ok = sample("runq_callbacks_total", outcome="ok")
    events.cache_looked_up("bypass")
    events.callback_sent("ok")
    assert sample("runq_cache_requests_total", result="bypass") == before + 1
    assert sample("runq_callbacks_total", outcome="ok") == before_ok + 1
