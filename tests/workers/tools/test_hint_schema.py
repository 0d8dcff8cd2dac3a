"""The parameters schema read from type hints."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

import jsonschema  # type: ignore[import-untyped]  # ships no type information
import pytest
from pydantic import BaseModel

from workers.tools.hint_schema import build_parameters_schema, describe_function, schema_for_hint


class Point(BaseModel):
    x: int
    y: int = 0


class Path(BaseModel):
    points: list[Point]


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Literal[True], {"type": "boolean", "enum": [True]}),
        (Literal["a", 1], {"type": ["string", "integer"], "enum": ["a", 1]}),
        (list[str], {"type": "array", "items": {"type": "string"}}),
        (
            list[list[int]],
            {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        ),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (str | None, {"type": ["string", "null"]}),
        (Optional[int], {"type": ["integer", "null"]}),  # noqa: UP045 - the old spelling works too
        (list[str] | None, {"type": ["array", "null"], "items": {"type": "string"}}),
        (
            Literal["a", "b"] | None,
            {"type": ["string", "null"], "enum": ["a", "b", None]},
        ),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (Annotated[str, "a name"], {"type": "string", "description": "a name"}),
        (
            list[Annotated[int, "an id"]],
            {"type": "array", "items": {"type": "integer", "description": "an id"}},
        ),
        (Annotated[int | None, "maybe"], {"type": ["integer", "null"], "description": "maybe"}),
    ],
)
def test_schema_for_hint(hint: Any, expected: dict[str, Any]) -> None:
    defs: dict[str, Any] = {}

    assert schema_for_hint(hint, "here", defs) == expected
    assert defs == {}


@pytest.mark.parametrize(
    "hint",
    [bytes, list, dict, dict[int, str], set[str], tuple[int, int], Any, object, Literal[b"x"]],
)
def test_unsupported_hints_raise_type_error(hint: Any) -> None:
    with pytest.raises(TypeError, match="here"):
        schema_for_hint(hint, "here", {})


def test_required_defaults_and_descriptions() -> None:
    def lookup(
        city: Annotated[str, "City name"],
        days: int = 3,
        unit: Literal["c", "f"] = "c",
        note: str | None = None,
    ) -> None:
        """Look things up."""

    assert build_parameters_schema(lookup) == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "days": {"type": "integer", "default": 3},
            "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
            "note": {"type": ["string", "null"], "default": None},
        },
        "required": ["city"],
        "additionalProperties": False,
    }


def test_description_is_first_paragraph_joined_on_one_line() -> None:
    def fn() -> None:
        """Fetch the thing
        across two lines.

        Details the model does not need.
        """

    def undocumented() -> None:
        pass

    assert describe_function(fn) == "Fetch the thing across two lines."
    assert describe_function(undocumented) == ""


def test_no_parameters_gives_an_empty_object() -> None:
    def ping() -> str:
        return "pong"

    assert build_parameters_schema(ping) == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_pydantic_parameter_uses_model_schema_and_hoists_defs() -> None:
    def draw(path: Path, start: Point | None = None) -> None:
        pass

    schema = build_parameters_schema(draw)

    assert schema["properties"]["path"]["properties"]["points"]["items"] == {
        "$ref": "#/$defs/Point"
    }
    assert schema["properties"]["start"]["type"] == ["object", "null"]
    assert set(schema["$defs"]) == {"Point"}
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"path": {"points": [{"x": 1}]}, "start": None})
    assert not validator.is_valid({"path": {"points": [{"x": "one"}]}})


def test_pydantic_model_default_is_dumped_as_json() -> None:
    def move(to: Point = Point(x=1)) -> None:  # noqa: B008 - built once, never mutated
        pass

    assert build_parameters_schema(move)["properties"]["to"]["default"] == {"x": 1, "y": 0}


def test_missing_hint_names_function_and_parameter() -> None:
    def greet(name, times: int = 1) -> str:  # type: ignore[no-untyped-def]
        return name * times  # type: ignore[no-any-return]

    with pytest.raises(TypeError, match=r"'.*greet'.*'name'.*no type hint"):
        build_parameters_schema(greet)


@pytest.mark.parametrize("kind", ["args", "kwargs"])
def test_var_args_are_refused(kind: str) -> None:
    def with_args(query: str, *args: str) -> None:
        pass

    def with_kwargs(query: str, **kwargs: str) -> None:
        pass

    fn = with_args if kind == "args" else with_kwargs
    with pytest.raises(TypeError, match=rf"'{kind}'.*\*args and \*\*kwargs"):
        build_parameters_schema(fn)


def test_positional_only_is_refused() -> None:
    def fn(query: str, /) -> None:
        pass

    with pytest.raises(TypeError, match="positional-only"):
        build_parameters_schema(fn)


def test_default_that_is_not_json_is_refused() -> None:
    def fn(when: str = object()) -> None:  # type: ignore[assignment]
        pass

    with pytest.raises(TypeError, match="cannot be written as JSON"):
        build_parameters_schema(fn)


def test_unresolvable_forward_reference_is_a_type_error() -> None:
    def fn(thing: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(TypeError, match="cannot resolve its type hints"):
        build_parameters_schema(fn)
