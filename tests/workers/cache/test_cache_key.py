"""Pure table for cache keys: same question -> same key, any answer-changing field -> new key."""

from __future__ import annotations

from typing import Any

import pytest

from workers.cache.cache_key import ANSWER_FIELDS, build_cache_key

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME_TOOL = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}

BASE: dict[str, Any] = {
    "provider": "responses",
    "base_url": "https://api.openai.com/v1",
    "model": "gpt-4o-mini",
    "instructions": "Be brief.",
    "input": [{"role": "user", "content": "Weather in Oslo?"}],
    "tools": [WEATHER_TOOL, TIME_TOOL],
    "response_format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}},
    "temperature": 0.2,
    "top_p": 1,
    "max_output_tokens": 500,
    "seed": 7,
    "history": [{"role": "assistant", "content": "Hi."}],
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_shape() -> None:
    key = build_cache_key(BASE)
    assert key.startswith("v2:")
    assert len(key) == 3 + 64
    assert key == build_cache_key(dict(BASE))


@pytest.mark.parametrize(
    "same",
    [
        pytest.param(dict(reversed(list(BASE.items()))), id="top-level-key-order"),
        pytest.param(with_(tools=[TIME_TOOL, WEATHER_TOOL]), id="tools-order"),
        pytest.param(
            with_(tools=[dict(reversed(list(WEATHER_TOOL.items()))), TIME_TOOL]),
            id="key-order-inside-a-tool",
        ),
        pytest.param(with_(top_p=1.0), id="int-vs-integral-float"),
        pytest.param(with_(max_output_tokens=500.0), id="integral-float-tokens"),
        pytest.param(with_(run_id="r1", metadata={"job": 3}, user="x"), id="irrelevant-fields"),
        pytest.param(
            with_(response_format={"schema": {"type": "object"}, "name": "answer",
                                   "type": "json_schema"}),
            id="nested-key-order",
        ),
        pytest.param(with_(input=({"content": "Weather in Oslo?", "role": "user"},)),
                     id="tuple-vs-list-and-message-key-order"),
    ],
)  # fmt: skip
def test_same_question_same_key(same: dict[str, Any]) -> None:
    assert build_cache_key(same) == build_cache_key(BASE)


def test_each_owner_has_its_own_keys_and_unowned_runs_share_one() -> None:
    # Given the same question from two API keys and from two unowned producers
    tenant_a, tenant_b = with_(owner="key_a"), with_(owner="key_b")
    # Then the tenants never share an entry, and unowned runs (owner absent) share one
    assert build_cache_key(tenant_a) != build_cache_key(tenant_b)
    assert build_cache_key(tenant_a) != build_cache_key(BASE)
    assert build_cache_key(with_(owner=None)) == build_cache_key(BASE)


def test_missing_and_none_are_the_same() -> None:
    without_seed = {k: v for k, v in BASE.items() if k != "seed"}
    assert build_cache_key(without_seed) == build_cache_key(with_(seed=None))


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(with_(owner="key_other"), id="owner"),
        pytest.param(with_(provider="chat"), id="provider"),
        pytest.param(with_(base_url="http://localhost:8000/v1"), id="base_url"),
        pytest.param(with_(model="gpt-4o"), id="model"),
        pytest.param(with_(instructions="Be verbose."), id="instructions"),
        pytest.param(with_(input=[{"role": "user", "content": "Weather in Bergen?"}]), id="input"),
        pytest.param(with_(input="Weather in Oslo?"), id="input-string-vs-list"),
        pytest.param(with_(tools=[WEATHER_TOOL]), id="tools-removed"),
        pytest.param(with_(tools=[WEATHER_TOOL, {**TIME_TOOL, "strict": True}]), id="tool-schema"),
        pytest.param(with_(response_format={"type": "text"}), id="response_format"),
        pytest.param(with_(temperature=0.3), id="temperature"),
        pytest.param(with_(top_p=0.9), id="top_p"),
        pytest.param(with_(max_output_tokens=501), id="max_output_tokens"),
        pytest.param(with_(seed=8), id="seed"),
        pytest.param(with_(seed=None), id="seed-removed"),
        pytest.param(with_(history=[]), id="history-empty-vs-present"),
        pytest.param(
            with_(history=[{"role": "assistant", "content": "Hi."}] * 2), id="history-longer"
        ),
        pytest.param(
            with_(input=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
            id="input-a-b",
        ),
    ],
)
def test_every_answer_field_changes_the_key(changed: dict[str, Any]) -> None:
    assert build_cache_key(changed) != build_cache_key(BASE)


def test_message_order_matters() -> None:
    a = {"role": "user", "content": "a"}
    b = {"role": "user", "content": "b"}
    assert build_cache_key(with_(input=[a, b])) != build_cache_key(with_(input=[b, a]))


def test_every_listed_field_is_hashed() -> None:
    empty = build_cache_key({})
    for name in ANSWER_FIELDS:
        value: Any = [{"name": "x"}] if name == "tools" else "x"
        assert build_cache_key({name: value}) != empty, name


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(True, 1, id="bool-is-not-int"),
        pytest.param(0.5, 1, id="fraction-kept"),
        pytest.param("1", 1, id="string-is-not-number"),
    ],
)
def test_values_that_only_look_alike_differ(left: Any, right: Any) -> None:
    assert build_cache_key(with_(seed=left)) != build_cache_key(with_(seed=right))


def test_chat_style_tools_sort_by_nested_name() -> None:
    a = {"type": "function", "function": {"name": "a", "parameters": {}}}
    b = {"type": "function", "function": {"name": "b", "parameters": {}}}
    builtin = {"type": "web_search"}
    assert build_cache_key(with_(tools=[b, builtin, a])) == build_cache_key(
        with_(tools=[a, b, builtin])
    )


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        pytest.param(with_(temperature=float("nan")), ValueError, id="nan"),
        pytest.param(with_(temperature=float("inf")), ValueError, id="inf"),
        pytest.param(with_(input=b"bytes"), TypeError, id="bytes"),
        pytest.param(with_(input={1, 2}), TypeError, id="set"),
        pytest.param(with_(tools="get_weather"), TypeError, id="tools-not-a-list"),
    ],
)
def test_unhashable_requests_raise(request_: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        build_cache_key(request_)
