"""The bad-input catalogue: every door, what a mistake there must get, and proof that the
runs already in flight are undisturbed.

One shared fleet; every run-based case is enqueued at once (module fixture) so the module
costs about as long as its slowest case. Each case names the clear error it must get:

- a message dropped with a log line, the worker still running (queue door);
- a failed run with the reason, or an error output the model reads (model and tool doors);
- one line and its exit code (configuration and operator doors; `runq` run in this process,
  with the environment changed for the one command; codes in `config.exit_codes`).
"""

from __future__ import annotations

import base64
import json
import pickle
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import redis

from tests.integration.fleet import TERMINAL, enqueue_batch, wait_for_batch
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

BYSTANDERS = 8


# -- cases ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunCase:
    """Enqueue `input` for `agent`; the run must end `status` and `needle` must appear in its
    error (or, with `in_tool_output`, in a tool call's output the model read)."""

    agent: str
    input: str
    status: str
    needle: str
    in_tool_output: bool = False


RUN_CASES = {
    # the model misbehaving
    "model-malformed-tool-arguments": RunCase(
        "assistant", "weather in Rome #bad_args", "completed", "InvalidToolArguments", True
    ),
    "model-unknown-tool": RunCase(
        "assistant", "weather in Rome #unknown_tool", "completed", "UnknownTool", True
    ),
    "model-another-agents-tool": RunCase(
        "assistant",
        "use tool raise_error",
        "completed",
        "no tool named 'raise_error' is available; available tools: get_weather, search_documents",
        True,
    ),
    "model-answer-fails-its-schema": RunCase(
        "responses-structured", "weather in Rome #invalid_json", "failed", "schema"
    ),
    "model-turn-fails": RunCase("assistant", "hello #fail", "failed", "server_error"),
    "model-stops-early": RunCase("assistant", "hello #incomplete", "failed", "incomplete"),
    "provider-unexpected-status-418": RunCase(
        "teapot-agent", "hello", "failed", "provider rejected the request"
    ),
    "provider-5xx-every-time": RunCase(
        "flaky-provider-agent", "hello", "failed", "provider unavailable after"
    ),
    "provider-drops-every-connection": RunCase(
        "unreachable-provider-agent", "hello", "failed", "provider unavailable after"
    ),
    # tools misbehaving
    "tool-raises": RunCase(
        "misbehaving-tools",
        "use tool raise_error",
        "completed",
        "ValueError: the tool's own bug",
        True,
    ),
    "tool-hangs-past-its-timeout": RunCase(
        "misbehaving-tools", "use tool hang", "completed", "did not finish within 0.5 s", True
    ),
    "tool-returns-non-json": RunCase(
        "misbehaving-tools", "use tool return_object", "completed", "not JSON-serialisable", True
    ),
    "tool-returns-megabytes": RunCase(
        "misbehaving-tools", "use tool return_megabytes", "completed", "the limit is 512,000", True
    ),
    "tool-calls-sys-exit": RunCase(
        "misbehaving-tools", "use tool exit_the_process", "completed", "without returning", True
    ),
}


@dataclass(frozen=True)
class QueueCase:
    """Put `raw` on `queue` as it is; the worker must log `needle` and keep running."""

    queue: str
    raw: bytes
    needle: str


def envelope(body: str, *, encoding: str = "base64", content_type: str = "application/json",
             task: str = "runq.runs.poll") -> bytes:  # fmt: skip
    """A kombu message envelope as a producer would put it on a Redis list."""
    return json.dumps(
        {
            "body": body,
            "content-encoding": "utf-8" if content_type == "application/json" else "binary",
            "content-type": content_type,
            "headers": {"lang": "py", "task": task, "id": str(uuid.uuid4()), "argsrepr": "()"},
            "properties": {
                "correlation_id": str(uuid.uuid4()),
                "body_encoding": encoding,
                "delivery_tag": str(uuid.uuid4()),
                "delivery_info": {"exchange": "", "routing_key": "runs"},
                "priority": 0,
            },
        }
    ).encode()


