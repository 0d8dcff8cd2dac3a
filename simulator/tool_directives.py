"""Directives that make the scripted model call any tool an agent declares, not just the demo's.

    #call=NAME {"k": "v"}   call NAME with exactly these arguments (a JSON object)
    #call=NAME              call NAME with arguments generated from its JSON schema
    #call_all               call every offered tool once, arguments generated from each schema

Generated arguments validate against the tool's schema (see `schema_answer.sample_instance`),
so a developer's own agent can be run end to end offline. A directive that names a tool the
request did not offer is ignored, as a real model cannot call a tool it was not shown. Pure:
no I/O, clock or randomness.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.schema_answer import sample_instance

_CALL = re.compile(r"#call=([A-Za-z0-9_-]{1,64})")
_CALL_ALL = re.compile(r"#call_all\b", re.IGNORECASE)
_DECODER = json.JSONDecoder()


def strip_call_directives(text: str) -> str:
    """`text` without its `#call=NAME {...}` and `#call_all` directives (for phrase matching)."""
    pieces, position = [], 0
    for match in _CALL.finditer(text):
        pieces.append(text[position : match.start()])
        position = _end_of_arguments(text, match.end())[1]
    pieces.append(text[position:])
    return _CALL_ALL.sub("", "".join(pieces))


def plan_directed_calls(
    text: str, tool_names: Sequence[str], schemas: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """The (name, JSON arguments) calls `text` directs, in the order it names them."""
    if _CALL_ALL.search(text):
        return [(name, _generated(schemas.get(name))) for name in tool_names]
    calls = []
    for match in _CALL.finditer(text):
        name = match.group(1)
        if name not in tool_names:
            continue
        arguments, _ = _end_of_arguments(text, match.end())
        calls.append((name, arguments if arguments is not None else _generated(schemas.get(name))))
    return calls


def _end_of_arguments(text: str, start: int) -> tuple[str | None, int]:
    """The JSON object right after a `#call=NAME` (spaces allowed) and where it ends."""
    position = start
    while position < len(text) and text[position] in " \t":
        position += 1
    if position >= len(text) or text[position] != "{":
        return None, start
    try:
        value, end = _DECODER.raw_decode(text, position)
    except json.JSONDecodeError:
        return None, start
    if not isinstance(value, dict):
        return None, start
    return json.dumps(value), end


def _generated(schema: Mapping[str, Any] | None) -> str:
    value = sample_instance(schema or {"type": "object", "properties": {}})
    return json.dumps(value if isinstance(value, dict) else {})
