"""Tool arguments declared secret (`secret_args`) are masked at every door they leave by,
not only on the dashboard (issue 16): the HTTP API's run view, its event stream (SSE), the
signed callback, the CLI, Flower's task views and the worker logs. One real run on the
fleet, through the real API, whose get_weather(location) is declared secret."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import httpx2
import pytest

import tests.integration.agents  # noqa: F401  (get_weather's location is secret_args)
from tests.integration.fleet import SECRETS
from tests.integration.operate_fixtures import http_text
from tests.integration.test_callbacks import wait_for_callback_state
from tests.integration.test_operate import worker_log_lines
from workers import wiring
from workers.db import store
from workers.tools.masking import SECRET_MASK

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

SECRET_PLACE = "Xv-secret-place-4d1c"
OPERATOR = ("admin", SECRETS["RUNQ_OPERATOR_PASSWORD"])


PROSE = ("input", "output_text", "result")
"""The run's own text: the prompt names the place and so does the model's answer (neither
is a tool argument); everything else must not."""


def without_prose(text: str) -> str:
    """`text` with the prose fields dropped from each JSON object in it (a whole document, or
    SSE `data:` lines); text that is not JSON stays as it is."""

    def drop(value: object) -> object:
        if isinstance(value, dict):
            return {k: drop(v) for k, v in value.items() if k not in PROSE}
        if isinstance(value, list):
            return [drop(v) for v in value]
        return value

    try:
        return json.dumps(drop(json.loads(text)))
    except ValueError:
        pass
    lines = []
    for line in text.splitlines():
        if line.startswith("data:"):
            with contextlib.suppress(ValueError):  # a data line that is not JSON stays
                line = "data: " + json.dumps(drop(json.loads(line[5:])))
        lines.append(line)
    return "\n".join(lines)


def test_secret_arguments_are_masked_at_every_door(fleet, api, receiver, flower_url):
    state, callback_url = receiver
    body = {
        "agent": "keyed-agent",
        "input": f"What's the weather in {SECRET_PLACE}?",
        "callback_url": callback_url,
    }
    created = httpx2.post(f"{api.url}/v1/runs", json=body, headers=api.auth(), timeout=10)
    assert created.status_code in (200, 201, 202), created.text
    run_id = created.json()["id"]
    waited = httpx2.get(
        f"{api.url}/v1/runs/{run_id}/wait",
        params={"timeout_s": 60},
        headers=api.auth(),
        timeout=70,
    )
    assert waited.json()["status"] in ("completed", "failed"), waited.text
    # The place really was the secret argument of a call that ran.
    with wiring.new_session() as session:
        calls = store.list_tool_calls(session, run_id=run_id)
    assert any(c.name == "get_weather" and SECRET_PLACE in c.arguments for c in calls)
    assert wait_for_callback_state(run_id) == "delivered"

    doors: dict[str, str] = {}
    doors["API run view"] = httpx2.get(
        f"{api.url}/v1/runs/{run_id}", headers=api.auth(), timeout=10
    ).text
    doors["API /wait"] = waited.text
    doors["SSE event stream"] = httpx2.get(
        f"{api.url}/v1/runs/{run_id}/events", headers=api.auth(), timeout=30
    ).text
    [(_, delivered)] = [d for d in state.deliveries if run_id.encode() in d[1]]
    doors["callback payload"] = delivered.decode()
    shown = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "status", run_id, "--json"],
        env=fleet.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    doors["CLI status --json"] = shown.stdout + shown.stderr
    doors["Flower tasks API"] = http_text(f"{flower_url}/api/tasks", OPERATOR)
    doors["worker logs"] = "\n".join(worker_log_lines(fleet.workdir))

    for door, text in doors.items():
        assert SECRET_PLACE not in without_prose(text), f"the secret argument left by the {door}"
    api_calls = json.loads(doors["API run view"])["tool_calls"]
    weather = [c for c in api_calls if c["name"] == "get_weather"]
    assert weather and all(json.loads(c["arguments"])["location"] == SECRET_MASK for c in weather)
    cli_calls = json.loads(shown.stdout)["tool_calls"]
    assert any(SECRET_MASK in c["arguments"] for c in cli_calls if c["name"] == "get_weather")
    assert run_id in doors["Flower tasks API"]  # Flower saw the run's tasks
