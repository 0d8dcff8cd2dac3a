"""Checking a structured answer against the agent's schema (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema  # type: ignore[import-untyped]


@dataclass(frozen=True, slots=True)
class CheckedAnswer:
    """The parsed object, or why the answer is not acceptable."""

    value: Any = None
    error: str | None = None


def check_answer(text: str, schema: Mapping[str, Any] | None, *, json_mode: bool) -> CheckedAnswer:
    """Parse `text` as JSON and validate it against `schema` (or just parse, in JSON mode)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return CheckedAnswer(error=f"answer is not valid JSON: {exc}")
    if schema is None:
        if json_mode and not isinstance(value, dict):
            return CheckedAnswer(error="JSON mode answer is not an object")
        return CheckedAnswer(value=value)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path)
    )
    if errors:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.path) or '<root>'}: {e.message}" for e in errors[:5]
        )
        return CheckedAnswer(error=f"answer does not match the schema: {details}")
    return CheckedAnswer(value=value)


def check_structured(
    schema: Mapping[str, Any] | None, json_mode: bool, text: str
) -> CheckedAnswer | None:
    """Check an agent's answer when it must be structured; None when it is free text."""
    if schema is None and not json_mode:
        return None
    return check_answer(text, schema, json_mode=json_mode)
