"""The Chat Completions provider: one synchronous call per model turn, runq keeps the log.

Works with any OpenAI-compatible Chat Completions server (vLLM, Ollama, LiteLLM, llama.cpp).
Nothing runs server-side between calls, so `create` and `submit_tool_outputs` return a turn
that is already over (REQUIRES_TOOLS or terminal) and the engine never polls: `retrieve`
refuses and `cancel` needs no request. The server keeps no conversation either, so every call
replays the whole run: instructions (system), input (user), then each tool round trip of
`request.history` as an assistant message with `tool_calls` followed by one `tool` message
per output.

How a choice maps onto a status (first match wins):

    message.refusal set               FAILED          "refusal: <text>"
    finish_reason content_filter      FAILED          "content_filter"
    finish_reason length              INCOMPLETE      "incomplete: max_output_tokens"
    finish_reason tool_calls, or      REQUIRES_TOOLS  the function calls
      function calls present
    finish_reason stop                COMPLETED       output_text = message.content
    anything else                     FAILED          "unexpected finish_reason: <value>"

`length` wins over tool calls because a cut-off turn may carry truncated arguments. Calls
with finish_reason `stop` count as tool calls because some compatible servers report them so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openai import OpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageFunctionToolCall

from workers.errors import ProviderRejected
from workers.providers.interface import (
    ProviderState,
    ProviderStatus,
    ToolCallRequest,
    ToolOutput,
    ToolTurn,
    TurnRequest,
    Usage,
)
from workers.providers.output_format import chat_style_params
from workers.providers.rate_limit_headers import rate_limit_headers_of
from workers.providers.sdk_errors import translate_sdk_errors


class ChatProvider:
    """Runs each model turn as one Chat Completions call through the official SDK."""

    def __init__(self, client: OpenAI) -> None:
        self._client = client

    def create(self, request: TurnRequest) -> ProviderState:
        """Run the first model turn; the state returned is already final for that turn."""
        return self._complete(request)

    def retrieve(self, ref: str) -> ProviderState:
        """Always raises ProviderRejected: a chat turn cannot be read back.

        Chat turns are synchronous, so the engine never polls this provider; compatible
        servers store nothing to read, so retrying could never help either.
        """
        raise ProviderRejected(
            f"cannot retrieve chat completion {ref!r}: Chat Completions turns finish inside "
            "create/submit_tool_outputs and are never polled",
            code="retrieve_unsupported",
        )

    def submit_tool_outputs(
        self, ref: str, outputs: Sequence[ToolOutput], request: TurnRequest
    ) -> ProviderState:
        """Replay the run with every tool turn, the answered one last, as one new completion.

        `request.history` must end with the turn that `outputs` answer (it carries the calls
        the assistant message has to repeat); otherwise ProviderRejected, before any request.
        """
        _check_submitted_turn(ref, outputs, request.history)
        return self._complete(request)

    def cancel(self, ref: str) -> ProviderState:
        """Nothing runs server-side between calls: report the turn cancelled, no request."""
        return ProviderState(status=ProviderStatus.CANCELLED, ref=ref)

    def send_correction(
        self, ref: str, answer: str, message: str, request: TurnRequest
    ) -> ProviderState:
        """Replay the run, then the model's `answer` and the user's `message`."""
        extra = [{"role": "assistant", "content": answer}, {"role": "user", "content": message}]
        return self._complete(request, extra_messages=extra)

    def open_thread(self) -> str | None:
        """Chat servers keep no threads: runq replays the thread's messages itself."""
        return None

    def _complete(
        self, request: TurnRequest, extra_messages: Sequence[dict[str, Any]] = ()
    ) -> ProviderState:
        messages = [*build_messages(request), *extra_messages]
        params: dict[str, Any] = {"model": request.model, "messages": messages}
        if request.tools:
            params["tools"] = [to_nested_tool(spec) for spec in request.tools]
        params.update(chat_style_params(request))
        with translate_sdk_errors():
            raw = self._client.chat.completions.with_raw_response.create(**params)
            completion = raw.parse()
        return to_provider_state(completion, raw.headers)


