"""The scripted model: a pure function from a conversation to the model's next turn.

No I/O, clock or randomness, so the same conversation always gets the same answer. The last
user message steers it: plain phrases pick tools, `#directives` force edge cases.

    weather in A, B and C      one get_weather (or other *_weather tool) call per location
    search [documents] for X   one search_documents call (if search_documents is offered)
    use tool NAME [with KEY]   one NAME call with `{}` (or `{"key": KEY}`) arguments, offered
                               or not (a model that names another agent's tool)
    #turns=N                   N rounds of the same calls before the final answer (default 1)
    #bad_args                  the first call's arguments are cut short (malformed JSON)
    #unknown_tool              also call `delete_everything`, a tool nobody offered
    #fail / #incomplete        the response fails (server_error) / stops at max_output_tokens
    #slow=MS                   read by the lifecycle: MS more milliseconds in progress
    #invalid_json              a JSON-format answer breaks its promise (see schema_answer)
    #call=NAME [{...}]         call any offered tool; #call_all calls each (see tool_directives)

Directives in `instructions` count too, so an agent can carry one across every turn.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.schema_answer import PLAIN_TEXT, AnswerFormat, write_answer
from simulator.tool_directives import plan_directed_calls, strip_call_directives

WEATHER_TOOL = "get_weather"
SEARCH_TOOL = "search_documents"
UNKNOWN_TOOL = "delete_everything"

_DIRECTIVE = re.compile(r"#([a-z_]+)(?:=(\d+))?", re.IGNORECASE)
# A phrase ends at sentence punctuation or where the user chains a second request
# ("weather in Paris and search for X": the places are just "Paris").
_PHRASE_END = r"(?=[?.!;\n]|\b(?:and\s+)?(?:also|then|search|weather)\b|$)"
_WEATHER = re.compile(r"\bweather (?:in|for) (.+?)" + _PHRASE_END, re.IGNORECASE)
_SEARCH = re.compile(r"\bsearch (?:documents )?for (.+?)" + _PHRASE_END, re.IGNORECASE)
_USE_TOOL = re.compile(r"\buse tool ([A-Za-z0-9_-]{1,64})(?: with ([A-Za-z0-9_-]+))?")
_LIST_SEPARATOR = re.compile(r",\s*(?:and\s+)?|\s+and\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FinalText:
    """The model answers in plain text; the run is over."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCalls:
    """The model calls tools in parallel: (name, arguments as a JSON string) pairs."""

    calls: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Failure:
    """The response fails server-side; `code` is a Response `error.code`."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Incomplete:
    """The response stops early; `reason` is an `incomplete_details.reason`."""

    reason: str


Turn = FinalText | ToolCalls | Failure | Incomplete


@dataclass(frozen=True, slots=True)
class Directives:
    """The `#name[=N]` switches found in the user's text and the instructions."""

    fail: bool = False
    incomplete: bool = False
    turns: int = 1
    bad_args: bool = False
    unknown_tool: bool = False
    slow_ms: int = 0
    invalid_json: bool = False


def read_directives(text: str) -> Directives:
    """Collect the directives in `text`; unknown `#words` are ordinary text."""
    found: dict[str, Any] = {}
    for match in _DIRECTIVE.finditer(text):
        name, number = match.group(1).lower(), match.group(2)
        if name in ("fail", "incomplete", "bad_args", "unknown_tool", "invalid_json"):
            found[name] = True
        elif name == "turns" and number is not None:
            found["turns"] = int(number)
        elif name == "slow" and number is not None:
            found["slow_ms"] = int(number)
    return Directives(**found)


def next_turn(
    instructions: str | None,
    tool_names: Sequence[str],
    items: Sequence[Mapping[str, Any]],
    answer_format: AnswerFormat = PLAIN_TEXT,
    schemas: Mapping[str, Mapping[str, Any]] | None = None,
) -> Turn:
    """Decide the model's next turn from the whole conversation so far (`items`, oldest first).

    A final answer is written in `answer_format` (plain text, or JSON for structured output).
    `schemas` maps offered tool names to their parameter schemas, for generated arguments.
    """
    text = last_user_text(items)
    directives = steering_directives(instructions, items)
    if directives.fail:
        return Failure("server_error", "The model failed to produce a response (scripted #fail).")
    if directives.incomplete:
        return Incomplete("max_output_tokens")
    rounds = completed_rounds(items)
    steering = f"{instructions or ''}\n{text}"
    directed = plan_directed_calls(steering, tool_names, schemas or {})
    calls = plan_calls(strip_call_directives(text), tool_names, directives, directed)
    if calls and len(rounds) < directives.turns:
        return ToolCalls(calls)
    answer = "Here is what I found: " + "; ".join(rounds[-1]) if rounds else "Echo: " + text
    return FinalText(write_answer(answer, answer_format, is_invalid=directives.invalid_json))


