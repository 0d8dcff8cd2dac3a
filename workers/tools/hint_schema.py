"""The JSON schema of a tool's parameters, read from its function's type hints.

Supported hints: str, int, float, bool, Literal[...], list[X], dict[str, X], unions (X | None
becomes a type list with "null"), pydantic models (their own `model_json_schema()`, with nested
`$defs` hoisted to the top so `$ref`s still resolve) and `Annotated[X, "description"]`.
Anything else is a TypeError at decoration time, so a bad tool fails when the module is
imported rather than when the model first calls it.
"""

from __future__ import annotations

import copy
import inspect
import json
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel

JsonSchema = dict[str, Any]
Defs = dict[str, JsonSchema]

_SCALAR_TYPES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SUPPORTED = (
    "str, int, float, bool, Literal[...], list[X], dict[str, X], X | None, a pydantic model"
)


def build_parameters_schema(fn: Callable[..., Any]) -> JsonSchema:
    """The top-level object schema for `fn`'s parameters; raises TypeError for what we can't map."""
    fn_name = getattr(fn, "__qualname__", repr(fn))
    try:
        hints = get_type_hints(fn, include_extras=True)
    except (NameError, TypeError) as exc:
        raise TypeError(f"tool function {fn_name!r}: cannot resolve its type hints: {exc}") from exc
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    defs: Defs = {}
    for param in inspect.signature(fn).parameters.values():
        where = f"tool function {fn_name!r}, parameter {param.name!r}"
        _check_kind(param, where)
        if param.name not in hints:
            raise TypeError(f"{where} has no type hint; the model needs one to know what to send")
        schema = schema_for_hint(hints[param.name], where, defs)
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        else:
            schema["default"] = _json_default(param.default, where)
        properties[param.name] = schema
    result: JsonSchema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if defs:
        result["$defs"] = defs
    return result


def schema_for_hint(hint: Any, where: str, defs: Defs) -> JsonSchema:
    """The schema for one type hint; pydantic `$defs` are collected into `defs`."""
    if isinstance(hint, type) and hint in _SCALAR_TYPES:
        return {"type": _SCALAR_TYPES[hint]}
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return _model_schema(hint, where, defs)
    origin = get_origin(hint)
    if origin is Annotated:
        return _annotated_schema(hint, where, defs)
    if origin is Literal:
        return _literal_schema(hint, where)
    if origin is Union or origin is types.UnionType:
        return _union_schema(hint, where, defs)
    if origin is list:
        return _list_schema(hint, where, defs)
    if origin is dict:
        return _dict_schema(hint, where, defs)
    raise TypeError(f"{where}: unsupported type {hint!r}; use {_SUPPORTED}")


def describe_function(fn: Callable[..., Any]) -> str:
    """The first paragraph of `fn`'s docstring on one line, or "" when it has none."""
    doc = inspect.getdoc(fn)
    if not doc:
        return ""
    first_paragraph = doc.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in first_paragraph.splitlines())


def _check_kind(param: inspect.Parameter, where: str) -> None:
    # The model sends one JSON object of named arguments, so only parameters that can be
    # passed by keyword and are listed in a fixed schema can work.
    if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        raise TypeError(f"{where}: *args and **kwargs are not supported; name every parameter")
    if param.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise TypeError(f"{where}: positional-only parameters are not supported")


def _annotated_schema(hint: Any, where: str, defs: Defs) -> JsonSchema:
    inner, *metadata = get_args(hint)
    schema = schema_for_hint(inner, where, defs)
    descriptions = [item for item in metadata if isinstance(item, str)]
    if descriptions:
        schema["description"] = descriptions[0]
    return schema


def _literal_schema(hint: Any, where: str) -> JsonSchema:
    values = list(get_args(hint))
    kinds: list[str] = []
    for value in values:
        kind = _json_kind_of_literal(value)
        if kind is None:
            raise TypeError(f"{where}: Literal value {value!r} is not a JSON scalar")
        if kind not in kinds:
            kinds.append(kind)
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}


def _json_kind_of_literal(value: object) -> str | None:
    if value is None:
        return "null"
    # bool before int: True is an int in Python but a boolean in JSON.
    for python_type in (bool, int, float, str):
        if isinstance(value, python_type):
            return _SCALAR_TYPES[python_type]
    return None


def _union_schema(hint: Any, where: str, defs: Defs) -> JsonSchema:
    members = get_args(hint)
    others = [schema_for_hint(m, where, defs) for m in members if m is not type(None)]
    is_nullable = len(others) < len(members)
    if len(others) == 1:
        return _nullable(others[0]) if is_nullable else others[0]
    if is_nullable:
        others.append({"type": "null"})
    return {"anyOf": others}


def _nullable(schema: JsonSchema) -> JsonSchema:
    kind = schema.get("type")
    if kind is None:
        return {"anyOf": [schema, {"type": "null"}]}
    kinds = [kind] if isinstance(kind, str) else list(kind)
    result = {**schema, "type": [*kinds, "null"] if "null" not in kinds else kinds}
    # An enum also has to list null, or null would pass "type" and fail "enum".
    if "enum" in result and None not in result["enum"]:
        result["enum"] = [*result["enum"], None]
    return result


def _list_schema(hint: Any, where: str, defs: Defs) -> JsonSchema:
    args = get_args(hint)
    if len(args) != 1:
        raise TypeError(f"{where}: give the item type, e.g. list[str]")
    return {"type": "array", "items": schema_for_hint(args[0], where, defs)}


def _dict_schema(hint: Any, where: str, defs: Defs) -> JsonSchema:
    args = get_args(hint)
    if len(args) != 2 or args[0] is not str:
        raise TypeError(f"{where}: dicts need str keys and a value type, e.g. dict[str, int]")
    return {"type": "object", "additionalProperties": schema_for_hint(args[1], where, defs)}


def _model_schema(model: type[BaseModel], where: str, defs: Defs) -> JsonSchema:
    schema = copy.deepcopy(model.model_json_schema())
    # Nested models come as "$ref": "#/$defs/Name", which resolves from the document root,
    # so their definitions must move to the root of the parameters schema.
    for def_name, definition in schema.pop("$defs", {}).items():
        if defs.setdefault(def_name, definition) != definition:
            raise TypeError(f"{where}: two different models are both named {def_name!r}")
    return dict(schema)


def _json_default(value: object, where: str) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        # The round trip also turns tuples into lists, as the model would see them.
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: default {value!r} cannot be written as JSON") from exc