def celery_body(args: list[object]) -> str:
    return base64.b64encode(json.dumps([args, {}, {}]).encode()).decode()


DROPPED = "dropped an undecodable item"
QUEUE_CASES = {
    "queue-raw-bytes": QueueCase("runs", b"\x00\xffnot json at all", DROPPED),
    "queue-bad-base64-body": QueueCase("runs", envelope("!!!not base64"), DROPPED),
    "queue-json-array": QueueCase("runs", b"[1, 2, 3]", DROPPED),
    "queue-empty-object": QueueCase("runs", b"{}", DROPPED),
    "queue-garbage-on-tools": QueueCase("tools", b"garbage for the tools worker", DROPPED),
    "queue-pickle-message": QueueCase(
        "runs",
        envelope(
            base64.b64encode(pickle.dumps(([], {}, {}))).decode(),
            content_type="application/x-python-serialize",
        ),
        "untrusted content of type pickle",
    ),
    "queue-unknown-task": QueueCase(
        "runs", envelope(celery_body([]), task="runq.no.such.task"), "unregistered task"
    ),
    "queue-wrong-arguments": QueueCase(
        "runs", envelope(celery_body(["run_x", 1, 2, 3])), "positional argument"
    ),
    "queue-unknown-run": QueueCase("runs", envelope(celery_body(["run_does_not_exist", 0])), ""),
}


@dataclass(frozen=True)
class CommandCase:
    """Run `runq ARGS` with `env` changes; exit `code`, `needle` in its output."""

    args: tuple[str, ...]
    env: dict[str, str]
    code: int
    needle: str


COMMAND_CASES = {
    # configuration mistakes
    "config-unparseable-json-setting": CommandCase(
        ("status", "run_x"), {"RUNQ_MODEL_LIMITS": "{not json"}, 9,
        "RUNQ_MODEL_LIMITS is not valid JSON",
    ),
    "config-wrong-type-setting": CommandCase(
        ("status", "run_x"), {"RUNQ_MAX_TURNS": "many"}, 9,
        "RUNQ_MAX_TURNS: Input should be a valid integer",
    ),
    "config-unreachable-redis-at-enqueue": CommandCase(
        ("enqueue", "--agent", "assistant", "--input", "hi"),
        {"REDIS_URL": "redis://op:secret@127.0.0.1:9/0"},
        8,
        "cannot reach Redis at redis://127.0.0.1:9/0 (REDIS_URL)",
    ),
    "config-unreachable-database": CommandCase(
        ("status", "run_x"),
        {"DATABASE_URL": "postgresql+psycopg://op:secret@127.0.0.1:9/runq"},
        8,
        "cannot reach the database at postgresql+psycopg://127.0.0.1:9/runq (DATABASE_URL)",
    ),
    # operator mistakes
    "operator-status-of-unknown-id": CommandCase(
        ("status", "run_nope"), {}, 7, "no run with id 'run_nope'"
    ),
    "operator-cancel-of-unknown-id": CommandCase(
        ("cancel", "run_nope"), {}, 7, "no run with id 'run_nope'"
    ),
    "operator-enqueue-unknown-agent": CommandCase(
        ("enqueue", "--agent", "nobody", "--input", "hi"), {}, 7, "unknown agent 'nobody'"
    ),
    "operator-enqueue-empty-input": CommandCase(
        ("enqueue", "--agent", "assistant", "--input", "  "), {}, 2, "at least 1 character"
    ),
}  # fmt: skip


@dataclass(frozen=True)
class HttpCase:
    """A request to the HTTP API and the 4xx (with a message) it must get."""

    method: str
    path: str
    status: int
    needle: str
    json_body: object = None
    raw_body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    authorized: bool = True


