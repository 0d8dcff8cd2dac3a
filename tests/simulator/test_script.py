"""The scripted model as a table: conversation in, turn out. Pure, so no fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator.script import (
    Directives,
    Failure,
    FinalText,
    Incomplete,
    ToolCalls,
    Turn,
    count_tokens,
    estimate_input_tokens,
    estimate_request_tokens,
    next_turn,
    read_directives,
)

BOTH = ("get_weather", "search_documents")
FAIL_MESSAGE = "The model failed to produce a response (scripted #fail)."


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def call(call_id: str, name: str = "get_weather") -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": "{}"}


def output(call_id: str, text: str | list[dict[str, str]]) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def weather(place: str) -> tuple[str, str]:
    return ("get_weather", json.dumps({"location": place}))


def search(query: str) -> tuple[str, str]:
    return ("search_documents", json.dumps({"query": query}))


@pytest.mark.parametrize(
    ("instructions", "tools", "items", "expected"),
    [
        pytest.param(None, (), [user("hello")], FinalText("Echo: hello"), id="no-tools-echo"),
        pytest.param(None, BOTH, [user("hello")], FinalText("Echo: hello"), id="no-match-echo"),
        pytest.param(None, (), [], FinalText("Echo: "), id="empty-conversation"),
        pytest.param(
            None,
            BOTH,
            [{"role": "user", "content": "weather in Oslo"}],
            ToolCalls((weather("Oslo"),)),
            id="easy-message-string-content",
        ),
        pytest.param(
            None,
            BOTH,
            [user("Please use tool crash_worker, then weather in Oslo.")],
            ToolCalls((("crash_worker", "{}"), weather("Oslo"))),
            id="use-tool-by-name-offered-or-not",
        ),
        pytest.param(
            None,
            (),
            [user("use tool lookup with k1 and use tool charge with c-2")],
            ToolCalls((("lookup", '{"key": "k1"}'), ("charge", '{"key": "c-2"}'))),
            id="use-tool-with-a-key",
        ),
        pytest.param(
            None,
            BOTH,
            [user("What's the weather in Paris, Rome and Oslo?")],
            ToolCalls((weather("Paris"), weather("Rome"), weather("Oslo"))),
            id="weather-list",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather for Lisbon, Porto, and Faro")],
            ToolCalls((weather("Lisbon"), weather("Porto"), weather("Faro"))),
            id="weather-for-oxford-comma",
        ),
        pytest.param(
            None,
            ("bench_weather",),
            [user("weather in Paris and Oslo")],
            ToolCalls(
                tuple(("bench_weather", json.dumps({"location": p})) for p in ("Paris", "Oslo"))
            ),
            id="another-weather-tool-stands-in",
        ),
        pytest.param(
            None,
            BOTH,
            [user("What's the weather in Paris and London? Also search for celery chords.")],
            ToolCalls((weather("Paris"), weather("London"), search("celery chords"))),
            id="parallel-weather-and-search",
        ),
        pytest.param(
            None,
            BOTH,
            [user("search documents for retry policy then weather in Bern")],
            ToolCalls((search("retry policy"), weather("Bern"))),
            id="calls-in-text-order",
        ),
        pytest.param(
            None,
            ("search_documents",),
            [user("weather in Paris and search for chords")],
            ToolCalls((search("chords"),)),
            id="only-offered-tools",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in Paris and search for chords")],
            ToolCalls((weather("Paris"), search("chords"))),
            id="and-search-ends-the-places",
        ),
        pytest.param(
            None,
            ("get_weather",),
            [user("search for chords")],
            FinalText("Echo: search for chords"),
            id="search-not-offered",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in Paris"), call("c1"), output("c1", "18C sunny")],
            FinalText("Here is what I found: 18C sunny"),
            id="summary-after-one-round",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in A and B"), call("1"), call("2"), output("1", "x"), output("2", "y")],
            FinalText("Here is what I found: x; y"),
            id="summary-joins-parallel-outputs",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in Paris #turns=2"), call("c1"), output("c1", "18C")],
            ToolCalls((weather("Paris"),)),
            id="turns-2-calls-again",
        ),
        pytest.param(
            None,
            BOTH,
            [
                user("weather in Paris #turns=2"),
                call("1"),
                output("1", "a"),
                call("2"),
                output("2", "b"),
            ],
            FinalText("Here is what I found: b"),
            id="turns-2-summarises-last-round",
        ),
        pytest.param(
            "#turns=3",
            BOTH,
            [user("weather in Paris"), call("1"), output("1", "a"), call("2"), output("2", "b")],
            ToolCalls((weather("Paris"),)),
            id="directive-in-instructions",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in Paris"), call("1"), output("1", "a"), user("weather in Rome")],
            ToolCalls((weather("Rome"),)),
            id="new-user-message-starts-over",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in Paris #bad_args")],
            ToolCalls((("get_weather", '{"location": "Paris"'),)),
            id="bad-args",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in Paris #unknown_tool")],
            ToolCalls((weather("Paris"), ("delete_everything", "{}"))),
            id="unknown-tool",
        ),
        pytest.param(
            None,
            (),
            [user("weather in Paris #unknown_tool")],
            FinalText("Echo: weather in Paris #unknown_tool"),
            id="unknown-tool-needs-some-tool",
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in Paris #fail")],
            Failure("server_error", FAIL_MESSAGE),
            id="fail",
        ),
        pytest.param(
            None, (), [user("hi #incomplete")], Incomplete("max_output_tokens"), id="incomplete"
        ),
        pytest.param(
            None,
            BOTH,
            [user("weather in Paris #slow=500")],
            ToolCalls((weather("Paris"),)),
            id="slow-is-not-the-scripts-business",
        ),
        pytest.param(
            None,
            BOTH,
            [
                user("search for x"),
                call("1", "search_documents"),
                output("1", [{"type": "input_text", "text": "from parts"}]),
            ],
            FinalText("Here is what I found: from parts"),
            id="output-as-content-parts",
        ),
    ],
)
def test_next_turn(
    instructions: str | None, tools: tuple[str, ...], items: list[dict[str, Any]], expected: Turn
) -> None:
    assert next_turn(instructions, tools, items) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", Directives()),
        ("#fail", Directives(fail=True)),
        ("#turns=3 #slow=250", Directives(turns=3, slow_ms=250)),
        (
            "#BAD_ARGS #unknown_tool #incomplete",
            Directives(bad_args=True, unknown_tool=True, incomplete=True),
        ),
        ("#turns without a number, #hashtag", Directives()),
        ("#invalid_json", Directives(invalid_json=True)),
    ],
)
def test_read_directives(text: str, expected: Directives) -> None:
    assert read_directives(text) == expected


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 1), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)]
)
def test_count_tokens(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_input_estimate_counts_instructions_tools_and_items() -> None:
    tools = [{"type": "function", "name": "get_weather"}]
    bare = estimate_input_tokens(None, [], [user("x" * 40)])
    assert bare == 10
    assert estimate_input_tokens("y" * 40, tools, [user("x" * 40)]) > bare + 10


def test_request_estimate_tolerates_malformed_bodies() -> None:
    assert estimate_request_tokens(None, None, None) == 1
    assert estimate_request_tokens(42, {"odd": "input"}, [{"t": 1}]) > 1
    assert estimate_request_tokens("x" * 8, "y" * 8, None) == 4
