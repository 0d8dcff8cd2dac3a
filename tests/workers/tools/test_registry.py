"""ToolSpec, ToolRegistry and the @tool decorator."""

from __future__ import annotations

from typing import Annotated

import pytest

from workers.errors import UnknownTool
from workers.tools.registry import ToolRegistry, ToolSpec, build_tool_spec, default_registry, tool


def test_bare_decorator_registers_and_returns_the_function_unchanged() -> None:
    registry = ToolRegistry()

    def add(a: int, b: int = 1) -> int:
        """Add two numbers."""
        return a + b

    decorated = tool(registry=registry)(add)

    assert decorated is add
    assert add(2, 3) == 5
    spec = registry.get("add")
    assert spec.fn is add
    assert spec.description == "Add two numbers."
    assert spec.is_async is False
    assert (spec.timeout_s, spec.retryable, spec.pure) == (10.0, False, False)
    assert "add" in registry
    assert "sub" not in registry


def test_bare_decorator_goes_to_the_default_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # A copy of the shared registry's table, restored after the test, so nothing leaks.
    monkeypatch.setattr(default_registry, "_specs", dict(default_registry._specs))

    @tool
    def test_registry_bare_probe(text: str) -> str:
        """Echo."""
        return text

    assert default_registry.get("test_registry_bare_probe").fn is test_registry_bare_probe
    assert test_registry_bare_probe("x") == "x"


def test_decorator_options_override_name_description_and_flags() -> None:
    registry = ToolRegistry()

    @tool(
        name="lookup-v2",
        description="Custom.",
        timeout_s=2.5,
        retryable=True,
        pure=True,
        registry=registry,
    )
    async def lookup(key: str) -> str:
        """Docstring that is overridden."""
        return key

    spec = registry.get("lookup-v2")
    assert spec.description == "Custom."
    assert spec.is_async is True
    assert (spec.timeout_s, spec.retryable, spec.pure) == (2.5, True, True)
    assert registry.names() == ["lookup-v2"]


def test_decoration_errors_are_raised_at_import_time() -> None:
    registry = ToolRegistry()

    with pytest.raises(TypeError, match=r"bad'.*'x' has no type hint"):

        @tool(registry=registry)
        def bad(x) -> None:  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(TypeError, match=r"\*args"):

        @tool(registry=registry)
        def spread(*parts: str) -> None:
            pass

    assert registry.names() == []


def test_get_unknown_lists_known_names() -> None:
    registry = ToolRegistry()
    tool(registry=registry)(_echo)

    with pytest.raises(UnknownTool, match=r"no tool named 'nope'; known tools: _echo"):
        registry.get("nope")
    with pytest.raises(UnknownTool, match=r"known tools: \(none\)"):
        ToolRegistry().get("nope")


def test_function_schemas_are_provider_neutral_copies_in_the_order_asked() -> None:
    registry = ToolRegistry()

    @tool(registry=registry)
    def first(q: Annotated[str, "query"]) -> str:
        """First tool."""
        return q

    @tool(registry=registry)
    def second() -> str:
        """Second tool."""
        return ""

    schemas = registry.function_schemas(["second", "first"])

    assert [s["name"] for s in schemas] == ["second", "first"]
    assert schemas[1] == {
        "name": "first",
        "description": "First tool.",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string", "description": "query"}},
            "required": ["q"],
            "additionalProperties": False,
        },
        "strict": False,
    }
    schemas[1]["parameters"]["properties"].clear()
    assert registry.get("first").parameters["properties"] != {}
    with pytest.raises(UnknownTool):
        registry.function_schemas(["first", "missing"])


def test_same_name_from_another_function_is_refused_but_reregistering_replaces() -> None:
    registry = ToolRegistry()
    tool(registry=registry)(_echo)
    tool(registry=registry, timeout_s=3.0)(_echo)

    def other(text: str) -> str:
        return text

    with pytest.raises(ValueError, match="already taken"):
        tool(name="_echo", registry=registry)(other)
    assert registry.get("_echo").timeout_s == 3.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "has space"}, "must be 1-64"),
        ({"name": "x" * 65}, "must be 1-64"),
        ({"timeout_s": 0.0}, "timeout_s must be positive"),
    ],
)
def test_spec_validation(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "name": "ok",
        "description": "",
        "parameters": {"type": "object"},
        "fn": _echo,
        "is_async": False,
    }
    with pytest.raises(ValueError, match=message):
        ToolSpec(**{**fields, **changes})  # type: ignore[arg-type]


def test_register_refuses_an_invalid_schema() -> None:
    spec = ToolSpec(
        name="broken",
        description="",
        parameters={"type": "no-such-type"},
        fn=_echo,
        is_async=False,
    )
    with pytest.raises(ValueError, match="invalid parameters schema"):
        ToolRegistry().register(spec)


def _echo(text: str) -> str:
    """Echo the text back."""
    return text


def test_only_an_idempotent_retryable_tool_may_hold_its_worker_for_every_try() -> None:
    def work() -> str:
        """Works."""
        return "ok"

    def spec(**options: bool) -> ToolSpec:
        return build_tool_spec(work, timeout_s=2.0, **options)

    assert spec(retryable=True, idempotent=True).longest_run_s(retries=2) == 6.0
    assert spec(retryable=True).longest_run_s(retries=2) == 2.0
    assert spec(idempotent=True).longest_run_s(retries=2) == 2.0
