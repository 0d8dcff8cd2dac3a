"""The Assistants API provider (legacy): one runq run is one thread run, polled.

api.openai.com sunset this surface on 2026-08-26; runq keeps it for compatible servers that
still speak it. Tool round trips happen inside a single run (`requires_action`, then
`submit_tool_outputs` puts it back to `queued`), so a run's ref never changes, and the server
keeps the conversation: `request.history` is not replayed.

`ref` is "<thread_id>:<run_id>", because every run endpoint needs both ids and the engine
stores one string; `parse_ref` splits it back.

Usage arrives only when the run is terminal and covers the whole run (every model turn).
`request.max_output_tokens` becomes the run's `max_completion_tokens`, which also bounds the
whole run rather than one turn.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import openai
from openai import OpenAI
from openai.types.beta.threads import Message, Run, TextContentBlock
from openai.types.beta.threads.run_submit_tool_outputs_params import (
    ToolOutput as ToolOutputParam,
)

from workers.errors import ProviderRejected
from workers.providers.chat import to_nested_tool
from workers.providers.interface import (
    ProviderState,
    ProviderStatus,
    ToolCallRequest,
    ToolOutput,
    TurnRequest,
    Usage,
)
from workers.providers.output_format import chat_style_params
from workers.providers.rate_limit_headers import parse_poll_after_s, rate_limit_headers_of
from workers.providers.sdk_errors import translate_sdk_errors

_STATUS = {
    "queued": ProviderStatus.QUEUED,
    "in_progress": ProviderStatus.IN_PROGRESS,
    # Not terminal: the run may still complete before the cancel lands, so keep polling.
    "cancelling": ProviderStatus.IN_PROGRESS,
    "requires_action": ProviderStatus.REQUIRES_TOOLS,
    "completed": ProviderStatus.COMPLETED,
    "failed": ProviderStatus.FAILED,
    "incomplete": ProviderStatus.INCOMPLETE,
    "expired": ProviderStatus.EXPIRED,
    "cancelled": ProviderStatus.CANCELLED,
}

# Assistant ids by `assistant_config_key`, for this process. Creating an assistant per run
# would litter the server with identical assistants; caching per process is safe because we
# never update an assistant, so one id always means the same (model, instructions, tools).
# It lives at module level because `provider_for` builds a new adapter for every call. Two
# threads racing on a miss create one spare assistant, which is harmless.
_PROCESS_ASSISTANT_IDS: dict[str, str] = {}


class AssistantsProvider:
    """Runs turns as Assistants thread runs through the official SDK (its retries off)."""

    def __init__(self, client: OpenAI, *, assistant_ids: dict[str, str] | None = None) -> None:
        self._client = client
        self._assistant_ids = _PROCESS_ASSISTANT_IDS if assistant_ids is None else assistant_ids

    def create(self, request: TurnRequest) -> ProviderState:
        """Start a run on a new thread, or on `request.conversation_ref` if it is a thread."""
        key, assistant_id = self._assistant_for(request)
        params = _run_params(request, assistant_id)
        message = {"role": "user", "content": request.input_text}
        thread_id = request.conversation_ref
        threads = self._client.beta.threads
        try:
            with _assistants_call():
                if thread_id and thread_id.startswith("thread_"):
                    # One request adds the message and starts the run, so a failed create
                    # leaves no orphan user message on the thread to be duplicated by a retry.
                    params["additional_messages"] = [message]
                    raw = threads.runs.with_raw_response.create(thread_id, **params)
                else:
                    params["thread"] = {"messages": [message]}
                    raw = threads.with_raw_response.create_and_run(**params)
                run = raw.parse()
        except ProviderRejected as exc:
            if isinstance(exc.__cause__, openai.NotFoundError):
                # The cached assistant may have been deleted server-side; forget it so the
                # next attempt creates a fresh one instead of failing every later run.
                self._assistant_ids.pop(key, None)
            raise
        return to_provider_state(run, raw.headers)

    def retrieve(self, ref: str) -> ProviderState:
        """Read the run; a completed run also reads the assistant messages it wrote."""
        thread_id, run_id = parse_ref(ref)
        with _assistants_call():
            raw = self._client.beta.threads.runs.with_raw_response.retrieve(
                run_id, thread_id=thread_id
            )
            run = raw.parse()
        text = self._run_text(thread_id, run_id) if run.status == "completed" else None
        return to_provider_state(run, raw.headers, output_text=text)

    def submit_tool_outputs(
        self, ref: str, outputs: Sequence[ToolOutput], request: TurnRequest
    ) -> ProviderState:
        """Answer every call of the run's `requires_action` in one request; the run re-queues."""
        thread_id, run_id = parse_ref(ref)
        tool_outputs: list[ToolOutputParam] = [
            {"tool_call_id": out.call_id, "output": out.output} for out in outputs
        ]
        with _assistants_call():
            raw = self._client.beta.threads.runs.with_raw_response.submit_tool_outputs(
                run_id, thread_id=thread_id, tool_outputs=tool_outputs
            )
            run = raw.parse()
        return to_provider_state(run, raw.headers)

    def cancel(self, ref: str) -> ProviderState:
        """Ask the server to cancel the run; it reports `cancelling` until it lands."""
        thread_id, run_id = parse_ref(ref)
        with _assistants_call():
            raw = self._client.beta.threads.runs.with_raw_response.cancel(
                run_id, thread_id=thread_id
            )
            run = raw.parse()
        return to_provider_state(run, raw.headers)

    def send_correction(
        self, ref: str, answer: str, message: str, request: TurnRequest
    ) -> ProviderState:
        """A new run on the same thread (which already holds `answer`) with `message`."""
        thread_id, _ = parse_ref(ref)
        return self.create(replace(request, conversation_ref=thread_id, input_text=message))

    def open_thread(self) -> str | None:
        """A new, empty Assistants thread."""
        with _assistants_call():
            return self._client.beta.threads.create(metadata={"created_by": "runq"}).id

    def _assistant_for(self, request: TurnRequest) -> tuple[str, str]:
        """The (cache key, assistant id) for the request's config, creating it on a miss."""
        tools = [to_nested_tool(spec) for spec in request.tools]
        key = assistant_config_key(
            str(self._client.base_url), request.model, request.instructions, tools
        )
        cached = self._assistant_ids.get(key)
        if cached is not None:
            return key, cached
        params: dict[str, Any] = {
            "model": request.model,
            "tools": tools,
            "name": f"runq-{key[:12]}",
            "metadata": {"runq_config_key": key},
        }
        if request.instructions:
            params["instructions"] = request.instructions
        with _assistants_call():
            assistant = self._client.beta.assistants.create(**params)
        self._assistant_ids[key] = assistant.id
        return key, assistant.id

    def _run_text(self, thread_id: str, run_id: str) -> str:
        with _assistants_call():
            page = self._client.beta.threads.messages.list(
                thread_id, run_id=run_id, order="asc", limit=100
            )
            return message_text(page)


