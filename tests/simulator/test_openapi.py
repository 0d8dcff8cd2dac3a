"""Simulator replies against the component schemas of the bundled OpenAI spec.

The SDK tests prove the SDK can parse the replies; this proves they match the published spec
too, including fields the SDK treats as optional (for example `logprobs` on output text). The
spec is widened where the simulator deliberately follows the SDK; `openapi_spec` lists how and
why. The spec has no schema for the body of DELETE /responses/{id}; that check uses the shape
of the spec's own example instead.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry

from tests.simulator.openapi_spec import problems
from tests.simulator.sim import Sim
from tests.simulator.test_sdk_responses import MODEL, TOOLS

AUTH = {"Authorization": "Bearer sk-test"}
RESPONSE_DELETED = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "response"},
        "deleted": {"const": True},
    },
    "required": ["id", "object", "deleted"],
    "additionalProperties": False,
}


def create(sim: Sim, **body: Any) -> dict[str, Any]:
    reply = sim.http.post("/v1/responses", json={"model": MODEL, **body}, headers=AUTH)
    reply.raise_for_status()
    created: dict[str, Any] = reply.json()
    return created


def get(sim: Sim, path: str) -> Any:
    return sim.http.get(path, headers=AUTH).json()


def response_samples(sim: Sim) -> dict[str, Any]:
    """A Response in every status, with function calls and with a final message."""
    prompt = "weather in Paris and London"
    queued = create(sim, input=prompt, tools=TOOLS, background=True)
    sim.clock.advance(0.5)
    running = get(sim, f"/v1/responses/{queued['id']}")
    sim.clock.advance(0.5)
    with_calls = get(sim, f"/v1/responses/{queued['id']}")
    outputs = [
        {"type": "function_call_output", "call_id": item["call_id"], "output": "18C"}
        for item in with_calls["output"]
    ]
    final = create(sim, input=outputs, previous_response_id=queued["id"], tools=TOOLS)
    to_cancel = create(sim, input="hi", background=True)
    cancelled = sim.http.post(f"/v1/responses/{to_cancel['id']}/cancel", headers=AUTH).json()
    return {
        "queued": queued,
        "in_progress": running,
        "completed with function calls": with_calls,
        "completed with a message": final,
        "failed": create(sim, input="hi #fail"),
        "incomplete": create(sim, input="hi #incomplete"),
        "cancelled": cancelled,
    }


def test_responses_in_every_status_match_the_spec(sim: Sim, registry: Registry) -> None:
    samples = response_samples(sim)
    assert [sample["status"] for sample in samples.values()] == [
        "queued",
        "in_progress",
        "completed",
        "completed",
        "failed",
        "incomplete",
        "cancelled",
    ]
    for label, body in samples.items():
        assert problems(registry, "Response", body) == [], label


def test_other_objects_match_the_spec(sim: Sim, registry: Registry) -> None:
    conversation = sim.http.post(
        "/v1/conversations", json={"items": [{"role": "user", "content": "hi"}]}, headers=AUTH
    ).json()
    create(sim, input="weather in Paris", tools=TOOLS, conversation=conversation["id"])
    response = create(
        sim, input=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    )
    counted = sim.http.post(
        "/v1/responses/input_tokens", json={"model": MODEL, "input": "hi"}, headers=AUTH
    )
    samples = [
        ("ConversationResource", conversation),
        ("ConversationItemList", get(sim, f"/v1/conversations/{conversation['id']}/items")),
        ("ResponseItemList", get(sim, f"/v1/responses/{response['id']}/input_items")),
        ("ErrorResponse", get(sim, "/v1/responses/resp_missing")),
        ("ErrorResponse", sim.http.get("/v1/responses/resp_missing").json()),
        ("TokenCountsResource", counted.json()),
        (
            "DeletedConversationResource",
            sim.http.delete(f"/v1/conversations/{conversation['id']}", headers=AUTH).json(),
        ),
    ]
    for schema_name, body in samples:
        assert problems(registry, schema_name, body) == [], schema_name


def test_deleted_response_matches_the_spec_example(sim: Sim) -> None:
    response = create(sim, input="hi")
    body = sim.http.delete(f"/v1/responses/{response['id']}", headers=AUTH).json()
    assert list(Draft202012Validator(RESPONSE_DELETED).iter_errors(body)) == []


def test_the_check_catches_a_missing_required_field(sim: Sim, registry: Registry) -> None:
    # Guard against a registry that silently validates everything.
    body = create(sim, input="hi")
    del body["tools"]
    del body["output"][0]["content"][0]["logprobs"]
    found = problems(registry, "Response", body)
    assert any("'tools' is a required property" in problem for problem in found)
    assert any("output/0" in problem for problem in found)
