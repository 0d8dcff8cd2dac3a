"""The Responses API provider: background responses, polled, continued with tool outputs.

Each model turn is one background response. Function calls come back as `function_call`
items of a `completed` response; we answer them with a new background response chained by
`previous_response_id`, resending instructions and tools (they are not carried over).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx2
from openai import OpenAI
from openai.types.responses import Response
from pydantic import ValidationError

from workers.providers.interface import (
    ProviderState,
    ProviderStatus,
    ToolCallRequest,
    ToolOutput,
    TurnRequest,
    Usage,
)
from workers.providers.output_format import responses_format_of
from workers.providers.rate_limit_headers import rate_limit_headers_of
from workers.providers.sdk_errors import translate_sdk_errors

# Output items of tools the provider runs itself; recorded on the run, never executed by us.
_HOSTED_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_call",
        "computer_call",
        "local_shell_call",
    }
)

_STATUS = {
    "queued": ProviderStatus.QUEUED,
    "in_progress": ProviderStatus.IN_PROGRESS,
    "completed": ProviderStatus.COMPLETED,
    "failed": ProviderStatus.FAILED,
    "cancelled": ProviderStatus.CANCELLED,
    "incomplete": ProviderStatus.INCOMPLETE,
}


class ResponsesProvider:
    """Runs turns as background responses through the official SDK (its retries off)."""

    def __init__(self, client: OpenAI) -> None:
        self._client = client

    def create(self, request: TurnRequest) -> ProviderState:
        """Start the first turn of a run as a background response."""
        return self._create(request, input_items=request.input_text, previous_ref=None)

    def retrieve(self, ref: str) -> ProviderState:
        """Read the turn's current state."""
        with translate_sdk_errors():
            raw = self._client.get(f"/responses/{ref}", cast_to=httpx2.Response)
        return _state_of(raw)

    def submit_tool_outputs(
        self, ref: str, outputs: Sequence[ToolOutput], request: TurnRequest
    ) -> ProviderState:
        """Answer every call of turn `ref` in one new background response."""
        return self._create(request, input_items=tool_output_items(outputs), previous_ref=ref)

    def cancel(self, ref: str) -> ProviderState:
        """Cancel a background response; idempotent at the provider."""
        with translate_sdk_errors():
            raw = self._client.responses.with_raw_response.cancel(ref)
        return to_provider_state(raw.parse(), raw.headers)

    def send_correction(
        self, ref: str, answer: str, message: str, request: TurnRequest
    ) -> ProviderState:
        """A new background response chained onto `ref` (which holds `answer`)."""
        return self._create(request, input_items=correction_items(message), previous_ref=ref)

    def open_thread(self) -> str | None:
        """A new Conversation: the Responses API's thread."""
        with translate_sdk_errors():
            return self._client.conversations.create(metadata={"created_by": "runq"}).id

    def _create(
        self, request: TurnRequest, *, input_items: str | list[Any], previous_ref: str | None
    ) -> ProviderState:
        params = request_params(request, input_items=input_items, previous_ref=previous_ref)
        with translate_sdk_errors():
            # The SDK's own client, auth and errors, minus `responses.create`'s walk of every
            # parameter against its TypedDicts (a tenth of a worker's CPU): ours are plain JSON.
            raw = self._client.post("/responses", body=params, cast_to=httpx2.Response)
        return _state_of(raw)


def request_params(
    request: TurnRequest, *, input_items: str | list[Any], previous_ref: str | None
) -> dict[str, Any]:
    """The /v1/responses body of one turn (also a batch-lane turn's line in a batch file)."""
    params: dict[str, Any] = {
        "model": request.model,
        "input": input_items,
        "background": request.background,
        # Background responses outlive the polling window only when stored.
        "store": True,
        "metadata": {"runq_run_id": request.run_id},
    }
    if request.instructions:
        params["instructions"] = request.instructions
    tools = [to_function_tool(spec) for spec in request.tools]
    tools += [dict(hosted) for hosted in request.hosted_tools]
    if tools:
        params["tools"] = tools
    # A conversation already holds the turn's function calls, and the API refuses
    # previous_response_id together with conversation (reference §2.7, §3).
    if request.conversation_ref or request.previous_ref:
        # A long thread must not fail its next run: drop the oldest items instead.
        params["truncation"] = "auto"
    if request.conversation_ref:
        params["conversation"] = request.conversation_ref
    elif previous_ref or request.previous_ref:
        params["previous_response_id"] = previous_ref or request.previous_ref
    text_format = responses_format_of(request)
    if text_format is not None:
        params["text"] = text_format
    return params | _optional_params(request)


