"""The /_sim control surface, reply headers on every path, and the request delay."""

from __future__ import annotations

import httpx2
import pytest
from anyio.from_thread import BlockingPortal

from simulator.app import create_app
from simulator.config import SimulatorConfig
from tests.simulator.sim import FakeClock, PortalTransport, Sim

AUTH = {"Authorization": "Bearer sk-test"}
STATS_KEYS = {
    "requests_total",
    "responses_created",
    "responses_retrieved",
    "responses_cancelled",
    "responses_deleted",
    "input_items_listed",
    "input_tokens_counted",
    "tool_outputs_submitted",
    "function_calls_emitted",
    "conversations_created",
    "chat_completions",
    "assistant_runs_created",
    "assistant_runs_retrieved",
    "assistant_tool_outputs_submitted",
    "webhooks_sent",
    "http_429",
    "batches_created",
    "flex_unavailable",
    "prompt_cache_hits",
    "http_5xx",
    "tokens_charged",
    "requests_by_key",
    "rate_limited_by_model",
}


def test_health(sim: Sim) -> None:
    assert sim.http.get("/_sim/health").json() == {"status": "ok", "simulator": True}


def test_stats_count_requests_by_kind(sim: Sim) -> None:
    response = sim.client.responses.create(model="m", input="hi")
    sim.client.responses.retrieve(response.id)
    stats = sim.stats()
    assert set(stats) == STATS_KEYS
    assert stats["requests_total"] == 2
    assert (stats["responses_created"], stats["responses_retrieved"]) == (1, 1)
    assert stats["requests_by_key"] == {"sk-test": 2}


def test_long_keys_are_masked_in_stats(sim: Sim) -> None:
    sim.sdk(api_key="sk-proj-" + "a" * 40 + "WXYZ").responses.create(model="m", input="hi")
    assert list(sim.stats()["requests_by_key"]) == ["sk-proj-...WXYZ"]


def test_reset_forgets_objects_counters_and_buckets(sim: Sim) -> None:
    sim.configure(rpm=1)
    response = sim.client.responses.create(model="m", input="hi")
    assert sim.http.post("/_sim/reset").json() == {"reset": True}
    assert sim.stats()["requests_total"] == 0
    reply = sim.http.get(f"/v1/responses/{response.id}", headers=AUTH)
    assert reply.status_code == 404  # a fresh bucket admitted it; the store no longer has it


def test_config_can_be_read_and_changed(sim: Sim) -> None:
    assert sim.http.get("/_sim/config").json()["latency_ms"] == 1000
    changed = sim.http.post("/_sim/config", json={"latency_ms": 10, "tpm": 5000})
    assert changed.status_code == 200
    assert (changed.json()["latency_ms"], changed.json()["tpm"]) == (10, 5000)
    response = sim.client.responses.create(model="m", input="hi", background=True)
    sim.clock.advance(0.01)
    assert sim.client.responses.retrieve(response.id).status == "completed"


@pytest.mark.parametrize("body", [{"rpm": -5}, {"nope": 1}, {"fault_5xx_rate": 2}])
def test_bad_config_is_a_400_envelope(sim: Sim, body: dict[str, object]) -> None:
    reply = sim.http.post("/_sim/config", json=body)
    assert reply.status_code == 400
    assert set(reply.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/_sim/health", 200),
        ("GET", "/v1/responses/resp_missing", 404),
        ("GET", "/v1/nothing-here", 404),
        ("POST", "/v1/responses", 400),
    ],
)
def test_every_reply_is_stamped(sim: Sim, method: str, path: str, status: int) -> None:
    reply = sim.http.request(method, path, headers=AUTH, content=b"{not json")
    assert reply.status_code == status
    assert reply.headers["x-request-id"].startswith("req_")
    assert int(reply.headers["openai-processing-ms"]) >= 0
    if status >= 400:
        assert set(reply.json()["error"]) == {"message", "type", "param", "code"}


def test_rate_limit_headers_only_when_a_limit_is_set(sim: Sim) -> None:
    raw = sim.client.responses.with_raw_response.create(model="m", input="hi")
    assert not [name for name in raw.headers if name.startswith("x-ratelimit")]
    sim.configure(rpm=60, tpm=10_000)
    raw = sim.client.responses.with_raw_response.create(model="m", input="hi")
    assert raw.headers["x-ratelimit-limit-tokens"] == "10000"
    assert raw.headers["x-ratelimit-remaining-requests"] == "59"
    assert raw.headers["x-ratelimit-reset-requests"] == "1s"


def test_polls_count_against_rpm(sim: Sim) -> None:
    sim.configure(rpm=2)
    response = sim.client.responses.create(model="m", input="hi", background=True)
    sim.client.responses.retrieve(response.id)
    reply = sim.http.get(f"/v1/responses/{response.id}", headers=AUTH)
    assert reply.status_code == 429
    assert reply.json()["error"]["type"] == "requests"


def test_delay_ms_sleeps_before_each_api_request(portal: BlockingPortal) -> None:
    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)

    app = create_app(SimulatorConfig(delay_ms=250), clock=FakeClock(), sleep=record_sleep)
    with httpx2.Client(transport=PortalTransport(app, portal), base_url="http://sim") as http:
        http.post("/v1/responses", json={"model": "m", "input": "hi"}, headers=AUTH)
        http.get("/_sim/health")
    assert slept == [0.25]


def test_create_app_copies_the_config(portal: BlockingPortal) -> None:
    config = SimulatorConfig()
    app = create_app(config, clock=FakeClock())
    with httpx2.Client(transport=PortalTransport(app, portal), base_url="http://sim") as http:
        http.post("/_sim/config", json={"rpm": 7})
    assert config.rpm == 0
