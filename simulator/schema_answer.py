"""Structured output: write the model's final answer as JSON when the request asks for it.

Pure and deterministic. `sample_instance` builds a value that validates against a JSON schema
(strings are short fixed words, numbers sit at their lower bound or 0, booleans are true, enums
take their first value, arrays hold one item, objects carry every property). `violating_instance`
builds one that does not, for the `#invalid_json` directive. `pattern` and `multipleOf` are not
honoured; the schemas strict mode accepts rarely use them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FormatKind = Literal["text", "json_object", "json_schema"]

# Recursive schemas (a tree whose nodes hold nodes) would never bottom out; below this depth
# arrays are left empty and unions prefer null.
MAX_DEPTH = 6
SAMPLE_STRING = "sample"
_FORMATTED_STRINGS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00",
    "email": "sample@example.com",
    "uri": "https://example.com/sample",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_WRONG_TYPE: dict[str, Any] = {
    "object": [],
    "array": {},
    "string": 0,
    "integer": "not a number",
    "number": "not a number",
    "boolean": "not a boolean",
    "null": 0,
}


@dataclass(frozen=True, slots=True)
class AnswerFormat:
    """How the final answer is written: plain text, any JSON object, or JSON for a schema."""

    kind: FormatKind = "text"
    schema: Mapping[str, Any] = field(default_factory=dict)
    """The JSON schema of a `json_schema` format; empty otherwise."""


PLAIN_TEXT = AnswerFormat()


def write_answer(text: str, answer_format: AnswerFormat, *, is_invalid: bool = False) -> str:
    """The final message text under `answer_format`; `is_invalid` breaks the promised shape."""
    if answer_format.kind == "text":
        return text
    if answer_format.kind == "json_object":
        encoded = json.dumps({"answer": text})
        # JSON mode only promises parseable JSON, so breaking it means cutting it short.
        return encoded[:-1] if is_invalid else encoded
    schema = answer_format.schema
    value = violating_instance(schema) if is_invalid else sample_instance(schema)
    return json.dumps(value)


def sample_instance(schema: object, root: object = None, depth: int = 0) -> Any:
    """A deterministic value that validates against `schema` (refs resolve against `root`)."""
    root = schema if root is None else root
    if not isinstance(schema, Mapping):
        return {}
    if isinstance(schema.get("$ref"), str):
        return sample_instance(_resolve(schema["$ref"], root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return sample_instance(_pick_option(options, depth), root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        return sample_instance(_merge(schema["allOf"], root), root, depth + 1)
    return _SAMPLERS[_type_of(schema, depth)](schema, root, depth)


def violating_instance(schema: Mapping[str, Any]) -> Any:
    """A value that fails `schema`: an object missing its required fields, else a wrong type.

    A schema that accepts anything cannot be violated; it gets `{}`.
    """
    if schema.get("required"):
        return {}
    declared = schema.get("type")
    kinds = declared if isinstance(declared, list) else [declared]
    if "properties" in schema and declared is None:
        kinds = ["object"]
    for kind in kinds:
        if kind in _WRONG_TYPE and not any(_accepts(k, _WRONG_TYPE[kind]) for k in kinds):
            return _WRONG_TYPE[kind]
    return {}


def _type_of(schema: Mapping[str, Any], depth: int) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        non_null = [kind for kind in declared if kind != "null"]
        if depth >= MAX_DEPTH and "null" in declared:
            return "null"
        declared = non_null[0] if non_null else "null"
    if isinstance(declared, str) and declared in _SAMPLERS:
        return declared
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema else "any"


def _pick_option(options: list[Any], depth: int) -> Any:
    is_null = [isinstance(opt, Mapping) and opt.get("type") == "null" for opt in options]
    if depth >= MAX_DEPTH and any(is_null):
        return options[is_null.index(True)]
    non_null = [opt for opt, null in zip(options, is_null, strict=True) if not null]
    return non_null[0] if non_null else options[0]


def _merge(parts: list[Any], root: object) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        if isinstance(part, Mapping) and isinstance(part.get("$ref"), str):
            part = _resolve(part["$ref"], root)
        if isinstance(part, Mapping):
            properties = {**merged.get("properties", {}), **part.get("properties", {})}
            merged = {**merged, **part, "properties": properties}
    return merged


def _resolve(ref: str, root: object) -> object:
    """A local JSON pointer ("#/$defs/Item"); anything else resolves to an open schema."""
    if not ref.startswith("#"):
        return {}
    node = root
    for token in ref.lstrip("#/").split("/") if ref != "#" else []:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node.get(token, {}) if isinstance(node, Mapping) else {}
    return node


def _sample_object(schema: Mapping[str, Any], root: object, depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    return {name: sample_instance(sub, root, depth + 1) for name, sub in properties.items()}


def _sample_array(schema: Mapping[str, Any], root: object, depth: int) -> list[Any]:
    minimum = int(schema.get("minItems", 0))
    count = max(minimum, 0 if depth >= MAX_DEPTH else 1)
    return [sample_instance(schema.get("items", {}), root, depth + 1) for _ in range(count)]


def _sample_string(schema: Mapping[str, Any], root: object, depth: int) -> str:
    text = _FORMATTED_STRINGS.get(str(schema.get("format")), SAMPLE_STRING)
    text = text.ljust(int(schema.get("minLength", 0)), "x")
    maximum = schema.get("maxLength")
    return text[:maximum] if isinstance(maximum, int) else text


def _sample_number(schema: Mapping[str, Any], root: object, depth: int) -> int | float:
    value: int | float = 0
    if isinstance(schema.get("minimum"), int | float):
        value = schema["minimum"]
    elif isinstance(schema.get("exclusiveMinimum"), int | float):
        value = schema["exclusiveMinimum"] + 1
    for key, step in (("maximum", 0), ("exclusiveMaximum", 1)):
        if isinstance(schema.get(key), int | float) and value > schema[key] - step:
            value = schema[key] - step
    return int(value) if schema.get("type") == "integer" else value


def _constant(value: Any) -> Callable[[Mapping[str, Any], object, int], Any]:
    return lambda schema, root, depth: value


def _accepts(kind: object, value: Any) -> bool:
    checks: dict[object, Callable[[Any], bool]] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    check = checks.get(kind)
    return check(value) if check else True


_SAMPLERS: dict[str, Callable[[Mapping[str, Any], object, int], Any]] = {
    "object": _sample_object,
    "array": _sample_array,
    "string": _sample_string,
    "integer": _sample_number,
    "number": _sample_number,
    "boolean": _constant(True),
    "null": _constant(None),
    "any": _constant({}),
}
