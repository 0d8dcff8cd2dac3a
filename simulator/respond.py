"""Create, settle and cancel responses against the in-memory state. Callers hold the lock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator import lifecycle, script, tiers
from simulator.errors import bad_request, not_found
from simulator.items import Item, new_id, normalize_input
from simulator.lifecycle import Status
from simulator.request_fields import (
    answer_format_of_text,
    conversation_id_of,
    echoed_fields,
    optional_field,
)
from simulator.state import ResponseRecord, SimulatorState
from simulator.tools import function_schemas, offered_function_names, resolve_tools

DEFAULT_MAX_OUTPUT_TOKENS = 256


def create_response(
    state: SimulatorState, body: Mapping[str, Any], now_s: float, *, took_ms: int = 0
) -> ResponseRecord:
    """Validate a create request, run the script, and store the response (unless store=false).
    A synchronous one that `took_ms` to think was created that long before `now_s`."""
    model = _model_of(body)
    tier = tiers.tier_of(body)
    if tier == "flex" and state.tier_rng.random() < state.config.flex_unavailable_rate:
        state.stats.flex_unavailable += 1
        raise tiers.flex_unavailable()
    inherited, conversation_id = inherited_items(state, body, now_s)
    if "input" not in body and not inherited:
        raise bad_request(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    input_items = normalize_input(body.get("input", []))
    context = inherited + input_items
    check_tool_pairing(context)
    echoed = echoed_fields(body)
    offered = offered_function_names(echoed["tools"], echoed["tool_choice"])
    answer_format = answer_format_of_text(echoed["text"])
    turn = script.next_turn(
        echoed["instructions"], offered, context, answer_format, function_schemas(echoed["tools"])
    )
    if not echoed["parallel_tool_calls"] and isinstance(turn, script.ToolCalls):
        # parallel_tool_calls=false promises at most one call per response.
        turn = script.ToolCalls(turn.calls[:1])
    record = ResponseRecord(
        id=new_id("resp"),
        model=model,
        **echoed,
        conversation_id=conversation_id,
        input_items=input_items,
        context=context,
        turn=turn,
        output=build_output(turn),
        usage={},
        timeline=lifecycle.instant_timeline(now_s, took_ms),
        service_tier=tier,
        prompt_cache_key=optional_field(body, "prompt_cache_key", str),
    )
    cached = _tokens_of(inherited) + _cached_prefix_tokens(state, record)
    record.usage = build_usage(record, cached_tokens=cached)
    if record.background:
        slow_ms = script.steering_directives(record.instructions, context).slow_ms
        latency_ms = round(state.draw_latency_ms() * tiers.LATENCY_FACTOR[tier])
        record.timeline = lifecycle.plan_timeline(now_s, latency_ms, slow_ms)
    _remember(state, record)
    return record


def _cached_prefix_tokens(state: SimulatorState, record: ResponseRecord) -> int:
    """The prefix tokens the prompt cache serves: only a keyed request whose key has seen
    this prefix before (the first one writes the cache)."""
    if record.prompt_cache_key is None:
        return 0
    seen = (record.prompt_cache_key, tiers.prefix_digest(record.instructions, record.tools))
    if seen not in state.prompt_cache:
        state.prompt_cache.add(seen)
        return 0
    state.stats.prompt_cache_hits += 1
    return tiers.prefix_tokens(record.instructions, record.tools)


def _model_of(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    if body.get("stream"):
        raise bad_request("The simulator does not stream; omit 'stream'.", param="stream")
    return model


def count_input_tokens(state: SimulatorState, body: Mapping[str, Any], now_s: float) -> int:
    """What POST /v1/responses/input_tokens answers: the input a create would bill."""
    inherited, _ = inherited_items(state, body, now_s)
    context = inherited + normalize_input(body.get("input", []))
    instructions = optional_field(body, "instructions", str)
    return script.estimate_input_tokens(instructions, resolve_tools(body.get("tools")), context)


def check_tool_pairing(context: list[Item]) -> None:
    """Every output must answer a known call, and every call must have an output (400 if not)."""
    call_ids = [item["call_id"] for item in context if item["type"] == "function_call"]
    output_ids = [item["call_id"] for item in context if item["type"] == "function_call_output"]
    unknown = [call_id for call_id in output_ids if call_id not in call_ids]
    answered = set(output_ids)
    if unknown:
        raise bad_request(
            f"No tool call found for function call output with call_id {unknown[0]}.",
            param="input",
        )
    for call_id in call_ids:
        if call_id not in answered:
            raise bad_request(f"No tool output found for function call {call_id}.", param="input")


def build_output(turn: script.Turn) -> list[Item]:
    """The output items a terminal response shows for this turn."""
    if isinstance(turn, script.ToolCalls):
        return [
            {
                "id": new_id("fc"),
                "type": "function_call",
                "call_id": new_id("call"),
                "name": name,
                "arguments": arguments,
                "status": "completed",
            }
            for name, arguments in turn.calls
        ]
    if isinstance(turn, script.FinalText):
        part = {"type": "output_text", "text": turn.text, "annotations": [], "logprobs": []}
        return [
            {
                "id": new_id("msg"),
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [part],
            }
        ]
    return []


def build_usage(record: ResponseRecord, *, cached_tokens: int) -> dict[str, Any]:
    """Usage billed when the response finishes; the whole context is input, as on OpenAI."""
    input_tokens = script.estimate_input_tokens(record.instructions, record.tools, record.context)
    if isinstance(record.turn, script.Incomplete):
        output_tokens = record.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS
    else:
        output_tokens = script.estimate_output_tokens(record.turn)
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {
            "cached_tokens": min(cached_tokens, input_tokens),
            "cache_write_tokens": 0,
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def current_status(record: ResponseRecord, now_s: float) -> Status:
    """The status a poll at `now_s` sees."""
    outcome = lifecycle.outcome_of(record.turn)
    return lifecycle.status_at(
        record.timeline, outcome, is_cancelled=record.is_cancelled, now_s=now_s
    )


def find_response(state: SimulatorState, response_id: str) -> ResponseRecord:
    """A stored response, or 404."""
    record = state.responses.get(response_id)
    if record is None:
        raise not_found(f"Response with id '{response_id}' not found.")
    return record


def settle_due(state: SimulatorState, now_s: float) -> None:
    """Apply the effects of responses that turned terminal: stats and conversation items."""
    for response_id in sorted(state.pending):
        record = state.responses.get(response_id)
        status = current_status(record, now_s) if record else "cancelled"
        if not lifecycle.is_terminal(status):
            continue
        state.pending.discard(response_id)
        if record is None or status == "cancelled":
            continue
        calls = [item for item in record.output if item["type"] == "function_call"]
        state.stats.function_calls_emitted += len(calls)
        conversation = state.conversations.get(record.conversation_id or "")
        # Conversations only grow from completed responses, so a failed turn can be retried.
        if conversation is not None and status == "completed":
            conversation.items.extend(dict(item) for item in record.input_items + record.output)


def cancel_response(state: SimulatorState, response_id: str, now_s: float) -> ResponseRecord:
    """Cancel a background response that is still running; a finished one is returned as is."""
    record = find_response(state, response_id)
    if not record.background:
        raise bad_request("Cannot cancel a synchronous response.", param="response_id")
    if not lifecycle.is_terminal(current_status(record, now_s)):
        record.is_cancelled = True
        state.stats.responses_cancelled += 1
    return record


def inherited_items(
    state: SimulatorState, body: Mapping[str, Any], now_s: float
) -> tuple[list[Item], str | None]:
    """Items a request continues from (previous response chain or conversation), and the
    conversation id if any; 400/404 for the continuation errors OpenAI reports."""
    previous_id = body.get("previous_response_id")
    conversation_id = conversation_id_of(body.get("conversation"))
    if previous_id and conversation_id:
        raise bad_request(
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            param="conversation",
            code="mutually_exclusive_parameters",
        )
    if conversation_id:
        conversation = state.conversations.get(conversation_id)
        if conversation is None:
            raise not_found(
                f"Conversation with id '{conversation_id}' not found.", param="conversation"
            )
        return [dict(item) for item in conversation.items], conversation_id
    if previous_id:
        return _previous_chain(state, str(previous_id), now_s), None
    return [], None


def _previous_chain(state: SimulatorState, previous_id: str, now_s: float) -> list[Item]:
    previous = state.responses.get(previous_id)
    if previous is None or not previous.store:
        raise bad_request(
            f"Previous response with id '{previous_id}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    status = current_status(previous, now_s)
    if not lifecycle.is_terminal(status):
        raise bad_request(
            f"Previous response with id '{previous_id}' is still {status}; wait until it finishes.",
            param="previous_response_id",
        )
    shown = previous.output if status in ("completed", "incomplete") else []
    return [dict(item) for item in previous.context + shown]


def _remember(state: SimulatorState, record: ResponseRecord) -> None:
    # A synchronous store=false response is never retrievable; a background one must stay
    # pollable, but (see _previous_chain) cannot be chained onto.
    if record.store or record.background:
        state.responses[record.id] = record
    state.pending.add(record.id)
    state.stats.responses_created += 1
    state.stats.tool_outputs_submitted += sum(
        1 for item in record.input_items if item["type"] == "function_call_output"
    )


def _tokens_of(items: list[Item]) -> int:
    return script.estimate_input_tokens(None, [], items) if items else 0
