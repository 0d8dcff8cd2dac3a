"""Turn the model's argument string into keyword arguments for a tool, or say what is wrong.

Three checks, each raising InvalidToolArguments with a message written for the model: the
string is JSON, the JSON is an object, and the object passes the tool's JSON schema (every
failing field is named). Then values are converted to the annotated Python types, so a
pydantic-model parameter receives a model instance rather than a dict.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, get_type_hints

import jsonschema  # type: ignore[import-untyped]  # ships no type information
from pydantic import TypeAdapter, ValidationError
from pydantic.errors import PydanticSchemaGenerationError

from workers.errors import InvalidToolArguments
from workers.tools.registry import ToolSpec

# Enough of each schema message to name the field and the problem; the instance repr that
# jsonschema puts in it can be as long as whatever the model sent.
_MAX_MESSAGE_CHARS = 300
_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


def parse_arguments(spec: ToolSpec, arguments_json: str) -> dict[str, Any]:
    """The keyword arguments for `spec.fn`, or InvalidToolArguments saying which field and why."""
    arguments = _load_object(spec.name, arguments_json)
    problems = _schema_problems(spec.parameters, arguments)
    if problems:
        raise InvalidToolArguments(f"invalid arguments for {spec.name!r}: {'; '.join(problems)}")
    return _convert_to_hints(spec, arguments)


def _load_object(tool_name: str, arguments_json: str) -> dict[str, Any]:
    # Some models send "" rather than "{}" for a tool that takes no arguments.
    if not arguments_json.strip():
        return {}
    try:
        arguments = json.loads(arguments_json)
    except json.JSONDecodeError as exc:
        raise InvalidToolArguments(
            f"arguments for {tool_name!r} are not valid JSON: {exc.msg} "
            f"at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(arguments, dict):
        kind = "null" if arguments is None else _JSON_KINDS.get(type(arguments), "a value")
        raise InvalidToolArguments(
            f"arguments for {tool_name!r} must be a JSON object of named arguments, not {kind}"
        )
    return arguments


def _schema_problems(schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = []
    for error in validator.iter_errors(arguments):
        field = ".".join(str(part) for part in error.absolute_path)
        # Errors on the object itself (missing or unexpected properties) name the field
        # in their message already.
        problem = f"{field}: {error.message}" if field else error.message
        problems.append(problem[:_MAX_MESSAGE_CHARS])
    return sorted(problems)


def _convert_to_hints(spec: ToolSpec, arguments: dict[str, Any]) -> dict[str, Any]:
    adapters = _adapters_of(spec.fn)
    converted = dict(arguments)
    for name, value in arguments.items():
        adapter = adapters.get(name)
        if adapter is None:
            continue
        try:
            converted[name] = adapter.validate_python(value)
        except ValidationError as exc:
            # Reached only for rules the JSON schema cannot express, such as model validators.
            raise InvalidToolArguments(
                f"invalid arguments for {spec.name!r}: {name}: {_first_error(exc)}"
            ) from None
    return converted


def _adapters_of(fn: Callable[..., Any]) -> dict[str, TypeAdapter[Any] | None]:
    """Each parameter's validator, built once per tool function: a TypeAdapter costs a
    pydantic schema build, far more than the validation it then does on every call."""
    try:
        return _cached_adapters(fn)
    except TypeError:  # an unhashable callable object: built for this call only
        return _build_adapters(fn)


def _build_adapters(fn: Callable[..., Any]) -> dict[str, TypeAdapter[Any] | None]:
    return {name: _adapter_for(hint) for name, hint in _parameter_hints(fn).items()}


_cached_adapters = functools.lru_cache(maxsize=1024)(_build_adapters)


def _parameter_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    # A spec registered by hand may wrap a callable that get_type_hints cannot read (a
    # partial, an object with __call__); its arguments then go through as JSON values.
    try:
        hints = get_type_hints(fn, include_extras=True)
    except (NameError, TypeError):
        return {}
    hints.pop("return", None)
    return hints


def _adapter_for(hint: Any) -> TypeAdapter[Any] | None:
    if hint is None:
        return None
    try:
        return TypeAdapter(hint)
    except PydanticSchemaGenerationError:
        return None


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    return f"{location}: {first['msg']}" if location else first["msg"]
