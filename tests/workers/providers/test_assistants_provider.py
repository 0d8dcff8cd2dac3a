"""AssistantsProvider through the official SDK against scripted Assistants replies.

pytest turns warnings into errors, so every test here also proves that the SDK's
Assistants DeprecationWarning stays inside the adapter.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.tool_schemas import WEATHER
from tests.workers.providers.wire import ScriptedServer
from workers.errors import ProviderRejected, ProviderUnavailable
from workers.providers.assistants import AssistantsProvider, format_ref, parse_ref
from workers.providers.interface import (
    ProviderStatus,
    ToolCallRequest,
    ToolOutput,
    TurnRequest,
    Usage,
)

REQUEST = TurnRequest(
    run_id="run_1",
    model="gpt-4o",
    instructions="Be brief.",
    input_text="Weather in Paris?",
    tools=(WEATHER,),
    max_output_tokens=512,
    temperature=0.3,
)
NESTED_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": WEATHER["parameters"],
        "strict": False,
    },
}
REF = "thread_abc:run_xyz"


def assistant_json(assistant_id: str = "asst_1") -> dict[str, Any]:
    """An Assistant object shaped like §5.2."""
    return {
        "id": assistant_id,
        "object": "assistant",
        "created_at": 1763800000,
        "name": "runq",
        "description": None,
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "tools": [NESTED_WEATHER],
        "metadata": {},
        "tool_resources": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
    }


def run_json(status: str = "queued", **fields: Any) -> dict[str, Any]:
    """A Run object shaped like §5.2, every spec field present."""
    run: dict[str, Any] = {
        "id": "run_xyz",
        "object": "thread.run",
        "created_at": 1763800000,
        "thread_id": "thread_abc",
        "assistant_id": "asst_1",
        "status": status,
        "required_action": None,
        "last_error": None,
        "expires_at": 1763800600,
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "incomplete_details": None,
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "tools": [NESTED_WEATHER],
        "metadata": {"runq_run_id": "run_1"},
        "usage": None,
        "temperature": 0.3,
        "top_p": 1.0,
        "max_prompt_tokens": None,
        "max_completion_tokens": 512,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "response_format": "auto",
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    run.update(fields)
    return run


def message_json(message_id: str, role: str, *texts: str) -> dict[str, Any]:
    """A thread Message shaped like §5.2."""
    return {
        "id": message_id,
        "object": "thread.message",
        "created_at": 1763800001,
        "thread_id": "thread_abc",
        "role": role,
        "content": [{"type": "text", "text": {"value": t, "annotations": []}} for t in texts],
        "status": "completed",
        "assistant_id": "asst_1" if role == "assistant" else None,
        "run_id": "run_xyz" if role == "assistant" else None,
        "attachments": [],
        "completed_at": 1763800002,
        "incomplete_at": None,
        "incomplete_details": None,
        "metadata": {},
    }


def message_list(*messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": list(messages),
        "first_id": messages[0]["id"] if messages else None,
        "last_id": messages[-1]["id"] if messages else None,
        "has_more": False,
    }


REQUIRED_ACTION = {
    "type": "submit_tool_outputs",
    "submit_tool_outputs": {
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
            }
        ]
    },
}
USAGE = {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340}


def provider_on(server: ScriptedServer, base_url: str = "http://sim/v1") -> AssistantsProvider:
    # A fresh cache per test: the process-wide one would leak between tests.
    return AssistantsProvider(server.client(base_url), assistant_ids={})


def test_two_runs_with_one_config_share_one_assistant() -> None:
    server = ScriptedServer()
    provider = provider_on(server)
    server.reply(assistant_json())
    server.reply(run_json())
    server.reply(run_json(id="run_second"))

    # Given two runs of the same agent config
    first = provider.create(REQUEST)
    second = provider.create(replace(REQUEST, run_id="run_2"))

    # Then the assistant was created once and both runs used it
    assert server.paths() == [
        "POST /v1/assistants",
        "POST /v1/threads/runs",
        "POST /v1/threads/runs",
    ]
    assert server.sent[0].body == {
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "tools": [NESTED_WEATHER],
        "name": server.sent[0].body["name"],
        "metadata": server.sent[0].body["metadata"],
    }
    assert server.sent[0].body["name"].startswith("runq-")
    assert all(s.headers["openai-beta"] == "assistants=v2" for s in server.sent)
    assert server.sent[2].body["metadata"] == {"runq_run_id": "run_2"}
    assert (first.ref, second.ref) == ("thread_abc:run_xyz", "thread_abc:run_second")
    assert first.status is ProviderStatus.QUEUED


def test_create_and_run_body() -> None:
    server = ScriptedServer()
    server.reply(assistant_json())
    server.reply(run_json())

    provider_on(server).create(REQUEST)

    assert server.sent[1].body == {
        "assistant_id": "asst_1",
        "thread": {"messages": [{"role": "user", "content": "Weather in Paris?"}]},
        "metadata": {"runq_run_id": "run_1"},
        "max_completion_tokens": 512,
        "temperature": 0.3,
    }


@pytest.mark.parametrize(
    ("change", "creates_another"),
    [
        ({"model": "gpt-4.1"}, True),
        ({"instructions": "Be verbose."}, True),
        ({"tools": ()}, True),
        ({"temperature": 0.9, "max_output_tokens": 64, "input_text": "Other"}, False),
    ],
)
def test_only_model_instructions_and_tools_pick_the_assistant(
    change: dict[str, Any], creates_another: bool
) -> None:
    server = ScriptedServer()
    provider = provider_on(server)
    server.reply(assistant_json())
    server.reply(run_json())
    provider.create(REQUEST)
    if creates_another:
        server.reply(assistant_json("asst_2"))
    server.reply(run_json())

    provider.create(replace(REQUEST, **change))

    assert server.paths().count("POST /v1/assistants") == (2 if creates_another else 1)


def test_cache_is_per_server() -> None:
    server = ScriptedServer()
    cache: dict[str, str] = {}
    for base_url in ("http://sim/v1", "http://other/v1"):
        server.reply(assistant_json())
        server.reply(run_json())
        AssistantsProvider(server.client(base_url), assistant_ids=cache).create(REQUEST)

    assert server.paths().count("POST /v1/assistants") == 2
    assert len(cache) == 2


def test_existing_thread_gets_the_message_and_a_new_run() -> None:
    server = ScriptedServer()
    server.reply(assistant_json())
    server.reply(run_json(thread_id="thread_old"))

    state = provider_on(server).create(replace(REQUEST, conversation_ref="thread_old"))

    assert server.paths()[1] == "POST /v1/threads/thread_old/runs"
    assert server.sent[1].body == {
        "assistant_id": "asst_1",
        "additional_messages": [{"role": "user", "content": "Weather in Paris?"}],
        "metadata": {"runq_run_id": "run_1"},
        "max_completion_tokens": 512,
        "temperature": 0.3,
        "truncation_strategy": {"type": "auto"},
    }
    assert state.ref == "thread_old:run_xyz"


def test_deleted_assistant_is_forgotten() -> None:
    server = ScriptedServer()
    provider = provider_on(server)
    server.reply(assistant_json())
    server.reply(run_json())
    provider.create(REQUEST)
    # Given the cached assistant was deleted on the server
    server.error(404, code=None, type_="invalid_request_error", message="No assistant found")

    with pytest.raises(ProviderRejected):
        provider.create(REQUEST)

    # Then the next attempt creates a new one
    server.reply(assistant_json("asst_2"))
    server.reply(run_json(assistant_id="asst_2"))
    provider.create(REQUEST)
    assert server.sent[-1].body["assistant_id"] == "asst_2"


@pytest.mark.parametrize(
    ("run_fields", "status", "error"),
    [
        ({"status": "queued"}, ProviderStatus.QUEUED, None),
        ({"status": "in_progress"}, ProviderStatus.IN_PROGRESS, None),
        ({"status": "cancelling"}, ProviderStatus.IN_PROGRESS, None),
        (
            {"status": "requires_action", "required_action": REQUIRED_ACTION},
            ProviderStatus.REQUIRES_TOOLS,
            None,
        ),
        (
            {
                "status": "failed",
                "last_error": {"code": "server_error", "message": "Something broke."},
                "usage": USAGE,
            },
            ProviderStatus.FAILED,
            "server_error: Something broke.",
        ),
        (
            {
                "status": "incomplete",
                "incomplete_details": {"reason": "max_completion_tokens"},
                "usage": USAGE,
            },
            ProviderStatus.INCOMPLETE,
            "incomplete: max_completion_tokens",
        ),
        (
            {"status": "expired"},
            ProviderStatus.EXPIRED,
            "expired: the run passed its expires_at (tool outputs not submitted in time?)",
        ),
        ({"status": "cancelled", "cancelled_at": 1763800010}, ProviderStatus.CANCELLED, None),
    ],
)
def test_status_mapping(
    run_fields: dict[str, Any], status: ProviderStatus, error: str | None
) -> None:
    server = ScriptedServer()
    server.reply(run_json(**run_fields))

    state = provider_on(server).retrieve(REF)

    assert server.paths() == ["GET /v1/threads/thread_abc/runs/run_xyz"]
    assert state.status is status
    assert state.ref == REF
    assert state.output_text is None
    assert state.error == error
    expected_calls = (
        (ToolCallRequest("call_1", "get_weather", '{"location": "Paris"}'),)
        if status is ProviderStatus.REQUIRES_TOOLS
        else ()
    )
    assert state.tool_calls == expected_calls
    assert state.usage == (Usage(300, 40) if "usage" in run_fields else None)


def test_completed_run_reads_its_assistant_messages() -> None:
    server = ScriptedServer()
    server.reply(run_json("completed", completed_at=1763800005, usage=USAGE))
    server.reply(
        message_list(
            message_json("msg_1", "assistant", "Let me check."),
            message_json("msg_2", "assistant", "Sunny, ", "22 C."),
        )
    )

    state = provider_on(server).retrieve(REF)

    assert state.status is ProviderStatus.COMPLETED
    assert state.output_text == "Let me check.\nSunny, \n22 C."
    assert state.usage == Usage(input_tokens=300, output_tokens=40)
    listed = server.sent[1]
    assert f"{listed.method} {listed.path}" == "GET /v1/threads/thread_abc/messages"
    assert listed.query == {"run_id": "run_xyz", "order": "asc", "limit": "100"}


def test_poll_after_header_and_rate_limit_headers() -> None:
    server = ScriptedServer()
    server.reply(
        run_json("in_progress"),
        headers={"openai-poll-after-ms": "750", "x-ratelimit-remaining-requests": "59"},
    )

    state = provider_on(server).retrieve(REF)

    assert state.poll_after_s == 0.75
    assert state.rate_limit_headers == {"x-ratelimit-remaining-requests": "59"}


def test_no_poll_after_header_means_no_hint() -> None:
    server = ScriptedServer()
    server.reply(run_json("in_progress"))

    assert provider_on(server).retrieve(REF).poll_after_s is None


def test_submit_tool_outputs_body() -> None:
    server = ScriptedServer()
    server.reply(run_json("queued"))

    state = provider_on(server).submit_tool_outputs(
        REF, [ToolOutput("call_1", "sunny"), ToolOutput("call_2", '{"t": 22}')], REQUEST
    )

    assert server.paths() == ["POST /v1/threads/thread_abc/runs/run_xyz/submit_tool_outputs"]
    assert server.sent[0].body == {
        "tool_outputs": [
            {"tool_call_id": "call_1", "output": "sunny"},
            {"tool_call_id": "call_2", "output": '{"t": 22}'},
        ]
    }
    assert (state.status, state.ref) == (ProviderStatus.QUEUED, REF)


def test_cancel() -> None:
    server = ScriptedServer()
    server.reply(run_json("cancelling"))

    state = provider_on(server).cancel(REF)

    assert server.paths() == ["POST /v1/threads/thread_abc/runs/run_xyz/cancel"]
    assert state.status is ProviderStatus.IN_PROGRESS


def test_server_errors_are_translated() -> None:
    server = ScriptedServer()
    server.error(500, code=None, type_="server_error", message="boom")

    with pytest.raises(ProviderUnavailable):
        provider_on(server).retrieve(REF)


@pytest.mark.parametrize("ref", ["run_xyz", ":run_xyz", "thread_abc:", ""])
def test_malformed_ref_is_rejected_before_any_request(ref: str) -> None:
    server = ScriptedServer()

    with pytest.raises(ProviderRejected) as raised:
        provider_on(server).retrieve(ref)

    assert raised.value.code == "invalid_ref"
    assert server.sent == []


def test_ref_round_trip() -> None:
    assert parse_ref(format_ref("thread_a", "run_b")) == ("thread_a", "run_b")
