"""invoke_tool: every tool problem comes back as an error output, never an exception."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, field_validator

from workers.tools.invoke import ToolResult, invoke_tool
from workers.tools.registry import ToolRegistry, ToolSpec, tool

HANG_TIMEOUT_S = 0.2


class Order(BaseModel):
    sku: str
    quantity: int = 1

    @field_validator("quantity")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("quantity must be at least 1")
        return value


def make_registry(*fns: Callable[..., Any], timeout_s: float = 10.0) -> ToolRegistry:
    registry = ToolRegistry()
    for fn in fns:
        tool(registry=registry, timeout_s=timeout_s)(fn)
    return registry


def error_of(result: ToolResult) -> dict[str, str]:
    assert result.is_error
    body = json.loads(result.output)
    assert set(body) == {"error"}
    assert result.error == f"{body['error']['type']}: {body['error']['message']}"
    return body["error"]  # type: ignore[no-any-return]


def greet(name: Annotated[str, "who"], punctuation: Literal["!", "."] = "!") -> str:
    """Greet someone."""
    return f"hello {name}{punctuation}"


def count(items: list[str], repeat: int = 1) -> dict[str, Any]:
    """Count items."""
    return {"count": len(items) * repeat, "repeat_type": type(repeat).__name__}


def place(order: Order) -> Order:
    """Place an order."""
    return order.model_copy(update={"quantity": order.quantity * 2})


def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


async def shout(text: str) -> str:
    """Async upper-case."""
    await asyncio.sleep(0)
    return text.upper()


# --- success ---------------------------------------------------------------------------------


def test_sync_tool_string_output_goes_back_as_is_with_defaults_applied() -> None:
    result = invoke_tool(make_registry(greet), "greet", '{"name": "Ada"}')

    assert result == ToolResult(
        output="hello Ada!", is_error=False, error=None, duration_ms=result.duration_ms
    )
    assert result.duration_ms >= 0


def test_non_string_output_is_json() -> None:
    result = invoke_tool(make_registry(count), "count", '{"items": ["a", "b"], "repeat": 3.0}')

    # 3.0 passes the JSON schema's "integer"; the tool still receives the int it declared.
    assert json.loads(result.output) == {"count": 6, "repeat_type": "int"}


def test_pydantic_parameter_arrives_as_model_and_model_output_is_dumped() -> None:
    result = invoke_tool(make_registry(place), "place", '{"order": {"sku": "A1", "quantity": 2}}')

    assert not result.is_error
    assert json.loads(result.output) == {"sku": "A1", "quantity": 4}


def test_pydantic_models_nested_in_the_output_are_dumped_as_json() -> None:
    def nested() -> dict[str, Any]:
        """Nested model."""
        return {"items": ["x"], "order": Order(sku="B")}

    result = invoke_tool(make_registry(nested), "nested", "{}")

    assert json.loads(result.output) == {"items": ["x"], "order": {"sku": "B", "quantity": 1}}


def test_empty_argument_string_means_no_arguments() -> None:
    def ping() -> str:
        """Ping."""
        return "pong"

    assert invoke_tool(make_registry(ping), "ping", "").output == "pong"


def test_async_tool() -> None:
    result = invoke_tool(make_registry(shout), "shout", '{"text": "hi"}')

    assert (result.output, result.is_error) == ("HI", False)


# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments_json", "expected_fragments"),
    [
        ("{}", ["'name' is a required property"]),
        ('{"name": 42}', ["name: 42 is not of type 'string'"]),
        ('{"name": "Ada", "loud": true}', ["'loud' was unexpected"]),
        ('{"name": "Ada", "punctuation": "?"}', ["punctuation:", "is not one of ['!', '.']"]),
        ('{"punctuation": 1, "x": 2}', ["'name' is a required", "punctuation: 1", "'x'"]),
        ('{"name": "Ada"', ["not valid JSON", "line 1 column"]),
        ('["Ada"]', ["must be a JSON object", "not an array"]),
        ('"Ada"', ["must be a JSON object", "not a string"]),
        ("null", ["must be a JSON object", "not null"]),
    ],
)
def test_bad_arguments_say_which_field_and_why(
    arguments_json: str, expected_fragments: list[str]
) -> None:
    result = invoke_tool(make_registry(greet), "greet", arguments_json)

    error = error_of(result)
    assert error["type"] == "InvalidToolArguments"
    assert "'greet'" in error["message"]
    for fragment in expected_fragments:
        assert fragment in error["message"]


def test_nested_field_errors_give_the_path() -> None:
    result = invoke_tool(make_registry(place), "place", '{"order": {"sku": 7}}')

    assert "order.sku: 7 is not of type 'string'" in error_of(result)["message"]


def test_model_validator_failure_is_invalid_arguments() -> None:
    result = invoke_tool(make_registry(place), "place", '{"order": {"sku": "A", "quantity": 0}}')

    error = error_of(result)
    assert error["type"] == "InvalidToolArguments"
    assert "order: quantity: Value error, quantity must be at least 1" in error["message"]


# --- names -----------------------------------------------------------------------------------


def test_unknown_tool() -> None:
    result = invoke_tool(make_registry(greet), "grete", "{}")

    error = error_of(result)
    assert error == {"type": "UnknownTool", "message": "no tool named 'grete'; known tools: greet"}


def test_registered_but_not_allowed_is_refused_without_listing_other_tools() -> None:
    registry = make_registry(greet, explode)

    result = invoke_tool(registry, "explode", '{"reason": "x"}', allowed_names=["greet"])

    error = error_of(result)
    assert error["type"] == "UnknownTool"
    assert error["message"] == "no tool named 'explode' is available; available tools: greet"


def test_allowed_and_registered_runs() -> None:
    result = invoke_tool(
        make_registry(greet), "greet", '{"name": "Bo"}', allowed_names=frozenset({"greet"})
    )

    assert result.output == "hello Bo!"


# --- failures and timeouts -------------------------------------------------------------------


def test_tool_that_raises_becomes_an_error_output_with_its_message() -> None:
    result = invoke_tool(make_registry(explode), "explode", '{"reason": "disk on fire"}')

    assert error_of(result) == {"type": "ToolRaised", "message": "RuntimeError: disk on fire"}


def test_async_tool_that_raises_timeout_error_itself_is_not_our_timeout() -> None:
    async def flaky() -> str:
        """Raises its own TimeoutError."""
        raise TimeoutError("upstream timed out")

    result = invoke_tool(make_registry(flaky), "flaky", "{}")

    assert error_of(result) == {"type": "ToolRaised", "message": "TimeoutError: upstream timed out"}


def test_hung_sync_tool_is_answered_with_a_timeout_on_time() -> None:
    def hang() -> str:
        """Never returns."""
        time.sleep(60)
        return "late"

    started_s = time.monotonic()
    result = invoke_tool(make_registry(hang), "hang", "{}", timeout_s=HANG_TIMEOUT_S)
    elapsed_s = time.monotonic() - started_s

    assert error_of(result) == {
        "type": "ToolTimedOut",
        "message": "tool 'hang' did not finish within 0.2 s",
    }
    assert HANG_TIMEOUT_S <= elapsed_s < HANG_TIMEOUT_S + 1.0


def test_a_timed_out_sync_tool_is_stopped_and_never_does_its_work_later(tmp_path) -> None:
    marker = tmp_path / "charged"

    def charge() -> str:
        """Takes a while, then does its one side effect."""
        time.sleep(HANG_TIMEOUT_S * 3)
        marker.write_text("charged")
        return "done"

    result = invoke_tool(make_registry(charge), "charge", "{}", timeout_s=HANG_TIMEOUT_S)

    assert error_of(result)["type"] == "ToolTimedOut"
    time.sleep(HANG_TIMEOUT_S * 5)  # well past the moment the tool would have written
    assert not marker.exists()


def test_a_timed_out_tool_that_blocks_its_event_loop_is_stopped_too(tmp_path) -> None:
    marker = tmp_path / "charged"

    async def charge() -> str:
        """Blocks the event loop (a sync call in async code), then does its side effect."""
        time.sleep(HANG_TIMEOUT_S * 3)  # noqa: ASYNC251  (the point of the test)
        marker.write_text("charged")
        return "done"

    result = invoke_tool(make_registry(charge, timeout_s=HANG_TIMEOUT_S), "charge", "{}")

    assert error_of(result)["type"] == "ToolTimedOut"
    time.sleep(HANG_TIMEOUT_S * 5)
    assert not marker.exists()


def test_what_a_timed_out_tool_started_is_stopped_with_it(tmp_path) -> None:
    marker = tmp_path / "charged"

    def charge() -> str:
        """Hands its work to a child process of its own."""
        subprocess.run(["sh", "-c", f"sleep {HANG_TIMEOUT_S * 3}; touch {marker}"], check=True)
        return "done"

    result = invoke_tool(make_registry(charge), "charge", "{}", timeout_s=HANG_TIMEOUT_S)

    assert error_of(result)["type"] == "ToolTimedOut"
    time.sleep(HANG_TIMEOUT_S * 5)
    assert not marker.exists()


def test_async_tool_timeout_uses_the_spec_timeout() -> None:
    async def slow() -> str:
        """Sleeps past its timeout."""
        await asyncio.sleep(5)
        return "late"

    started_s = time.monotonic()
    result = invoke_tool(make_registry(slow, timeout_s=HANG_TIMEOUT_S), "slow", "{}")
    elapsed_s = time.monotonic() - started_s

    assert error_of(result) == {
        "type": "ToolTimedOut",
        "message": "tool 'slow' did not finish within 0.2 s",
    }
    assert elapsed_s < HANG_TIMEOUT_S + 1.0


def test_broken_hand_written_schema_is_an_error_output_not_an_exception() -> None:
    registry = ToolRegistry()
    registry.register(
        ToolSpec(
            name="dangling",
            description="Schema points nowhere.",
            parameters={"$ref": "#/$defs/Missing"},
            fn=lambda: "never",
            is_async=False,
        )
    )

    result = invoke_tool(registry, "dangling", "{}")

    error = error_of(result)
    assert error["type"] == "ToolRaised"
    assert "Missing" in error["message"]


def test_timeout_override_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        invoke_tool(make_registry(greet), "greet", '{"name": "x"}', timeout_s=0)


def returns_an_object() -> object:
    """Return something JSON cannot carry."""
    return object()


def returns_a_set() -> dict[str, object]:
    """Return a dict holding a set."""
    return {"tags": {"a", "b"}}


def returns_megabytes() -> str:
    """Return far too much."""
    return "x" * 2_000_000


@pytest.mark.parametrize(
    ("fn", "needle"),
    [
        (returns_an_object, "object that is not JSON-serialisable"),
        (returns_a_set, "dict that is not JSON-serialisable"),
        (returns_megabytes, "2,000,000 characters; the limit is"),
    ],
)
def test_an_output_json_cannot_carry_is_a_failed_call_with_a_clear_error(fn, needle):
    result = invoke_tool(make_registry(fn), fn.__name__, "{}")
    error = error_of(result)
    assert error["type"] == "InvalidToolOutput"
    assert needle in error["message"]


def test_a_tool_runs_when_the_worker_holds_more_than_1024_descriptors() -> None:
    # select() refuses descriptors numbered 1024 and up; a busy worker can hand those out.
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the descriptor limit ({hard}) is too low to open 1,100 files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        result = invoke_tool(make_registry(greet), "greet", json.dumps({"name": "Ann"}))
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not result.is_error and result.output == "hello Ann!"
