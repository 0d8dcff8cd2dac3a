"""Error replies as the SDK sees them: tool pairing, auth, rate limits, quota, injected 5xx."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.simulator.sim import Sim
from tests.simulator.test_sdk_responses import MODEL, TOOLS, answer, calls_of

PROMPT = "weather in Paris and London"


def two_calls(sim: Sim) -> tuple[str, list[str]]:
    response = sim.client.responses.create(model=MODEL, input=PROMPT, tools=TOOLS)
    return response.id, [call.call_id for call in calls_of(response)]


def test_unanswered_call_is_a_400(sim: Sim) -> None:
    previous_id, call_ids = two_calls(sim)
    only_first: list[Any] = [
        {"type": "function_call_output", "call_id": call_ids[0], "output": "18C"}
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.responses.create(
            model=MODEL, previous_response_id=previous_id, input=only_first, tools=TOOLS
        )
    assert caught.value.param == "input"
    assert caught.value.message.endswith(f"No tool output found for function call {call_ids[1]}.")
    assert caught.value.type == "invalid_request_error"


def test_output_for_an_unknown_call_is_a_400(sim: Sim) -> None:
    previous_id, call_ids = two_calls(sim)
    outputs: list[Any] = [
        {"type": "function_call_output", "call_id": call_id, "output": "ok"}
        for call_id in [*call_ids, "call_bogus"]
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.responses.create(
            model=MODEL, previous_response_id=previous_id, input=outputs, tools=TOOLS
        )
    assert caught.value.param == "input"
    assert "No tool call found for function call output with call_id call_bogus." in str(
        caught.value.message
    )


def test_unknown_previous_response(sim: Sim) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.responses.create(model=MODEL, previous_response_id="resp_nope", input="hi")
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"


def test_previous_response_and_conversation_are_exclusive(sim: Sim) -> None:
    previous = sim.client.responses.create(model=MODEL, input="hi")
    conversation = sim.client.conversations.create()
    with pytest.raises(openai.BadRequestError):
        sim.client.responses.create(
            model=MODEL, previous_response_id=previous.id, conversation=conversation.id, input="x"
        )


def test_chaining_onto_a_running_response_is_a_400(sim: Sim) -> None:
    running = sim.client.responses.create(model=MODEL, input=PROMPT, tools=TOOLS, background=True)
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.responses.create(model=MODEL, previous_response_id=running.id, input="x")
    assert caught.value.param == "previous_response_id"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": "hi", "max_output_tokens": 5}, "max_output_tokens"),
        ({"model": MODEL, "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": MODEL, "input": "hi", "stream": True}, "stream"),
        ({"model": MODEL, "input": 42}, "input"),
    ],
)
def test_invalid_create_bodies(sim: Sim, body: dict[str, object], param: str) -> None:
    reply = sim.http.post("/v1/responses", json=body, headers={"Authorization": "Bearer k"})
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == param
    assert set(reply.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(("query", "param"), [("limit=abc", "limit"), ("limit=0", "limit")])
def test_invalid_query_is_a_400(sim: Sim, query: str, param: str) -> None:
    response = sim.client.responses.create(model=MODEL, input="hi")
    reply = sim.http.get(
        f"/v1/responses/{response.id}/input_items?{query}", headers={"Authorization": "Bearer k"}
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == param


def test_missing_key_is_401_in_the_envelope(sim: Sim) -> None:
    reply = sim.http.get("/v1/responses/resp_x")
    assert reply.status_code == 401
    assert reply.json()["error"]["type"] == "invalid_request_error"
    assert reply.headers["x-request-id"].startswith("req_")
    with pytest.raises(openai.AuthenticationError):
        sim.sdk(api_key=" ").responses.retrieve("resp_x")


def test_rpm_limit_gives_rate_limit_error_with_retry_hints(sim: Sim) -> None:
    sim.configure(rpm=1)
    raw = sim.client.responses.with_raw_response.create(model=MODEL, input="hi")
    assert raw.headers["x-ratelimit-limit-requests"] == "1"
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    assert raw.headers["x-ratelimit-reset-requests"] == "1m0s"
    with pytest.raises(openai.RateLimitError) as caught:
        sim.client.responses.retrieve(raw.parse().id)
    error = caught.value
    assert (error.code, error.type) == ("rate_limit_exceeded", "requests")
    assert error.response.headers["retry-after-ms"] == "60000"
    assert error.response.headers["retry-after"] == "60"
    assert "on requests per min (RPM): Limit 1, Used 1, Requested 1." in error.message
    # After the hinted wait the same poll succeeds
    sim.clock.advance(60)
    assert sim.client.responses.retrieve(raw.parse().id).status == "completed"
    assert sim.stats()["http_429"] == 1


def test_tpm_limit_charges_input_plus_output_allowance(sim: Sim) -> None:
    sim.configure(tpm=1000)
    raw = sim.client.responses.with_raw_response.create(
        model=MODEL, input="x" * 400, max_output_tokens=500
    )
    # 100 estimated input tokens + 500 reserved for output
    assert raw.headers["x-ratelimit-remaining-tokens"] == "400"
    with pytest.raises(openai.RateLimitError) as caught:
        sim.client.responses.create(model=MODEL, input="x" * 400, max_output_tokens=500)
    assert caught.value.type == "tokens"
    assert "retry-after-ms" in caught.value.response.headers
    assert sim.stats()["tokens_charged"] == 600


def test_request_larger_than_tpm_is_not_retryable(sim: Sim) -> None:
    sim.configure(tpm=100)
    with pytest.raises(openai.RateLimitError) as caught:
        sim.client.responses.create(model=MODEL, input="hi", max_output_tokens=500)
    assert "Request too large" in caught.value.message
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_limits_are_per_key(sim: Sim) -> None:
    sim.configure(rpm=1)
    sim.client.responses.create(model=MODEL, input="hi")
    other = sim.sdk(api_key="sk-other")
    assert other.responses.create(model=MODEL, input="hi").status == "completed"
    assert sim.stats()["requests_by_key"] == {"sk-test": 1, "sk-other": 1}


def test_quota_exhausted_is_terminal_for_the_sdk(sim: Sim) -> None:
    sim.configure(quota_exhausted=True)
    # The SDK would retry a 429 twice here, but x-should-retry: false stops it at once.
    client = sim.client.with_options(max_retries=2)
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model=MODEL, input="hi")
    assert (caught.value.code, caught.value.type) == ("insufficient_quota", "insufficient_quota")
    headers = caught.value.response.headers
    assert headers["x-should-retry"] == "false"
    assert "retry-after" not in headers and "retry-after-ms" not in headers
    assert sim.stats()["requests_total"] == 1


def test_injected_5xx(sim: Sim) -> None:
    sim.configure(fault_5xx_rate=1.0)
    with pytest.raises(openai.InternalServerError) as caught:
        sim.client.responses.create(model=MODEL, input="hi")
    assert caught.value.type == "server_error"
    sim.configure(fault_5xx_rate=0.0)
    assert sim.client.responses.create(model=MODEL, input="hi").status == "completed"
    assert sim.stats()["http_5xx"] == 1


def test_bad_args_and_unknown_tool_reach_the_client(sim: Sim) -> None:
    response = sim.client.responses.create(
        model=MODEL, input="weather in Paris #bad_args #unknown_tool", tools=TOOLS
    )
    calls = calls_of(response)
    assert [(call.name, call.arguments) for call in calls] == [
        ("get_weather", '{"location": "Paris"'),
        ("delete_everything", "{}"),
    ]
    final = sim.client.responses.create(
        model=MODEL, previous_response_id=response.id, input=answer(calls), tools=TOOLS
    )
    assert final.status == "completed"


def test_a_model_named_sim_status_gets_that_status(sim: Sim) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        sim.client.responses.create(model="sim-status-418", input=PROMPT)
    assert caught.value.status_code == 418
    assert "scripted by the model name" in caught.value.message
