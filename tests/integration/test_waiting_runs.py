"""Runs that wait for people and callers, end to end: real uvicorn, real workers, Redis,
the simulator, PostgreSQL. A waiting run holds no worker, message or connection; an
approved call runs exactly once; a rejected one never runs; the caller's outputs go back
to the model; every wrong request gets its 404/409/422."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx2
import kombu.exceptions
import pytest
import redis.exceptions

import tests.integration.agents  # noqa: F401  (registered once at import, as the workers do)
from bench.chaos_agents import EXECUTIONS_FILE_ENV
from config.celery_app import app
from tests.integration.api_server import Api
from tests.integration.fleet import TERMINAL
from tests.integration.test_http_api import create, wait
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]


def wire(to: str, amount: int = 5) -> str:
    return f'Pay them. #call=wire_money {{"amount": {amount}, "to": "{to}"}}'


def run_of(api: Api, run_id: str, key: str | None = None) -> dict:
    reply = httpx2.get(f"{api.url}/v1/runs/{run_id}", headers=api.auth(key), timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def until_waiting(api: Api, run_id: str, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = run_of(api, run_id)
        if run["status"] == "requires_action" or run["status"] in TERMINAL:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never waited: {run}")


def post(api: Api, path: str, body: dict | None = None, key: str | None = None):
    return httpx2.post(f"{api.url}/v1/runs/{path}", json=body, headers=api.auth(key), timeout=10)


def executions(to: str) -> int:
    path = os.environ[EXECUTIONS_FILE_ENV]
    if not Path(path).exists():
        return 0
    return Path(path).read_text().splitlines().count(f"wire_money {to}")


def test_an_approved_payment_runs_exactly_once_after_the_person_says_yes(api):
    to = f"bob-{uuid.uuid4().hex[:6]}"
    run_id = create(api, agent="approval-agent", input=wire(to)).json()["id"]

    waiting = until_waiting(api, run_id)
    [call] = waiting["tool_calls"]
    assert (waiting["status"], call["status"]) == ("requires_action", "awaiting_approval")
    time.sleep(1.0)
    assert executions(to) == 0  # nothing ran while it waited

    # Every wrong request is refused and changes nothing.
    path = f"{run_id}/tool_calls/{call['call_id']}"
    assert post(api, f"{path}/approve", key=api.other_key).status_code == 404
    assert post(api, f"{run_id}/tool_calls/call_nope/approve").status_code == 404
    outputs = {"tool_outputs": [{"tool_call_id": call["call_id"], "output": "x"}]}
    assert post(api, f"{run_id}/submit_tool_outputs", outputs).status_code == 409

    # Two approvals sent at once: one is taken, the other answered 409.
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(post(api, f"{path}/approve").status_code))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 409]

    done = wait(api, run_id)
    assert done["status"] == "completed", done
    assert done["tool_calls"][0]["decision"] == "approved"
    assert json.loads(done["tool_calls"][0]["output"]) == {"sent": 5, "to": to}
    assert executions(to) == 1
    assert post(api, f"{path}/reject", {"reason": "too late"}).status_code == 409


def test_an_approval_whose_message_is_lost_still_runs_the_call_once(api):
    # The API process commits the approval and dies before sending the tools' message: the
    # run is overdue in requires_tools when its tools' time is up, and the sweep sends them.
    from workers.public.actions import decide_tool_call

    to = f"lost-{uuid.uuid4().hex[:6]}"
    run_id = create(api, agent="approval-agent", input=wire(to)).json()["id"]
    call_id = until_waiting(api, run_id)["tool_calls"][0]["call_id"]

    never_sent = decide_tool_call(run_id, call_id, approve=True, by="")

    assert never_sent.call_ids == (call_id,)  # type: ignore[union-attr]
    done = wait(api, run_id, timeout_s=60)
    assert done["status"] == "completed", done
    assert executions(to) == 1


def test_a_rejected_payment_never_runs_and_the_model_hears_why(api):
    to = f"eve-{uuid.uuid4().hex[:6]}"
    run_id = create(api, agent="approval-agent", input=wire(to, 10_000)).json()["id"]
    call_id = until_waiting(api, run_id)["tool_calls"][0]["call_id"]

    reply = post(api, f"{run_id}/tool_calls/{call_id}/reject", {"reason": "looks like fraud"})

    assert reply.status_code == 200, reply.text
    done = wait(api, run_id)
    assert done["status"] == "completed"
    assert "looks like fraud" in done["output_text"]  # the simulator echoes the tool output
    assert done["tool_calls"][0]["decision_reason"] == "looks like fraud"
    assert executions(to) == 0


def test_tools_the_caller_brings_wait_for_its_outputs_over_http(api):
    tools = [
        {
            "name": "ticket_status",
            "description": "The status of a support ticket, from the caller's own system.",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
        }
    ]
    body = {"agent": "responses-agent", "input": '#call=ticket_status {"id": "T-1"}'}
    run_id = create(api, **body, tools=tools).json()["id"]
    waiting = until_waiting(api, run_id)
    [call] = waiting["tool_calls"]
    assert (call["name"], call["status"]) == ("ticket_status", "awaiting_output")

    url = f"{run_id}/submit_tool_outputs"
    unknown = {"tool_outputs": [{"tool_call_id": "call_nope", "output": "x"}]}
    assert post(api, url, unknown).status_code == 404
    twice = {"tool_outputs": [{"tool_call_id": call["call_id"], "output": "x"}] * 2}
    assert post(api, url, twice).status_code == 422
    assert post(api, url, {"tool_outputs": []}).status_code == 422
    given = {"tool_outputs": [{"tool_call_id": call["call_id"], "output": "open, waiting on QA"}]}
    assert post(api, url, given, key=api.other_key).status_code == 404

    assert post(api, url, given).status_code == 200
    assert post(api, url, given).status_code == 409  # late: already answered

    done = wait(api, run_id)
    assert done["status"] == "completed"
    assert "open, waiting on QA" in done["output_text"]


def test_a_send_task_producer_is_called_back_when_its_run_waits_and_answers_by_send_task(
    api, receiver
):
    state, url = receiver
    key = f"crm-{uuid.uuid4().hex[:6]}"
    job = {
        "agent": "caller-agent",
        "input": '#call=crm_lookup {"customer": "ACME"}',
        "idempotency_key": key,
        "callback_url": url,
    }
    app.send_task("runq.runs.submit_job", kwargs=job)

    deadline = time.monotonic() + 30
    while not state.deliveries and time.monotonic() < deadline:
        time.sleep(0.1)
    headers, body = state.deliveries[0]
    event = json.loads(body)
    assert event["type"] == "run.requires_action"
    assert headers["webhook-signature"].startswith("v1,")
    run = event["data"]
    [call] = [c for c in run["tool_calls"] if c["status"] == "awaiting_output"]

    outputs = [{"tool_call_id": call["call_id"], "output": "ACME is a gold customer"}]
    app.send_task(
        "runq.runs.submit_tool_outputs", kwargs={"run_id": run["id"], "tool_outputs": outputs}
    )

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with wiring.new_session() as session:
            ended = store.get_run(session, run_id=run["id"])
        if ended.status in TERMINAL:
            break
        time.sleep(0.2)
    assert ended.status == "completed", ended.error
    assert "ACME is a gold customer" in (ended.result_text or "")
    deadline = time.monotonic() + 30
    while len(state.deliveries) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the end's callback follows the end
    types = [json.loads(b)["type"] for _, b in state.deliveries]
    assert types == ["run.requires_action", "run.completed"]


def _tasks_naming(by_worker: dict[str, list[dict]] | None, run_ids: set[str]) -> int:
    """How many of the inspected task requests carry one of `run_ids` in their arguments."""
    requests = [request for requests in (by_worker or {}).values() for request in requests]
    return sum(
        1
        for request in requests
        if any(run_id in repr((request.get("args"), request.get("kwargs"))) for run_id in run_ids)
    )


@pytest.mark.slow
def test_two_hundred_waiting_runs_hold_no_worker_and_survive_a_fleet_crash(api, fleet):
    # 200 runs wait for approval at once.
    tag = uuid.uuid4().hex[:6]
    run_ids = [
        create(api, agent="approval-agent", input=wire(f"w{tag}-{i}")).json()["id"]
        for i in range(200)
    ]
    waiting = [until_waiting(api, run_id, timeout_s=90) for run_id in run_ids]
    assert {w["status"] for w in waiting} == {"requires_action"}

    # Measured: while they wait no worker thread is busy and no message waits for them.
    time.sleep(0.5)
    # Earlier tests on this fleet may leave their own retries scheduled (a callback's
    # backoff), so only the tasks that name one of these runs are counted.
    inspect = app.control.inspect(timeout=2.0)
    ours = set(run_ids)
    active = _tasks_naming(inspect.active(), ours)
    reserved = _tasks_naming(inspect.reserved(), ours)
    scheduled = _tasks_naming(
        {
            w: [entry["request"] for entry in entries]
            for w, entries in (inspect.scheduled() or {}).items()
        },
        ours,
    )
    print(f"\n200 runs waiting: {active} tasks active, {reserved} reserved, {scheduled} scheduled")
    assert (active, reserved, scheduled) == (0, 0, 0)

    # Every runs and tools worker is killed and Redis restarts empty: nothing is lost.
    from devstack.embedded_redis import start_embedded_redis

    _, *others = fleet.workers
    for process in others:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    port = fleet.redis.port
    fleet.redis.process.send_signal(signal.SIGKILL)
    fleet.redis.process.wait(timeout=10)
    fleet.redis = start_embedded_redis(port=port, data_dir=fleet.redis.data_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fleet.revive_workers()  # as a supervisor would: kombu may end a worker on a reset
        try:
            if len(app.control.ping(timeout=0.5) or []) >= len(fleet.workers):
                break
        except (OSError, redis.exceptions.ConnectionError, kombu.exceptions.OperationalError):
            time.sleep(0.5)  # this process's own broker connection reconnects too

    for run in waiting:
        call_id = run["tool_calls"][0]["call_id"]
        reply = post(api, f"{run['id']}/tool_calls/{call_id}/approve")
        assert reply.status_code == 200, reply.text
    ended = [wait(api, run_id, timeout_s=90) for run_id in run_ids]

    assert [e["error"] for e in ended if e["status"] != "completed"] == []
    assert all(executions(f"w{tag}-{i}") == 1 for i in range(200))