def build_messages(request: TurnRequest) -> list[dict[str, Any]]:
    """The whole conversation so far, in Chat Completions message order: instructions, the
    thread's earlier messages, this run's input, then this run's tool round trips."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    messages.extend(dict(message) for message in request.prior_messages)
    messages.append({"role": "user", "content": request.input_text})
    for index, turn in enumerate(request.history):
        _check_turn_is_answered(index, turn)
        messages.extend(tool_turn_messages(turn))
    return messages


def tool_turn_messages(turn: ToolTurn) -> list[dict[str, Any]]:
    """One tool round trip as messages: the assistant's calls, then one `tool` reply each."""
    calls = [
        {
            "id": call.call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in turn.calls
    ]
    replies = [
        {"role": "tool", "tool_call_id": out.call_id, "content": out.output} for out in turn.outputs
    ]
    return [{"role": "assistant", "content": None, "tool_calls": calls}, *replies]


def to_nested_tool(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A neutral function schema in the nested shape of Chat Completions (and Assistants)."""
    return {
        "type": "function",
        "function": {
            "name": spec["name"],
            "description": spec.get("description", ""),
            "parameters": spec["parameters"],
            "strict": bool(spec.get("strict", False)),
        },
    }


def to_provider_state(completion: ChatCompletion, headers: Mapping[str, str]) -> ProviderState:
    """Normalize a completion's first choice (see the module docstring for the mapping)."""
    rate_limit_headers = rate_limit_headers_of(headers)
    usage = _usage(completion)
    if not completion.choices:
        return ProviderState(
            status=ProviderStatus.FAILED,
            ref=completion.id,
            usage=usage,
            error="provider returned no choices",
            rate_limit_headers=rate_limit_headers,
        )
    choice = completion.choices[0]
    calls = tuple(
        ToolCallRequest(call_id=call.id, name=call.function.name, arguments=call.function.arguments)
        for call in choice.message.tool_calls or ()
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    )
    status, error = _outcome(choice.finish_reason, choice.message.refusal, has_calls=bool(calls))
    return ProviderState(
        status=status,
        ref=completion.id,
        tool_calls=calls if status is ProviderStatus.REQUIRES_TOOLS else (),
        output_text=(choice.message.content or "") if status is ProviderStatus.COMPLETED else None,
        usage=usage,
        error=error,
        rate_limit_headers=rate_limit_headers,
    )


def _outcome(
    finish_reason: str | None, refusal: str | None, *, has_calls: bool
) -> tuple[ProviderStatus, str | None]:
    if refusal:
        return ProviderStatus.FAILED, f"refusal: {refusal}"
    if finish_reason == "content_filter":
        return ProviderStatus.FAILED, "content_filter"
    if finish_reason == "length":
        return ProviderStatus.INCOMPLETE, "incomplete: max_output_tokens"
    if finish_reason == "tool_calls" or has_calls:
        return ProviderStatus.REQUIRES_TOOLS, None
    if finish_reason == "stop":
        return ProviderStatus.COMPLETED, None
    return ProviderStatus.FAILED, f"unexpected finish_reason: {finish_reason}"


def _usage(completion: ChatCompletion) -> Usage | None:
    if completion.usage is None:
        return None
    details = completion.usage.prompt_tokens_details
    return Usage(
        input_tokens=completion.usage.prompt_tokens,
        output_tokens=completion.usage.completion_tokens,
        cached_tokens=(details.cached_tokens or 0) if details else 0,
    )


def _check_turn_is_answered(index: int, turn: ToolTurn) -> None:
    """Chat servers reject (400) an assistant tool_calls message not answered call for call."""
    call_ids = sorted(call.call_id for call in turn.calls)
    output_ids = sorted(out.call_id for out in turn.outputs)
    if call_ids != output_ids:
        raise ProviderRejected(
            f"tool turn {index + 1} of the history does not answer its calls one for one "
            f"(calls {call_ids}, outputs {output_ids})",
            code="invalid_history",
        )


def _check_submitted_turn(
    ref: str, outputs: Sequence[ToolOutput], history: Sequence[ToolTurn]
) -> None:
    submitted = sorted(out.call_id for out in outputs)
    last = sorted(out.call_id for out in history[-1].outputs) if history else []
    if not history or submitted != last:
        raise ProviderRejected(
            f"cannot answer chat turn {ref!r}: request.history must end with the submitted "
            f"turn (outputs for {submitted}, last history turn answers {last})",
            code="invalid_history",
        )
