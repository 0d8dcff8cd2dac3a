"""The Assistants-compatible API over HTTP, on SQLite, with the broker replaced by recorders."""

from __future__ import annotations

import pytest

from tests.gateway.assistants_api.records import complete, park_for_outputs

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather now",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}


def new_assistant(compat, **fields):
    reply = compat.call("POST", "/assistants", {"model": "gpt-test", **fields})
    assert reply.status_code == 200, reply.text
    return reply.json()


def new_thread(compat, text="What's the weather in Oslo?"):
    reply = compat.call("POST", "/threads", {"messages": [{"role": "user", "content": text}]})
    assert reply.status_code == 200, reply.text
    return reply.json()


def new_run(compat, thread, assistant, **fields):
    reply = compat.call(
        "POST", f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], **fields}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def error_of(reply, status_code):
    assert reply.status_code == status_code, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_an_update_is_a_new_version_and_a_run_records_the_one_it_ran(compat):
    from workers.db.models import Run
    from workers.wiring import new_session

    assistant = new_assistant(compat, name="v1", tools=[WEATHER_TOOL])
    thread = new_thread(compat)
    first = new_run(compat, thread, assistant)
    complete(first["id"], "Sunny.")

    changed = compat.call("POST", f"/assistants/{assistant['id']}", {"model": "gpt-other"}).json()
    compat.call("POST", f"/threads/{thread['id']}/messages", {"role": "user", "content": "More?"})
    second = new_run(compat, thread, assistant)

    assert changed["model"] == "gpt-other" and changed["name"] == "v1"
    assert changed["tools"] == assistant["tools"]
    with new_session() as session:
        agents = [session.get(Run, run["id"]).agent for run in (first, second)]  # type: ignore[union-attr]
    assert agents == [f"{assistant['id']}@v1", f"{assistant['id']}@v2"]
    assert (first["model"], second["model"]) == ("gpt-test", "gpt-other")
    assert compat.started == [first["id"], second["id"]]


def test_a_run_reads_the_messages_added_since_the_last_run(compat):
    from workers.db.models import Run
    from workers.wiring import new_session

    assistant = new_assistant(compat)
    thread = new_thread(compat, "First question")
    compat.call("POST", f"/threads/{thread['id']}/messages", {"role": "user", "content": "And?"})
    run = new_run(compat, thread, assistant)
    complete(run["id"], "An answer.")

    again = compat.call("POST", f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})

    with new_session() as session:
        assert session.get(Run, run["id"]).input == "First question\n\nAnd?"  # type: ignore[union-attr]
    assert error_of(again, 400)["message"].startswith(f"Thread {thread['id']} has no new message")
    listed = compat.call("GET", f"/threads/{thread['id']}/messages?order=asc").json()["data"]
    assert [(m["role"], m["content"][0]["text"]["value"]) for m in listed] == [
        ("user", "First question"),
        ("user", "And?"),
        ("assistant", "An answer."),
    ]
    assert listed[2]["run_id"] == run["id"] and listed[2]["assistant_id"] == assistant["id"]


def test_a_thread_runs_one_run_at_a_time(compat):
    assistant = new_assistant(compat)
    thread = new_thread(compat)
    running = new_run(compat, thread, assistant)

    busy = compat.call(
        "POST",
        f"/threads/{thread['id']}/runs",
        {
            "assistant_id": assistant["id"],
            "additional_messages": [{"role": "user", "content": "x"}],
        },
    )

    assert running["id"] in error_of(busy, 409)["message"]


def test_a_run_waiting_for_the_callers_outputs_is_requires_action(compat):
    assistant = new_assistant(compat, tools=[WEATHER_TOOL])
    thread = new_thread(compat)
    run = new_run(compat, thread, assistant)
    park_for_outputs(run["id"], {"call_1": "get_weather"})
    path = f"/threads/{thread['id']}/runs/{run['id']}"

    waiting = compat.call("GET", path).json()
    wrong = compat.call("POST", f"{path}/submit_tool_outputs", {"tool_outputs": [
        {"tool_call_id": "call_9", "output": "x"}]})  # fmt: skip
    submitted = compat.call(
        "POST", f"{path}/submit_tool_outputs", {"tool_outputs": [{"tool_call_id": "call_1",
                                                                  "output": "18C"}]}
    )  # fmt: skip

    assert waiting["status"] == "requires_action"
    assert waiting["required_action"]["submit_tool_outputs"]["tool_calls"] == [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"location": "Oslo"}'}}
    ]  # fmt: skip
    assert error_of(wrong, 404)["message"] == "the run has no tool call call_9"
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "in_progress"
    assert submitted.json()["required_action"] is None
    assert len(compat.sent) == 1  # the turn's submit, sent after the commit
    again = compat.call("POST", f"{path}/submit_tool_outputs", {"tool_outputs": [
        {"tool_call_id": "call_1", "output": "18C"}]})  # fmt: skip
    assert error_of(again, 409)["message"].startswith(f"run {run['id']} does not wait")


