"""The Assistants-compatible API's answers against the official OpenAI spec in
../shared/reference: every object, list and delete envelope, a run in each status runq
reaches, and the error shape.

The spec marks nullable fields the OpenAPI 3.0 way; `openapi_spec` widens them (see its
docstring). Lists are sampled non-empty: an empty list sends `first_id`/`last_id` as null,
as the API does, where the spec types them as plain strings.
"""

from __future__ import annotations

import pytest

from tests.gateway.assistants_api.records import complete, park_for_outputs
from tests.gateway.assistants_api.test_routes import (
    WEATHER_TOOL,
    new_assistant,
    new_run,
    new_thread,
)
from tests.simulator import openapi_spec

pytestmark = [
    pytest.mark.skipif(
        not openapi_spec.is_available(),
        reason=f"the OpenAI spec is not at {openapi_spec.SPEC_PATH} (the shared folder beside "
        "the repository is absent)",
    ),
    # Loading the 2 MB spec and migrating a database take seconds on a busy machine.
    pytest.mark.timeout(60),
]


@pytest.fixture(scope="module")
def registry():
    return openapi_spec.load_registry()


def test_runs_in_every_status_match_the_spec(compat, registry):
    assistant = new_assistant(compat, tools=[WEATHER_TOOL])
    samples = {}
    for status in ("queued", "requires_action", "in_progress", "completed", "cancelled"):
        thread = new_thread(compat)
        run = new_run(compat, thread, assistant)
        path = f"/threads/{thread['id']}/runs/{run['id']}"
        if status != "queued":
            park_for_outputs(run["id"], {"call_1": "get_weather"})
        if status == "in_progress":
            outputs = {"tool_outputs": [{"tool_call_id": "call_1", "output": "18C"}]}
            compat.call("POST", f"{path}/submit_tool_outputs", outputs)
        if status == "completed":
            complete(run["id"], "Sunny.")
        if status == "cancelled":
            compat.call("POST", f"{path}/cancel")
        samples[status] = compat.call("GET", path).json()

    for status, body in samples.items():
        assert body["status"] == status
        assert openapi_spec.problems(registry, "RunObject", body) == [], status


def test_other_objects_match_the_spec(compat, registry):
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": False},
    }
    assistant = new_assistant(
        compat,
        name="helper",
        tools=[WEATHER_TOOL],
        response_format=schema_format,
        metadata={"team": "runq"},
    )
    thread = new_thread(compat)
    run = new_run(compat, thread, assistant)
    park_for_outputs(run["id"], {"call_1": "get_weather"})
    thread_path = f"/threads/{thread['id']}"
    steps_path = f"{thread_path}/runs/{run['id']}/steps"
    open_steps = compat.call("GET", steps_path).json()
    complete(run["id"], "Sunny.")
    done_steps = compat.call("GET", steps_path).json()
    messages = compat.call("GET", f"{thread_path}/messages").json()
    other = new_thread(compat)
    samples = [
        ("AssistantObject", assistant),
        ("ListAssistantsResponse", compat.call("GET", "/assistants").json()),
        ("ThreadObject", compat.call("GET", thread_path).json()),
        ("MessageObject", messages["data"][0]),
        ("MessageObject", messages["data"][1]),
        ("ListMessagesResponse", messages),
        ("ListRunsResponse", compat.call("GET", f"{thread_path}/runs").json()),
        ("RunStepObject", open_steps["data"][0]),
        ("ListRunStepsResponse", done_steps),
        ("RunStepObject", compat.call("GET", f"{steps_path}/{done_steps['data'][0]['id']}").json()),
        ("ErrorResponse", compat.call("GET", "/threads/thread_missing").json()),
        ("ErrorResponse", compat.call("POST", "/threads/runs", {"assistant_id": "a",
                                                                 "stream": True}).json()),
        ("DeleteThreadResponse", compat.call("DELETE", f"/threads/{other['id']}").json()),
        ("DeleteAssistantResponse", compat.call("DELETE", f"/assistants/{assistant['id']}").json()),
    ]  # fmt: skip

    assert [step["type"] for step in done_steps["data"]] == ["message_creation", "tool_calls"]
    assert open_steps["data"][0]["status"] == "in_progress"
    for schema_name, body in samples:
        assert openapi_spec.problems(registry, schema_name, body) == [], schema_name