def steering_directives(instructions: str | None, items: Sequence[Mapping[str, Any]]) -> Directives:
    """The directives in force: those in the instructions and in the last user message."""
    return read_directives(f"{instructions or ''}\n{last_user_text(items)}")


def plan_calls(
    text: str,
    tool_names: Sequence[str],
    directives: Directives,
    directed: Sequence[tuple[str, str]] = (),
) -> tuple[tuple[str, str], ...]:
    """The tool calls the user's text asks for, in the order it asks, then the `directed` ones."""
    plain = _DIRECTIVE.sub("", text)
    found: list[tuple[int, str, dict[str, str]]] = []
    weather_tool = _weather_tool(tool_names)
    if weather_tool is not None:
        for match in _WEATHER.finditer(plain):
            for place in _LIST_SEPARATOR.split(match.group(1)):
                if place.strip(" \"'"):
                    found.append((match.start(), weather_tool, {"location": place.strip(" \"'")}))
    if SEARCH_TOOL in tool_names:
        for match in _SEARCH.finditer(plain):
            query = match.group(1).strip(" \"'")
            if query:
                found.append((match.start(), SEARCH_TOOL, {"query": query}))
    found.extend(_named_calls(plain))
    # sorted() is stable, so locations from one phrase keep their order.
    calls = [(name, json.dumps(args)) for _, name, args in sorted(found, key=lambda f: f[0])]
    calls += directed
    if directives.unknown_tool and tool_names:
        calls.append((UNKNOWN_TOOL, "{}"))
    if directives.bad_args and calls:
        name, arguments = calls[0]
        calls[0] = (name, arguments[:-1])
    return tuple(calls)


def _named_calls(plain: str) -> list[tuple[int, str, dict[str, str]]]:
    """`use tool NAME [with KEY]` phrases: (position, name, arguments)."""
    return [
        (match.start(), match.group(1), {"key": match.group(2)} if match.group(2) else {})
        for match in _USE_TOOL.finditer(plain)
    ]


def _weather_tool(tool_names: Sequence[str]) -> str | None:
    # Another *_weather tool stands in when get_weather is not offered (the benchmarks' slow one).
    if WEATHER_TOOL in tool_names:
        return WEATHER_TOOL
    return next((name for name in tool_names if name.endswith("_weather")), None)


def last_user_text(items: Sequence[Mapping[str, Any]]) -> str:
    """The text of the most recent user message, or "" when there is none."""
    for item in reversed(items):
        if _is_user_message(item):
            return content_text(item.get("content"))
    return ""


def completed_rounds(items: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Tool outputs since the last user message, grouped into rounds (one batch per round)."""
    rounds: list[list[str]] = []
    previous_was_output = False
    for item in items:
        if _is_user_message(item):
            rounds, previous_was_output = [], False
            continue
        is_output = item.get("type") == "function_call_output"
        if is_output:
            if not previous_was_output:
                rounds.append([])
            rounds[-1].append(content_text(item.get("output")))
        previous_was_output = is_output
    return rounds


def content_text(content: object) -> str:
    """Text of a string or of a list of content parts (input_text, output_text, ...)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, Mapping)]
        return "\n".join(part for part in parts if isinstance(part, str))
    return ""


def count_tokens(text: str) -> int:
    """Roughly one token per four characters, never zero: good enough for budgets and usage."""
    return max(1, math.ceil(len(text) / 4))


def estimate_input_tokens(
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
) -> int:
    """Billed input tokens of a turn: instructions, tool schemas and every item of context."""
    total = count_tokens(instructions) if instructions else 0
    if tools:
        total += count_tokens(json.dumps(list(tools), sort_keys=True))
    for item in items:
        total += count_tokens(_item_text(item))
    return total


def estimate_request_tokens(instructions: object, input_value: object, tools: object) -> int:
    """Tokens a limiter charges up front from the request body alone, however malformed."""
    pieces = [instructions if isinstance(instructions, str) else ""]
    pieces.append(input_value if isinstance(input_value, str) else json.dumps(input_value))
    if tools:
        pieces.append(json.dumps(tools))
    return count_tokens("".join(pieces))


def estimate_output_tokens(turn: Turn) -> int:
    """Output tokens the turn would bill."""
    if isinstance(turn, FinalText):
        return count_tokens(turn.text)
    if isinstance(turn, ToolCalls):
        return sum(count_tokens(name + arguments) for name, arguments in turn.calls)
    return 0


def _item_text(item: Mapping[str, Any]) -> str:
    kind = item.get("type", "message")
    if kind == "message":
        return content_text(item.get("content"))
    if kind == "function_call":
        return f"{item.get('name', '')}{item.get('arguments', '')}"
    if kind == "function_call_output":
        return content_text(item.get("output"))
    return json.dumps(item, sort_keys=True)


def _is_user_message(item: Mapping[str, Any]) -> bool:
    return item.get("type", "message") == "message" and item.get("role") == "user"