def test_a_completed_run_lists_its_steps_and_usage(compat):
    assistant = new_assistant(compat, tools=[WEATHER_TOOL])
    thread = new_thread(compat)
    run = new_run(compat, thread, assistant)
    park_for_outputs(run["id"], {"call_1": "get_weather"})
    complete(run["id"], "Sunny in Oslo.")
    path = f"/threads/{thread['id']}/runs/{run['id']}"

    done = compat.call("GET", path).json()
    steps = compat.call("GET", f"{path}/steps?order=asc").json()["data"]
    one = compat.call("GET", f"{path}/steps/{steps[1]['id']}").json()

    assert done["status"] == "completed" and done["completed_at"] is not None
    assert done["usage"] == {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
    assert [step["type"] for step in steps] == ["tool_calls", "message_creation"]
    assert steps[0]["step_details"]["tool_calls"][0]["function"]["output"] == '{"temp": 18}'
    assert one == steps[1]
    message_id = one["step_details"]["message_creation"]["message_id"]
    message = compat.call("GET", f"/threads/{thread['id']}/messages/{message_id}").json()
    assert message["content"][0]["text"]["value"] == "Sunny in Oslo."


def test_cancel_ends_the_run_and_a_second_cancel_is_refused(compat):
    assistant = new_assistant(compat)
    thread = new_thread(compat)
    run = new_run(compat, thread, assistant)
    path = f"/threads/{thread['id']}/runs/{run['id']}"

    cancelled = compat.call("POST", f"{path}/cancel").json()
    again = compat.call("POST", f"{path}/cancel")

    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"] is not None
    assert error_of(again, 400)["message"] == "Cannot cancel run with status 'cancelled'."


def test_another_keys_objects_are_not_found(compat):
    assistant = new_assistant(compat)
    thread = new_thread(compat)
    run = new_run(compat, thread, assistant)
    other = compat.other_key

    for path in (
        f"/assistants/{assistant['id']}",
        f"/threads/{thread['id']}",
        f"/threads/{thread['id']}/messages",
        f"/threads/{thread['id']}/runs/{run['id']}",
    ):
        assert error_of(compat.call("GET", path, key=other), 404)["type"] == "invalid_request_error"
    assert compat.call("GET", "/assistants", key=other).json()["data"] == []
    refused = compat.call(
        "POST", f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]}, key=other
    )
    assert error_of(refused, 404)["message"] == f"No thread found with id '{thread['id']}'."
    assert error_of(compat.call("GET", "/assistants", key="rq_nope"), 401)["code"] == (
        "invalid_api_key"
    )


def test_deleted_assistants_and_threads_are_gone(compat):
    assistant = new_assistant(compat)
    thread = new_thread(compat)

    deleted = compat.call("DELETE", f"/assistants/{assistant['id']}").json()
    gone = compat.call("DELETE", f"/threads/{thread['id']}").json()

    assert deleted == {"id": assistant["id"], "object": "assistant.deleted", "deleted": True}
    assert gone == {"id": thread["id"], "object": "thread.deleted", "deleted": True}
    assert compat.call("GET", f"/assistants/{assistant['id']}").status_code == 404
    assert compat.call("GET", f"/threads/{thread['id']}").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/assistants", {"model": "m", "tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
        ("/assistants", {"model": "m", "tools": [{"type": "file_search"}]}, "tools[0].type"),
        ("/assistants", {"model": "m", "tool_resources": {"file_search": {}}}, "tool_resources"),
        (
            "/assistants",
            {"model": "m", "tools": [WEATHER_TOOL], "metadata": {"runq_server_tools": "nope"}},
            "metadata.runq_server_tools",
        ),
        (
            "/threads",
            {"messages": [{"role": "user", "content": "x", "attachments": [{"file_id": "f"}]}]},
            "attachments",
        ),
        (
            "/threads",
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "content[0]",
        ),
        ("/threads/runs", {"assistant_id": "asst_x", "stream": True}, "stream"),
        ("/threads/runs", {"assistant_id": "asst_x", "instructions": "Be rude"}, "instructions"),
    ],
)
def test_what_runq_does_not_have_is_refused_by_name(compat, path, body, param):
    error = error_of(compat.call("POST", path, body), 400)

    assert (error["code"], error["param"]) == ("unsupported_feature", param)
    assert "runq" in error["message"]


def test_unknown_fields_and_paths_answer_in_the_api_error_shape(compat):
    with_file_ids = {"model": "m", "file_ids": []}  # Assistants v1's field
    unknown_field = error_of(compat.call("POST", "/assistants", with_file_ids), 400)
    unknown_path = error_of(compat.call("GET", "/vector_stores"), 404)
    bad_limit = error_of(compat.call("GET", "/assistants?limit=0"), 400)

    assert unknown_field["message"] == "Unrecognized request argument supplied: file_ids"
    assert "files, vector stores and streaming are not supported" in unknown_path["message"]
    assert bad_limit["param"] == "limit"


def test_server_tools_run_on_runq_and_the_rest_wait_for_the_caller(compat):
    from workers.db.models import Run
    from workers.wiring import new_session

    search = {
        "type": "function",
        "function": {"name": "search_documents", "parameters": {"type": "object"}},
    }
    assistant = new_assistant(
        compat, tools=[WEATHER_TOOL, search], metadata={"runq_server_tools": "search_documents"}
    )
    run = new_run(compat, new_thread(compat), assistant)

    with new_session() as session:
        stored = session.get(Run, run["id"])
        assert stored is not None
        caller_tools = stored.caller_tools
    assert caller_tools is not None and '"get_weather"' in caller_tools
    assert "search_documents" not in caller_tools
    assert {tool["function"]["name"] for tool in run["tools"]} == {
        "get_weather",
        "search_documents",
    }