_RUN = {"agent": "assistant", "input": "What's the weather in Oslo?"}
HTTP_CASES: dict[str, HttpCase] = {
    "http-malformed-json": HttpCase(
        "POST", "/v1/runs", 400, "not valid JSON",
        raw_body=b'{"agent": ', headers=(("content-type", "application/json"),),
    ),
    "http-unknown-field": HttpCase("POST", "/v1/runs", 422, "colour", _RUN | {"colour": "red"}),
    "http-wrong-type": HttpCase("POST", "/v1/runs", 422, "input", _RUN | {"input": 42}),
    "http-unknown-agent": HttpCase(
        "POST", "/v1/runs", 422, "unknown agent 'nosuch'", _RUN | {"agent": "nosuch"}
    ),
    "http-oversized-body": HttpCase(
        "POST", "/v1/runs", 413, "body over", _RUN | {"input": "x" * 300_000}
    ),
    "http-bad-deadline": HttpCase("POST", "/v1/runs", 422, "deadline_s", _RUN | {"deadline_s": -1}),
    "http-missing-key": HttpCase("POST", "/v1/runs", 401, "", _RUN, authorized=False),
    "http-unknown-key": HttpCase(
        "GET", "/v1/runs", 401, "", headers=(("authorization", "Bearer rq_nope"),), authorized=False
    ),
    "http-unknown-run": HttpCase("GET", "/v1/runs/run_nope", 404, "run_nope"),
    "http-bad-list-limit": HttpCase("GET", "/v1/runs?limit=-5", 422, "limit"),
    # The fleet allows private callback addresses (its receivers are local); the SSRF guard
    # itself is covered in test_callbacks. A URL that is not http(s) is refused everywhere.
    "http-callback-url-not-http": HttpCase(
        "POST", "/v1/runs", 422, "callback_url", _RUN | {"callback_url": "file:///etc/passwd"}
    ),
    # Webhooks are off on this fleet (no OPENAI_WEBHOOK_SECRET): refused with what to set.
    # A forged signature with webhooks on is covered in test_openai_webhooks.
    "http-webhook-while-off": HttpCase(
        "POST", "/v1/webhooks/openai", 404, "OPENAI_WEBHOOK_SECRET",
        raw_body=b'{"type": "response.completed", "data": {"id": "resp_1"}}',
        headers=(("webhook-id", "wh_1"), ("webhook-timestamp", "1"),
                 ("webhook-signature", "v1,Zm9yZ2Vk")),
    ),
}  # fmt: skip


# -- fixtures -------------------------------------------------------------------------------
@dataclass
class Catalogue:
    """Everything the module enqueued at once: case name -> run id, and the bystanders."""

    runs: dict[str, str]
    bystander_batch: str


@pytest.fixture(scope="module")
def catalogue(fleet) -> Catalogue:
    bystanders = enqueue_batch(["What's the weather in Paris and Oslo? #turns=3"] * BYSTANDERS)
    runs = {name: enqueue_one(case.agent, case.input) for name, case in RUN_CASES.items()}
    runs["agent-missing-on-every-worker"] = enqueue_one(ghost_agent(), "hello")
    return Catalogue(runs, bystanders)


def enqueue_one(agent: str, text: str) -> str:
    batch_id = enqueue_batch([text], agent=agent)
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
    return run.id


def ghost_agent() -> str:
    """An agent only this process declares: no worker of the fleet has its module."""
    from workers.agents import Agent, register_agent

    return register_agent(Agent(name="ghost-agent", model="gpt-test")).name


def run_command(args, env, monkeypatch) -> tuple[int, str]:
    """`runq ARGS` in this process with `env` changes: (exit code, what it printed).
    Settings are re-read for the command and again afterwards."""
    from typer.testing import CliRunner

    from gateway.cli import app

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    wiring.reset()
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        monkeypatch.undo()
        wiring.reset()
    return result.exit_code, result.output


