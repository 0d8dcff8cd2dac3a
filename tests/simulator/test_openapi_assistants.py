"""Assistants replies against the bundled OpenAI spec: AssistantObject, ThreadObject,
MessageObject, RunObject in every status, RunStepObject, the list and delete envelopes.

These schemas mark nullable fields with OpenAPI 3.0 `nullable: true`, which `openapi_spec`
rewrites as `anyOf: [..., null]` (see its docstring); nothing else is widened. Lists are
sampled non-empty: an empty list sends `first_id`/`last_id` as null, as the API does, where
the spec types them as plain strings.
"""

from __future__ import annotations

from typing import Any

from referencing import Registry

from tests.simulator.openapi_spec import problems, widen_nullable
from tests.simulator.sim import Sim
from tests.simulator.test_sdk_chat import TOOLS

AUTH = {"Authorization": "Bearer sk-test"}
MODEL = "gpt-5.4-mini"


def call(sim: Sim, method: str, path: str, body: Any = None) -> Any:
    reply = sim.http.request(method, f"/v1{path}", json=body, headers=AUTH)
    return reply.json()


def new_run(sim: Sim, assistant_id: str, text: str) -> dict[str, Any]:
    thread = {"messages": [{"role": "user", "content": text}]}
    run: dict[str, Any] = call(
        sim, "POST", "/threads/runs", {"assistant_id": assistant_id, "thread": thread}
    )
    return run


def get_run(sim: Sim, run: dict[str, Any], advance_s: float = 0) -> dict[str, Any]:
    sim.clock.advance(advance_s)
    fetched: dict[str, Any] = call(sim, "GET", f"/threads/{run['thread_id']}/runs/{run['id']}")
    return fetched


def run_samples(sim: Sim, assistant_id: str) -> dict[str, dict[str, Any]]:
    """A Run in every status the API has."""
    tools_run = new_run(sim, assistant_id, "weather in Paris and Rome")
    samples = {"queued": tools_run, "in_progress": get_run(sim, tools_run, 0.5)}
    waiting = samples["requires_action"] = get_run(sim, tools_run, 0.5)
    outputs = [
        {"tool_call_id": tool_call["id"], "output": "18C"}
        for tool_call in waiting["required_action"]["submit_tool_outputs"]["tool_calls"]
    ]
    path = f"/threads/{waiting['thread_id']}/runs/{waiting['id']}"
    call(sim, "POST", f"{path}/submit_tool_outputs", {"tool_outputs": outputs})
    samples["completed"] = get_run(sim, tools_run, 1)
    for text, status in (("hi #fail", "failed"), ("hi #incomplete", "incomplete")):
        samples[status] = get_run(sim, new_run(sim, assistant_id, text), 1)
    to_cancel = new_run(sim, assistant_id, "hi")
    samples["cancelling"] = call(
        sim, "POST", f"/threads/{to_cancel['thread_id']}/runs/{to_cancel['id']}/cancel"
    )
    samples["cancelled"] = get_run(sim, to_cancel)
    to_expire = new_run(sim, assistant_id, "weather in Oslo")
    samples["expired"] = get_run(sim, to_expire, 600)
    return samples


def test_runs_in_every_status_match_the_spec(sim: Sim, registry: Registry) -> None:
    assistant = call(sim, "POST", "/assistants", {"model": MODEL, "tools": TOOLS})
    samples = run_samples(sim, assistant["id"])
    assert [label == body["status"] for label, body in samples.items()] == [True] * 9
    for label, body in samples.items():
        assert problems(registry, "RunObject", body) == [], label


def step_samples(sim: Sim, waiting: dict[str, Any]) -> tuple[Any, Any]:
    """The run's step list while it waits for tool outputs, and once it has completed."""
    run_path = f"/threads/{waiting['thread_id']}/runs/{waiting['id']}"
    open_steps = call(sim, "GET", f"{run_path}/steps")
    tool_call = waiting["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    outputs = [{"tool_call_id": tool_call["id"], "output": "18C"}]
    call(sim, "POST", f"{run_path}/submit_tool_outputs", {"tool_outputs": outputs})
    get_run(sim, waiting, 1)
    return open_steps, call(sim, "GET", f"{run_path}/steps")


def test_other_objects_match_the_spec(sim: Sim, registry: Registry) -> None:
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": False},
    }
    assistant = call(
        sim,
        "POST",
        "/assistants",
        {"model": MODEL, "name": "helper", "tools": [*TOOLS, {"type": "code_interpreter"}],
         "response_format": schema_format, "metadata": {"team": "runq"}},
    )  # fmt: skip
    waiting = get_run(sim, new_run(sim, assistant["id"], "weather in Oslo"), 1)
    thread_path = f"/threads/{waiting['thread_id']}"
    steps_path = f"{thread_path}/runs/{waiting['id']}/steps"
    open_steps, done_steps = step_samples(sim, waiting)
    messages = call(sim, "GET", f"{thread_path}/messages")
    other = call(sim, "POST", "/threads", {"messages": [{"role": "user", "content": "x"}]})
    samples = [
        ("AssistantObject", assistant),
        ("ListAssistantsResponse", call(sim, "GET", "/assistants")),
        ("ThreadObject", call(sim, "GET", thread_path)),
        ("MessageObject", messages["data"][0]),
        ("MessageObject", messages["data"][1]),
        ("ListMessagesResponse", messages),
        ("ListRunsResponse", call(sim, "GET", f"{thread_path}/runs")),
        ("RunStepObject", open_steps["data"][0]),
        ("ListRunStepsResponse", done_steps),
        ("RunStepObject", call(sim, "GET", f"{steps_path}/{done_steps['data'][0]['id']}")),
        ("ErrorResponse", call(sim, "GET", "/threads/thread_missing")),
        ("DeleteThreadResponse", call(sim, "DELETE", f"/threads/{other['id']}")),
        ("DeleteAssistantResponse", call(sim, "DELETE", f"/assistants/{assistant['id']}")),
    ]
    assert [step["type"] for step in done_steps["data"]] == ["message_creation", "tool_calls"]
    assert open_steps["data"][0]["status"] == "in_progress"
    for schema_name, body in samples:
        assert problems(registry, schema_name, body) == [], schema_name


def test_widen_nullable_rewrites_the_openapi_3_0_keyword() -> None:
    schema = {"properties": {"at": {"type": "integer", "nullable": True}}, "nullable": False}
    assert widen_nullable(schema) == {
        "properties": {"at": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}
    }


def test_the_check_catches_a_missing_required_field(sim: Sim, registry: Registry) -> None:
    assistant = call(sim, "POST", "/assistants", {"model": MODEL})
    run = new_run(sim, assistant["id"], "hi")
    del run["required_action"]
    run["status"] = "sleeping"
    found = problems(registry, "RunObject", run)
    assert any("'required_action' is a required property" in problem for problem in found)
    assert any(problem.startswith("status:") for problem in found)
