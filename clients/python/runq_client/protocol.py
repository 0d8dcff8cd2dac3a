"""What the sync and async clients share: request shapes and error answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx2
from runq_client.models import ApiError

RECONNECT_S = 1.0
LONG_POLL_S = 30.0


def create_request(
    agent: str, input: str, idempotency_key: str | None, fields: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of POST /v1/runs (a `run_at` datetime goes as ISO 8601)."""
    body = {"agent": agent, "input": input, **{k: v for k, v in fields.items() if v is not None}}
    if isinstance(body.get("run_at"), datetime):
        body["run_at"] = body["run_at"].isoformat()
    headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
    return body, headers


def decision_path(run_id: str, call_id: str, verdict: str) -> str:
    """POST path that approves or rejects one tool call."""
    return f"/v1/runs/{run_id}/tool_calls/{call_id}/{verdict}"


def decision_body(reason: str | None) -> dict[str, str]:
    """The body of an approve or reject: the reason, when there is one."""
    return {} if reason is None else {"reason": reason}


def outputs_path(run_id: str) -> str:
    """POST path that submits the outputs of the calls a run waits for the caller to run."""
    return f"/v1/runs/{run_id}/submit_tool_outputs"


def outputs_body(outputs: Mapping[str, str]) -> dict[str, list[dict[str, str]]]:
    """The body of POST /v1/runs/{id}/submit_tool_outputs from {call id: output}."""
    return {
        "tool_outputs": [
            {"tool_call_id": call_id, "output": output} for call_id, output in outputs.items()
        ]
    }


def list_params(**filters: Any) -> dict[str, Any]:
    """Query parameters of GET /v1/runs, without the unset ones."""
    return {name: value for name, value in filters.items() if value is not None}


def checked(reply: httpx2.Response) -> Any:
    """The JSON of a 2xx answer; ApiError with runq's message otherwise."""
    if reply.is_success:
        return reply.json()
    try:
        message = reply.json().get("error", reply.text)
    except ValueError:
        message = reply.text
    raise ApiError(reply.status_code, message)


def headers_for(api_key: str) -> dict[str, str]:
    """Auth for every request."""
    return {"authorization": f"Bearer {api_key}", "user-agent": "runq-client/0.1"}