def tool_output_items(outputs: Sequence[ToolOutput]) -> list[dict[str, Any]]:
    """Tool outputs as the input items of the turn that answers them."""
    return [
        {"type": "function_call_output", "call_id": out.call_id, "output": out.output}
        for out in outputs
    ]


def correction_items(message: str) -> list[dict[str, Any]]:
    """A user message sent after an answer, as the input of the next turn."""
    return [{"role": "user", "content": message}]


def _optional_params(request: TurnRequest) -> dict[str, Any]:
    """The request's settings that are sent only when set."""
    optional = {
        "max_output_tokens": request.max_output_tokens,
        "temperature": request.temperature,
        "service_tier": request.service_tier,
        "prompt_cache_key": request.prompt_cache_key,
    }
    return {name: value for name, value in optional.items() if value is not None}


def _state_of(raw: httpx2.Response) -> ProviderState:
    """Build the SDK's Response model from a reply and normalize it."""
    return to_provider_state(response_of(raw.json()), raw.headers)


def response_of(body: dict[str, Any]) -> Response:
    """The SDK's Response model of a reply body.

    Validated by pydantic's compiled core first: a third of the time of the SDK's own
    field-by-field `construct`, which is what a body this SDK does not fully know (an output
    item or a field newer than it) falls back to, as the SDK itself would parse it."""
    try:
        return Response.model_validate(body)
    except ValidationError:
        return Response.construct(**body)


def to_function_tool(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A neutral function schema in the Responses API's flat tool shape."""
    return {
        "type": "function",
        "name": spec["name"],
        "description": spec.get("description", ""),
        "parameters": spec["parameters"],
        "strict": bool(spec.get("strict", False)),
    }


def to_provider_state(response: Response, headers: Mapping[str, str]) -> ProviderState:
    """Normalize a Response: a completed one with function calls means "run the tools"."""
    status = _STATUS.get(response.status or "in_progress", ProviderStatus.IN_PROGRESS)
    calls = tuple(
        ToolCallRequest(call_id=item.call_id, name=item.name, arguments=item.arguments)
        for item in response.output
        if item.type == "function_call"
    )
    if status is ProviderStatus.COMPLETED and calls:
        status = ProviderStatus.REQUIRES_TOOLS
    return ProviderState(
        status=status,
        ref=response.id,
        tool_calls=calls,
        output_text=response.output_text if status is ProviderStatus.COMPLETED else None,
        usage=_usage(response),
        error=_error_text(response),
        rate_limit_headers=rate_limit_headers_of(headers),
        hosted_items=tuple(
            item.model_dump(mode="json") for item in response.output if item.type in _HOSTED_ITEMS
        ),
        duration_s=_duration_s(response),
    )


def _duration_s(response: Response) -> float | None:
    # The provider's own timestamps: our poll times would only bound the duration from above.
    if response.completed_at is None or not response.created_at:
        return None
    return max(0.0, response.completed_at - response.created_at)


def _usage(response: Response) -> Usage | None:
    if response.usage is None:
        return None
    details = response.usage.input_tokens_details
    return Usage(
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        cached_tokens=details.cached_tokens if details else 0,
    )


def _error_text(response: Response) -> str | None:
    if response.error is not None:
        return f"{response.error.code}: {response.error.message}"
    if response.incomplete_details is not None:
        return f"incomplete: {response.incomplete_details.reason}"
    return None