def wait_for_run(run_id: str, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with wiring.new_session() as session:
            run = store.get_run(session, run_id=run_id)
            calls = store.list_tool_calls(session, run_id=run_id)
        if run.status in TERMINAL:
            return run, calls
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not end in {timeout_s}s (status {run.status})")


def assert_undisturbed(fleet, catalogue: Catalogue) -> None:
    """Every worker still runs, and no bystander run failed."""
    assert [p.args for p in fleet.workers if p.poll() is not None] == []
    with wiring.new_session() as session:
        counts = store.count_runs_by_status(session, batch_id=catalogue.bystander_batch)
    assert set(counts) <= {"pending", "in_progress", "requires_tools", "submitting", "completed"}


def worker_logs(fleet) -> str:
    return "".join(p.read_text(errors="replace") for p in Path(fleet.workdir).glob("*.log"))


# -- the catalogue --------------------------------------------------------------------------
@pytest.mark.parametrize("name", RUN_CASES)
def test_a_model_or_tool_mistake_gets_a_clear_error(name, fleet, catalogue):
    case = RUN_CASES[name]
    run, calls = wait_for_run(catalogue.runs[name])
    assert run.status == case.status, run.error
    if case.in_tool_output:
        assert any(case.needle in (c.output or "") for c in calls), [c.output for c in calls]
        assert all(c.status == "failed" for c in calls if case.needle in (c.output or ""))
    else:
        assert case.needle in (run.error or ""), run.error
    assert_undisturbed(fleet, catalogue)


def test_a_run_whose_agent_no_worker_has_is_handed_back_then_failed(fleet, catalogue):
    run, _ = wait_for_run(catalogue.runs["agent-missing-on-every-worker"])
    assert run.status == "failed"
    assert "no worker that took this run has its agent (3 tries)" in (run.error or "")
    assert "unknown agent 'ghost-agent'" in (run.error or "")
    assert_undisturbed(fleet, catalogue)


@pytest.mark.parametrize("name", QUEUE_CASES)
def test_a_bad_message_on_a_queue_is_dropped_and_the_worker_keeps_running(name, fleet, catalogue):
    case = QUEUE_CASES[name]
    before = worker_logs(fleet).count(case.needle) if case.needle else 0
    redis.Redis.from_url(fleet.redis.url).lpush(case.queue, case.raw)
    deadline = time.monotonic() + 10
    while case.needle and worker_logs(fleet).count(case.needle) <= before:
        assert time.monotonic() < deadline, f"no {case.needle!r} in the worker logs"
        time.sleep(0.2)
    time.sleep(0.3)  # a worker that would exit on it has had the time to
    assert_undisturbed(fleet, catalogue)


@pytest.mark.parametrize("name", COMMAND_CASES)
def test_a_configuration_or_operator_mistake_gets_one_clear_line(
    name, fleet, catalogue, monkeypatch
):
    case = COMMAND_CASES[name]
    code, output = run_command(case.args, case.env, monkeypatch)
    assert code == case.code, output
    assert case.needle in output, output
    assert "Traceback" not in output and "secret" not in output
    assert_undisturbed(fleet, catalogue)


def test_cancel_of_a_finished_run_says_so_and_exits_10(fleet, catalogue, monkeypatch):
    wait_for_batch(catalogue.bystander_batch, BYSTANDERS, timeout_s=60)
    with wiring.new_session() as session:
        done = store.list_runs(session, batch_id=catalogue.bystander_batch)[0]
    code, output = run_command(("cancel", done.id), {}, monkeypatch)
    assert code == 10, output
    assert "already ended" in output


def test_every_bystander_run_completed(fleet, catalogue):
    wait_for_batch(catalogue.bystander_batch, BYSTANDERS, timeout_s=60)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=catalogue.bystander_batch)
    assert [r.error for r in runs if r.status != "completed"] == []


@pytest.mark.parametrize("name", HTTP_CASES)
def test_a_bad_http_request_gets_a_4xx_with_a_message(name, api, fleet, catalogue):
    case = HTTP_CASES[name]
    headers = dict(case.headers) | (api.auth() if case.authorized else {})
    reply = httpx2.request(
        case.method,
        f"{api.url}{case.path}",
        json=case.json_body,
        content=case.raw_body,
        headers=headers,
        timeout=10,
    )
    assert reply.status_code == case.status, reply.text
    assert reply.headers["content-type"].startswith("application/json"), reply.text
    assert case.needle in reply.text
    assert "Traceback" not in reply.text
    assert_undisturbed(fleet, catalogue)