def assistant_config_key(
    base_url: str, model: str, instructions: str | None, tools: Sequence[Mapping[str, Any]]
) -> str:
    """A sha256 hex digest naming one assistant configuration on one server."""
    canonical = json.dumps(
        [base_url, model, instructions or None, list(tools)],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def format_ref(thread_id: str, run_id: str) -> str:
    """The engine's ref for a run: "<thread_id>:<run_id>"."""
    return f"{thread_id}:{run_id}"


def parse_ref(ref: str) -> tuple[str, str]:
    """Split a ref made by `format_ref` into (thread_id, run_id); ProviderRejected if not one."""
    thread_id, sep, run_id = ref.partition(":")
    if not (sep and thread_id and run_id):
        raise ProviderRejected(
            f"not an Assistants run ref (expected '<thread_id>:<run_id>'): {ref!r}",
            code="invalid_ref",
        )
    return thread_id, run_id


def to_provider_state(
    run: Run, headers: Mapping[str, str], *, output_text: str | None = None
) -> ProviderState:
    """Normalize a Run; `output_text` is the run's assistant text, read separately."""
    status = _STATUS.get(run.status, ProviderStatus.IN_PROGRESS)
    return ProviderState(
        status=status,
        ref=format_ref(run.thread_id, run.id),
        tool_calls=_required_calls(run) if status is ProviderStatus.REQUIRES_TOOLS else (),
        output_text=(output_text or "") if status is ProviderStatus.COMPLETED else None,
        usage=_usage(run),
        error=_error_text(run),
        poll_after_s=parse_poll_after_s(headers),
        rate_limit_headers=rate_limit_headers_of(headers),
    )


def message_text(messages: Iterable[Message]) -> str:
    """The text parts of the assistant messages, in order, one per line."""
    return "\n".join(
        block.text.value
        for message in messages
        if message.role == "assistant"
        for block in message.content
        if isinstance(block, TextContentBlock)
    )


@contextmanager
def _assistants_call() -> Iterator[None]:
    """translate_sdk_errors, with the SDK's Assistants DeprecationWarning silenced."""
    # The SDK marks every client.beta Assistants method deprecated because OpenAI retired
    # the surface; runq calls it on purpose, for compatible servers that still serve it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with translate_sdk_errors():
            yield


def _run_params(request: TurnRequest, assistant_id: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "assistant_id": assistant_id,
        "metadata": {"runq_run_id": request.run_id},
        **chat_style_params(request),
    }
    if request.conversation_ref:
        # A long thread must not fail its next run: let the server drop middle messages.
        params["truncation_strategy"] = {"type": "auto"}
    return params


def _required_calls(run: Run) -> tuple[ToolCallRequest, ...]:
    if run.required_action is None:
        return ()
    return tuple(
        ToolCallRequest(call_id=call.id, name=call.function.name, arguments=call.function.arguments)
        for call in run.required_action.submit_tool_outputs.tool_calls
    )


def _usage(run: Run) -> Usage | None:
    if run.usage is None:
        return None
    return Usage(input_tokens=run.usage.prompt_tokens, output_tokens=run.usage.completion_tokens)


def _error_text(run: Run) -> str | None:
    if run.status == "failed":
        if run.last_error is None:
            return None
        return f"{run.last_error.code}: {run.last_error.message}"
    if run.status == "incomplete":
        reason = run.incomplete_details.reason if run.incomplete_details else None
        return f"incomplete: {reason or 'no reason given'}"
    if run.status == "expired":
        return "expired: the run passed its expires_at (tool outputs not submitted in time?)"
    return None
